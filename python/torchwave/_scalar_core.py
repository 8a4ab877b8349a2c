"""What the scalar family (``scalar`` and ``scalar_born``) shares: the
padded problem built from v, the CPML masks, the Go core's buffer pairs
and arguments, and the reference operator, in 1, 2 or 3 spatial
dimensions. Not a propagator itself."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch

from . import _common as common
from . import _driver as driver


def pml_keys(ndim: int) -> Tuple[str, ...]:
    """The CPML fields of an ndim grid: ψ per axis, then ζ per axis."""
    axes = common.AXES[ndim]
    return tuple(f"psi{a}" for a in axes) + tuple(f"zeta{a}" for a in axes)


def field_names(ndim: int) -> Tuple[str, ...]:
    """The fields of one scalar wavefield, as the initial-field arguments
    and callbacks name them (Deepwave's order)."""
    return ("wavefield_0", "wavefield_m1") + tuple(k + "_m1" for k in pml_keys(ndim))


def hook_names(ndim: int) -> Tuple[Optional[str], ...]:
    """The fields as imaging hooks name them (u_prev unseen)."""
    return ("wavefield", None) + pml_keys(ndim)


def initial_fields(ndim: int, given: Dict[str, Optional[torch.Tensor]], suffix: str = "") -> Dict[str, Optional[torch.Tensor]]:
    """The initial fields of an ndim propagation by name, from all the
    fields a signature takes (``suffix`` "_sc": the scattered ones)."""
    names = [n.replace("_m1", f"{suffix}_m1").replace("wavefield_0", f"wavefield{suffix}_0") for n in field_names(ndim)]
    return {n: given[n] for n in names}


def prepare(
    spec,
    v,
    grid_spacing,
    dt,
    source_amplitudes,
    source_locations,
    receiver_locations,
    accuracy,
    pml_width,
    pml_freq,
    max_vel,
    survey_pad,
    initial: Dict[str, Optional[torch.Tensor]],
    origin,
    nt,
    options,
    python_backend,
    storage_mode,
    storage_path,
    storage_strategy,
    forward_callback,
    backward_callback,
    extra_receivers=None,
):
    """Validates v and the survey and builds the padded problem; returns
    (setup, c = v²dt² [1 or shots, ny, nx], the scaled sources, the padded
    initial fields, the padded v).

    ``initial`` maps initial-field names to tensors or None; names starting
    psiy/zetay (psix/zetax) are PML fields along y (x). ``extra_receivers``
    is one more (name, locations) receiver set (Born's background): it
    takes part in the checks and the survey region, and its padded indices
    come back as ``setup.extra_receiver_index``."""
    ndim = spec.ndim
    v = common.check_tensor("v", v, ndims=(ndim, ndim + 1), dtypes=(torch.float32, torch.float64))
    device, dtype = v.device, v.dtype
    common.check_finite("v", v)
    # Zero or negative wavespeeds are allowed, as in Deepwave: the scheme
    # sees only v².
    spacing = common.grid_spacing_nd(grid_spacing, ndim)
    accuracy = common.accuracy_of(accuracy)
    widths, dt = options.pml_width, options.dt
    source_amplitudes, source_locations, receiver_locations, extra_locations, nt, n_shots, maps = driver.check_shots(
        ("source_amplitudes", "source_locations", "receiver_locations"),
        source_amplitudes,
        source_locations,
        receiver_locations,
        nt,
        _model_shots("v", v, ndim, source_amplitudes, source_locations, receiver_locations, initial),
        dtype,
        device,
        initial,
        extra_receivers,
        ndim,
        tuple(v.shape[-ndim:]),
    )
    model_shape = tuple(v.shape[-ndim:])
    extents = _extents(model_shape, widths, initial, origin, survey_pad, [source_locations, receiver_locations, extra_locations])
    v_sim = v[common.box(extents)]

    batched = common.inside_vmap(v)
    if batched and max_vel is None:
        raise ValueError("under torch.func.vmap the model's values cannot be read: give max_vel")
    max_vel = driver.check_max_vel(max_vel, 0.0 if batched else float(v_sim.detach().abs().max()))
    pml_freq = common.pml_frequency(pml_freq, abs(dt))
    step_ratio = common.cfl_step_ratio(spacing, abs(dt), max_vel)
    dt_inner = dt / step_ratio
    h = accuracy // 2
    pad = [h + w for w in widths]
    grid = tuple(extents[2 * i + 1] - extents[2 * i] + pad[2 * i] + pad[2 * i + 1] for i in range(ndim))

    v_pad = driver.pad_replicate(v_sim, pad)
    c = v_pad * v_pad
    c.mul_(dt_inner**2)  # in place: one grid fewer at peak

    def indices(name, locations):
        return common.flat_indices(name, locations, n_shots, extents, pad, grid, model_shape)

    source_index = indices("source_locations", source_locations)
    receiver_index = indices("receiver_locations", receiver_locations)
    extra_index = None if extra_receivers is None else indices(extra_receivers[0], extra_locations)

    # Sources: upsampled to the internal step and scaled by −v²dt² at
    # their cell. storage_mode="none" gives no model gradient at all, not
    # even through the source scaling (as Deepwave).
    nt_inner = nt * step_ratio
    src = common.scaled_sources(
        source_amplitudes,
        source_index,
        c.detach() if storage_mode == "none" else c,
        -1.0,
        n_shots,
        nt_inner,
        step_ratio,
        options.freq_taper_frac,
        options.time_pad_frac,
        options.time_taper,
    )
    dt_pml = abs(dt_inner)
    profiles = []
    longest = max(w * spacing[k // 2] for k, w in enumerate(widths))
    for i in range(ndim):
        profiles += common.pml_profile(
            grid[i],
            h,
            widths[2 * i : 2 * i + 2],
            spacing[i],
            dt_pml,
            max_vel,
            pml_freq,
            accuracy,
            dtype,
            device,
            longest=longest,
        )
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
        source_index=source_index,
        receiver_index=receiver_index,
        storage_mode=storage_mode,
        storage_path=storage_path,
        strategy=storage_strategy,
        extents=extents,
        pad=pad,
        forward_callback=forward_callback,
        backward_callback=backward_callback,
        extra_receiver_index=extra_index,
        # In the spec's receiver order: Born's background (extra) first.
        receiver_maps=maps[:1] if extra_receivers is None else [maps[1], maps[0]],
    )
    masks: List[Optional[torch.Tensor]] = [None] * len(initial)
    if any(w is not None for w in initial.values()):
        live = dict(zip(common.AXES[ndim], live_masks(setup, dtype, device)))
        masks = [live[n[-1]] if n.startswith(("psi", "zeta")) else None for n in (k.split("_")[0] for k in initial)]
    return setup, c, src, driver.pad_initial(list(initial.values()), masks, h), v_pad


def _model_shots(name, model, ndim, amplitudes, source_locations, receiver_locations, initial) -> Optional[int]:
    """The shot count a model with a shot dimension sets (None: one model
    for every shot, including a shot dimension of 1, as in Deepwave),
    checked against the survey's first, with both named."""
    if model.ndim != ndim + 1 or model.shape[0] == 1:
        return None
    given = {"source_amplitudes": amplitudes, "source_locations": source_locations}
    given.update(receiver_locations=receiver_locations, **initial)
    # What made the propagation ndim-D (see common.spatial_ndim).
    wavefields = [k for k, t in initial.items() if t is not None and k.startswith("wavefield")]
    locations = [k for k in ("source_locations", "receiver_locations") if given[k] is not None]
    why = (
        f"{wavefields[0]} has {ndim + 1} dimensions"
        if wavefields
        else f"{locations[0]} has {ndim} coordinates"
        if locations
        else ""
    )
    for other, t in given.items():
        if isinstance(t, torch.Tensor) and t.ndim >= 1 and t.shape[0] != model.shape[0]:
            raise ValueError(
                f"{name} has shape {tuple(model.shape)}: {model.shape[0]} {ndim}D models, one per shot (the "
                f"propagation is {ndim}D: {why}), but {other} has {t.shape[0]} shots; give one model for all "
                f"shots (shape {tuple(model.shape[1:])}), or one per shot"
            )
    return model.shape[0]


def _extents(model_shape, widths, initial, origin, survey_pad, locations) -> List[int]:
    """The simulated region of the model, start and end per dimension: the
    initial fields' region from ``origin``, else the survey's within
    ``survey_pad``."""
    ndim = len(model_shape)
    given = [(n, w) for n, w in initial.items() if w is not None]
    if not given:
        if origin is not None and survey_pad is not None:
            raise ValueError("give survey_pad or origin, not both")
        return common.survey_extents(model_shape, locations, survey_pad)
    if survey_pad is not None:
        raise ValueError("survey_pad cannot be combined with initial wavefields; give origin instead")
    shape = tuple(given[0][1].shape[-ndim:])
    for name, w in given:
        if tuple(w.shape[-ndim:]) != shape:
            raise ValueError(f"{name} has spatial shape {tuple(w.shape[-ndim:])}, but {given[0][0]} has {shape}")
    if origin is not None and (not isinstance(origin, (list, tuple)) or len(origin) != ndim):
        names = ", ".join(common.AXES[ndim])
        raise ValueError(f"origin must be {ndim} ints ({names}) for a {ndim}D model, got {origin!r}")
    start = [0] * ndim if origin is None else [common.as_int(f"origin[{i}]", o, minimum=0) for i, o in enumerate(origin)]
    size = [shape[i] - widths[2 * i] - widths[2 * i + 1] for i in range(ndim)]
    if any(n < 1 or o + n > m for n, o, m in zip(size, start, model_shape)):
        raise ValueError(
            f"initial wavefields of spatial shape {shape} with pml_width {widths} and origin "
            f"{start} do not fit the model of shape {model_shape}"
        )
    return [e for o, n in zip(start, size) for e in (o, o + n)]


def live_masks(setup, dtype, device) -> List[torch.Tensor]:
    """Per axis, the cells where that axis's PML fields can be non-zero."""
    ndim, out = setup.ndim, []
    for i in range(ndim):
        a, b = setup.profiles[3 * i], setup.profiles[3 * i + 1]
        live = ((a != 0) | (b != 0)).to(dtype=dtype, device=device)
        out.append(live.reshape([-1] + [1] * (ndim - 1 - i)).expand(setup.grid))
    return out


def working_pairs(setup, initial, near: torch.Tensor, first_slot: int, pair_slot: int) -> Dict[str, List[torch.Tensor]]:
    """Forward buffer pairs over working copies of the initial fields
    (None: zero), placed near ``near`` (see common.zeros)."""

    def own(t, slot):
        buf = common.zeros(setup.shape, near.dtype, near=near, slot=slot)
        return buf if t is None else buf.copy_(t)

    return forward_pairs([own(t, first_slot + k) for k, t in enumerate(initial)], near=near, first_slot=pair_slot)


def forward_pairs(fields: List[torch.Tensor], near=None, first_slot=7) -> Dict[str, List[torch.Tensor]]:
    """Forward buffer pairs from the current state [u, u_prev, ψ per axis,
    ζ per axis] (the tensors are used, not copied). ζ is updated point by
    point, so one buffer serves as both halves of its pair; ψ and u need
    two (the second ones placed near near, see common.zeros)."""
    ndim = (len(fields) - 2) // 2
    pairs = {"u": [fields[0], fields[1]]}
    for i, (key, f) in enumerate(zip(pml_keys(ndim), fields[2:])):
        if key.startswith("psi"):
            pairs[key] = [f, common.zeros(f.shape, f.dtype, f.device, near=near, slot=first_slot + i)]
        else:
            pairs[key] = [f, f]
    return pairs


def adjoint_pairs(setup, c, grads, first_slot: int, pair_slot: int) -> Dict[str, List[torch.Tensor]]:
    """The adjoint's starting buffer pairs from the cotangents of the final
    fields (None: zero), the wavefield's scaled as μ = c·λ and the PML
    fields' masked to where they live."""
    shape, dtype, ndim = setup.shape, c.dtype, setup.ndim
    live = live_masks(setup, dtype, c.device)

    def scaled(g, factor, slot):
        buf = common.zeros(shape, dtype, near=c, slot=slot)
        return buf if g is None else torch.mul(g, factor, out=buf)

    g_u, g_um1, *g_pml = grads
    pairs = {"u": [scaled(g_u, c, first_slot), scaled(g_um1, -c, first_slot + 1)]}
    for i, (key, g) in enumerate(zip(pml_keys(ndim), g_pml)):
        mask = live[i % ndim]
        pairs[key] = [scaled(g, mask, first_slot + 2 + i), common.zeros(shape, dtype, near=c, slot=pair_slot + i)]
    return pairs


def current(pairs) -> List[torch.Tensor]:
    """The state of the pairs in field_names order."""
    return [pairs["u"][0], pairs["u"][1]] + [p[0] for k, p in pairs.items() if k != "u"]


def adjoint_current(pairs, c, names=None) -> List[Optional[torch.Tensor]]:
    """∂loss/∂(the fields) from the adjoint pairs (μ = c·λ undone); given
    ``names`` (hook names), only those fields."""
    mu, q = pairs["u"]
    keys = [k for k in pairs if k != "u"]
    out: List[Optional[torch.Tensor]] = [mu / c, -q / c] + [pairs[k][0] for k in keys]
    if names is not None:
        out = [f if k in names else None for k, f in zip(("wavefield", None, *keys), out)]
    return out


def swap(pairs) -> None:
    """After an odd number of steps the current state is in the other half
    of every pair."""
    for pair in pairs.values():
        pair.reverse()


def core_args(setup, c: torch.Tensor) -> dict:
    """The fields of tw_scalar_args fixed for a whole propagation; the
    profiles of axes the grid lacks stay NULL."""
    args = dict(driver.grid_args(setup, c), c=c.contiguous(), ndim=setup.ndim, nz=setup.nz, rdz=1.0 / setup.dz)
    for axis, i in zip(common.AXES[setup.ndim], range(setup.ndim)):
        a, b, db = (p.contiguous() for p in setup.profiles[3 * i : 3 * i + 3])
        args.update({f"a{axis}": a, f"b{axis}": b, f"db{axis}": db})
    return args


def operator(setup) -> tuple:
    """The reference step's trailing arguments: the profiles shaped to
    broadcast along their axes, the halo, the weights per axis."""
    ndim = setup.ndim
    w1 = common.first_derivative_weights(setup.accuracy)
    c0, w2 = common.second_derivative_weights(setup.accuracy)
    profiles = [p.reshape([-1] + [1] * (ndim - 1 - k // 3)) for k, p in enumerate(setup.profiles)]
    return (
        profiles,
        setup.halo,
        [[w / h for w in w1] for h in setup.spacing],
        [c0 / h**2 for h in setup.spacing],
        [[w / h**2 for w in w2] for h in setup.spacing],
    )
