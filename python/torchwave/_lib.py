"""Loads torchwave's Go core (one c-shared library) and calls it via ctypes.

The library is loaded once per process and never unloaded: the Go runtime
cannot be unloaded, and two Go runtimes cannot share a process. A process
that has loaded it must not fork (use the "spawn" or "forkserver" start
methods of multiprocessing): a forked child hangs on its next Go call.
"""

from __future__ import annotations

import ctypes
import os
import pathlib

import torch

from ._sourcehash import source_hash

ABI_VERSION = 5
TW_OK, TW_EINVAL, TW_EPANIC, TW_EUNSUPPORTED = 0, 1, 2, 3
_PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
_LIBRARY_NAME = "libtorchwave.so"
_REBUILD_HINT = (
    "Rebuild it with `make build` (or `pip install -e .`) from the torchwave "
    "source tree; building needs Go 1.26."
)


def _go_sources_root() -> pathlib.Path | None:
    """The source checkout this package lives in, if it is one."""
    root = _PACKAGE_DIR.parent.parent
    return root if (root / "go.mod").is_file() and (root / "goexport").is_dir() else None


class _ScalarArgs(ctypes.Structure):
    """Mirror of tw_scalar_args in goexport/torchwave.h."""

    _fields_ = [
        ("dtype", ctypes.c_int64),
        ("n_shots", ctypes.c_int64),
        ("ny", ctypes.c_int64),
        ("nx", ctypes.c_int64),
        ("accuracy", ctypes.c_int64),
        ("n_sources", ctypes.c_int64),
        ("n_receivers", ctypes.c_int64),
        ("step0", ctypes.c_int64),
        ("n_steps", ctypes.c_int64),
        ("store_interval", ctypes.c_int64),
        ("model_per_shot", ctypes.c_int64),
        ("n_store", ctypes.c_int64),
        ("store_first", ctypes.c_int64),
        ("rdy", ctypes.c_double),
        ("rdx", ctypes.c_double),
        ("c", ctypes.c_void_p),
        ("ay", ctypes.c_void_p),
        ("by", ctypes.c_void_p),
        ("dby", ctypes.c_void_p),
        ("ax", ctypes.c_void_p),
        ("bx", ctypes.c_void_p),
        ("dbx", ctypes.c_void_p),
        ("u", ctypes.c_void_p * 2),
        ("psiy", ctypes.c_void_p * 2),
        ("psix", ctypes.c_void_p * 2),
        ("zetay", ctypes.c_void_p * 2),
        ("zetax", ctypes.c_void_p * 2),
        ("source_index", ctypes.c_void_p),
        ("receiver_index", ctypes.c_void_p),
        ("source_amplitudes", ctypes.c_void_p),
        ("receiver_amplitudes", ctypes.c_void_p),
        ("store", ctypes.c_void_p),
        ("grad_c", ctypes.c_void_p),
    ]


class _ScalarBoundaryArgs(ctypes.Structure):
    """Mirror of tw_scalar_boundary_args in goexport/torchwave.h."""

    _fields_ = [
        ("base", _ScalarArgs),
        ("n_strips", ctypes.c_int64),
        ("strips", ctypes.c_void_p),
        ("source_amplitudes", ctypes.c_void_p),
        ("u", ctypes.c_void_p * 2),
        ("w", ctypes.c_void_p),
    ]


class _ScalarBornArgs(ctypes.Structure):
    """Mirror of tw_scalar_born_args in goexport/torchwave.h."""

    _fields_ = [
        ("bg", _ScalarArgs),
        ("dc", ctypes.c_void_p),
        ("u_sc", ctypes.c_void_p * 2),
        ("psiy_sc", ctypes.c_void_p * 2),
        ("psix_sc", ctypes.c_void_p * 2),
        ("zetay_sc", ctypes.c_void_p * 2),
        ("zetax_sc", ctypes.c_void_p * 2),
        ("n_receivers_sc", ctypes.c_int64),
        ("receiver_index_sc", ctypes.c_void_p),
        ("source_amplitudes_sc", ctypes.c_void_p),
        ("receiver_amplitudes_sc", ctypes.c_void_p),
        ("store_sc", ctypes.c_void_p),
        ("grad_dc", ctypes.c_void_p),
        ("adjoint_bg", ctypes.c_int64),
    ]


def library_source_hash(lib: ctypes.CDLL) -> str:
    """The source digest stamped into a loaded library at build time."""
    buf = ctypes.create_string_buffer(64)
    lib.tw_source_hash(buf, len(buf))
    return buf.value.decode()


def check_current(lib: ctypes.CDLL, path: pathlib.Path, root: pathlib.Path) -> None:
    """Raises ImportError if the library was built from other Go sources
    than those under root."""
    built, current = library_source_hash(lib), source_hash(root)
    if built != current:
        raise ImportError(
            f"torchwave's compiled core {path} was built from other Go sources "
            f"(hash {built}) than the ones in {root} (hash {current}): it is "
            f"stale. {_REBUILD_HINT}"
        )


