"""The compiled core: ABI version, stale-library detection, build flags."""

import pathlib
import shutil
import subprocess
import sys

import pytest

import torchwave
from torchwave import _lib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_abi_version_matches():
    assert _lib._lib.tw_abi_version() == _lib.ABI_VERSION


def test_library_is_current_with_checkout():
    assert _lib.library_source_hash(_lib._lib) == _lib.source_hash(ROOT)


def test_stale_library_is_refused(tmp_path):
    # A copy of the Go sources with one kernel changed: the loaded library
    # no longer matches it and must be refused with rebuild instructions.
    for name in ("go.mod", "goexport", "kernels"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    kernel = tmp_path / "kernels" / "scalar" / "forward.go"
    kernel.write_text(kernel.read_text() + "\n// changed\n")
    with pytest.raises(ImportError, match="stale.*make build"):
        _lib.check_current(_lib._lib, pathlib.Path("libtorchwave.so"), tmp_path)


def test_missing_library_gives_import_error(tmp_path):
    code = "import torchwave"
    env = {"TORCHWAVE_LIBRARY": str(tmp_path / "nope.so"), "PYTHONPATH": str(ROOT / "python")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "missing" in out.stderr and "make build" in out.stderr


def test_vector_kernels_on_amd64():
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("archsimd kernels are built on amd64 only")
    assert torchwave.simd_enabled()


def test_thread_setting():
    n = torchwave.get_num_threads()
    try:
        torchwave.set_num_threads(1)
        assert torchwave.get_num_threads() == 1
        with pytest.raises(ValueError, match="n must be a positive int"):
            torchwave.set_num_threads(0)
    finally:
        torchwave.set_num_threads(n)
