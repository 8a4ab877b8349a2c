"""Loads torchwave's Go core (one c-shared library) and calls it via ctypes.

The library is loaded once per process and never unloaded: the Go runtime
cannot be unloaded, and two Go runtimes cannot share a process. A process
that has loaded it must not fork (use the "spawn" or "forkserver" start
methods of multiprocessing): the Go runtime's threads are not copied into
a forked child, whose next Go call would hang (golang/go#15538), so every
call from a forked child raises instead.
"""

from __future__ import annotations

import ctypes
import os
import pathlib

import torch

from . import _abi
from ._abi import ABI_VERSION, TW_EINVAL, TW_EUNSUPPORTED, TW_OK
from ._sourcehash import source_hash

_PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
_LIBRARY_NAME = "libtorchwave.so"
_REBUILD_HINT = "Rebuild it with `make build` (or `pip install -e .`) from the torchwave source tree; building needs Go 1.26."


def _go_sources_root() -> pathlib.Path | None:
    """The source checkout this package lives in, if it is one."""
    root = _PACKAGE_DIR.parent.parent
    return root if (root / "go.mod").is_file() and (root / "goexport").is_dir() else None


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
    return _abi.declare(lib)


_loaded_by = os.getpid()


def check_process() -> None:
    """Raises RuntimeError in a forked child of the process that loaded
    the core, where a Go call would hang."""
    if os.getpid() != _loaded_by:
        raise RuntimeError(
            f"torchwave's Go core cannot run in a forked child process: it was loaded by process {_loaded_by}, "
            f"and this process ({os.getpid()}) is a fork of it (os.fork, or multiprocessing's 'fork' start "
            "method), into which the Go runtime's threads were not copied, so the call would hang. Start "
            "child processes with the 'spawn' or 'forkserver' method (multiprocessing.set_start_method('spawn'), "
            "or mp_context=multiprocessing.get_context('spawn') for a ProcessPoolExecutor), or fork before "
            "importing torchwave"
        )


class _Core:
    """The loaded library, whose functions are reached as its attributes,
    refused in a forked child (see check_process)."""

    def __init__(self, lib: ctypes.CDLL):
        self._lib = lib

    def __getattr__(self, name: str):
        check_process()
        return getattr(self._lib, name)


_lib = _Core(_load())


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


def simd_kernels() -> dict:
    """Per kernel package ("scalar", "maxwell"), whether it runs archsimd
    vector code."""
    bits = _lib.tw_simd()
    return {name[len("TW_SIMD_") :].lower(): bool(bits & bit) for name, bit in _abi.SIMD.items()}


def library() -> ctypes.CDLL:
    """The loaded core, every function's prototype declared (see _abi);
    its functions raise RuntimeError in a forked child."""
    return _lib  # type: ignore[return-value]


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


def _fill(args: ctypes.Structure, kw: dict) -> None:
    """Sets the fields of args from keywords: buffer pairs (see
    _abi.PAIRS) from lists of one or two tensors, tensors as pointers, the
    rest as is."""
    pairs = _abi.PAIRS.get(type(args), ())
    for name, value in kw.items():
        if name in pairs:
            array = getattr(args, name)
            if len(value) > len(array):
                raise RuntimeError(f"internal error: {len(value)} buffers for {name}, which holds {len(array)}")
            for i in range(len(array)):
                array[i] = tensor_pointer(value[i]) if i < len(value) else None
        elif isinstance(value, torch.Tensor) or value is None:
            setattr(args, name, tensor_pointer(value))
        elif isinstance(value, (list, tuple)):
            setattr(args, name, tuple(value))  # a count array (ctypes takes tuples)
        else:
            setattr(args, name, value)


def _run(name: str, args: ctypes.Structure, what: str = "torchwave core") -> None:
    errbuf = new_error_buffer()
    raise_for_status(getattr(_lib, name)(ctypes.byref(args), errbuf, len(errbuf)), errbuf, what)


def scalar_call(backward: bool, boundary: dict | None = None, **kw) -> None:
    """Runs one chunk of the scalar propagator in Go. Keyword names are the
    fields of tw_scalar_args; tensors are passed as pointers. ``boundary``
    holds the other fields of tw_scalar_boundary_args (``u`` as a 2-list)
    for a run with boundary saving."""
    direction = "backward" if backward else "forward"
    if boundary is None:
        args = _abi.ScalarArgs()
        _fill(args, kw)
        _run(f"tw_scalar_{direction}", args)
    else:
        outer = _abi.ScalarBoundaryArgs()
        _fill(outer.base, kw)
        _fill(outer, boundary)
        _run(f"tw_scalar_boundary_{direction}", outer)


def scalar_boundary_cells(**kw) -> int:
    """Cells per shot of one boundary strip for the grid and PML profiles
    given as scalar_call's keywords."""
    args = _abi.ScalarArgs()
    _fill(args, kw)
    cells = ctypes.c_int64()
    errbuf = new_error_buffer()
    raise_for_status(_lib.tw_scalar_boundary_cells(ctypes.byref(args), ctypes.byref(cells), errbuf, len(errbuf)), errbuf)
    return cells.value


def born_call(backward: bool, bg: dict, **kw) -> None:
    """Runs one chunk of the Born scalar propagator in Go. ``bg`` holds the
    background's fields of tw_scalar_args, as scalar_call takes them; the
    keywords are the other fields of tw_scalar_born_args (the scattered
    field pairs u_sc, psiy_sc, psix_sc, zetay_sc, zetax_sc as 2-lists)."""
    args = _abi.ScalarBornArgs()
    _fill(args.bg, bg)
    _fill(args, kw)
    _run("tw_scalar_born_backward" if backward else "tw_scalar_born_forward", args)


def maxwell_call(backward: bool, **kw) -> None:
    """Runs one chunk of maxwelltm in Go. Keyword names are the fields of
    tw_maxwell_args; pairs as lists (one tensor: updated in place)."""
    args = _abi.MaxwellArgs()
    _fill(args, kw)
    _run("tw_maxwell_backward" if backward else "tw_maxwell_forward", args, "torchwave maxwelltm")


def acoustic_call(backward: bool, **kw) -> None:
    """Runs one chunk of the acoustic propagator in Go. Keyword names are
    the fields of tw_acoustic_args; the pointer arrays (per axis z, y, x,
    or per survey field p, vz, vy, vx) as lists of tensors or None, the
    count arrays (rd, n_sources, n_receivers) as lists of numbers."""
    args = _abi.AcousticArgs()
    _fill(args, kw)
    _run("tw_acoustic_backward" if backward else "tw_acoustic_forward", args, "torchwave acoustic")


def int8_call(encode: bool, dtype: int, rows: int, n: int, nbytes: int, src: torch.Tensor, dst: torch.Tensor) -> None:
    """The Go core's int8 snapshot codec over CPU tensors."""
    fn = _lib.tw_int8_encode if encode else _lib.tw_int8_decode
    errbuf = new_error_buffer()
    raise_for_status(fn(dtype, rows, n, nbytes, tensor_pointer(src), tensor_pointer(dst), errbuf, len(errbuf)), errbuf)
