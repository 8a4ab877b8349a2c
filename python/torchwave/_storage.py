"""Where the backward pass gets the forward wavefield history from.

A propagator's model gradient needs, at every sampled step, a snapshot the
forward pass wrote (for ``scalar``: the spatial operator's value W). The
Go core writes a chunk's snapshots into a buffer given with the index of
its first snapshot, so the history can live elsewhere:

* ``InMemory``: one buffer for the whole history, on the model's device
  (``storage_mode="device"``, and ``"cpu"`` for CPU tensors);
* ``Staged``: a staging buffer of one segment of steps, whose snapshots are
  encoded (optionally compressed) into host memory or a file on disk after
  the segment and decoded back before the backward pass reaches it;
* ``Checkpointed``: only the full state at the start of every segment; the
  backward pass recomputes a segment's snapshots from its checkpoint just
  before it needs them (one extra forward pass, far less memory);
* ``Boundary``: no snapshots at all but strips of the wavefield next to and
  in the PML every step; the Go core's backward pass rebuilds the forward
  wavefield from the final state by running the time steps in reverse.

Every history is a plan with the same calls, used by the propagators'
autograd Functions: ``forward_buffer``/``after_forward`` around each
forward chunk, ``backward_buffer`` before each backward chunk, ``close``.
At the end of the forward pass ``saved()`` hands every tensor the plan
holds to ``ctx.save_for_backward`` and drops the plan's own references;
the backward pass takes them back with ``restore(iterator)`` and drops
them again with ``release()``. The history thus lives exactly as long as
autograd's saved tensors, and whatever autograd does with those (the
recomputation of ``torch.utils.checkpoint``, ``saved_tensors_hooks``,
``save_on_cpu``) it does with the history too. A plan kept anywhere else
(on ``ctx``, say) is silently stale under non-reentrant checkpointing.
Chunks never cross a segment boundary (``segment_boundaries``).
``Together`` runs several histories of the same steps as one plan
(``maxwelltm``'s stores). ``check_options``, ``resolve_mode`` and
``full_history`` are the steps every propagator shares.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import tempfile
import weakref
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch

from . import _lib

logger = logging.getLogger("torchwave")

STORAGE_MODES = ("device", "cpu", "disk", "none", "auto")
STORAGE_STRATEGIES = ("full", "checkpoint", "boundary")
COMPRESSIONS = ("bf16", "int8")
#: Elements per block that share one scale in int8 compression (the Go
#: core's kernels/codec.Block).
INT8_BLOCK = 64


def compression_of(storage_compression) -> Optional[str]:
    """None, "bf16" or "int8" from the user's ``storage_compression``
    (False, True meaning "bf16", or a name)."""
    if storage_compression is False or storage_compression is None:
        return None
    if storage_compression is True:
        return "bf16"
    if storage_compression in COMPRESSIONS:
        return storage_compression
    raise ValueError(f"storage_compression must be False, True, 'bf16' or 'int8', got {storage_compression!r}")


def check_options(storage_mode, storage_path, storage_compression, storage_strategy, python_backend) -> Optional[str]:
    """Validates the storage arguments every propagator takes; returns the
    compression (None, "bf16" or "int8")."""
    if storage_mode not in STORAGE_MODES:
        raise ValueError(f"storage_mode must be one of {STORAGE_MODES}, got {storage_mode!r}")
    if not isinstance(storage_path, (str, os.PathLike)):
        raise TypeError(f"storage_path must be a path, got {type(storage_path).__name__}")
    if storage_mode in ("disk", "auto") and os.path.exists(storage_path) and not os.path.isdir(storage_path):
        # Caught here, not after a forward pass's worth of work.
        raise ValueError(f"storage_path={os.fspath(storage_path)!r} is not a directory")
    compression = compression_of(storage_compression)
    if storage_strategy not in STORAGE_STRATEGIES:
        raise ValueError(f"storage_strategy must be one of {STORAGE_STRATEGIES}, got {storage_strategy!r}")
    if python_backend is not False and (storage_mode in ("cpu", "disk") or compression or storage_strategy != "full"):
        raise ValueError(
            "storage_mode 'cpu'/'disk', storage_compression and storage_strategy apply to the Go core; "
            "with python_backend, autograd keeps the history itself"
        )
    return compression


# Encoding of snapshots into fixed-size byte rows ----------------------------


class Codec:
    """Turns [n, *shape] float snapshots into [n, row_bytes] uint8 rows and
    back; "raw" is lossless, "bf16" keeps 8 bits of mantissa, "int8" 7 bits
    per value, companded, with the largest value of each block of
    INT8_BLOCK elements as its scale."""

    def __init__(self, kind: Optional[str], shape: Tuple[int, ...], dtype: torch.dtype):
        self.kind = kind or "raw"
        self.shape, self.dtype = tuple(shape), dtype
        self.numel = math.prod(shape)
        self.blocks = -(-self.numel // INT8_BLOCK)
        if self.kind == "raw":
            self.row_bytes = self.numel * torch.finfo(dtype).bits // 8
        elif self.kind == "bf16":
            self.row_bytes = self.numel * 2
        else:
            self.row_bytes = self.blocks * 4 + self.blocks * INT8_BLOCK

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        flat = x.reshape(n, self.numel)
        if self.kind == "raw":
            return flat.view(torch.uint8)
        if self.kind == "bf16":
            return flat.to(torch.bfloat16).view(torch.uint8)
        rows = torch.empty(n, self.row_bytes, dtype=torch.uint8, device=x.device)
        _int8(True, flat.contiguous(), rows, n, self.numel)
        return rows

    def decode(self, rows: torch.Tensor, out: torch.Tensor) -> None:
        n = rows.shape[0]
        flat = out[:n].reshape(n, self.numel)
        if self.kind == "raw":
            flat.copy_(rows.view(self.dtype))
        elif self.kind == "bf16":
            flat.copy_(rows.view(torch.bfloat16))
        else:
            if flat.is_contiguous():
                _int8(False, rows.contiguous(), flat, n, self.numel)
            else:
                values = torch.empty(n, self.numel, dtype=self.dtype, device=rows.device)
                _int8(False, rows.contiguous(), values, n, self.numel)
                flat.copy_(values)


def _int8(encode: bool, src: torch.Tensor, dst: torch.Tensor, rows: int, n: int) -> None:
    """The Go core's int8 snapshot codec (CPU tensors)."""
    if src.device.type != "cpu":
        raise NotImplementedError("int8 snapshot compression runs on the CPU only for now; use 'bf16' on the GPU")
    values = src if encode else dst
    dtype = 0 if values.dtype == torch.float32 else 1
    encoded = dst if encode else src
    _lib.int8_call(encode, dtype, rows, n, encoded.numel(), src, dst)


