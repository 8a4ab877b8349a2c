"""Builds torchwave's Go core (a c-shared library) into the package.

`python -m build`, `pip install .` and `pip install -e .` go through the
in-tree PEP 517 backend build_backend/torchwave_build.py (setuptools plus a
check for Go 1.26 and a C compiler); `build_py` runs `go build`. On amd64
the CPU kernels use archsimd (GOEXPERIMENT=simd). The wheel is tagged
py3-none-manylinux_2_34_<arch>: the library is loaded with ctypes, so one
wheel serves every CPython and every torch."""

import pathlib
import runpy

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = pathlib.Path(__file__).resolve().parent
BACKEND = runpy.run_path(str(ROOT / "build_backend" / "torchwave_build.py"))
LIBRARY = BACKEND["LIBRARY"]


class BuildPyWithGo(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            BACKEND["build_library"](ROOT / "python" / "torchwave" / LIBRARY, ROOT)
        else:
            BACKEND["build_library"](pathlib.Path(self.build_lib) / "torchwave" / LIBRARY, ROOT)


class BdistWheelAnyPython(bdist_wheel):
    """py3-none-<platform>: no Python extension module, only a library
    loaded with ctypes."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", BACKEND["wheel_platform_tag"](plat)


class BinaryDistribution(Distribution):
    """The wheel carries a native library, so it is platform-specific."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithGo, "bdist_wheel": BdistWheelAnyPython}, distclass=BinaryDistribution)
