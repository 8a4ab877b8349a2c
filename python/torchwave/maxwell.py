"""2D transverse-magnetic Maxwell propagation (ground-penetrating radar).

`maxwelltm` takes TIDE's argument names: relative permittivity
``epsilon``, conductivity ``sigma`` in S/m, relative permeability ``mu``,
and returns ``(Ey, Hx, Hz, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x,
receiver_amplitudes)``, with receiver data in torchwave's layout
``[n_shots, n_receivers, nt]``. The compute runs in torchwave's Go core with
a hand-written exact discrete adjoint; with ``python_backend`` it runs in
plain PyTorch instead.

The scheme (see kernels/maxwell): Yee staggered grid, Ey at cell centres,
Hx half a cell along y (the first dimension, TIDE's "z"), Hz half a cell
along x. Per internal step: H from the curl of Ey, then

    Ey' = ca·Ey + cb·(∂x Hz − ∂y Hx),
    ca = (1 − σΔt/2ε)/(1 + σΔt/2ε),  cb = (Δt/ε)/(1 + σΔt/2ε),  cq = Δt/μ,

with ε = ε_r·ε0 and μ = μ_r·μ0 (conductive loss by the semi-implicit
average). A source amplitude is a current (A·m, a line current times the
cell area's worth of density): it adds −cb·amplitude/(dy·dx) to Ey at its
cell after the update. Receiver sample n is Ey after step n.
"""

from __future__ import annotations

import ctypes
import dataclasses
import math
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import _common as common
from . import _driver as driver
from . import _lib
from . import _storage as storage
from ._driver import CallbackState
from ._maxwell_reference import STAGGERED_WEIGHTS, get_step
from .hooks import HookedPropagator, HookRun

__all__ = ["maxwelltm", "MaxwellTM", "EPS0", "MU0", "C0"]

#: Vacuum permittivity (F/m), permeability (H/m) and the speed of light.
EPS0 = 8.8541878128e-12
MU0 = 1.25663706212e-6
C0 = 1 / math.sqrt(EPS0 * MU0)

