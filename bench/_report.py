"""Helpers the library-against-library benchmarks share: relative
differences, table cells and comma-separated arguments."""

from __future__ import annotations


def rel_diff(a, b) -> float | None:
    """||a - b|| / ||b||; None when b is all zero (nothing to compare)."""
    ref = float(b.double().norm())
    return float((a.double() - b.double()).norm()) / ref if ref > 0 else None


def fmt(x, spec: str) -> str:
    """x formatted with spec, or a dash of the same width for None."""
    width = "".join(c for c in spec.split(".")[0] if c.isdigit())
    return format("-", f">{width}") if x is None else format(x, spec)


def parse_list(text: str, cast, name: str) -> list:
    """The comma-separated values of option --name, each through cast."""
    try:
        return [cast(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--{name}: cannot parse {text!r}") from None
