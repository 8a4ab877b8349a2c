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
import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

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
    return driver.propagate(SPEC, setup, [ca, cb, cq], [src], fields, python_backend, hooks)


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
    """Validates the arguments and builds the padded problem; returns
    (setup, ca, cb, cq, the scaled sources, the padded initial fields)."""
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
    stencil = common.as_int("stencil", stencil)
    if stencil not in STAGGERED_WEIGHTS:
        raise ValueError(f"stencil must be 2, 4, 6 or 8, got {stencil}")
    options = driver.check_options(
        SPEC, dt=dt, pml_width=pml_width, model_gradient_sampling_interval=interval,
        forward_callback=forward_callback, backward_callback=backward_callback, callback_frequency=callback_frequency,
        freq_taper_frac=freq_taper_frac, time_pad_frac=time_pad_frac, time_taper=time_taper,
        python_backend=python_backend, storage_mode=storage_mode, storage_path=storage_path,
        storage_compression=storage_compression, storage_strategy=storage_strategy, negative_dt=False,
    )
    dt, widths = options.dt, options.pml_width
    if pml_freq is None:
        pml_freq = 0.0
    elif isinstance(pml_freq, bool) or not isinstance(pml_freq, (int, float)) or not math.isfinite(pml_freq) or pml_freq < 0:
        raise ValueError(f"pml_freq must be a non-negative number, got {pml_freq!r}")

    # Shots and steps.
    n_shots = None
    for name, t in (("epsilon", epsilon), ("sigma", sigma), ("mu", mu)):
        if t.ndim == 3:
            n_shots = common.shot_count(name, t.shape[0], n_shots)
    named_initial = dict(zip(INITIAL_NAMES, initial))
    source_amplitude, source_location, receiver_location, _, nt, n_shots = driver.check_shots(
        ("source_amplitude", "source_location", "receiver_location"), source_amplitude, source_location,
        receiver_location, nt, n_shots, dtype, device, named_initial,
    )
    sim_shape = (model_shape[0] + widths[0] + widths[1], model_shape[1] + widths[2] + widths[3])
    for name, w in named_initial.items():
        if w is not None and tuple(w.shape[-2:]) != sim_shape:
            raise ValueError(
                f"{name} must have spatial shape {sim_shape} (the model and its PML), got {tuple(w.shape[-2:])}"
            )

    # The fastest wave decides the CFL step and the CPML damping.
    max_vel = driver.check_max_vel(max_vel, C0 / math.sqrt((epsilon.detach() * mu.detach()).min().item()))
    step_ratio = common.cfl_step_ratio(dy, dx, dt, max_vel)
    dt_inner = dt / step_ratio
    h = stencil // 2
    pad = [h + widths[0], h + widths[1], h + widths[2], h + widths[3]]
    ny = model_shape[0] + pad[0] + pad[1]
    nx = model_shape[1] + pad[2] + pad[3]
    extents = [0, model_shape[0], 0, model_shape[1]]
    eps_pad, sigma_pad, mu_pad = (driver.pad_replicate(t, pad) for t in (epsilon, sigma, mu))
    ca, cb, cq = coefficients(eps_pad, sigma_pad, mu_pad, dt_inner)
    # One model for all shots, or one per shot for all three coefficients.
    if max(ca.shape[0], cb.shape[0], cq.shape[0]) > 1:
        ca, cb, cq = (c.expand(n_shots, -1, -1) for c in (ca, cb, cq))
    source_index = common.flat_indices("source_location", source_location, n_shots, extents, pad, nx, model_shape)
    receiver_index = common.flat_indices("receiver_location", receiver_location, n_shots, extents, pad, nx, model_shape)

    # Sources: upsampled to the internal step and scaled to −cb/(dy·dx) at
    # their cell. storage_mode="none" gives no model gradient at all, not
    # even through the source scaling (as Deepwave).
    nt_inner = nt * step_ratio
    src = common.scaled_sources(
        source_amplitude, source_index, cb.detach() if storage_mode == "none" else cb, -1.0 / (dy * dx), n_shots,
        nt_inner, step_ratio, options.freq_taper_frac, options.time_pad_frac, options.time_taper,
    )
    profiles = []
    for n, w, d in ((ny, widths[:2], dy), (nx, widths[2:], dx)):
        for shift in (0.0, 0.5):
            profiles += [p.to(device) for p in cpml_profile(n, h, w, d, dt_inner, max_vel, pml_freq, shift, dtype)]
    callbacks = forward_callback is not None or backward_callback is not None
    setup = driver.make_setup(
        options, n_shots=n_shots, ny=ny, nx=nx, accuracy=stencil, dy=dy, dx=dx, dt_inner=dt_inner,
        step_ratio=step_ratio, nt_inner=nt_inner, profiles=profiles, source_index=source_index,
        receiver_index=receiver_index, storage_mode=storage_mode, storage_path=storage_path,
        strategy=storage_strategy, extents=extents, pad=pad, forward_callback=forward_callback,
        backward_callback=backward_callback,
        models={"epsilon": eps_pad.detach(), "sigma": sigma_pad.detach(), "mu": mu_pad.detach()} if callbacks else {},
    )
    return setup, ca, cb, cq, src, driver.pad_initial(initial, _masks(setup, dtype, device), h)


