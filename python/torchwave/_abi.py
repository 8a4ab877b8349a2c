"""torchwave's C ABI as Python sees it: the one place that spells it.

goexport/torchwave.h defines the structs and prototypes; this module holds
their ctypes mirrors, the prototype of every exported function, and the
status, dtype and SIMD codes. The library describes its own layouts
(``tw_abi_layout``, a JSON document of each struct's fields, offsets and
sizes as the C compiler laid them out), and python/tests/test_abi_layout.py
compares them with the mirrors here, so a mismatch fails the tests instead
of corrupting memory. Bump ``ABI_VERSION`` with TW_ABI_VERSION whenever a
layout or a signature changes.
"""

from __future__ import annotations

import ctypes
import json
from typing import Dict, List, Tuple

ABI_VERSION = 8

# enum tw_status
TW_OK, TW_EINVAL, TW_EPANIC, TW_EUNSUPPORTED = 0, 1, 2, 3
STATUS = {"TW_OK": TW_OK, "TW_EINVAL": TW_EINVAL, "TW_EPANIC": TW_EPANIC, "TW_EUNSUPPORTED": TW_EUNSUPPORTED}
# enum tw_dtype
DTYPES = {"TW_FLOAT32": 0, "TW_FLOAT64": 1}
# tw_simd's bits: which kernel packages run archsimd vector code.
SIMD = {"TW_SIMD_SCALAR": 1, "TW_SIMD_MAXWELL": 2}

_i64, _f64, _ptr = ctypes.c_int64, ctypes.c_double, ctypes.c_void_p
_pair = ctypes.c_void_p * 2
_axes = ctypes.c_void_p * 3  # per 3D axis z, y, x
_survey = ctypes.c_void_p * 4  # per field p, vz, vy, vx
_dptr = ctypes.POINTER(ctypes.c_double)
_errbuf = [ctypes.c_char_p, ctypes.c_int]


def _ints(*names: str) -> List[Tuple[str, type]]:
    return [(n, _i64) for n in names]


def _pointers(*names: str) -> List[Tuple[str, type]]:
    return [(n, _ptr) for n in names]


def _pairs(*names: str) -> List[Tuple[str, type]]:
    return [(n, _pair) for n in names]


_GRID = _ints(
    "dtype",
    "n_shots",
    "ny",
    "nx",
    "accuracy",
    "n_sources",
    "n_receivers",
    "step0",
    "n_steps",
    "store_interval",
    "model_per_shot",
    "n_store",
    "store_first",
) + [("rdy", _f64), ("rdx", _f64)]


class ScalarArgs(ctypes.Structure):
    """tw_scalar_args: one chunk of the scalar propagator."""

    _fields_ = (
        _GRID
        + _pointers("c", "ay", "by", "dby", "ax", "bx", "dbx")
        + _pairs("u", "psiy", "psix", "zetay", "zetax")
        + _pointers("source_index", "receiver_index", "source_amplitudes", "receiver_amplitudes", "store", "grad_c")
        + _ints("ndim", "nz")
        + [("rdz", _f64)]
        + _pointers("az", "bz", "dbz")
        + _pairs("psiz", "zetaz")
    )


class ScalarBoundaryArgs(ctypes.Structure):
    """tw_scalar_boundary_args: scalar with boundary saving."""

    _fields_ = [("base", ScalarArgs), ("n_strips", _i64)] + _pointers("strips", "source_amplitudes") + [("u", _pair), ("w", _ptr)]


class ScalarBornArgs(ctypes.Structure):
    """tw_scalar_born_args: one chunk of Born modelling."""

    _fields_ = (
        [("bg", ScalarArgs), ("dc", _ptr)]
        + _pairs("u_sc", "psiy_sc", "psix_sc", "zetay_sc", "zetax_sc")
        + [("n_receivers_sc", _i64)]
        + _pointers("receiver_index_sc", "source_amplitudes_sc", "receiver_amplitudes_sc", "store_sc", "grad_dc")
        + _ints("adjoint_bg", "coupling_interval")
        + _pairs("psiz_sc", "zetaz_sc")
    )


class MaxwellArgs(ctypes.Structure):
    """tw_maxwell_args: one chunk of the TM Maxwell propagator."""

    _fields_ = (
        [(n if n != "accuracy" else "stencil", t) for n, t in _GRID]
        + _pointers("ca", "cb", "cq", "ay", "by", "ayh", "byh", "ax", "bx", "axh", "bxh")
        + [("ey", _pair), ("hx", _ptr), ("hz", _ptr)]
        + _pairs("m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x")
        + _pointers(
            "source_index",
            "receiver_index",
            "source_amplitudes",
            "receiver_amplitudes",
            "store_ey",
            "store_curl",
            "store_dz",
            "store_dx",
            "grad_ca",
            "grad_cb",
            "grad_cq",
        )
    )


class AcousticArgs(ctypes.Structure):
    """tw_acoustic_args: one chunk of the acoustic propagator, 1D to 3D."""

    _fields_ = (
        _ints("dtype", "ndim", "n_shots", "nz", "ny", "nx", "accuracy", "step0", "n_steps", "store_interval")
        + _ints("k_per_shot", "b_per_shot", "n_store", "store_first")
        + [("dt", _f64), ("rd", _f64 * 3), ("k", _ptr), ("b", _axes)]
        + [(n, _axes) for n in ("a", "bp", "ah", "bh")]
        + [("p", _ptr)]
        + [(n, _axes) for n in ("v", "phi", "psi")]
        + [("n_sources", _i64 * 4), ("n_receivers", _i64 * 4)]
        + [(n, _survey) for n in ("source_index", "receiver_index", "source_amplitudes", "receiver_amplitudes")]
        + [("store_k", _ptr), ("store_b", _axes), ("grad_k", _ptr), ("grad_b", _axes)]
    )


