"""Builds torchwave's Go core (a c-shared library) into the package.

`pip install .` and `pip install -e .` both run `go build`; Go 1.26 must be
on PATH. On amd64 the CPU kernels use archsimd (GOEXPERIMENT=simd)."""

import os
import pathlib
import platform
import runpy
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = pathlib.Path(__file__).resolve().parent
LIBRARY = "libtorchwave.so"


def build_library(target: pathlib.Path) -> None:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if go is None:
        raise RuntimeError("building torchwave needs Go 1.26 on PATH (https://go.dev/dl/)")
    source_hash = runpy.run_path(str(ROOT / "python" / "torchwave" / "_sourcehash.py"))["source_hash"](ROOT)
    env = dict(os.environ, CGO_ENABLED="1")
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["GOEXPERIMENT"] = "simd"
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            go,
            "build",
            "-buildmode=c-shared",
            "-trimpath",
            "-ldflags",
            f"-s -w -X main.sourceHash={source_hash}",
            "-o",
            str(target),
            "./goexport",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    target.with_suffix(".h").unlink(missing_ok=True)


class BuildPyWithGo(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            build_library(ROOT / "python" / "torchwave" / LIBRARY)
        else:
            build_library(pathlib.Path(self.build_lib) / "torchwave" / LIBRARY)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithGo}, distclass=BinaryDistribution)
