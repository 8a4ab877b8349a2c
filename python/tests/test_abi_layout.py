"""The ctypes mirrors in torchwave._abi against the library's own account
of the C ABI (tw_abi_layout): a field added, moved or resized on one side
only fails here instead of corrupting memory."""

import ctypes
import pathlib
import re

import pytest

from torchwave import _abi, _lib

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def layout():
    assert hasattr(_lib.library(), "tw_abi_layout"), "the library does not export tw_abi_layout"
    return _abi.library_layout(_lib.library())


def differences(expected: dict, struct: type) -> list:
    """How a mirror departs from the library's layout of its struct."""
    got = _abi.mirror_layout(struct)
    out = []
    if got["size"] != expected["size"]:
        out.append(f"size {got['size']} != {expected['size']}")
    want = [(f["name"], f["offset"], f["size"]) for f in expected["fields"]]
    have = [(f["name"], f["offset"], f["size"]) for f in got["fields"]]
    out += [f"mirror has {h}, library has {w}" for h, w in zip(have, want) if h != w]
    if len(have) != len(want):
        out.append(f"mirror has {len(have)} fields, library {len(want)}")
    return out


def test_version_and_codes(layout):
    assert layout["version"] == _abi.ABI_VERSION == _lib.library().tw_abi_version()
    assert layout["status"] == _abi.STATUS
    assert layout["dtype"] == _abi.DTYPES
    assert layout["simd"] == _abi.SIMD


def test_every_struct_has_a_mirror(layout):
    assert set(layout["structs"]) == set(_abi.STRUCTS)


@pytest.mark.parametrize("name", sorted(_abi.STRUCTS))
def test_mirror_matches_the_library(layout, name):
    assert differences(layout["structs"][name], _abi.STRUCTS[name]) == []


def test_a_wrong_mirror_is_caught(layout):
    """The comparison itself: a mirror with two fields swapped, one
    missing, or one of the wrong width differs."""
    fields = list(_abi.ScalarArgs._fields_)
    swapped = fields[:]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    narrow = [(n, ctypes.c_int32) if n == "dtype" else (n, t) for n, t in fields]
    for wrong in (swapped, fields[:-1], narrow):
        mirror = type("Wrong", (ctypes.Structure,), {"_fields_": wrong})
        assert differences(layout["structs"]["tw_scalar_args"], mirror)


def test_every_export_has_a_prototype():
    """Each `//export tw_...` of goexport has its prototype in _abi, and
    _abi declares nothing the library does not export."""
    if not (ROOT / "goexport").is_dir():
        pytest.skip("not a source checkout")
    exported = set()
    for path in (ROOT / "goexport").glob("*.go"):
        exported |= set(re.findall(r"^//export (tw_\w+)", path.read_text(), flags=re.M))
    assert exported == set(_abi.PROTOTYPES)


def test_every_prototype_is_declared():
    lib = _lib.library()
    for name, (argtypes, restype) in _abi.PROTOTYPES.items():
        fn = getattr(lib, name)
        assert fn.argtypes == argtypes and fn.restype == restype, name
