"""torchwave's PEP 517 build backend: setuptools, plus Go.

``python -m build`` (or pip) calls this module, named in pyproject.toml's
``[build-system]`` with ``backend-path = ["build_backend"]``. It is
setuptools' own backend with two additions:

- before a wheel (or an editable install) is built, it checks that the
  tools the Go core needs are there (Go 1.26 or newer, and a C compiler
  for cgo) and, where one is missing, stops with a message that says which
  one and how to get it, instead of a traceback from deep inside the build;
- :func:`build_library` compiles the Go core into the package
  (``libtorchwave.so``); setup.py calls it from ``build_py``.

The wheel is tagged ``py3-none-<platform>`` (setup.py's ``bdist_wheel``):
the library is loaded with ctypes, so it is tied to no Python version, no
Python ABI and no torch version. On x86-64 and aarch64 Linux the platform
is ``manylinux_2_34``: the Go toolchain links the library against libc.so.6
alone, with symbol versions up to GLIBC_2.34 (``auditwheel show`` checks it).

Only the standard library and setuptools are imported here.
"""

from __future__ import annotations

import os
import pathlib
import platform
import re
import runpy
import shutil
import subprocess
import sys

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401 (re-exported PEP 517 hooks)
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIBRARY = "libtorchwave.so"
GO_MINIMUM = (1, 26)
MANYLINUX = "manylinux_2_34"
PREBUILT_HINT = (
    "A wheel needs none of this: torchwave-*-py3-none-manylinux_2_34_x86_64.whl, built once with "
    "`python -m build` where Go is, installs with pip on any x86-64 Linux with glibc 2.34 or newer."
)


class MissingBuildTool(RuntimeError):
    """A tool the Go core's build needs is missing or too old."""


def _explain(what: str, how: str) -> MissingBuildTool:
    text = (
        "\n"
        "torchwave: cannot build the compiled core from source.\n"
        f"  missing: {what}\n"
        f"  needed:  Go {GO_MINIMUM[0]}.{GO_MINIMUM[1]} or newer and a C compiler (cgo) to run\n"
        "           `go build -buildmode=c-shared` on torchwave's Go sources\n"
        f"  fix:     {how}\n"
        f"  {PREBUILT_HINT}\n"
    )
    print(text, file=sys.stderr, flush=True)
    return MissingBuildTool(text)


def find_go() -> str | None:
    """The go command: $GO if set, else go on PATH, else /usr/local/go/bin/go."""
    explicit = os.environ.get("GO")
    if explicit:
        return shutil.which(explicit)
    found = shutil.which("go")
    if found:
        return found
    default = "/usr/local/go/bin/go"
    return default if os.access(default, os.X_OK) else None


def _go_env(go: str, *names: str) -> list[str]:
    out = subprocess.run([go, "env", *names], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def check_toolchain() -> str:
    """Returns the go command, or raises MissingBuildTool saying what is
    missing (Go, a new enough Go, a C compiler) and how to get it."""
    go = find_go()
    if go is None:
        where = (
            f"GO={os.environ['GO']!r} is not an executable"
            if os.environ.get("GO")
            else "no `go` on PATH (nor /usr/local/go/bin/go)"
        )
        raise _explain(
            f"Go ({where})",
            f"install Go {GO_MINIMUM[0]}.{GO_MINIMUM[1]}+ from https://go.dev/dl/ and put its bin/ on PATH, or set GO=/path/to/go",
        )
    try:
        version, cc = _go_env(go, "GOVERSION", "CC")
    except (subprocess.CalledProcessError, OSError, ValueError) as err:
        raise _explain(f"a working Go ({go} env failed: {err})", "reinstall Go from https://go.dev/dl/") from err
    match = re.match(r"go(\d+)\.(\d+)", version)
    if match is None or (int(match[1]), int(match[2])) < GO_MINIMUM:
        raise _explain(
            f"Go {GO_MINIMUM[0]}.{GO_MINIMUM[1]} or newer ({go} is {version or 'of unknown version'})",
            f"install Go {GO_MINIMUM[0]}.{GO_MINIMUM[1]}+ from https://go.dev/dl/ (the CPU kernels use its simd/archsimd package)",
        )
    compiler = (cc.split() or ["gcc"])[0]
    if shutil.which(compiler) is None:
        raise _explain(
            f"a C compiler for cgo (`go env CC` is {cc!r}, not found)",
            "install gcc or clang (Debian/Ubuntu: apt-get install gcc), or set CC",
        )
    return go


def build_library(target: pathlib.Path, root: pathlib.Path = ROOT) -> None:
    """Compiles the Go core (./goexport under root) into target, stamped
    with the digest of the Go sources it was built from."""
    go = check_toolchain()
    source_hash = runpy.run_path(str(root / "python" / "torchwave" / "_sourcehash.py"))["source_hash"](root)
    env = dict(os.environ, CGO_ENABLED="1")
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["GOEXPERIMENT"] = "simd"
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        go,
        "build",
        "-buildmode=c-shared",
        "-trimpath",
        "-ldflags",
        f"-s -w -X main.sourceHash={source_hash}",
        "-o",
        str(target),
        "./goexport",
    ]
    print("torchwave: " + " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=root, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"torchwave: `go build` failed (exit status {result.returncode}; its messages are above). "
            "Go downloads the modules named in go.mod (gonum) through GOPROXY unless they are in its module cache."
        )
    target.with_suffix(".h").unlink(missing_ok=True)


def wheel_platform_tag(default: str) -> str:
    """manylinux_2_34_<arch> on x86-64 and aarch64 Linux, else setuptools'
    own platform tag (the build is not tested there)."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if sys.platform.startswith("linux") and arch is not None:
        return f"{MANYLINUX}_{arch}"
    return default


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    check_toolchain()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    check_toolchain()
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
