"""mkdocs hook: the project's docstrings document several parameters that
share a description on one line (``wavefield_0, wavefield_m1, ...: initial
fields``). Griffe's Google-style parser cannot split such a line and warns;
under ``mkdocs build --strict`` that warning would fail the build. This
filter drops exactly that warning (a parameter line whose name part holds a
comma); every other docstring warning still fails the build."""

from __future__ import annotations

import logging
import re

_MULTI_NAME = re.compile(r"Failed to get 'name: description' pair from '[A-Za-z_][A-Za-z0-9_]*\s*,")


class _MultiNameFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _MULTI_NAME.search(record.getMessage())


def on_startup(**kwargs) -> None:
    logging.getLogger("mkdocs.plugins.griffe").addFilter(_MultiNameFilter())
