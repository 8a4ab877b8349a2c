"""What the acoustic propagator's module and spec share: field names, the
padded problem built from v and rho (bulk modulus, buoyancy, the staggered
CPML profiles, the survey), the masks of the initial fields. Not a
propagator itself."""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from . import _common as common
from . import _driver as driver
from ._scalar_core import _extents


def axes(ndim: int) -> Tuple[str, ...]:
    return common.AXES[ndim]


def field_names(ndim: int) -> Tuple[str, ...]:
    """The fields of the state, as the initial-field arguments and
    callbacks name them (Deepwave's order)."""
    a = axes(ndim)
    return ("pressure_0", *(f"v{x}_0" for x in a), *(f"phi_{x}_0" for x in a), *(f"psi_{x}_0" for x in a))


def hook_names(ndim: int) -> Tuple[str, ...]:
    """The fields as imaging hooks name them."""
    return tuple(n[:-2] if n != "pressure_0" else "pressure" for n in field_names(ndim))


def model_names(ndim: int) -> Tuple[str, ...]:
    """The Go core's models: bulk modulus K on the cells, buoyancy per axis
    on the half cells (Deepwave's callback names)."""
    return ("K", *(f"B{x}" for x in axes(ndim)))


def survey_fields(ndim: int) -> Tuple[str, ...]:
    """The suffixes of the source and receiver arguments, in output order."""
    return ("p", *axes(ndim))


def check_rho(rho, v: torch.Tensor, ndim: int) -> torch.Tensor:
    rho = common.check_tensor("rho", rho, ndims=(ndim, ndim + 1), dtypes=(v.dtype,), device=v.device)
    if tuple(rho.shape[-ndim:]) != tuple(v.shape[-ndim:]):
        raise ValueError(f"rho has spatial shape {tuple(rho.shape[-ndim:])}, but v has {tuple(v.shape[-ndim:])}")
    common.check_finite("rho", rho)
    if not common.inside_vmap(rho) and bool((rho.detach() <= 0).any()):
        raise ValueError(f"rho must be positive everywhere, got a minimum of {float(rho.detach().min())}")
    return rho


def _model_shots(models: Dict[str, torch.Tensor], ndim: int, n_shots: Optional[int], given: Dict[str, object]) -> Optional[int]:
    """The shot count models with a shot dimension set (None: one model for
    every shot, also a shot dimension of 1), checked against each other and
    against the survey's, with both named."""
    per_shot = {name: m.shape[0] for name, m in models.items() if m.ndim == ndim + 1 and m.shape[0] > 1}
    if not per_shot:
        return n_shots
    (name, count), *rest = per_shot.items()
    for other, c in rest:
        if c != count:
            raise ValueError(f"{name} has {count} models, one per shot, but {other} has {c}")
    for other, t in given.items():
        if isinstance(t, torch.Tensor) and t.ndim >= 1 and t.shape[0] != count:
            raise ValueError(
                f"{name} has shape {tuple(models[name].shape)}: {count} {ndim}D models, one per shot, but {other} "
                f"has {t.shape[0]} shots; give one model for all shots (shape {tuple(models[name].shape[1:])}), or one per shot"
            )
    return count