def _masks(setup, dtype, device) -> List[Optional[torch.Tensor]]:
    """Per field, the cells where it can be non-zero beyond the halo
    (None: everywhere): CPML memory fields live only where their profile
    does."""
    ay, by, ayh, byh, ax, bx, axh, bxh = setup.profiles

    def along_y(a, b):
        return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[:, None].expand(setup.ny, setup.nx)

    def along_x(a, b):
        return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[None, :].expand(setup.ny, setup.nx)

    return [None, None, None, along_x(axh, bxh), along_y(ayh, byh), along_y(ay, by), along_x(ax, bx)]


class _MaxwellSpec(driver.Spec):
    """maxwelltm for the driver: models ca, cb, cq, one scaled source,
    seven fields. Go updates the forward fields in place; the adjoint runs
    on buffer pairs (Ey and the CPML fields) beside λ of Hx and Hz."""

    name = "maxwelltm"
    model_names = ("ca", "cb", "cq")
    field_names = FIELD_NAMES
    hook_names = FIELD_NAMES

    def core_args(self, setup, models):
        return _core_args(setup, *models)

    def forward_state(self, setup, models, initial):
        # Working copies, each placed near ca (see common.zeros).
        return [
            common.zeros(setup.shape, models[0].dtype, near=models[0], slot=k).copy_(t) if t is not None
            else common.zeros(setup.shape, models[0].dtype, near=models[0], slot=k)
            for k, t in enumerate(initial, 3)
        ]

    def current(self, state):
        return state

    def histories(self, setup, args, models, sources, wanted):
        names = _wanted_stores(wanted)
        plan = _history(setup, models[0], sources[0], args, names)
        plan.store_names = names  # which Go store each of its buffers is
        return [plan]

    def run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories):
        buffers, first = stores[0] if stores else (None, 0)
        store_args = _store_args(histories[0].store_names, buffers, first) if histories else {}
        if not backward:
            _run_forward(args, state, start, count, sources[0], receivers[0], store_args)
            return
        pairs = state["pairs"]
        _call(
            True, **args, step0=start, n_steps=count,
            source_amplitudes=sources[0][start : start + count], receiver_amplitudes=receivers[0][start : start + count],
            hx=state["hx"], hz=state["hz"], **pairs, **store_args,
            **{k: g for k, g in zip(("grad_ca", "grad_cb", "grad_cq"), grads)},
        )
        if count % 2:
            for pair in pairs.values():
                pair.reverse()

    def adjoint_state(self, setup, models, field_grads, need, wanted, hooks):
        ca = models[0]
        adj = []
        for k, (g, mask) in enumerate(zip(field_grads, _masks(setup, ca.dtype, ca.device)), 3):
            buf = common.zeros(setup.shape, ca.dtype, near=ca, slot=k)
            adj.append(buf if g is None else buf.copy_(g if mask is None else g * mask))
        pairs = {
            name: [adj[i], common.zeros(setup.shape, ca.dtype, near=ca, slot=10 + j)]
            for j, (name, i) in enumerate(zip(_PAIRS, (0, 3, 4, 5, 6)))
        }
        return {"pairs": pairs, "hx": adj[1], "hz": adj[2]}

    def adjoint_fields(self, state, models, names=None):
        pairs = state["pairs"]
        fields = [pairs["ey"][0], state["hx"], state["hz"]] + [pairs[k][0] for k in _PAIRS[1:]]
        return fields if names is None else [f if k in names else None for k, f in zip(FIELD_NAMES, fields)]

    def gradient_buffers(self, setup, models, want):
        return [common.zeros(setup.shape, m.dtype, near=models[0], slot=15 + i) if w else None
                for i, (m, w) in enumerate(zip(models, want))]

    def model_gradients(self, setup, models, grads):
        def total(g, c):
            if g is None:
                return None
            g = g * setup.store_interval
            return g.sum(dim=0, keepdim=True) if c.shape[0] == 1 and setup.n_shots > 1 else g

        return [total(g, c) for g, c in zip(grads, models)]

    def reference_stepper(self, setup, models, sources, kind):
        step = get_step(kind)
        ay, by, ayh, byh, ax, bx, axh, bxh = setup.profiles
        profiles = (ay[:, None], by[:, None], ayh[:, None], byh[:, None], ax, bx, axh, bxh)
        w = STAGGERED_WEIGHTS[setup.accuracy]
        wy, wx = [c / setup.dy for c in w], [c / setup.dx for c in w]
        ca, src = models[0], sources[0]
        receivers, injection = driver.Survey(setup.receiver_index, setup, ca), driver.Survey(setup.source_index, setup, ca)

        def advance(state, t):
            state = step(*state, *models, *profiles, setup.halo, wy, wx)
            state[0] = injection.inject(state[0], src[t])
            return state, [receivers.record(state[0])]

        return advance


SPEC = driver.register(_MaxwellSpec())


def _core_args(setup: driver.Setup, ca, cb, cq) -> dict:
    return dict(
        dtype=0 if ca.dtype == torch.float32 else 1,
        n_shots=setup.n_shots, ny=setup.ny, nx=setup.nx, stencil=setup.accuracy,
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


def _history(setup: driver.Setup, ca: torch.Tensor, src: torch.Tensor, core_args: dict, names: List[str]):
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
