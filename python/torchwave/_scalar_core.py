"""What the scalar family (``scalar`` and ``scalar_born``) shares: the
padded problem built from v, the CPML masks, the Go core's buffer pairs
and arguments, and the reference operator. Not a propagator itself."""

from __future__ import annotations

from typing import Dict, List, Optional

import torch

from . import _common as common
from . import _driver as driver

#: The six fields of one scalar wavefield, as the initial-field arguments
#: and callbacks name them, and as imaging hooks do (u_prev unseen).
FIELD_NAMES = ("wavefield_0", "wavefield_m1", "psiy_m1", "psix_m1", "zetay_m1", "zetax_m1")
HOOK_NAMES = ("wavefield", None, "psiy", "psix", "zetay", "zetax")
PML_KEYS = ("psiy", "psix", "zetay", "zetax")


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
    v = common.check_tensor("v", v, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
    device, dtype = v.device, v.dtype
    common.check_finite("v", v)
    # Zero or negative wavespeeds are allowed, as in Deepwave: the scheme
    # sees only v².
    dy, dx = common.grid_spacing_2d(grid_spacing)
    accuracy = common.accuracy_of(accuracy)
    widths, dt = options.pml_width, options.dt
    source_amplitudes, source_locations, receiver_locations, extra_locations, nt, n_shots = driver.check_shots(
        ("source_amplitudes", "source_locations", "receiver_locations"),
        source_amplitudes,
        source_locations,
        receiver_locations,
        nt,
        v.shape[0] if v.ndim == 3 else None,
        dtype,
        device,
        initial,
        extra_receivers,
    )
    model_shape = tuple(v.shape[-2:])
    extents = _extents(model_shape, widths, initial, origin, survey_pad, [source_locations, receiver_locations, extra_locations])
    v_sim = v[..., extents[0] : extents[1], extents[2] : extents[3]]

    batched = common.inside_vmap(v)
    if batched and max_vel is None:
        raise ValueError("under torch.func.vmap the model's values cannot be read: give max_vel")
    max_vel = driver.check_max_vel(max_vel, 0.0 if batched else float(v_sim.detach().abs().max()))
    pml_freq = common.pml_frequency(pml_freq, abs(dt))
    step_ratio = common.cfl_step_ratio(dy, dx, abs(dt), max_vel)
    dt_inner = dt / step_ratio
    h = accuracy // 2
    pad = [h + widths[0], h + widths[1], h + widths[2], h + widths[3]]
    ny = extents[1] - extents[0] + pad[0] + pad[1]
    nx = extents[3] - extents[2] + pad[2] + pad[3]

    v_pad = driver.pad_replicate(v_sim, pad)
    c = v_pad * v_pad
    c.mul_(dt_inner**2)  # in place: one grid fewer at peak

    def indices(name, locations):
        return common.flat_indices(name, locations, n_shots, extents, pad, nx, model_shape)

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
    profiles = list(common.pml_profile(ny, h, widths[:2], dy, dt_pml, max_vel, pml_freq, accuracy, dtype, device))
    profiles += list(common.pml_profile(nx, h, widths[2:], dx, dt_pml, max_vel, pml_freq, accuracy, dtype, device))
    setup = driver.make_setup(
        options,
        n_shots=n_shots,
        ny=ny,
        nx=nx,
        accuracy=accuracy,
        dy=dy,
        dx=dx,
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
    )
    masks = [None] * len(initial)
    if any(w is not None for w in initial.values()):
        my, mx = live_masks(setup, dtype, device)
        masks = [my if n.startswith(("psiy", "zetay")) else mx if n.startswith(("psix", "zetax")) else None for n in initial]
    return setup, c, src, driver.pad_initial(list(initial.values()), masks, h), v_pad


def _extents(model_shape, widths, initial, origin, survey_pad, locations) -> List[int]:
    """The simulated region of the model, y0, y1, x0, x1: the initial
    fields' region from ``origin``, else the survey's within
    ``survey_pad``."""
    given = [(n, w) for n, w in initial.items() if w is not None]
    if not given:
        if origin is not None and survey_pad is not None:
            raise ValueError("give survey_pad or origin, not both")
        return common.survey_extents(model_shape, locations, survey_pad)
    if survey_pad is not None:
        raise ValueError("survey_pad cannot be combined with initial wavefields; give origin instead")
    shape = tuple(given[0][1].shape[-2:])
    for name, w in given:
        if tuple(w.shape[-2:]) != shape:
            raise ValueError(f"{name} has spatial shape {tuple(w.shape[-2:])}, but {given[0][0]} has {shape}")
    if origin is not None and (not isinstance(origin, (list, tuple)) or len(origin) != 2):
        raise ValueError(f"origin must be two ints (y, x), got {origin!r}")
    oy, ox = (0, 0) if origin is None else [common.as_int(f"origin[{i}]", o, minimum=0) for i, o in enumerate(origin)]
    sy, sx = shape[0] - widths[0] - widths[1], shape[1] - widths[2] - widths[3]
    if sy < 1 or sx < 1 or oy + sy > model_shape[0] or ox + sx > model_shape[1]:
        raise ValueError(
            f"initial wavefields of spatial shape {shape} with pml_width {widths} and origin "
            f"{[oy, ox]} do not fit the model of shape {model_shape}"
        )
    return [oy, oy + sy, ox, ox + sx]


def live_masks(setup, dtype, device):
    """Cells where the y and x PML fields can be non-zero."""
    ay, by, _, ax, bx, _ = setup.profiles
    my = ((ay != 0) | (by != 0)).to(dtype=dtype, device=device)[:, None].expand(setup.ny, setup.nx)
    mx = ((ax != 0) | (bx != 0)).to(dtype=dtype, device=device)[None, :].expand(setup.ny, setup.nx)
    return my, mx


def working_pairs(setup, initial, near: torch.Tensor, first_slot: int, pair_slot: int) -> Dict[str, List[torch.Tensor]]:
    """Forward buffer pairs over working copies of six initial fields
    (None: zero), placed near ``near`` (see common.zeros)."""

    def own(t, slot):
        buf = common.zeros(setup.shape, near.dtype, near=near, slot=slot)
        return buf if t is None else buf.copy_(t)

    return forward_pairs(*(own(t, first_slot + k) for k, t in enumerate(initial)), near=near, first_slot=pair_slot)


def forward_pairs(u, um1, psiy, psix, zetay, zetax, near=None, first_slot=7) -> Dict[str, List[torch.Tensor]]:
    """Forward buffer pairs from the current state (the tensors are used,
    not copied). ζ is updated point by point, so one buffer serves as both
    halves of its pair; ψ and u need two (the second ones placed near near,
    see common.zeros)."""
    return {
        "u": [u, um1],
        "psiy": [psiy, common.zeros(psiy.shape, psiy.dtype, psiy.device, near=near, slot=first_slot)],
        "psix": [psix, common.zeros(psix.shape, psix.dtype, psix.device, near=near, slot=first_slot + 1)],
        "zetay": [zetay, zetay],
        "zetax": [zetax, zetax],
    }


def adjoint_pairs(setup, c, grads, first_slot: int, pair_slot: int) -> Dict[str, List[torch.Tensor]]:
    """The adjoint's starting buffer pairs from the cotangents of the six
    final fields (None: zero), the wavefield's scaled as μ = c·λ and the
    PML fields' masked to where they live."""
    shape, dtype = setup.shape, c.dtype
    my, mx = live_masks(setup, dtype, c.device)

    def scaled(g, factor, slot):
        buf = common.zeros(shape, dtype, near=c, slot=slot)
        return buf if g is None else torch.mul(g, factor, out=buf)

    g_u, g_um1, *g_pml = grads
    pairs = {"u": [scaled(g_u, c, first_slot), scaled(g_um1, -c, first_slot + 1)]}
    for i, (key, g, mask) in enumerate(zip(PML_KEYS, g_pml, (my, mx, my, mx))):
        pairs[key] = [scaled(g, mask, first_slot + 2 + i), common.zeros(shape, dtype, near=c, slot=pair_slot + i)]
    return pairs


def current(pairs) -> List[torch.Tensor]:
    """The state of the pairs in FIELD_NAMES order."""
    return [pairs["u"][0], pairs["u"][1]] + [pairs[k][0] for k in PML_KEYS]


def adjoint_current(pairs, c, names=None) -> List[Optional[torch.Tensor]]:
    """∂loss/∂(the six fields) from the adjoint pairs (μ = c·λ undone);
    given ``names`` (hook names), only those fields."""
    mu, q = pairs["u"]
    out: List[Optional[torch.Tensor]] = [mu / c, -q / c] + [pairs[k][0] for k in PML_KEYS]
    if names is not None:
        out = [f if k in names else None for k, f in zip(HOOK_NAMES, out)]
    return out


def swap(pairs) -> None:
    """After an odd number of steps the current state is in the other half
    of every pair."""
    for pair in pairs.values():
        pair.reverse()


def core_args(setup, c: torch.Tensor) -> dict:
    """The fields of tw_scalar_args fixed for a whole propagation."""
    ay, by, dby, ax, bx, dbx = (p.contiguous() for p in setup.profiles)
    return dict(driver.grid_args(setup, c), c=c.contiguous(), ay=ay, by=by, dby=dby, ax=ax, bx=bx, dbx=dbx, ndim=2, nz=1)


def operator(setup) -> tuple:
    """The reference step's trailing arguments: profiles, halo, weights."""
    ay, by, dby, ax, bx, dbx = setup.profiles
    w1 = common.first_derivative_weights(setup.accuracy)
    c0, w2 = common.second_derivative_weights(setup.accuracy)
    return (
        ay[:, None],
        by[:, None],
        dby[:, None],
        ax,
        bx,
        dbx,
        setup.halo,
        [w / setup.dy for w in w1],
        [w / setup.dx for w in w1],
        c0 / setup.dy**2,
        [w / setup.dy**2 for w in w2],
        c0 / setup.dx**2,
        [w / setup.dx**2 for w in w2],
    )