def check_survey(ndim, sources, receivers, nt, dtype, device, initial):
    """Checks every source set (amplitudes, locations), receiver set and
    initial field against each other; returns (sources, receivers, nt,
    n_shots or None) with the locations checked."""
    n_shots: Optional[int] = None
    nt_from = None
    if nt is not None:
        nt = common.as_int("nt", nt, minimum=0)
        nt_from = "nt"
    out_sources = []
    for s, (amp, loc) in zip(survey_fields(ndim), sources):
        amp_name, loc_name = f"source_amplitudes_{s}", f"source_locations_{s}"
        if (amp is None) != (loc is None):
            raise ValueError(f"{amp_name} and {loc_name} must be given together")
        if amp is not None:
            amp = common.check_tensor(amp_name, amp, ndims=(3,), dtypes=(dtype,), device=device)
            common.check_finite(amp_name, amp)
            n_shots = common.shot_count(amp_name, amp.shape[0], n_shots)
            loc = common.check_locations(loc_name, loc, n_shots, device, ndim)
            if loc.shape[1] != amp.shape[1]:
                raise ValueError(f"{loc_name} has {loc.shape[1]} sources per shot but {amp_name} has {amp.shape[1]}")
            if nt is not None and amp.shape[-1] != nt:
                raise ValueError(f"{amp_name} has {amp.shape[-1]} time samples, but {nt_from} says {nt}")
            nt, nt_from = amp.shape[-1], amp_name
        out_sources.append((amp, loc))
    if nt is None:
        raise ValueError("give source amplitudes (source_amplitudes_p, ...), or nt for the number of time steps")
    out_receivers = []
    for s, loc in zip(survey_fields(ndim), receivers):
        if loc is not None:
            loc = common.check_locations(f"receiver_locations_{s}", loc, n_shots, device, ndim)
            n_shots = common.shot_count(f"receiver_locations_{s}", loc.shape[0], n_shots)
        out_receivers.append(loc)
    for name, w in initial.items():
        if w is not None:
            common.check_tensor(name, w, ndims=(ndim + 1,), dtypes=(dtype,), device=device)
            common.check_finite(name, w)
            n_shots = common.shot_count(name, w.shape[0], n_shots)
    return out_sources, out_receivers, nt, n_shots


def check_velocity_locations(ndim, model_shape, sources, receivers) -> None:
    """As Deepwave: a velocity component's sources and receivers lie before
    the model's last cell along their own axis (its half cell beyond the
    last pressure cell is not modelled)."""
    for i, x in enumerate(axes(ndim)):
        for kind, loc in (("source", sources[1 + i][1]), ("receiver", receivers[1 + i])):
            if loc is None or loc.numel() == 0:
                continue
            c = loc[..., i]
            c = c[c != common.IGNORE_LOCATION]
            if c.numel() > 0 and int(c.max()) >= model_shape[i] - 1:
                raise ValueError(
                    f"{kind}_locations_{x} has an {x} coordinate {int(c.max())}: {x}-velocity {kind}s must lie "
                    f"before the model's last cell along {x}, below {model_shape[i] - 1}"
                )