FIELD_NAMES = ("Ey", "Hx", "Hz", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x")
INITIAL_NAMES = ("Ey_0", "Hx_0", "Hz_0", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x")


class _MaxwellArgs(ctypes.Structure):
    """Mirror of tw_maxwell_args in goexport/torchwave.h."""

    _fields_ = [
        ("dtype", ctypes.c_int64),
        ("n_shots", ctypes.c_int64),
        ("ny", ctypes.c_int64),
        ("nx", ctypes.c_int64),
        ("stencil", ctypes.c_int64),
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
        *[(name, ctypes.c_void_p) for name in ("ca", "cb", "cq", "ay", "by", "ayh", "byh", "ax", "bx", "axh", "bxh")],
        ("ey", ctypes.c_void_p * 2),
        ("hx", ctypes.c_void_p),
        ("hz", ctypes.c_void_p),
        ("m_ey_x", ctypes.c_void_p * 2),
        ("m_ey_z", ctypes.c_void_p * 2),
        ("m_hx_z", ctypes.c_void_p * 2),
        ("m_hz_x", ctypes.c_void_p * 2),
        *[
            (name, ctypes.c_void_p)
            for name in (
                "source_index", "receiver_index", "source_amplitudes", "receiver_amplitudes",
                "store_ey", "store_curl", "store_dz", "store_dx", "grad_ca", "grad_cb", "grad_cq",
            )
        ],
    ]


_PAIRS = ("ey", "m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x")


def _declare() -> ctypes.CDLL:
    lib = _lib.library()
    for name in ("tw_maxwell_forward", "tw_maxwell_backward"):
        fn = getattr(lib, name)
        fn.argtypes = [ctypes.POINTER(_MaxwellArgs), ctypes.c_char_p, ctypes.c_int]
        fn.restype = ctypes.c_int
    return lib


_core = _declare()


def _call(backward: bool, **kw) -> None:
    """One chunk in Go. Keyword names are the fields of tw_maxwell_args;
    tensors are passed as pointers, pairs as two-element lists."""
    args = _MaxwellArgs()
    for name, value in kw.items():
        if name in _PAIRS:
            getattr(args, name)[0] = _lib.tensor_pointer(value[0])
            getattr(args, name)[1] = _lib.tensor_pointer(value[1]) if len(value) > 1 else None
        elif isinstance(value, torch.Tensor) or value is None:
            setattr(args, name, _lib.tensor_pointer(value))
        else:
            setattr(args, name, value)
    errbuf = _lib.new_error_buffer()
    fn = _core.tw_maxwell_backward if backward else _core.tw_maxwell_forward
    _lib.raise_for_status(fn(ctypes.byref(args), errbuf, len(errbuf)), errbuf, "torchwave maxwelltm")


@dataclasses.dataclass
class _Setup:
    """Everything fixed for one propagation, on the padded grid."""

    n_shots: int
    ny: int
    nx: int
    stencil: int
    dy: float
    dx: float
    dt_inner: float
    step_ratio: int
    nt_inner: int
    profiles: List[torch.Tensor]  # ay, by, ayh, byh, ax, bx, axh, bxh
    source_index: torch.Tensor
    receiver_index: torch.Tensor
    store_interval: int
    storage_mode: str
    storage_path: str
    compression: Optional[str]  # None, "bf16" or "int8"
    strategy: str  # "full" or "checkpoint"
    pml_width: List[int]
    forward_callback: Optional[Callable]
    backward_callback: Optional[Callable]
    callback_frequency: int
    models: Dict[str, torch.Tensor]  # padded epsilon, sigma, mu for callbacks

    @property
    def halo(self) -> int:
        return self.stencil // 2

    def masks(self, dtype, device) -> List[Optional[torch.Tensor]]:
        """Per field, the cells where it can be non-zero beyond the halo
        (None: everywhere): CPML memory fields live only where their
        profile does."""
        ay, by, ayh, byh, ax, bx, axh, bxh = self.profiles

        def along_y(a, b):
            return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[:, None].expand(self.ny, self.nx)

        def along_x(a, b):
            return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[None, :].expand(self.ny, self.nx)

        return [None, None, None, along_x(axh, bxh), along_y(ayh, byh), along_y(ay, by), along_x(ax, bx)]


def cpml_profile(
    n: int, halo: int, widths: Sequence[int], spacing: float, dt: float, max_vel: float,
    pml_freq: float, shift: float, dtype: torch.dtype, reflection: float = 1e-3, power: int = 2,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """CPML coefficients (a, b) at cells i + shift of n padded cells, for
    m' = b·m + a·∂f. The damping grows as the power-th power of the depth
    into the PML to −(power+1)·v·ln(R)/(2L) at the outer edge; the frequency
    shift α falls linearly from π·pml_freq at the inner edge;
    b = exp(−(σ+α)Δt), a = σ/(σ+α)·(b−1). Both are zero outside the PML
    and in the halo."""
    x = torch.arange(n, dtype=torch.float64) + shift
    frac = torch.zeros(n, dtype=torch.float64)
    for side, w in enumerate(widths):
        if w == 0:
            continue
        f = ((halo + w) - x) / w if side == 0 else (x - (n - 1 - halo - w)) / w
        frac = torch.maximum(frac, f.clamp(0, 1))
    sigma0 = [
        -(1 + power) * max_vel * math.log(reflection) / (2 * max(w, 1) * spacing) for w in widths
    ]
    left = x < n / 2
    s0 = torch.where(left, torch.tensor(sigma0[0], dtype=torch.float64), torch.tensor(sigma0[1], dtype=torch.float64))
    sigma = s0 * frac**power
    alpha = math.pi * pml_freq * (1 - frac)
    total = sigma + alpha
    b = torch.exp(-total * dt)
    a = torch.where(total > 0, sigma / total.clamp_min(1e-300) * (b - 1), torch.zeros_like(b))
    idx = torch.arange(n)
    live = (frac > 0) & (idx >= halo) & (idx < n - halo)
    a = torch.where(live, a, torch.zeros_like(a))
    b = torch.where(live, b, torch.zeros_like(b))
    return a.to(dtype), b.to(dtype)


def coefficients(epsilon, sigma, mu, dt: float):
    """(ca, cb, cq) of the update from relative permittivity, conductivity
    (S/m) and relative permeability; differentiable."""
    eps = epsilon * EPS0
    loss = sigma * dt / (2 * eps)
    ca = (1 - loss) / (1 + loss)
    cb = (dt / eps) / (1 + loss)
    cq = dt / (mu * MU0)
    return ca, cb, cq


def maxwelltm(
    epsilon: torch.Tensor,
    sigma: torch.Tensor,
    mu: torch.Tensor,
    grid_spacing: Union[float, Sequence[float]],
    dt: float,
    source_amplitude: Optional[torch.Tensor],
    source_location: Optional[torch.Tensor],
    receiver_location: Optional[torch.Tensor],
    stencil: int = 2,
    pml_width: Union[int, Sequence[int]] = 20,
    max_vel: Optional[float] = None,
    Ey_0: Optional[torch.Tensor] = None,
    Hx_0: Optional[torch.Tensor] = None,
    Hz_0: Optional[torch.Tensor] = None,
    m_Ey_x: Optional[torch.Tensor] = None,
    m_Ey_z: Optional[torch.Tensor] = None,
    m_Hx_z: Optional[torch.Tensor] = None,
    m_Hz_x: Optional[torch.Tensor] = None,
    nt: Optional[int] = None,
    model_gradient_sampling_interval: int = 1,
    freq_taper_frac: float = 0.0,
    time_pad_frac: float = 0.0,
    time_taper: bool = False,
    pml_freq: Optional[float] = None,
    forward_callback: Optional[Callable[[CallbackState], None]] = None,
    backward_callback: Optional[Callable[[CallbackState], None]] = None,
    callback_frequency: int = 1,
    python_backend: Union[bool, str] = False,
    storage_mode: str = "device",
    storage_path: str = ".",
    storage_compression: Union[bool, str] = False,
    storage_strategy: str = "full",
    _hooks: Optional[HookRun] = None,
) -> Tuple[torch.Tensor, ...]:
    """Propagates a 2D TM electromagnetic wave (Ey, Hx, Hz).

    Args:
        epsilon: relative permittivity (≥ 1), [ny, nx] for every shot or
            [n_shots, ny, nx].
        sigma: conductivity in S/m (≥ 0), same shape rules.
        mu: relative permeability (> 0), same shape rules.
        grid_spacing: cell size in m, one number or (dy, dx).
        dt: time step in s of the amplitudes in and out. When it breaks the
            CFL condition, the internal step is a fraction of it (sources
            upsampled, receivers downsampled in the frequency domain).
        source_amplitude: [n_shots, n_sources, nt] source currents.
        source_location: [n_shots, n_sources, 2] long cell indices (y, x).
        receiver_location: [n_shots, n_receivers, 2] long cell indices.
        stencil: spatial order, 2, 4, 6 or 8.
        pml_width: cells of CPML, one int or [y0, y1, x0, x1]; 0 gives a
            reflecting (PEC) edge.
        max_vel: wave speed (m/s) used for the CFL condition and the CPML;
            at least the model's maximum c0/√(ε_r μ_r) (default: that, from
            the smallest ε_r·μ_r). It sets the CPML profile and the number
            of internal steps, and no gradient flows through it: the
            gradients with respect to epsilon and mu are those of the
            operator with max_vel held fixed only when max_vel is given.
            Left to the default, it follows the cell of smallest ε_r·μ_r,
            so the loss has a kink wherever that cell changes (in a
            homogeneous model, at every cell) and the gradient there
            differs from finite differences. Pass max_vel in inversions,
            e.g. c0/√(ε_min·μ_min) with ε_min the lower bound of ε_r and
            μ_min that of μ_r.
        Ey_0, Hx_0, Hz_0, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x: initial fields,
            [n_shots, ny + PML, nx + PML] (default zero).
        nt: number of steps when there are no source amplitudes.
        model_gradient_sampling_interval: sample the model-gradient sums
            every this many internal steps (1: exact gradient).
        freq_taper_frac, time_pad_frac, time_taper: resampling options.
        pml_freq: the CPML's frequency shift α = π·pml_freq at its inner
            edge (default 0: no shift).
        forward_callback, backward_callback: called with a CallbackState
            every ``callback_frequency`` steps; wavefields are named as in
            the returned tuple, models "epsilon", "sigma", "mu".
        python_backend: False for the Go core; True or "eager", "jit",
            "compile" for the pure-PyTorch implementation.
        storage_mode: where the forward fields the model gradient needs
            (Ey, the curl of H, the derivatives of Ey; only those of the
            models that want a gradient) are kept: "device" (the model's
            device), "cpu" (host memory; the same as "device" for CPU
            tensors), "disk" (a file per store, each in a new directory
            under ``storage_path``, removed once the backward pass is done,
            the graph is dropped or the forward pass raises), "auto" (the
            fastest of these with room for it; logged at debug level on
            the "torchwave" logger), or "none" (nothing: as in Deepwave,
            the gradients with respect to epsilon, sigma and mu are zero;
            those of the sources and initial fields are exact).
        storage_path: the directory for storage_mode="disk".
        storage_compression: False, True or "bf16" (half the bytes), or
            "int8" (about a quarter). Lossy: see docs/storage.md for the
            gradient error.
        storage_strategy: "full" stores every sampled step; "checkpoint"
            stores the seven fields every segment of steps and recomputes
            the steps in between during the backward pass (one extra
            forward pass, a fraction of the memory). "boundary" is not
            available for maxwelltm.

    Returns:
        (Ey, Hx, Hz, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x, receiver_amplitudes):
        the final fields of the model region with its PML, and Ey at the
        receivers, [n_shots, n_receivers, nt].
    """
    # Imaging-condition hooks of a MaxwellTM module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"epsilon": epsilon, "sigma": sigma})
    if hooks is not None:
        # Models whose gradient comes from the hooks (all of them when
        # imaging) stay out of autograd's graph.
        if hooks.replaces("epsilon"):
            epsilon = epsilon.detach()
        if hooks.replaces("sigma"):
            sigma = sigma.detach()
        if hooks.imaging:
            mu = mu.detach()
    setup, ca, cb, cq, src, fields = _prepare(
        epsilon, sigma, mu, grid_spacing, dt, source_amplitude, source_location, receiver_location,
        stencil, pml_width, max_vel, [Ey_0, Hx_0, Hz_0, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x], nt,
        model_gradient_sampling_interval, freq_taper_frac, time_pad_frac, time_taper, pml_freq,
        forward_callback, backward_callback, callback_frequency, python_backend, storage_mode,
        storage_path, storage_compression, storage_strategy,
    )
    if hooks is not None:
        h, p = setup.halo, setup.pml_width
        hooks.begin(
            n_steps=setup.nt_inner, n_shots=setup.n_shots,
            region=(h + p[0], setup.ny - h - p[1], h + p[2], setup.nx - h - p[3]),
            extents=(0, setup.ny - 2 * h - p[0] - p[1], 0, setup.nx - 2 * h - p[2] - p[3]),
            dt=setup.dt_inner, dh=(setup.dy, setup.dx),
        )
    if python_backend is False:
        if ca.device.type != "cpu":
            raise NotImplementedError(
                "the Go core's CUDA path for maxwelltm is not built yet: run on CPU tensors, "
                "or use python_backend=True on the GPU"
            )
        hook_inputs = () if hooks is None else hooks.inputs
        outputs = _MaxwellFunction.apply(ca, cb, cq, src, *fields, setup, hooks, *hook_inputs)
    else:
        kind = "eager" if python_backend is True else python_backend
        outputs = _propagate_reference(setup, ca, cb, cq, src, fields, kind, hooks)
    h = setup.halo
    wavefields = [f[:, h : setup.ny - h, h : setup.nx - h] for f in outputs[:7]]
    receivers = outputs[7].permute(1, 2, 0)  # [n_shots, n_receivers, nt_inner]
    receivers = common.downsample(receivers, setup.step_ratio, freq_taper_frac, time_pad_frac, time_taper)
    return (*wavefields, receivers)


def _model(name: str, t, dtype=None, device=None) -> torch.Tensor:
    dtypes = (torch.float32, torch.float64) if dtype is None else (dtype,)
    t = common.check_tensor(name, t, ndims=(2, 3), dtypes=dtypes, device=device)
    common.check_finite(name, t)
    return t


def _prepare(
    epsilon, sigma, mu, grid_spacing, dt, source_amplitude, source_location, receiver_location,
    stencil, pml_width, max_vel, initial, nt, interval, freq_taper_frac, time_pad_frac, time_taper,
    pml_freq, forward_callback, backward_callback, callback_frequency, python_backend, storage_mode,
    storage_path, storage_compression, storage_strategy,
):
    """Validates the arguments and builds the padded problem."""
    epsilon = _model("epsilon", epsilon)
    device, dtype = epsilon.device, epsilon.dtype
    sigma = _model("sigma", sigma, dtype, device)
    mu = _model("mu", mu, dtype, device)
    if bool((epsilon.detach() < 1).any()):
        raise ValueError("epsilon (relative permittivity) must be at least 1 everywhere")
    if bool((sigma.detach() < 0).any()):
        raise ValueError("sigma (conductivity, S/m) must be non-negative everywhere")
    if bool((mu.detach() <= 0).any()):
        raise ValueError("mu (relative permeability) must be positive everywhere")
    shapes = {n: tuple(t.shape[-2:]) for n, t in (("epsilon", epsilon), ("sigma", sigma), ("mu", mu))}
    model_shape = shapes["epsilon"]
    for name, shape in shapes.items():
        if shape != model_shape:
            raise ValueError(f"{name} has spatial shape {shape}, but epsilon has {model_shape}")
    dy, dx = common.grid_spacing_2d(grid_spacing)
    dt = common.as_positive_float("dt", dt)
    stencil = common.as_int("stencil", stencil)
    if stencil not in STAGGERED_WEIGHTS:
        raise ValueError(f"stencil must be 2, 4, 6 or 8, got {stencil}")
    widths = common.pml_widths(pml_width)
    interval = common.as_int("model_gradient_sampling_interval", interval, minimum=1)
    callback_frequency = common.as_int("callback_frequency", callback_frequency, minimum=1)
    for name, cb in (("forward_callback", forward_callback), ("backward_callback", backward_callback)):
        if cb is not None and not callable(cb):
            raise TypeError(f"{name} must be callable or None")
    freq_taper_frac = common.check_fraction("freq_taper_frac", freq_taper_frac)
    time_pad_frac = common.check_fraction("time_pad_frac", time_pad_frac)
    if pml_freq is None:
        pml_freq = 0.0
    elif isinstance(pml_freq, bool) or not isinstance(pml_freq, (int, float)) or not math.isfinite(pml_freq) or pml_freq < 0:
        raise ValueError(f"pml_freq must be a non-negative number, got {pml_freq!r}")
    if not (python_backend is False or python_backend is True or python_backend in ("eager", "jit", "compile")):
        raise ValueError(f"python_backend must be False, True, 'eager', 'jit' or 'compile', got {python_backend!r}")
    if python_backend is not False and backward_callback is not None:
        raise ValueError(
            "backward_callback is not supported with python_backend: autograd runs that backward pass; "
            "use the Go core (python_backend=False) for backward callbacks"
        )
    compression = storage.check_options(storage_mode, storage_path, storage_compression, storage_strategy, python_backend)
    if storage_strategy == "boundary":
        raise NotImplementedError(
            "storage_strategy='boundary' is available for scalar only: maxwelltm's CPML fields and loss "
            "term cannot be run backwards in time yet; use storage_strategy 'full' or 'checkpoint'"
        )

    # Shots and steps.
    n_shots = None
    for name, t in (("epsilon", epsilon), ("sigma", sigma), ("mu", mu)):
        if t.ndim == 3:
            n_shots = common.shot_count(name, t.shape[0], n_shots)
    source_amplitude, source_location, receiver_location, nt, n_shots = common.check_survey(
        ("source_amplitude", "source_location", "receiver_location"),
        source_amplitude, source_location, receiver_location, nt, n_shots, dtype, device,
    )
    sim_shape = (model_shape[0] + widths[0] + widths[1], model_shape[1] + widths[2] + widths[3])
    for name, w in zip(INITIAL_NAMES, initial):
        if w is not None:
            common.check_tensor(name, w, ndims=(3,), dtypes=(dtype,), device=device)
            common.check_finite(name, w)
            n_shots = common.shot_count(name, w.shape[0], n_shots)
            if tuple(w.shape[-2:]) != sim_shape:
                raise ValueError(
                    f"{name} must have spatial shape {sim_shape} (the model and its PML), got {tuple(w.shape[-2:])}"
                )
    n_shots = 1 if n_shots is None else n_shots
    if n_shots < 1:
        raise ValueError("the inputs have zero shots: source_amplitude, locations and initial fields need at least one")

    # The fastest wave decides the CFL step and the CPML damping.
    slowness2 = (epsilon.detach() * mu.detach()).min().item()
    model_max = C0 / math.sqrt(slowness2)
    if max_vel is None:
        max_vel = model_max
    else:
        max_vel = common.as_positive_float("max_vel", max_vel)
        if max_vel < model_max * (1 - 1e-6):
            raise ValueError(
                f"max_vel={max_vel} is below the model's maximum wave speed {model_max}: the time step "
                "would break the CFL condition and the simulation would be unstable"
            )
    step_ratio = common.cfl_step_ratio(dy, dx, dt, max_vel)
    dt_inner = dt / step_ratio
    h = stencil // 2
    pad = [h + widths[0], h + widths[1], h + widths[2], h + widths[3]]
    ny = model_shape[0] + pad[0] + pad[1]
    nx = model_shape[1] + pad[2] + pad[3]
    extents = [0, model_shape[0], 0, model_shape[1]]

    def padded(t):
        t3 = t if t.ndim == 3 else t[None]
        return torch.nn.functional.pad(t3, (pad[2], pad[3], pad[0], pad[1]), mode="replicate")

    eps_pad, sigma_pad, mu_pad = padded(epsilon), padded(sigma), padded(mu)
    ca, cb, cq = coefficients(eps_pad, sigma_pad, mu_pad, dt_inner)
    # One model for all shots, or one per shot for all three coefficients.
    per_shot = max(ca.shape[0], cb.shape[0], cq.shape[0]) > 1
    if per_shot:
        ca, cb, cq = (c.expand(n_shots, -1, -1) for c in (ca, cb, cq))

    source_index = common.flat_indices("source_location", source_location, n_shots, extents, pad, nx, model_shape)
    receiver_index = common.flat_indices("receiver_location", receiver_location, n_shots, extents, pad, nx, model_shape)

    # Sources: upsampled to the internal step and scaled to −cb/(dy·dx) at
    # their cell.
    nt_inner = nt * step_ratio
    # storage_mode="none" gives no model gradient at all, not even through
    # the source scaling (as Deepwave).
    src = common.scaled_sources(
        source_amplitude, source_index, cb.detach() if storage_mode == "none" else cb, -1.0 / (dy * dx), n_shots, nt_inner, step_ratio,
        freq_taper_frac, time_pad_frac, time_taper,
    )

    profiles = []
    for shift in (0.0, 0.5):
        profiles += list(cpml_profile(ny, h, widths[:2], dy, dt_inner, max_vel, pml_freq, shift, dtype))
    for shift in (0.0, 0.5):
        profiles += list(cpml_profile(nx, h, widths[2:], dx, dt_inner, max_vel, pml_freq, shift, dtype))
    profiles = [p.to(device) for p in profiles]

    setup = _Setup(
        n_shots=n_shots, ny=ny, nx=nx, stencil=stencil, dy=dy, dx=dx, dt_inner=dt_inner,
        step_ratio=step_ratio, nt_inner=nt_inner, profiles=profiles,
        source_index=source_index, receiver_index=receiver_index, store_interval=interval,
        storage_mode=storage_mode, storage_path=os.fspath(storage_path), compression=compression,
        strategy=storage_strategy, pml_width=widths, forward_callback=forward_callback,
        backward_callback=backward_callback, callback_frequency=callback_frequency,
        models={"epsilon": eps_pad.detach(), "sigma": sigma_pad.detach(), "mu": mu_pad.detach()}
        if forward_callback is not None or backward_callback is not None else {},
    )
    fields = []
    for w, mask in zip(initial, setup.masks(dtype, device)):
        if w is None:
            fields.append(None)
            continue
        full = torch.nn.functional.pad(w, (h, h, h, h))
        fields.append(full if mask is None else full * mask)
    return setup, ca, cb, cq, src, fields


def _callback_state(setup: _Setup, step_inner: int, fields, gradients) -> CallbackState:
    return CallbackState(
        setup.dt_inner, step_inner // setup.step_ratio, dict(zip(FIELD_NAMES, fields)),
        setup.models, gradients, setup.halo, setup.pml_width,
    )


def _core_args(setup: _Setup, ca, cb, cq) -> dict:
    return dict(
        dtype=0 if ca.dtype == torch.float32 else 1,
        n_shots=setup.n_shots, ny=setup.ny, nx=setup.nx, stencil=setup.stencil,
        n_sources=setup.source_index.shape[1], n_receivers=setup.receiver_index.shape[1],
        store_interval=setup.store_interval, model_per_shot=int(ca.shape[0] > 1),
        rdy=1.0 / setup.dy, rdx=1.0 / setup.dx,
        ca=ca, cb=cb, cq=cq,
        **dict(zip(("ay", "by", "ayh", "byh", "ax", "bx", "axh", "bxh"), (p.contiguous() for p in setup.profiles))),
        source_index=setup.source_index, receiver_index=setup.receiver_index,
    )


_STORES = ("store_ey", "store_curl", "store_dz", "store_dx")


def _wanted_stores(need) -> List[str]:
    """The stores the model gradients asked for need: Ey for ca, the curl
    of H for cb, both derivatives of Ey for cq."""
    wanted = [need[0], need[1], need[2], need[2]]
    return [name for name, w in zip(_STORES, wanted) if w]


def _store_args(names: List[str], buffers, first: int) -> dict:
    """The store fields of a Go call: a plan's window of snapshots, one
    buffer per wanted store (none when the plan gives no buffers)."""
    if buffers is None:
        return {}
    return dict(zip(names, buffers), n_store=buffers[0].shape[0], store_first=first)


def _run_forward(core_args: dict, fields, start: int, count: int, src, rec, stores: dict) -> None:
    """Forward steps [start, start + count) in Go, in place on ``fields``."""
    _call(
        False, **core_args, step0=start, n_steps=count,
        source_amplitudes=src[start : start + count], receiver_amplitudes=rec[start : start + count],
        ey=[fields[0]], hx=fields[1], hz=fields[2],
        m_ey_x=[fields[3]], m_ey_z=[fields[4]], m_hx_z=[fields[5]], m_hz_x=[fields[6]],
        **stores,
    )


def _copy(fields) -> List[torch.Tensor]:
    return [t.clone() for t in fields]


def _empty(shape, dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype)


def _history(setup: _Setup, ca: torch.Tensor, src: torch.Tensor, core_args: dict, names: List[str]):
    """The plan that keeps (or recomputes) the wanted stores' snapshots,
    following the storage options; its buffers come as a list in the
    order of ``names``."""
    shape = (setup.n_shots, setup.ny, setup.nx)
    n_store = -(-setup.nt_inner // setup.store_interval)
    interval, dtype = setup.store_interval, ca.dtype
    if setup.strategy == "checkpoint":
        # A checkpoint is the seven fields; a snapshot len(names) grids.
        per_segment = storage.staging_snapshots(n_store, state_fields=7 / len(names))
        scratch = torch.empty(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=dtype)

        def recompute(fields, start, count, staging, first):
            _run_forward(core_args, fields, start, count, src, scratch, _store_args(names, staging, first))

        staging = [torch.empty((per_segment, *shape), dtype=dtype) for _ in names]
        return storage.Checkpointed(setup.nt_inner, interval, per_segment * interval, staging, _copy, _copy, recompute)
    codec = storage.Codec(setup.compression, shape, dtype)
    need = len(names) * n_store * codec.row_bytes
    mode = storage.resolve_mode(setup.storage_mode, ca.device, need, setup.storage_path)
    plans = []
    try:
        for _ in names:
            plans.append(storage.full_history(mode, codec, setup.nt_inner, interval, ca.device, setup.storage_path, _empty))
    except BaseException:
        for plan in plans:
            plan.close()
        raise
    return storage.Together(plans)


class _MaxwellFunction(torch.autograd.Function):
    """The Go core as an autograd op on the padded grid: inputs ca, cb, cq,
    the scaled source terms [nt, shots, n_src] and the seven initial
    fields; outputs the seven final fields and the receivers
    [nt, shots, n_rec]."""

    @staticmethod
    def forward(ctx, ca, cb, cq, src, *args):
        initial, (setup, hooks) = args[:7], args[7:9]
        # storage_mode="none" keeps nothing: as in Deepwave, the model
        # gradients are then zero and the other gradients exact.
        names = [] if setup.storage_mode == "none" else _wanted_stores(ctx.needs_input_grad)
        ca, cb, cq = (c.detach().contiguous() for c in (ca, cb, cq))
        shape = (setup.n_shots, setup.ny, setup.nx)
        # Working copies, each placed near ca (see common.zeros).
        fields = [
            common.zeros(shape, ca.dtype, near=ca, slot=k) if t is None
            else common.zeros(shape, ca.dtype, near=ca, slot=k).copy_(t.detach())
            for k, t in enumerate(initial, 3)
        ]
        rec = torch.zeros(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=ca.dtype)
        src = src.detach().contiguous()
        args = _core_args(setup, ca, cb, cq)
        history = _history(setup, ca, src, args, names) if names else None
        try:
            if isinstance(history, storage.Checkpointed):
                history.save_initial(fields)
            every = setup.callback_frequency * setup.step_ratio
            for start, count in driver.chunks(setup, setup.forward_callback, None if history is None else history.segment, hooks):
                if setup.forward_callback is not None and start % every == 0:
                    setup.forward_callback(_callback_state(setup, start, fields, {}))
                if hooks is not None:
                    hooks.forward_step(start, dict(zip(FIELD_NAMES, fields)))
                buffers, first = (None, 0) if history is None else history.forward_buffer(start, count)
                _run_forward(args, fields, start, count, src, rec, _store_args(names, buffers, first))
                if history is not None:
                    history.after_forward(start, count, fields)
        except BaseException:
            if history is not None:
                history.close()  # no files left behind by a callback's exception
            raise
        ctx.setup, ctx.hooks, ctx.names, ctx.history = setup, hooks, names, history
        ctx.set_materialize_grads(False)
        # The history goes into autograd's saved tensors (see _storage):
        # released after the backward pass or with the graph, kept under
        # retain_graph=True, recomputed by torch.utils.checkpoint.
        driver.save_for_backward(ctx, (ca, cb, cq), [] if history is None else [history], hooks)
        return (*fields, rec)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "second derivatives through torchwave's Go core are not available yet (the gradient was "
                "requested with create_graph=True); use python_backend=True for double backward"
            )
        with driver.restored(ctx) as ((ca, cb, cq), hook_kept):
            return _backward(ctx, ca, cb, cq, ctx.history, hook_kept, grads)


def _backward(ctx, ca, cb, cq, history, hook_kept, grads):
    """The adjoint pass of _MaxwellFunction, with the history restored."""
    setup: _Setup = ctx.setup
    hooks: Optional[HookRun] = ctx.hooks
    if hooks is not None:
        hooks.restore(hook_kept)
    dtype = ca.dtype
    shape = (setup.n_shots, setup.ny, setup.nx)
    g_fields, g_rec = grads[:7], grads[7]
    adj = []
    for k, (g, mask) in enumerate(zip(g_fields, setup.masks(dtype, ca.device)), 3):
        buf = common.zeros(shape, dtype, near=ca, slot=k)
        adj.append(buf if g is None else buf.copy_(g if mask is None else g * mask))
    pairs = {
        name: [adj[i], common.zeros(shape, dtype, near=ca, slot=10 + j)]
        for j, (name, i) in enumerate(zip(_PAIRS, (0, 3, 4, 5, 6)))
    }
    hx, hz = adj[1], adj[2]
    n_rec = setup.receiver_index.shape[1]
    g_rec = torch.zeros(setup.nt_inner, setup.n_shots, n_rec, dtype=dtype) if g_rec is None else g_rec.contiguous()
    g_src = torch.zeros(setup.nt_inner, setup.n_shots, setup.source_index.shape[1], dtype=dtype)
    need = ctx.needs_input_grad
    grad = {
        k: common.zeros(shape, dtype, near=ca, slot=15 + i) if need[i] and history is not None else None
        for i, k in enumerate(("grad_ca", "grad_cb", "grad_cq"))
    }
    args = _core_args(setup, ca, cb, cq)
    every = setup.callback_frequency * setup.step_ratio
    for start, count in reversed(driver.chunks(setup, setup.backward_callback, None if history is None else history.segment, hooks)):
        buffers, first = (None, 0) if history is None else history.backward_buffer(start, count)
        _call(
            True, **args, step0=start, n_steps=count,
            source_amplitudes=g_src[start : start + count], receiver_amplitudes=g_rec[start : start + count],
            hx=hx, hz=hz, **pairs, **_store_args(ctx.names, buffers, first), **grad,
        )
        if count % 2:
            for pair in pairs.values():
                pair.reverse()
        current = [pairs["ey"][0], hx, hz] + [pairs[k][0] for k in _PAIRS[1:]]
        if setup.backward_callback is not None and start % every == 0:
            setup.backward_callback(_callback_state(setup, start, current, {}))
        if hooks is not None:
            hooks.adjoint_step(start, {k: hooks.crop(a) for k, a in zip(FIELD_NAMES, current) if k in hooks.fields})

    def model_grad(g, c, i):
        if g is None:
            # Zero without a history (storage_mode="none").
            return torch.zeros_like(c) if ctx.needs_input_grad[i] else None
        g = g * setup.store_interval
        return g.sum(dim=0, keepdim=True) if c.shape[0] == 1 and setup.n_shots > 1 else g

    hook_grads = ()
    if hooks is not None:
        hook_grads = hooks.finish()
        hooks.release()
    state = [pairs["ey"][0], hx, hz] + [pairs[k][0] for k in _PAIRS[1:]]
    return (
        model_grad(grad["grad_ca"], ca, 0), model_grad(grad["grad_cb"], cb, 1), model_grad(grad["grad_cq"], cq, 2),
        g_src if need[3] else None,
        *(s if need[4 + i] else None for i, s in enumerate(state)),
        None, None, *hook_grads,
    )


def _propagate_reference(setup: _Setup, ca, cb, cq, src, fields, kind: str, hooks: Optional[HookRun] = None):
    """The same propagation in plain PyTorch, differentiated by autograd."""
    if setup.storage_mode == "none":
        # Zero model gradients, as the Go core gives.
        ca, cb, cq = (c.detach() + 0 * c if c.requires_grad else c for c in (ca, cb, cq))
    step = get_step(kind)
    h = setup.halo
    ay, by, ayh, byh, ax, bx, axh, bxh = setup.profiles
    ay, by, ayh, byh = ay[:, None], by[:, None], ayh[:, None], byh[:, None]
    w = STAGGERED_WEIGHTS[setup.stencil]
    wy = [c / setup.dy for c in w]
    wx = [c / setup.dx for c in w]
    n_shots, cells = setup.n_shots, setup.ny * setup.nx
    src_idx = setup.source_index.to(ca.device)
    rec_idx = setup.receiver_index.to(ca.device)
    src_ok = (src_idx >= 0).to(ca.dtype)
    rec_ok = (rec_idx >= 0).to(ca.dtype)
    src_idx, rec_idx = src_idx.clamp_min(0), rec_idx.clamp_min(0)
    state = [
        torch.zeros(n_shots, setup.ny, setup.nx, dtype=ca.dtype, device=ca.device) if f is None else f for f in fields
    ]
    if hooks is not None:
        state = hooks.attach(state)
    records = []
    callback = setup.forward_callback
    for t in range(setup.nt_inner):
        if callback is not None and t % (setup.callback_frequency * setup.step_ratio) == 0:
            callback(_callback_state(setup, t, state, {}))
        if hooks is not None:
            state = list(hooks.watch(t, dict(zip(FIELD_NAMES, state))).values())
        state = step(*state, ca, cb, cq, ay, by, ayh, byh, ax, bx, axh, bxh, h, wy, wx)
        if src.shape[-1] > 0:
            state[0] = (
                state[0].reshape(n_shots, cells).scatter_add(1, src_idx, src[t] * src_ok).reshape(n_shots, setup.ny, setup.nx)
            )
        records.append(state[0].reshape(n_shots, cells).gather(1, rec_idx) * rec_ok)
    rec = torch.stack(records) if records else torch.zeros(0, n_shots, rec_idx.shape[1], dtype=ca.dtype, device=ca.device)
    return [*state, rec]


class MaxwellTM(HookedPropagator, torch.nn.Module):
    """A TM Maxwell propagator that owns its model.

    ``MaxwellTM(epsilon, sigma, mu, grid_spacing, epsilon_requires_grad=False,
    sigma_requires_grad=False)(dt, source_amplitude, source_location,
    receiver_location, ...)`` calls :func:`maxwelltm` with the stored model;
    the keyword arguments are the same. mu is a buffer, not optimised.

    Imaging conditions of your own replace the gradient of ``epsilon`` or
    ``sigma`` or make images: ``register_gradient``, ``clear_gradients``,
    ``imaging`` (see :mod:`torchwave.hooks`); the fields are named as in
    the returned tuple.
    """

    _wavefield_names = FIELD_NAMES
    _source_type = ("Ey",)
    _receiver_type = ("Ey",)
    model_names = ("epsilon", "sigma")

    def __init__(self, epsilon, sigma, mu, grid_spacing, epsilon_requires_grad: bool = False, sigma_requires_grad: bool = False):
        super().__init__()
        for name, t in (("epsilon", epsilon), ("sigma", sigma), ("mu", mu)):
            common.check_tensor(name, t, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
        for name, flag in (("epsilon_requires_grad", epsilon_requires_grad), ("sigma_requires_grad", sigma_requires_grad)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool")
        self.epsilon = torch.nn.Parameter(epsilon, requires_grad=epsilon_requires_grad)
        self.sigma = torch.nn.Parameter(sigma, requires_grad=sigma_requires_grad)
        self.register_buffer("mu", mu)
        self.grid_spacing = grid_spacing

    def forward(self, dt: float, source_amplitude=None, source_location=None, receiver_location=None, **kwargs):
        return maxwelltm(
            self.epsilon, self.sigma, self.mu, self.grid_spacing, dt,
            source_amplitude, source_location, receiver_location, **kwargs, _hooks=self._hook_run(),
        )