def _load() -> ctypes.CDLL:
    path = pathlib.Path(os.environ.get("TORCHWAVE_LIBRARY", _PACKAGE_DIR / _LIBRARY_NAME))
    if not path.is_file():
        raise ImportError(f"torchwave's compiled core {path} is missing. {_REBUILD_HINT}")
    lib = ctypes.CDLL(str(path))
    lib.tw_abi_version.restype = ctypes.c_int
    version = lib.tw_abi_version()
    if version != ABI_VERSION:
        raise ImportError(
            f"torchwave's compiled core {path} has ABI version {version}, but this "
            f"Python package expects {ABI_VERSION}: the library is stale. {_REBUILD_HINT}"
        )
    root = _go_sources_root()
    if root is not None and "TORCHWAVE_LIBRARY" not in os.environ:
        check_current(lib, path, root)
    for name, args in (
        ("tw_scalar_forward", _ScalarArgs),
        ("tw_scalar_backward", _ScalarArgs),
        ("tw_scalar_born_forward", _ScalarBornArgs),
        ("tw_scalar_born_backward", _ScalarBornArgs),
        ("tw_scalar_boundary_forward", _ScalarBoundaryArgs),
        ("tw_scalar_boundary_backward", _ScalarBoundaryArgs),
    ):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.POINTER(args), ctypes.c_char_p, ctypes.c_int]
        fn.restype = ctypes.c_int
    lib.tw_scalar_boundary_cells.argtypes = [
        ctypes.POINTER(_ScalarArgs), ctypes.POINTER(ctypes.c_int64), ctypes.c_char_p, ctypes.c_int,
    ]
    lib.tw_scalar_boundary_cells.restype = ctypes.c_int
    lib.tw_set_num_threads.argtypes = [ctypes.c_int]
    lib.tw_get_num_threads.restype = ctypes.c_int
    lib.tw_simd.restype = ctypes.c_int
    return lib


_lib = _load()


def set_num_threads(n: int) -> None:
    """Sets how many threads torchwave's CPU kernels use (default: all
    logical CPUs). Lower it when other work (torch's own threads, Dask
    workers) shares the cores."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    _lib.tw_set_num_threads(n)


def get_num_threads() -> int:
    """How many threads torchwave's CPU kernels use."""
    return _lib.tw_get_num_threads()


def simd_enabled() -> bool:
    """Whether the CPU kernels were built with archsimd vector code."""
    return bool(_lib.tw_simd())


def library() -> ctypes.CDLL:
    """The loaded core. Modules declare the prototypes of the functions
    they call (``argtypes``/``restype``) next to their own code."""
    return _lib


def new_error_buffer() -> ctypes.Array:
    """A buffer for the message that comes back with a failing status."""
    return ctypes.create_string_buffer(4096)


def raise_for_status(status: int, errbuf: ctypes.Array, what: str = "torchwave core") -> None:
    """Turns a tw_status and its message into the matching Python error."""
    if status == TW_OK:
        return
    message = errbuf.value.decode(errors="replace")
    if status == TW_EUNSUPPORTED:
        raise NotImplementedError(f"{what}: {message}")
    if status == TW_EINVAL:
        raise ValueError(f"{what}: {message}")
    raise RuntimeError(f"{what}: {message}")


def tensor_pointer(t: torch.Tensor | None) -> int | None:
    if t is None or t.numel() == 0:
        return None
    if not t.is_contiguous():
        raise RuntimeError("internal error: a non-contiguous tensor reached the Go core")
    return t.data_ptr()


def _fill(args: ctypes.Structure, pairs: tuple[str, ...], kw: dict) -> None:
    """Sets the fields of args from keywords: the buffer pairs named in
    pairs from 2-lists of tensors, tensors as pointers, the rest as is."""
    for name, value in kw.items():
        if name in pairs:
            getattr(args, name)[0] = tensor_pointer(value[0])
            getattr(args, name)[1] = tensor_pointer(value[1])
        elif isinstance(value, torch.Tensor) or value is None:
            setattr(args, name, tensor_pointer(value))
        else:
            setattr(args, name, value)


def scalar_call(backward: bool, boundary: dict | None = None, **kw) -> None:
    """Runs one chunk of the scalar propagator in Go. Keyword names are the
    fields of tw_scalar_args; tensors are passed as pointers. ``boundary``
    holds the other fields of tw_scalar_boundary_args (``u`` as a 2-list)
    for a run with boundary saving."""
    errbuf = new_error_buffer()
    if boundary is None:
        args = _ScalarArgs()
        _fill(args, ("u", "psiy", "psix", "zetay", "zetax"), kw)
        fn = _lib.tw_scalar_backward if backward else _lib.tw_scalar_forward
    else:
        args = _ScalarBoundaryArgs()
        _fill(args.base, ("u", "psiy", "psix", "zetay", "zetax"), kw)
        _fill(args, ("u",), boundary)
        fn = _lib.tw_scalar_boundary_backward if backward else _lib.tw_scalar_boundary_forward
    raise_for_status(fn(ctypes.byref(args), errbuf, len(errbuf)), errbuf)


def scalar_boundary_cells(**kw) -> int:
    """Cells per shot of one boundary strip for the grid and PML profiles
    given as scalar_call's keywords."""
    args = _ScalarArgs()
    _fill(args, (), kw)
    cells = ctypes.c_int64()
    errbuf = new_error_buffer()
    raise_for_status(_lib.tw_scalar_boundary_cells(ctypes.byref(args), ctypes.byref(cells), errbuf, len(errbuf)), errbuf)
    return cells.value


def born_call(backward: bool, bg: dict, **kw) -> None:
    """Runs one chunk of the Born scalar propagator in Go. ``bg`` holds the
    background's fields of tw_scalar_args, as scalar_call takes them; the
    keywords are the other fields of tw_scalar_born_args (the scattered
    field pairs u_sc, psiy_sc, psix_sc, zetay_sc, zetax_sc as 2-lists)."""
    args = _ScalarBornArgs()
    _fill(args.bg, ("u", "psiy", "psix", "zetay", "zetax"), bg)
    _fill(args, ("u_sc", "psiy_sc", "psix_sc", "zetay_sc", "zetax_sc"), kw)
    errbuf = new_error_buffer()
    fn = _lib.tw_scalar_born_backward if backward else _lib.tw_scalar_born_forward
    raise_for_status(fn(ctypes.byref(args), errbuf, len(errbuf)), errbuf)