def staggered_profiles(grid, halo, widths, spacing, dt, max_vel, pml_freq, dtype, device) -> List[torch.Tensor]:
    """Deepwave's staggered CPML profiles (deepwave.staggered_grid), a, b on
    the cells and ah, bh on the half cells, per axis, in the model's dtype
    as Deepwave computes them; one zero more at the end (torchwave's halo
    is one cell longer)."""
    ndim = len(grid)
    longest = max(w * spacing[k // 2] for k, w in enumerate(widths))
    out: List[torch.Tensor] = []
    for i in range(ndim):
        n = grid[i] - 1  # Deepwave's padded length
        w0, w1 = widths[2 * i], widths[2 * i + 1]
        start = (float(halo + w0), float(n - 1 - (halo - 1) - w1))
        for shift in (0.0, 0.5):
            a, b = _setup_pml((w0, w1), start, longest, dt, n, max_vel, dtype, device, pml_freq, shift)
            out += [torch.nn.functional.pad(a, (0, 1)), torch.nn.functional.pad(b, (0, 1))]
        # Deepwave's order per axis: a, b, ah, bh.
    return out


def _setup_pml(widths, start, max_pml, dt, n, max_vel, dtype, device, pml_freq, shift, r_val=0.001, n_power=2):
    """deepwave.common.setup_pml, operation for operation."""
    alpha0 = math.pi * pml_freq
    if max_pml == 0:
        return torch.zeros(n, device=device, dtype=dtype), torch.zeros(n, device=device, dtype=dtype)
    sigma0 = -(1 + n_power) * max_vel * math.log(r_val) / (2 * max_pml)
    x = torch.arange(shift, shift + n, device=device, dtype=dtype)
    frac0 = torch.zeros_like(x) if widths[0] == 0 else (start[0] - x) / widths[0]
    frac1 = torch.zeros_like(x) if widths[1] == 0 else (x - start[1]) / widths[1]
    frac = torch.clamp(torch.maximum(frac0, frac1), min=0, max=1)
    sigma = sigma0 * frac**n_power
    alpha = alpha0 * (1 - frac)
    total = sigma + alpha
    a = torch.exp(-total * abs(dt))
    b = sigma / total * (a - 1)
    a[frac == 0] = 0
    b = torch.where(frac == 0, torch.zeros_like(b), b)  # 0/0 when pml_freq is 0
    return a, b


def buoyancy(rho: torch.Tensor, ndim: int) -> List[torch.Tensor]:
    """1/ρ half a cell along each axis from the arithmetic mean of the two
    cells, as Deepwave (zero on the last cell of each axis)."""
    rfmax = 1 / torch.finfo(rho.dtype).max ** (1 / 2)
    out = []
    for i in range(ndim):
        dim = i - ndim
        n = rho.shape[dim]
        mean = (rho.narrow(dim, 0, n - 1) + rho.narrow(dim, 1, n - 1)) / 2
        pad = [0, 0] * (-dim - 1) + [0, 1]
        mean = torch.nn.functional.pad(mean, pad)
        mask = rfmax < mean.abs()
        safe = torch.where(mask, mean, torch.ones_like(mean))
        out.append(torch.where(mask, 1 / safe, torch.zeros_like(mean)))
    return out


def region_masks(setup, dtype, device) -> Dict[str, List[torch.Tensor]]:
    """Per axis, 1-D masks along it: "phi" where φ lives (the PML's cells),
    "psi" where ψ lives (the PML's half cells, without a velocity's last
    cell) and "edge" (all but a velocity's last cell)."""
    out: Dict[str, List[torch.Tensor]] = {"phi": [], "psi": [], "edge": []}
    h = setup.halo
    for i, n in enumerate(setup.grid):
        w0, w1 = setup.pml_width[2 * i], setup.pml_width[2 * i + 1]
        j = torch.arange(n, device=device)
        edge = j != n - h - 1
        phi = (j < h + w0) | (j >= n - h - w1)
        psi = ((j < h + w0) | (j >= n - h - w1 - 1)) & edge
        for key, m in (("phi", phi), ("psi", psi), ("edge", edge)):
            out[key].append(m.to(dtype))
    return out


def along(mask: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    """A 1-D tensor along ``axis`` shaped to broadcast over a grid."""
    return mask.reshape([-1] + [1] * (ndim - 1 - axis))


def field_masks(setup, dtype, device) -> List[Optional[torch.Tensor]]:
    """Per state field (field_names order), where it can be non-zero (None:
    everywhere outside the halo)."""
    ndim = setup.ndim
    m = region_masks(setup, dtype, device)
    return (
        [None]
        + [along(m["edge"][i], i, ndim) for i in range(ndim)]
        + [along(m["phi"][i], i, ndim) for i in range(ndim)]
        + [along(m["psi"][i], i, ndim) for i in range(ndim)]
    )


def prepare(
    spec,
    v,
    rho,
    grid_spacing,
    dt,
    sources: Sequence[Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]],
    receivers: Sequence[Optional[torch.Tensor]],
    accuracy,
    pml_freq,
    max_vel,
    survey_pad,
    initial: Dict[str, Optional[torch.Tensor]],
    origin,
    nt,
    options,
    storage_mode,
    storage_path,
    storage_strategy,
    forward_callback,
    backward_callback,
):
    """Validates the models and the survey and builds the padded problem;
    returns (setup, models [K, B per axis], scaled sources [p, v per axis],
    padded initial fields, padded v and rho)."""
    ndim = spec.ndim
    v = common.check_tensor("v", v, ndims=(ndim, ndim + 1), dtypes=(torch.float32, torch.float64))
    device, dtype = v.device, v.dtype
    common.check_finite("v", v)
    rho = check_rho(rho, v, ndim)
    spacing = common.grid_spacing_nd(grid_spacing, ndim)
    accuracy = common.accuracy_of(accuracy)
    widths, dt = options.pml_width, options.dt
    sources, receivers, nt, n_shots = check_survey(ndim, sources, receivers, nt, dtype, device, initial)
    given: Dict[str, object] = {f"source_amplitudes_{s}": a for s, (a, _) in zip(survey_fields(ndim), sources)}
    given.update({f"receiver_locations_{s}": r for s, r in zip(survey_fields(ndim), receivers)})
    given.update(initial)
    n_shots = _model_shots({"v": v, "rho": rho}, ndim, n_shots, given)
    n_shots = 1 if n_shots is None else n_shots
    if n_shots < 1:
        raise ValueError("the inputs have zero shots: source amplitudes, locations and initial wavefields need at least one")
    model_shape = tuple(v.shape[-ndim:])
    if any(n < 2 for n in model_shape):
        raise ValueError(f"v must have at least 2 cells along every axis, got shape {model_shape}")
    check_velocity_locations(ndim, model_shape, sources, receivers)
    locations = [loc for _, loc in sources] + list(receivers)
    extents = _extents(model_shape, widths, initial, origin, survey_pad, locations)

    batched = common.inside_vmap(v)
    if batched and max_vel is None:
        raise ValueError("under torch.func.vmap the model's values cannot be read: give max_vel")
    # As Deepwave's acoustic: the fastest cell of the whole model.
    max_vel = driver.check_max_vel(max_vel, 0.0 if batched else float(v.detach().abs().max()))
    pml_freq = common.pml_frequency(pml_freq, abs(dt))
    step_ratio = common.cfl_step_ratio(spacing, abs(dt), max_vel)
    dt_inner = dt / step_ratio
    h = accuracy // 2
    pad = [h + w for w in widths]
    grid = tuple(extents[2 * i + 1] - extents[2 * i] + pad[2 * i] + pad[2 * i + 1] for i in range(ndim))

    region = common.box(extents)
    v_pad = driver.pad_replicate(v[region], pad)
    rho_pad = driver.pad_replicate(rho[region], pad)
    k = rho_pad * v_pad**2
    models = [k, *buoyancy(rho_pad, ndim)]

    def indices(name, loc):
        return common.flat_indices(name, loc, n_shots, extents, pad, grid, model_shape)

    names = survey_fields(ndim)
    source_index = [indices(f"source_locations_{s}", loc) for s, (_, loc) in zip(names, sources)]
    receiver_index = [indices(f"receiver_locations_{s}", loc) for s, loc in zip(names, receivers)]

    nt_inner = nt * step_ratio
    scaled = [
        common.scaled_sources(
            amp,
            idx,
            m.detach() if storage_mode == "none" else m,
            dt_inner,
            n_shots,
            nt_inner,
            step_ratio,
            options.freq_taper_frac,
            options.time_pad_frac,
            options.time_taper,
        )
        for (amp, _), idx, m in zip(sources, source_index, models)
    ]
    profiles = staggered_profiles(grid, h, widths, spacing, abs(dt_inner), max_vel, pml_freq, dtype, device)
    setup = driver.make_setup(
        options,
        n_shots=n_shots,
        grid=grid,
        accuracy=accuracy,
        spacing=spacing,
        dt_inner=dt_inner,
        step_ratio=step_ratio,
        nt_inner=nt_inner,
        profiles=profiles,
        source_index=source_index[0],
        receiver_index=receiver_index[0],
        storage_mode=storage_mode,
        storage_path=storage_path,
        strategy=storage_strategy,
        extents=extents,
        pad=pad,
        forward_callback=forward_callback,
        backward_callback=backward_callback,
        survey={"sources": source_index, "receivers": receiver_index},
    )
    fields = list(initial.values())
    if any(w is not None for w in fields):
        fields = driver.pad_initial(fields, field_masks(setup, dtype, device), h)
    return setup, models, scaled, fields, v_pad, rho_pad