#: The C struct each mirror stands for.
STRUCTS: Dict[str, type] = {
    "tw_scalar_args": ScalarArgs,
    "tw_scalar_boundary_args": ScalarBoundaryArgs,
    "tw_scalar_born_args": ScalarBornArgs,
    "tw_maxwell_args": MaxwellArgs,
    "tw_acoustic_args": AcousticArgs,
}

#: The buffer pairs (and other pointer arrays) of each struct: Python gives
#: them as lists of tensors (or None), at most the array's length; missing
#: entries are NULL.
PAIRS: Dict[type, Tuple[str, ...]] = {
    ScalarArgs: ("u", "psiy", "psix", "zetay", "zetax", "psiz", "zetaz"),
    ScalarBoundaryArgs: ("u",),
    ScalarBornArgs: ("u_sc", "psiy_sc", "psix_sc", "zetay_sc", "zetax_sc", "psiz_sc", "zetaz_sc"),
    MaxwellArgs: ("ey", "m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x"),
    AcousticArgs: (
        "b",
        "a",
        "bp",
        "ah",
        "bh",
        "v",
        "phi",
        "psi",
        "source_index",
        "receiver_index",
        "source_amplitudes",
        "receiver_amplitudes",
        "store_b",
        "grad_b",
    ),
}


def _struct_call(struct: type) -> list:
    return [ctypes.POINTER(struct), *_errbuf]


#: Every exported function: name -> (argtypes, restype).
PROTOTYPES: Dict[str, Tuple[list, type]] = {
    "tw_abi_version": ([], ctypes.c_int),
    "tw_abi_layout": ([ctypes.c_char_p, _i64], _i64),
    "tw_source_hash": ([ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
    "tw_simd": ([], ctypes.c_int),
    "tw_set_num_threads": ([ctypes.c_int], None),
    "tw_get_num_threads": ([], ctypes.c_int),
    "tw_scalar_forward": (_struct_call(ScalarArgs), ctypes.c_int),
    "tw_scalar_backward": (_struct_call(ScalarArgs), ctypes.c_int),
    "tw_scalar_boundary_forward": (_struct_call(ScalarBoundaryArgs), ctypes.c_int),
    "tw_scalar_boundary_backward": (_struct_call(ScalarBoundaryArgs), ctypes.c_int),
    "tw_scalar_boundary_cells": ([ctypes.POINTER(ScalarArgs), ctypes.POINTER(_i64), *_errbuf], ctypes.c_int),
    "tw_scalar_born_forward": (_struct_call(ScalarBornArgs), ctypes.c_int),
    "tw_scalar_born_backward": (_struct_call(ScalarBornArgs), ctypes.c_int),
    "tw_maxwell_forward": (_struct_call(MaxwellArgs), ctypes.c_int),
    "tw_maxwell_backward": (_struct_call(MaxwellArgs), ctypes.c_int),
    "tw_acoustic_forward": (_struct_call(AcousticArgs), ctypes.c_int),
    "tw_acoustic_backward": (_struct_call(AcousticArgs), ctypes.c_int),
    "tw_int8_encode": ([_i64, _i64, _i64, _i64, _ptr, _ptr, *_errbuf], ctypes.c_int),
    "tw_int8_decode": ([_i64, _i64, _i64, _i64, _ptr, _ptr, *_errbuf], ctypes.c_int),
    "tw_lbfgsb_new": (
        [
            _i64,
            _dptr,
            _dptr,
            _dptr,
            _i64,
            _f64,
            _f64,
            _i64,
            _i64,
            _i64,
            _i64,
            _dptr,
            _dptr,
            _dptr,
            ctypes.POINTER(_i64),
            *_errbuf,
        ],
        ctypes.c_int,
    ),
    "tw_lbfgsb_next": ([_i64, _f64, _dptr, _dptr, ctypes.POINTER(_i64), *_errbuf], ctypes.c_int),
    "tw_lbfgsb_state": ([_i64, _dptr, _dptr, _dptr, ctypes.c_char_p, ctypes.c_int, *_errbuf], ctypes.c_int),
    "tw_lbfgsb_free": ([_i64, *_errbuf], ctypes.c_int),
}

#: Functions an older library may lack; declared when present.
OPTIONAL = ("tw_abi_layout",)


def declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    """Sets argtypes and restype of every exported function on lib."""
    for name, (argtypes, restype) in PROTOTYPES.items():
        if name in OPTIONAL and not hasattr(lib, name):
            continue
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, restype
    return lib


def library_layout(lib: ctypes.CDLL) -> dict:
    """The library's own description of the ABI (see tw_abi_layout)."""
    n = lib.tw_abi_layout(None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    lib.tw_abi_layout(buf, n + 1)
    return json.loads(buf.value.decode())


def mirror_layout(struct: type) -> dict:
    """A ctypes mirror's layout in tw_abi_layout's terms."""
    fields = [
        {"name": name, "offset": getattr(struct, name).offset, "size": getattr(struct, name).size} for name, _ in struct._fields_
    ]
    return {"size": ctypes.sizeof(struct), "fields": fields}
