"""Argument checking and problem set-up shared by the propagators: grid
spacing, PML widths and profiles, the CFL sub-step, time resampling, survey
extraction and source/receiver positions."""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from typing import Sequence

import numpy as np
import torch

#: A location whose coordinates are both this value is ignored (the same
#: marker as Deepwave's).
IGNORE_LOCATION = -1 << 31

#: The largest Courant number the internal time step may reach.
COURANT_MAX = 0.6


def check_tensor(
    name: str,
    t,
    *,
    ndims: Sequence[int] | None = None,
    dtypes: Sequence[torch.dtype] | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Raises a TypeError/ValueError naming `name` unless t is a tensor of
    one of the given ranks and dtypes on the given device."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if ndims is not None and t.ndim not in ndims:
        want = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(t.shape)}")
    if dtypes is not None and t.dtype not in dtypes:
        want = ", ".join(str(d) for d in dtypes)
        raise TypeError(f"{name} must have dtype {want}, got {t.dtype}")
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device}, but the model is on {device}: put every tensor on one device")
    return t


_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}


def zeros(shape, dtype: torch.dtype, device=None, *, near: torch.Tensor | None = None, slot: int = 0) -> torch.Tensor:
    """A zero-filled tensor whose memory the OS provides on first write.

    torch.zeros writes every byte; on the CPU this takes the memory from
    numpy's calloc instead, whose untouched pages stay unmapped. The PML
    memory fields are non-zero only near the PML, so most of their pages
    are never written and never count against the process's memory.

    With near, the buffer is placed at its own offset within a 4 KiB page
    relative to near (see page_offset), so the kernels that walk it
    alongside near and the other slots do not alias.
    """
    if device is not None:
        device = torch.device(device)
        if device.type != "cpu":
            return torch.zeros(shape, dtype=dtype, device=device)
    if dtype not in _NUMPY_DTYPES:
        return torch.zeros(shape, dtype=dtype)
    if near is None or near.device.type != "cpu":
        return torch.from_numpy(np.zeros(shape, dtype=_NUMPY_DTYPES[dtype]))
    numel, itemsize = math.prod(shape), dtype.itemsize
    flat = torch.from_numpy(np.zeros(numel + _PAGE // itemsize, dtype=_NUMPY_DTYPES[dtype]))
    gap = (near.data_ptr() + page_offset(slot) - flat.data_ptr()) % _PAGE
    if gap % itemsize:
        return flat[:numel].view(shape)
    return flat[gap // itemsize : gap // itemsize + numel].view(shape)


_PAGE = 4096


def page_offset(slot: int) -> int:
    """Byte offset, within a 4 KiB page, of working buffer slot (slot 0 is
    the model the others are placed near).

    Buffers from the allocator all start at the same offset within a page,
    so the same cell of every field has the same low 12 address bits: the
    CPU then mistakes loads for dependents of stores to other fields (4K
    aliasing) and the fields compete for the same L1 sets. Spreading the
    fields 128 bytes apart and more made the Go kernels 1.2–1.7× faster
    (scalar forward, one thread, 1040²). 32 slots, in an order that keeps
    neighbouring slot numbers far apart.
    """
    return (slot * 13 % 32) * 128


def inside_vmap(t: torch.Tensor) -> bool:
    """Whether ``t`` is batched by torch.func (vmap, or a transform over
    it): its values cannot be read (no .item()), only computed with."""
    functorch = torch._C._functorch
    return bool(functorch.is_batchedtensor(t) or functorch.is_functorch_wrapped_tensor(t))


def inside_functorch(*tensors) -> bool:
    """Whether any of ``tensors`` (None allowed) is wrapped by torch.func."""
    return any(t is not None and inside_vmap(t) for t in tensors)


def functorch_backend(backward_callback) -> str:
    """The reference implementation a torch.func transform runs through."""
    if backward_callback is not None:
        raise ValueError(
            "backward_callback is not supported under torch.func transforms (vmap, jvp, grad): they run "
            "through the pure-PyTorch implementation, whose backward pass autograd runs"
        )
    return "eager"


def check_finite(name: str, t: torch.Tensor) -> None:
    if inside_vmap(t):
        return  # values unreadable under vmap; NaNs then propagate as in PyTorch
    # aminmax propagates NaN and shows ±inf, several times faster than
    # isfinite(t).all(), which allocates a mask of the whole tensor.
    if not t.is_floating_point() or t.numel() == 0:
        return
    lo, hi = torch.aminmax(t.detach())
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        raise ValueError(f"{name} contains NaN or infinite values")


def as_positive_float(name: str, x) -> float:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise TypeError(f"{name} must be a number, got a tensor of shape {tuple(x.shape)}")
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be positive and finite, got {x}")
    return x


def as_nonzero_float(name: str, x) -> float:
    """A finite number other than zero (a time step that may be negative)."""
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise TypeError(f"{name} must be a number, got a tensor of shape {tuple(x.shape)}")
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x) or x == 0:
        raise ValueError(f"{name} must be finite and non-zero, got {x}")
    return x


def as_int(name: str, x, *, minimum: int | None = None) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(x).__name__}")
    x = int(x)
    if minimum is not None and x < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {x}")
    return x


#: The names of the spatial axes of an n-dimensional grid, slowest first.
AXES = {1: ("x",), 2: ("y", "x"), 3: ("z", "y", "x")}


def grid_spacing_nd(grid_spacing, ndim: int) -> tuple[float, ...]:
    """One positive spacing per spatial dimension, slowest first, from one
    number or a sequence (a list, tuple, tensor or array) of ``ndim``."""
    if isinstance(grid_spacing, (torch.Tensor, np.ndarray)) and tuple(grid_spacing.shape) not in ((), (1,)):
        # Per-dimension spacings as a tensor or an array, as Deepwave takes them.
        grid_spacing = [float(h) for h in grid_spacing.reshape(-1).tolist()]
    if isinstance(grid_spacing, (list, tuple)):
        if len(grid_spacing) != ndim:
            names = ", ".join(f"d{a}" for a in AXES[ndim])
            raise ValueError(f"grid_spacing must be one number or {ndim} ({names}) for a {ndim}D model, got {len(grid_spacing)}")
        return tuple(as_positive_float(f"grid_spacing[{i}]", h) for i, h in enumerate(grid_spacing))
    h = as_positive_float("grid_spacing", grid_spacing)
    return (h,) * ndim


def grid_spacing_2d(grid_spacing) -> tuple[float, float]:
    dy, dx = grid_spacing_nd(grid_spacing, 2)
    return dy, dx


def accuracy_of(accuracy) -> int:
    accuracy = as_int("accuracy", accuracy)
    if accuracy not in (2, 4, 6, 8):
        raise ValueError(f"accuracy must be 2, 4, 6 or 8, got {accuracy}")
    return accuracy


def pml_widths(pml_width, ndim: int = 2) -> list[int]:
    """[start, end] per dimension, slowest first (2·ndim values), from one
    int or a sequence of 2·ndim."""
    n = 2 * ndim
    if isinstance(pml_width, (torch.Tensor, np.ndarray)):
        pml_width = [int(w) for w in pml_width.reshape(-1).tolist()]
    if isinstance(pml_width, (list, tuple)):
        if len(pml_width) != n:
            faces = ", ".join(f"{a}0, {a}1" for a in AXES[ndim])
            raise ValueError(f"pml_width must be one int or {n} [{faces}] for a {ndim}D model, got {len(pml_width)} values")
        widths = [as_int(f"pml_width[{i}]", w, minimum=0) for i, w in enumerate(pml_width)]
    else:
        widths = [as_int("pml_width", pml_width, minimum=0)] * n
    return widths


def pml_frequency(pml_freq, dt: float) -> float:
    if pml_freq is None:
        warnings.warn("pml_freq was not set, so defaulting to 25 Hz", stacklevel=3)
        return 25.0
    if isinstance(pml_freq, bool) or not isinstance(pml_freq, numbers.Real) or not math.isfinite(pml_freq) or pml_freq < 0:
        raise ValueError(f"pml_freq must be a non-negative number, got {pml_freq!r}")
    if pml_freq > 0.5 / dt:
        warnings.warn(f"pml_freq {pml_freq} is above the Nyquist frequency {0.5 / dt}", stacklevel=3)
    return float(pml_freq)


def cfl_step_ratio(spacing: Sequence[float], dt: float, max_vel: float) -> int:
    """The number of internal steps per user step that keeps the Courant
    number at or below COURANT_MAX on a grid of these spacings."""
    if max_vel == 0:
        return 1  # a model at rest everywhere: any step is stable
    max_dt = COURANT_MAX / math.sqrt(sum(1 / h**2 for h in spacing)) / max_vel
    ratio = math.ceil(dt / max_dt - 1e-9)
    if ratio >= 20:
        warnings.warn(
            f"dt={dt} needs {ratio} internal steps per step for stability (grid spacing "
            f"{', '.join(str(h) for h in spacing)}, max velocity {max_vel}); a smaller dt would avoid resampling",
            stacklevel=3,
        )
    return max(ratio, 1)


def first_derivative_weights(accuracy: int) -> list[float]:
    return {
        2: [1 / 2],
        4: [2 / 3, -1 / 12],
        6: [3 / 4, -3 / 20, 1 / 60],
        8: [4 / 5, -1 / 5, 4 / 105, -1 / 280],
    }[accuracy]


def second_derivative_weights(accuracy: int) -> tuple[float, list[float]]:
    return {
        2: (-2.0, [1.0]),
        4: (-5 / 2, [4 / 3, -1 / 12]),
        6: (-49 / 18, [3 / 2, -3 / 20, 1 / 90]),
        8: (-205 / 72, [8 / 5, -1 / 5, 8 / 315, -1 / 560]),
    }[accuracy]


def pml_profile(n, halo, widths, spacing, dt, max_vel, pml_freq, accuracy, dtype, device, **kwargs):
    """CPML coefficients (a, b, ∂b) along one axis (see _pml_profile),
    cached: an inversion asks for the same profiles every call. The
    tensors are shared between calls and never written. ``longest`` (a
    keyword) is the physical width of the longest PML over every side and
    dimension, which sets the damping of all of them, as in Deepwave;
    default this axis's longest."""
    return _pml_profile(n, halo, tuple(widths), spacing, dt, max_vel, pml_freq, accuracy, dtype, device, **kwargs)


@functools.lru_cache(maxsize=64)
def _pml_profile(
    n: int,
    halo: int,
    widths: Sequence[int],
    spacing: float,
    dt: float,
    max_vel: float,
    pml_freq: float,
    accuracy: int,
    dtype: torch.dtype,
    device: torch.device,
    reflection: float = 1e-3,
    power: int = 2,
    longest: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CPML coefficients (a, b, ∂b) along one axis of n padded cells.

    The damping σ grows as the power-th power of the depth into the PML to
    σ0 = −(power+1)·v·ln(R)/(2L) at the outer edge, L the physical width of
    the longest PML (``longest``; default this axis's); the frequency shift α
    falls linearly from π·pml_freq at the inner edge. a = exp(−(σ+α)dt),
    b = σ/(σ+α)·(a−1); both are zero outside the PML. ∂b uses the same
    first-derivative stencil as the propagator."""
    # NumPy: a few dozen operations on one short axis, where each torch
    # call's overhead would cost more than the arithmetic.
    x = np.arange(n, dtype=np.float64)
    frac = np.zeros(n)
    sigma = np.zeros(n)
    if longest is None:
        longest = max(widths) * spacing
    for side, w in enumerate(widths):
        if w == 0:
            continue
        if side == 0:
            f = ((halo + w) - x) / w
        else:
            f = (x - (n - 1 - halo - w)) / w
        f = np.clip(f, 0, 1)
        sigma0 = -(1 + power) * max_vel * math.log(reflection) / (2 * longest)
        sigma = np.where(f > frac, sigma0 * f**power, sigma)
        frac = np.maximum(frac, f)
    alpha = math.pi * pml_freq * (1 - frac)
    total = sigma + alpha
    a = np.exp(-total * dt)
    b = np.where(total > 0, sigma / np.maximum(total, 1e-30) * (a - 1), 0.0)
    live = frac > 0
    a = np.where(live, a, 0.0)
    b = np.where(live, b, 0.0)
    db = np.zeros_like(b)
    for k, w in enumerate(first_derivative_weights(accuracy), start=1):
        db[k:-k] += w * (b[2 * k :] - b[: -2 * k]) / spacing
    return tuple(torch.from_numpy(v).to(dtype=dtype, device=device) for v in (a, b, db))


def upsample(
    signal: torch.Tensor, ratio: int, freq_taper_frac: float = 0.0, time_pad_frac: float = 0.0, time_taper: bool = False
) -> torch.Tensor:
    """Band-limited upsampling of the last dimension by an integer factor
    (spectrum zero-padded; the input's Nyquist bin is zeroed)."""
    if ratio == 1 or signal.numel() == 0:
        return signal
    pad = int(time_pad_frac * signal.shape[-1])
    if pad:
        signal = torch.nn.functional.pad(signal, (0, pad))
    nt = signal.shape[-1]
    spectrum = torch.fft.rfft(signal, norm="ortho") * math.sqrt(ratio)
    spectrum = _taper_spectrum(spectrum, freq_taper_frac)
    out = torch.fft.irfft(spectrum, n=nt * ratio, norm="ortho")
    if pad:
        out = out[..., : (nt - pad) * ratio]
    if time_taper:
        out = out * torch.hann_window(out.shape[-1], periodic=False, dtype=out.dtype, device=out.device)
    return out


def downsample(
    signal: torch.Tensor, ratio: int, freq_taper_frac: float = 0.0, time_pad_frac: float = 0.0, time_taper: bool = False
) -> torch.Tensor:
    """Band-limited downsampling of the last dimension by an integer factor;
    the adjoint of upsample (up to the tapers)."""
    if ratio == 1:
        return signal
    if signal.numel() == 0:
        return signal.new_zeros(*signal.shape[:-1], signal.shape[-1] // ratio)
    if time_taper:
        signal = signal * torch.hann_window(signal.shape[-1], periodic=False, dtype=signal.dtype, device=signal.device)
    nt_out = signal.shape[-1] // ratio
    pad = int(time_pad_frac * nt_out)
    if pad:
        signal = torch.nn.functional.pad(signal, (0, pad * ratio))
        nt_out += pad
    spectrum = torch.fft.rfft(signal, norm="ortho")[..., : nt_out // 2 + 1] / math.sqrt(ratio)
    spectrum = _taper_spectrum(spectrum, freq_taper_frac)
    out = torch.fft.irfft(spectrum, n=nt_out, norm="ortho")
    if pad:
        out = out[..., : nt_out - pad]
    return out


def _taper_spectrum(spectrum: torch.Tensor, freq_taper_frac: float) -> torch.Tensor:
    n = spectrum.shape[-1]
    window = torch.ones(n, dtype=torch.float64)
    if n > 1:
        window[-1] = 0
    taper = int(freq_taper_frac * n)
    if taper > 0:
        # Deepwave's cosine: (1 + cos(πk/taper))/2 for k = 1 … taper.
        k = torch.arange(1, taper + 1, dtype=torch.float64)
        window[n - taper :] *= 0.5 * (1 + torch.cos(k / taper * math.pi))
    return spectrum * window.to(device=spectrum.device, dtype=spectrum.real.dtype)


def check_fraction(name: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 <= x <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {x!r}")
    return float(x)


def check_locations(name: str, loc, n_shots: int | None, device: torch.device, ndim: int = 2) -> torch.Tensor:
    loc = check_tensor(name, loc, ndims=(3,), device=device)
    if loc.dtype != torch.long:
        raise TypeError(f"{name} must have dtype torch.long (cell indices), got {loc.dtype}")
    if loc.shape[-1] != ndim:
        raise ValueError(
            f"{name} must have shape [n_shots, n, {ndim}] ({ndim} coordinates for a {ndim}D model), got {tuple(loc.shape)}"
        )
    if n_shots is not None and loc.shape[0] != n_shots:
        raise ValueError(f"{name} has {loc.shape[0]} shots but other inputs have {n_shots}")
    return loc


def box(bounds: Sequence[int]) -> tuple:
    """The index of the box with these starts and ends per dimension
    (start, end of the slowest first), over a tensor's last dimensions."""
    return (..., *(slice(bounds[2 * i], bounds[2 * i + 1]) for i in range(len(bounds) // 2)))


def survey_extents(
    model_shape: tuple[int, ...],
    locations: list[torch.Tensor],
    survey_pad,
) -> list[int]:
    """[start, end) per dimension of the model region to simulate: the
    whole model, or the sources' and receivers' bounding box padded by
    survey_pad."""
    ndim = len(model_shape)
    whole = [e for n in model_shape for e in (0, n)]
    if survey_pad is None:
        return whole
    if isinstance(survey_pad, (list, tuple)):
        if len(survey_pad) != 2 * ndim:
            raise ValueError(f"survey_pad must be None, one int, or {2 * ndim} values for a {ndim}D model, got {len(survey_pad)}")
        pads = list(survey_pad)
    else:
        pads = [survey_pad] * (2 * ndim)
    for i, p in enumerate(pads):
        if p is not None:
            as_int(f"survey_pad[{i}]", p, minimum=0)
    pts = [loc.reshape(-1, ndim) for loc in locations if loc is not None and loc.numel() > 0]
    pts = [p[(p != IGNORE_LOCATION).all(dim=1)] for p in pts]
    pts = [p for p in pts if p.numel() > 0]
    if not pts:
        return whole
    allp = torch.cat(pts)
    lo = allp.min(dim=0).values.tolist()
    hi = allp.max(dim=0).values.tolist()
    out = whole
    for dim in range(ndim):
        p0, p1 = pads[2 * dim], pads[2 * dim + 1]
        n = model_shape[dim]
        if p0 is not None:
            out[2 * dim] = max(0, lo[dim] - p0)
        if p1 is not None:
            out[2 * dim + 1] = min(n, hi[dim] + p1 + 1)
    return out


_ORDINALS = ("first", "second", "third")


def flat_indices(
    name: str,
    loc: torch.Tensor | None,
    n_shots: int,
    extents: list[int],
    pad: list[int],
    padded_shape: Sequence[int],
    model_shape: tuple[int, ...],
    *,
    unique: bool = True,
) -> torch.Tensor:
    """Flat cell indices into the padded simulation grid of spatial shape
    ``padded_shape``, [n_shots, n], -1 for ignored locations; raises for
    positions outside the model or the simulated region and for
    duplicates within a shot."""
    if loc is None:
        return torch.empty(n_shots, 0, dtype=torch.long)
    ndim = len(model_shape)
    # NumPy: a handful of operations on a few hundred integers, where each
    # torch call's overhead would cost more than the work.
    loc = loc.detach().cpu()
    # A torch.func wrapper (locations made inside a transformed function)
    # has values but no storage to share.
    loc = np.array(loc.tolist(), dtype=np.int64).reshape(loc.shape) if inside_vmap(loc) else loc.numpy()
    ignored = (loc == IGNORE_LOCATION).all(axis=-1)
    used = loc[~ignored]
    if used.size > 0:
        lo, hi = used.min(axis=0), used.max(axis=0)
        for dim in range(ndim):
            label = f"{AXES[ndim][dim]} ({_ORDINALS[dim]})"
            if lo[dim] < 0 or hi[dim] >= model_shape[dim]:
                bad = int(lo[dim]) if lo[dim] < 0 else int(hi[dim])
                raise ValueError(
                    f"{name} has a {label} coordinate {bad} outside the model, which has "
                    f"{model_shape[dim]} cells in that dimension"
                )
            if lo[dim] < extents[2 * dim] or hi[dim] >= extents[2 * dim + 1]:
                raise ValueError(f"{name} lies outside the simulated region {extents} (set by survey_pad or origin)")
    idx = np.zeros(loc.shape[:-1], dtype=np.int64)
    for dim in range(ndim):
        idx = idx * padded_shape[dim] + (loc[..., dim] - extents[2 * dim] + pad[2 * dim])
    idx[ignored] = -1
    if unique and idx.shape[-1] > 1:
        # Sorted, a shot's duplicates are neighbours; ignored entries (−1)
        # sort first and may repeat.
        ordered = np.sort(idx.reshape(-1, idx.shape[-1]), axis=-1)
        dup = ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(axis=-1)
        if dup.any():
            s = int(dup.nonzero()[0][0])
            raise ValueError(f"{name} has duplicate locations within shot {s}; each location must be unique per shot")
    return torch.from_numpy(np.ascontiguousarray(idx, dtype=np.int64))


def shot_count(name: str, n: int, known: int | None) -> int:
    """n, after checking it agrees with the shot count known so far."""
    if known is not None and n != known:
        raise ValueError(f"{name} has {n} shots, but other inputs have {known}")
    return n


def check_survey(
    names: Sequence[str],
    amplitudes,
    source_locations,
    receiver_locations,
    nt,
    n_shots: int | None,
    dtype: torch.dtype,
    device: torch.device,
    ndim: int = 2,
):
    """Checks a propagator's source amplitudes [n_shots, n_sources, nt],
    source and receiver locations [n_shots, n, ndim] and nt against each other;
    ``names`` are the propagator's names for the first three arguments.
    Returns (amplitudes, source_locations, receiver_locations, nt, n_shots)."""
    amp_name, src_name, rec_name = names
    if (amplitudes is None) != (source_locations is None):
        raise ValueError(f"{amp_name} and {src_name} must be given together")
    if amplitudes is not None:
        amplitudes = check_tensor(amp_name, amplitudes, ndims=(3,), dtypes=(dtype,), device=device)
        check_finite(amp_name, amplitudes)
        n_shots = shot_count(amp_name, amplitudes.shape[0], n_shots)
        source_locations = check_locations(src_name, source_locations, n_shots, device, ndim)
        if source_locations.shape[1] != amplitudes.shape[1]:
            raise ValueError(
                f"{src_name} has {source_locations.shape[1]} sources per shot but {amp_name} has {amplitudes.shape[1]}"
            )
        if nt is not None and as_int("nt", nt, minimum=0) != amplitudes.shape[-1]:
            raise ValueError(f"nt={nt} disagrees with the {amplitudes.shape[-1]} time samples of {amp_name}")
        nt = amplitudes.shape[-1]
    elif nt is None:
        raise ValueError(f"give {amp_name}, or nt for the number of time steps")
    nt = as_int("nt", nt, minimum=0)
    if receiver_locations is not None:
        receiver_locations = check_locations(rec_name, receiver_locations, n_shots, device, ndim)
        n_shots = shot_count(rec_name, receiver_locations.shape[0], n_shots)
    return amplitudes, source_locations, receiver_locations, nt, n_shots


_transformed_steps: dict = {}


def step_function(step, kind: str):
    """A reference implementation's step as ``python_backend`` asks:
    itself ("eager"), TorchScript ("jit") or ``torch.compile`` ("compile");
    the transformed versions are built once per process."""
    if kind == "eager":
        return step
    if kind not in ("jit", "compile"):
        raise ValueError(f"python_backend must be True, False, 'eager', 'jit' or 'compile', got {kind!r}")
    key = (step, kind)
    if key not in _transformed_steps:
        if kind == "jit":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _transformed_steps[key] = torch.jit.script(step)
        else:
            _transformed_steps[key] = torch.compile(step, dynamic=False)
    return _transformed_steps[key]


def scaled_sources(
    amplitudes,
    source_index: torch.Tensor,
    scale_grid: torch.Tensor,
    factor: float,
    n_shots: int,
    nt_inner: int,
    step_ratio: int,
    freq_taper_frac: float,
    time_pad_frac: float,
    time_taper: bool,
) -> torch.Tensor:
    """Source amplitudes as the core adds them: upsampled to the internal
    step and multiplied by ``factor`` times ``scale_grid`` ([1 or n_shots,
    ny, nx]) at each source's cell (0 for ignored sources), laid out
    [nt_inner, n_shots, n_sources]. Only the source cells of the grid are
    read: no scaled copy of it is made."""
    dtype, device = scale_grid.dtype, scale_grid.device
    if amplitudes is None or amplitudes.shape[1] == 0:
        return torch.zeros(nt_inner, n_shots, 0, dtype=dtype, device=device)
    amp = upsample(amplitudes, step_ratio, freq_taper_frac, time_pad_frac, time_taper)
    flat = scale_grid.reshape(scale_grid.shape[0], -1).expand(n_shots, -1)
    live = (source_index >= 0).to(device=device, dtype=dtype)
    scale = flat.gather(1, source_index.clamp_min(0).to(device)) * (factor * live)
    return (amp * scale[..., None]).permute(2, 0, 1)


def check_adjoint_scaling(c: torch.Tensor) -> None:
    """The Go core's adjoint carries μ = c·λ (c = v²dt²), so it cannot
    give gradients where v is zero."""
    if bool((c == 0).any()):
        raise ValueError(
            "v is zero at some cells: the Go core's adjoint is scaled by v² and gives no gradient there; "
            "use python_backend=True for gradients through a model with cells at rest, or make v non-zero"
        )


def spatial_ndim(models: dict, wavefields: dict, locations: dict, axis_fields: dict) -> int:
    """The number of spatial dimensions of a propagation, found as Deepwave
    finds it: from the initial wavefields (their ndim − 1), else the
    locations (their last dimension), checked against the PML fields of
    each axis (``axis_fields`` maps "z", "y", "x" to {name: tensor}) and
    the models (ndim dimensions, or ndim + 1 with one per shot). Without
    wavefields or locations, a model of 1 or 2 dimensions says it; a model
    of 3 dimensions is read as a batch of 2D models (torchwave's earlier
    rule) and one of 4 as a batch of 3D models."""
    ndim, source = -1, ""

    def agree(n: int, name: str, what: str) -> None:
        nonlocal ndim, source
        if ndim < 0:
            ndim, source = n, name
        elif n != ndim:
            raise ValueError(f"{name} {what} {n}D, but {source} says the propagation is {ndim}D")

    for name, w in wavefields.items():
        if w is not None:
            if not isinstance(w, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(w).__name__}")
            agree(w.ndim - 1, name, f"has {w.ndim} dimensions (shot first), so the propagation would be")
    for name, loc in locations.items():
        if loc is not None:
            if not isinstance(loc, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(loc).__name__}")
            if loc.ndim == 0:
                raise ValueError(f"{name} must have shape [n_shots, n, ndim], got a scalar")
            agree(loc.shape[-1], name, f"has {loc.shape[-1]} coordinates per location, so the propagation would be")
    for axis, fields in axis_fields.items():
        for name, w in fields.items():
            if w is None:
                continue
            if not isinstance(w, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(w).__name__}")
            agree(w.ndim - 1, name, f"has {w.ndim} dimensions (shot first), so the propagation would be")
            if {"z": 3, "y": 2, "x": 1}[axis] > ndim:
                # Deepwave's wording.
                raise ValueError(
                    f"The propagation was determined to be {ndim}d, so fields related to the {axis} dimension "
                    f"should not be provided (got {name})."
                )
    for name, m in models.items():
        if not isinstance(m, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(m).__name__}")
        if ndim < 0:
            if m.ndim not in (1, 2, 3, 4):
                raise ValueError(
                    f"{name} must have 1, 2 or 3 spatial dimensions (and optionally a shot dimension first), got {m.ndim}"
                )
            ndim, source = {1: 1, 2: 2, 3: 2, 4: 3}[m.ndim], name
        if m.ndim not in (ndim, ndim + 1):
            raise ValueError(
                f"the propagation is {ndim}D (from {source}), so {name} must have {ndim} dimensions, or {ndim + 1} "
                f"with one model per shot, but it has {m.ndim} (shape {tuple(m.shape)})"
            )
    return ndim


def check_module_model(name: str, model, requires_grad) -> None:
    """A propagator module's model and its ``*_requires_grad`` flag, checked
    in Deepwave's order and with its wording."""
    if not isinstance(requires_grad, bool):
        raise TypeError(f"{name}_requires_grad must be bool, got {type(requires_grad).__name__}")
    if not isinstance(model, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor.")


def positional_kwargs(fn, after: str, args: tuple, kwargs: dict, last: str) -> dict:
    """``kwargs`` with the positional ``args`` a module's forward received
    named as ``fn``'s parameters that follow ``after`` (up to ``last``, as
    far as Deepwave's modules take them)."""
    if not args:
        return dict(kwargs)
    names = list(inspect.signature(fn).parameters)
    names = names[names.index(after) + 1 : names.index(last) + 1]
    if len(args) > len(names):
        raise TypeError(f"forward() takes at most {len(names)} positional arguments after {after}, got {len(args)}")
    out = dict(kwargs)
    for name, value in zip(names, args):
        if name in out:
            raise TypeError(f"forward() got multiple values for argument {name!r}")
        out[name] = value
    return out
