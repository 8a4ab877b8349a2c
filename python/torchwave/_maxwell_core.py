"""What maxwelltm is built from besides its spec: the physical constants,
the update coefficients, the CPML profiles and the padded problem. Not a
propagator itself."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch

from . import _common as common
from . import _driver as driver
from ._maxwell_reference import STAGGERED_WEIGHTS

#: Vacuum permittivity (F/m), permeability (H/m) and the speed of light.
EPS0 = 8.8541878128e-12
MU0 = 1.25663706212e-6
C0 = 1 / math.sqrt(EPS0 * MU0)

FIELD_NAMES = ("Ey", "Hx", "Hz", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x")
INITIAL_NAMES = ("Ey_0", "Hx_0", "Hz_0", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x")


def cpml_profile(
    n: int,
    halo: int,
    widths: Sequence[int],
    spacing: float,
    dt: float,
    max_vel: float,
    pml_freq: float,
    shift: float,
    dtype: torch.dtype,
    reflection: float = 1e-3,
    power: int = 2,
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
    sigma0 = [-(1 + power) * max_vel * math.log(reflection) / (2 * max(w, 1) * spacing) for w in widths]
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


def _model(name: str, t, dtype=None, device=None) -> torch.Tensor:
    dtypes = (torch.float32, torch.float64) if dtype is None else (dtype,)
    t = common.check_tensor(name, t, ndims=(2, 3), dtypes=dtypes, device=device)
    common.check_finite(name, t)
    return t


def prepare(
    spec,
    epsilon,
    sigma,
    mu,
    grid_spacing,
    dt,
    source_amplitude,
    source_location,
    receiver_location,
    stencil,
    pml_width,
    max_vel,
    initial,
    nt,
    interval,
    freq_taper_frac,
    time_pad_frac,
    time_taper,
    pml_freq,
    forward_callback,
    backward_callback,
    callback_frequency,
    python_backend,
    storage_mode,
    storage_path,
    storage_compression,
    storage_strategy,
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
        spec,
        dt=dt,
        pml_width=pml_width,
        model_gradient_sampling_interval=interval,
        forward_callback=forward_callback,
        backward_callback=backward_callback,
        callback_frequency=callback_frequency,
        freq_taper_frac=freq_taper_frac,
        time_pad_frac=time_pad_frac,
        time_taper=time_taper,
        python_backend=python_backend,
        storage_mode=storage_mode,
        storage_path=storage_path,
        storage_compression=storage_compression,
        storage_strategy=storage_strategy,
        negative_dt=False,
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
        ("source_amplitude", "source_location", "receiver_location"),
        source_amplitude,
        source_location,
        receiver_location,
        nt,
        n_shots,
        dtype,
        device,
        named_initial,
    )
    sim_shape = (model_shape[0] + widths[0] + widths[1], model_shape[1] + widths[2] + widths[3])
    for name, w in named_initial.items():
        if w is not None and tuple(w.shape[-2:]) != sim_shape:
            raise ValueError(f"{name} must have spatial shape {sim_shape} (the model and its PML), got {tuple(w.shape[-2:])}")

    # The fastest wave decides the CFL step and the CPML damping.
    max_vel = driver.check_max_vel(max_vel, C0 / math.sqrt((epsilon.detach() * mu.detach()).min().item()))
    step_ratio = common.cfl_step_ratio((dy, dx), dt, max_vel)
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
    source_index = common.flat_indices("source_location", source_location, n_shots, extents, pad, (ny, nx), model_shape)
    receiver_index = common.flat_indices("receiver_location", receiver_location, n_shots, extents, pad, (ny, nx), model_shape)

    # Sources: upsampled to the internal step and scaled to −cb/(dy·dx) at
    # their cell. storage_mode="none" gives no model gradient at all, not
    # even through the source scaling (as Deepwave).
    nt_inner = nt * step_ratio
    src = common.scaled_sources(
        source_amplitude,
        source_index,
        cb.detach() if storage_mode == "none" else cb,
        -1.0 / (dy * dx),
        n_shots,
        nt_inner,
        step_ratio,
        options.freq_taper_frac,
        options.time_pad_frac,
        options.time_taper,
    )
    profiles = []
    for n, w, d in ((ny, widths[:2], dy), (nx, widths[2:], dx)):
        for shift in (0.0, 0.5):
            profiles += [p.to(device) for p in cpml_profile(n, h, w, d, dt_inner, max_vel, pml_freq, shift, dtype)]
    callbacks = forward_callback is not None or backward_callback is not None
    setup = driver.make_setup(
        options,
        n_shots=n_shots,
        grid=(ny, nx),
        accuracy=stencil,
        spacing=(dy, dx),
        dt_inner=dt_inner,
        step_ratio=step_ratio,
        nt_inner=nt_inner,
        profiles=profiles,
        source_index=source_index,
        receiver_index=receiver_index,
        storage_mode=storage_mode,
        storage_path=storage_path,
        strategy=storage_strategy,
        extents=extents,
        pad=pad,
        forward_callback=forward_callback,
        backward_callback=backward_callback,
        models={"epsilon": eps_pad.detach(), "sigma": sigma_pad.detach(), "mu": mu_pad.detach()} if callbacks else {},
    )
    return setup, ca, cb, cq, src, driver.pad_initial(initial, masks(setup, dtype, device), h)


def masks(setup, dtype, device) -> List[Optional[torch.Tensor]]:
    """Per field, the cells where it can be non-zero beyond the halo
    (None: everywhere): CPML memory fields live only where their profile
    does."""
    ay, by, ayh, byh, ax, bx, axh, bxh = setup.profiles

    def along_y(a, b):
        return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[:, None].expand(setup.ny, setup.nx)

    def along_x(a, b):
        return ((a != 0) | (b != 0)).to(dtype=dtype, device=device)[None, :].expand(setup.ny, setup.nx)

    return [None, None, None, along_x(axh, bxh), along_y(ayh, byh), along_y(ay, by), along_x(ax, bx)]