# Backing stores of encoded rows -------------------------------------------


class MemoryRows:
    """Encoded rows in a tensor on ``device`` (pinned when it is host
    memory serving a GPU, so copies overlap with compute)."""

    def __init__(self, n: int, row_bytes: int, device: torch.device, pin: bool):
        self.rows = torch.empty(n, row_bytes, dtype=torch.uint8, device=device, pin_memory=pin)

    def put(self, first: int, rows: torch.Tensor) -> None:
        self.rows[first : first + rows.shape[0]].copy_(rows, non_blocking=True)

    def get(self, first: int, n: int) -> torch.Tensor:
        return self.rows[first : first + n]

    def saved(self) -> List[torch.Tensor]:
        return [self.rows]

    @classmethod
    def from_saved(cls, tensors) -> MemoryRows:
        rows = cls.__new__(cls)
        rows.rows = next(tensors)
        return rows

    def close(self) -> None:
        self.rows = None


class DiskRows:
    """Encoded rows in a file in a fresh directory under ``path``; the
    directory is removed by ``close()``, or when the object is garbage
    collected (a dropped graph), or at interpreter exit. Plain reads and
    writes, not a memory map: mapped pages would count as the process's
    memory until the kernel wrote them back."""

    def __init__(self, n: int, row_bytes: int, path: str):
        self.path = path
        try:
            os.makedirs(path, exist_ok=True)
            self.directory = tempfile.mkdtemp(prefix="torchwave-snapshots-", dir=path)
        except OSError as e:
            raise _disk_error(e, path, "make its snapshot directory") from e
        self.row_bytes = row_bytes
        try:
            self.fd = os.open(os.path.join(self.directory, "snapshots.bin"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except BaseException as e:
            shutil.rmtree(self.directory, ignore_errors=True)
            if isinstance(e, OSError):
                raise _disk_error(e, path, "make its snapshot file") from e
            raise
        self._cleanup = weakref.finalize(self, _remove_file_tree, self.directory, self.fd)

    def put(self, first: int, rows: torch.Tensor) -> None:
        data = np.ascontiguousarray(rows.cpu().numpy())
        view, offset = memoryview(data).cast("B"), first * self.row_bytes
        try:
            while len(view):
                written = os.pwrite(self.fd, view, offset)
                view, offset = view[written:], offset + written
        except OSError as e:
            raise _disk_error(e, self.path, f"write {len(data) * data.shape[-1]} bytes of snapshots") from e

    def get(self, first: int, n: int) -> torch.Tensor:
        out = np.empty((n, self.row_bytes), dtype=np.uint8)
        view, offset = memoryview(out).cast("B"), first * self.row_bytes
        while len(view):
            got = os.preadv(self.fd, [view], offset)
            if got == 0:
                raise OSError(f"the snapshot file in {self.directory} is shorter than expected")
            view, offset = view[got:], offset + got
        return torch.from_numpy(out)

    def saved(self) -> List[torch.Tensor]:
        """A one-element key tensor that keeps this file: the file is removed
        when the key's storage is freed (autograd released its saved
        tensors), not when some Python object holding it goes."""
        token = next(_disk_tokens)
        _open_disk_rows[token] = self
        key = np.array([token], dtype=np.int64)
        weakref.finalize(key, _forget_disk_rows, token)
        return [torch.from_numpy(key)]

    @staticmethod
    def from_saved(tensors) -> DiskRows:
        token = int(next(tensors)[0])
        rows = _open_disk_rows.get(token)
        if rows is None:
            raise RuntimeError(
                "the snapshot file of storage_mode='disk' is gone: saved_tensors_hooks copied the key that keeps "
                "it (torchwave removes the file when that key is freed); use storage_mode='cpu' or 'device' "
                "under hooks that copy saved tensors"
            )
        return rows

    def close(self) -> None:
        self._cleanup()


def _disk_error(err: OSError, path: str, doing: str) -> OSError:
    """``err`` in words that name the storage options involved (an
    OSError of the same kind: PermissionError, ...)."""
    return OSError(
        err.errno,
        f"storage_mode='disk' could not {doing} under storage_path={os.fspath(path)!r}: {err.strerror}. Choose "
        "another storage_path (a writable directory with room for the history), or keep the history in memory "
        "(storage_mode='cpu'; storage_compression and storage_strategy='checkpoint' make it smaller)",
    )


_disk_tokens = itertools.count(1)
#: The snapshot files whose key tensors are alive, by token.
_open_disk_rows: dict = {}


def _forget_disk_rows(token: int) -> None:
    rows = _open_disk_rows.pop(token, None)
    if rows is not None:
        rows.close()


def _remove_file_tree(directory: str, fd: Optional[int]) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass
    shutil.rmtree(directory, ignore_errors=True)


# Plans ----------------------------------------------------------------------


class InMemory:
    """The whole history in one buffer on the model's device."""

    def __init__(self, buffer: torch.Tensor):
        self.buffer = buffer
        self.segment = None  # one segment: no extra chunk boundaries

    def forward_buffer(self, start: int, count: int):
        return self.buffer, 0

    def after_forward(self, start: int, count: int, pairs) -> None:
        pass

    def backward_buffer(self, start: int, count: int):
        return self.buffer, 0

    def saved(self) -> List[torch.Tensor]:
        out, self.buffer = [self.buffer], None
        return out

    def restore(self, tensors) -> None:
        self.buffer = next(tensors)

    def release(self) -> None:
        self.buffer = None

    def close(self) -> None:
        self.buffer = None


class _Segmented:
    """Shared segment arithmetic: segments of ``segment`` steps (a multiple
    of the store interval) and a staging buffer of one segment's snapshots."""

    def __init__(self, n_steps: int, interval: int, segment: int, staging: torch.Tensor):
        self.n_steps, self.interval, self.segment = n_steps, interval, segment
        self.staging = staging
        self.loaded: Optional[int] = None  # the segment the staging buffer holds for the backward pass

    def segment_of(self, step: int) -> Tuple[int, int, int]:
        """(start step, first snapshot, number of snapshots) of the segment
        containing ``step``."""
        start = step - step % self.segment
        end = min(start + self.segment, self.n_steps)
        first = -(-start // self.interval)
        return start, first, -(-end // self.interval) - first

    def forward_buffer(self, start: int, count: int):
        return self.staging, self.segment_of(start)[1]

    def _saved_staging(self) -> List[torch.Tensor]:
        """Drops the staging buffer(s): scratch, whose content the backward
        pass does not need, and which it writes (a saved tensor must not be
        written). ``_restore_staging`` allocates them again."""
        staging = self.staging if isinstance(self.staging, list) else [self.staging]
        self._staging_list = isinstance(self.staging, list)
        self._staging_like = [(t.shape, t.dtype, t.device) for t in staging]
        self.staging, self.loaded = None, None
        return []

    def _restore_staging(self) -> None:
        # Zeros, as in the forward pass: the core leaves a snapshot's halo unwritten.
        got = [torch.zeros(shape, dtype=dtype, device=device) for shape, dtype, device in self._staging_like]
        self.staging = got if self._staging_list else got[0]
        self.loaded = None  # a second backward pass (retain_graph) loads again


class Staged(_Segmented):
    """Snapshots encoded into ``rows`` (memory or disk) segment by segment."""

    def __init__(self, n_steps, interval, segment, staging, codec: Codec, rows):
        super().__init__(n_steps, interval, segment, staging)
        self.codec, self.rows = codec, rows

    def after_forward(self, start: int, count: int, pairs) -> None:
        seg_start, first, n = self.segment_of(start)
        if start + count == min(seg_start + self.segment, self.n_steps) and n > 0:
            self.rows.put(first, self.codec.encode(self.staging[:n]))

    def backward_buffer(self, start: int, count: int):
        seg_start, first, n = self.segment_of(start)
        if self.loaded != seg_start:
            if n > 0:
                self.codec.decode(self.rows.get(first, n).to(self.staging.device), self.staging)
            self.loaded = seg_start
        return self.staging, first

    def saved(self) -> List[torch.Tensor]:
        self._rows_type = type(self.rows)
        out = self._saved_staging() + self.rows.saved()
        self.rows = None
        return out

    def restore(self, tensors) -> None:
        self._restore_staging()
        self.rows = self._rows_type.from_saved(tensors)

    def release(self) -> None:
        self.staging = self.rows = None

    def close(self) -> None:
        if self.rows is not None:
            self.rows.close()
        self.staging = None


class Checkpointed(_Segmented):
    """The state at each segment start; a segment's snapshots are
    recomputed from it when the backward pass reaches the segment.

    ``recompute(pairs, start, count, store, first)`` runs the forward
    steps ``[start, start + count)`` from the state in ``pairs`` writing
    snapshots into ``store``; ``state_of(pairs)`` / ``pairs_from(state)``
    copy the propagator's current state out and back."""

    def __init__(self, n_steps, interval, segment, staging, state_of: Callable, pairs_from: Callable, recompute: Callable):
        super().__init__(n_steps, interval, segment, staging)
        self.state_of, self.pairs_from, self.recompute = state_of, pairs_from, recompute
        self.checkpoints: dict = {}

    def forward_buffer(self, start: int, count: int):
        return None, 0  # the first pass stores nothing but the checkpoints

    def after_forward(self, start: int, count: int, pairs) -> None:
        end = start + count
        if end % self.segment == 0 and end < self.n_steps:
            self.checkpoints[end] = self.state_of(pairs)

    def save_initial(self, pairs) -> None:
        self.checkpoints[0] = self.state_of(pairs)

    def backward_buffer(self, start: int, count: int):
        seg_start, first, _ = self.segment_of(start)
        if self.loaded != seg_start:
            end = min(seg_start + self.segment, self.n_steps)
            self.recompute(self.pairs_from(self.checkpoints[seg_start]), seg_start, end - seg_start, self.staging, first)
            self.loaded = seg_start
        return self.staging, first

    def saved(self) -> List[torch.Tensor]:
        self._layout = [(step, len(state)) for step, state in sorted(self.checkpoints.items())]
        out = self._saved_staging() + [t for _, state in sorted(self.checkpoints.items()) for t in state]
        self.checkpoints = {}
        return out

    def restore(self, tensors) -> None:
        self._restore_staging()
        self.checkpoints = {step: [next(tensors) for _ in range(n)] for step, n in self._layout}

    def release(self) -> None:
        self.staging, self.checkpoints = None, {}

    def close(self) -> None:
        self.checkpoints.clear()
        self.staging = None


class Together:
    """Several histories of the same steps as one plan (maxwelltm keeps up
    to four): the buffer calls return a list, one buffer per history. The
    plans share their segments, so one window index serves them all."""

    def __init__(self, plans: list):
        self.plans = plans
        self.segment = plans[0].segment

    def forward_buffer(self, start: int, count: int):
        return self._buffers([p.forward_buffer(start, count) for p in self.plans])

    def after_forward(self, start: int, count: int, pairs) -> None:
        for p in self.plans:
            p.after_forward(start, count, pairs)

    def backward_buffer(self, start: int, count: int):
        return self._buffers([p.backward_buffer(start, count) for p in self.plans])

    @staticmethod
    def _buffers(got):
        return [b for b, _ in got], got[0][1]

    def saved(self) -> List[torch.Tensor]:
        return [t for p in self.plans for t in p.saved()]

    def restore(self, tensors) -> None:
        for p in self.plans:
            p.restore(tensors)

    def release(self) -> None:
        for p in self.plans:
            p.release()

    def close(self) -> None:
        for p in self.plans:
            p.close()


class Boundary:
    """Boundary saving: the Go core records every step's wavefield outside
    the rectangle its backward pass can rebuild by running the leapfrog
    step in reverse (the PML band and the cells its stencil reaches), and
    the backward pass rebuilds the rest from the final state, taking W
    from the rebuilt field. ``strips`` is [n_steps + 2, n_shots, cells];
    ``sources`` the forward's scaled source amplitudes, which the reversed
    steps take out again."""

    segment = None  # the strips span the whole run: no extra chunk boundaries

    def __init__(self, strips: torch.Tensor, sources: torch.Tensor):
        self.strips, self.sources = strips, sources
        # Kept for reporting after the strips went into autograd's saved tensors.
        self.shape, self._nbytes = tuple(strips.shape), strips.numel() * strips.element_size()
        self.final: Optional[List[torch.Tensor]] = None  # the forward's last (u, u_prev)
        self.u: Optional[List[torch.Tensor]] = None  # the wavefield being rebuilt
        self.w: Optional[torch.Tensor] = None

    def forward_buffer(self, start: int, count: int):
        return None, 0

    def after_forward(self, start: int, count: int, pairs) -> None:
        pass

    def keep_final(self, u: torch.Tensor, u_prev: torch.Tensor) -> None:
        self.final = [u.clone(), u_prev.clone()]

    def start_backward(self) -> None:
        # From the final state each time: under retain_graph=True a second
        # backward pass rebuilds the field again.
        self.u = [t.clone() for t in self.final]
        self.w = torch.empty_like(self.final[0])

    def backward_buffer(self, start: int, count: int):
        return None, 0

    def fields(self, backward: bool, start: int, count: int) -> dict:
        """The boundary fields of the Go core's call for a chunk."""
        out = {"n_strips": self.strips.shape[0], "strips": self.strips}
        if backward:
            out.update(source_amplitudes=self.sources[start : start + count], u=self.u, w=self.w)
        return out

    def nbytes(self) -> int:
        """Bytes the strips take."""
        return self._nbytes

    def saved(self) -> List[torch.Tensor]:
        out = [self.strips, self.sources, *self.final]
        self.close()
        return out

    def restore(self, tensors) -> None:
        self.strips, self.sources = next(tensors), next(tensors)
        self.final = [next(tensors), next(tensors)]

    def release(self) -> None:
        self.close()

    def close(self) -> None:
        self.strips = self.sources = self.final = self.u = self.w = None


# Choosing a plan ------------------------------------------------------------


def segment_boundaries(n_steps: int, callback_every: Optional[int], segment: Optional[int]) -> List[Tuple[int, int]]:
    """(start, count) chunks of ``[0, n_steps)`` split at every multiple of
    ``callback_every`` and of ``segment`` (either may be None)."""
    cuts = {0, n_steps}
    for every in (callback_every, segment):
        if every:
            cuts.update(range(0, n_steps, every))
    cuts = sorted(cuts)
    return [(a, b - a) for a, b in zip(cuts, cuts[1:])]


class SnapshotPool:
    """Reuses the snapshot buffer of the last gradient computation (the
    wavefield history of ``scalar``, the forward fields of imaging hooks).

    A fresh buffer of hundreds of MB costs more in first-touch page faults
    than the stencil work of the steps it stores, and an inversion asks for
    one of the same size every iteration. The pool hands out tensors over a
    kept NumPy buffer; the buffer comes back only when the storage of the
    tensor handed out is freed, i.e. when no tensor shares it any more
    (autograd's saved tensors, a detached copy that torch.utils.checkpoint
    keeps, a view): a retained graph keeps its own snapshots.
    `torchwave.empty_cache()` frees the kept buffer."""

    def __init__(self):
        self._free: Optional[np.ndarray] = None

    def take(self, shape, dtype) -> torch.Tensor:
        n = math.prod(shape)
        kind = _NUMPY_DTYPES.get(dtype)
        if kind is None:
            return torch.empty(shape, dtype=dtype)
        base, self._free = self._free, None
        if base is None or base.dtype != kind or base.size < n:
            base = None  # release the old one before allocating
            base = np.empty(n, dtype=kind)
        # The tensor's storage holds `window`; when the storage is freed,
        # `window` dies and the buffer goes back to the pool.
        window = base[:n]
        weakref.finalize(window, self._give_back, base)
        return torch.from_numpy(window).view(shape)

    def _give_back(self, base: np.ndarray) -> None:
        if self._free is None or self._free.size < base.size:
            self._free = base

    def clear(self) -> None:
        self._free = None


_NUMPY_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


#: The one pool of the process; ``torchwave.empty_cache()`` clears it.
snapshot_pool = SnapshotPool()


def staging_snapshots(n_store: int, state_fields: float = 0) -> int:
    """Snapshots per segment. Checkpointing keeps ``state_fields`` grids per
    segment besides one segment of snapshots, so about
    sqrt(state_fields·n_store) minimises the sum; a staged copy just needs
    segments long enough to amortise the encoding calls."""
    if state_fields:
        return max(1, min(n_store, math.ceil(math.sqrt(state_fields * n_store))))
    return max(1, min(n_store, max(8, math.ceil(math.sqrt(n_store)))))


def available_memory(device: torch.device) -> int:
    """Bytes that can still be allocated on ``device`` (an estimate)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62  # unknown: assume it fits


def resolve_mode(mode: str, device: torch.device, need_bytes: int, storage_path: str) -> str:
    """``mode``, with "auto" replaced by the mode ``choose_mode`` picks for
    a history of ``need_bytes`` (logged at debug level)."""
    if mode != "auto":
        return mode
    mode = choose_mode(device, need_bytes, storage_path)
    logger.debug("storage_mode='auto' keeps the %.3f GiB wavefield history on %s", need_bytes / 2**30, mode)
    return mode


def full_history(
    mode: str,
    codec: Codec,
    n_steps: int,
    interval: int,
    device: torch.device,
    storage_path: str,
    allocate: Callable = snapshot_pool.take,
):
    """The "full" strategy's plan for one history of ``codec.shape``
    snapshots: every sampled one kept, in one buffer from
    ``allocate(shape, dtype)`` or staged through ``codec`` into host memory
    or a file. ``mode`` is resolved already (not "auto")."""
    n_store = -(-n_steps // interval)
    if codec.kind == "raw" and (mode == "device" or (mode == "cpu" and device.type == "cpu")):
        return InMemory(allocate((n_store, *codec.shape), codec.dtype))
    per_segment = staging_snapshots(n_store)
    # Zeros: the core leaves the halo of a snapshot unwritten, and a block
    # scale must not see what was in the memory before.
    staging = torch.zeros((per_segment, *codec.shape), dtype=codec.dtype, device=device)
    if mode == "disk":
        rows = DiskRows(n_store, codec.row_bytes, storage_path)
    else:
        host = mode == "cpu"
        rows = MemoryRows(n_store, codec.row_bytes, torch.device("cpu") if host else device, pin=host and device.type == "cuda")
    return Staged(n_steps, interval, per_segment * interval, staging, codec, rows)


def choose_mode(device: torch.device, need_bytes: int, storage_path: str, headroom: float = 0.8) -> str:
    """The fastest storage mode whose free space holds ``need_bytes``:
    the device, then (for a GPU) host memory, then disk."""
    candidates = ["device"] + (["cpu"] if device.type == "cuda" else [])
    for mode in candidates:
        where = device if mode == "device" else torch.device("cpu")
        if need_bytes <= headroom * available_memory(where):
            return mode
    os.makedirs(storage_path, exist_ok=True)
    if need_bytes <= headroom * shutil.disk_usage(storage_path).free:
        return "disk"
    raise MemoryError(
        f"the wavefield history needs {need_bytes / 2**30:.2f} GiB, more than the free memory or the free disk "
        f"space under storage_path={storage_path!r}: use storage_strategy='checkpoint' or storage_compression"
    )
