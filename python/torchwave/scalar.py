"""Scalar (constant-density acoustic) wave propagation, 2D.

`scalar` has Deepwave 0.0.27's signature, defaults and return tuple, so
code written for Deepwave runs after changing the import. The compute runs
in torchwave's Go core with a hand-written exact discrete adjoint; with
``python_backend`` it runs in plain PyTorch instead.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import _common as common
from . import _driver as driver
from . import _lib
from . import _storage as storage
from ._driver import CallbackState, empty_cache
from ._scalar_hessian import differentiable_backward
from ._scalar_reference import get_step
from .hooks import HookedPropagator, HookRun

__all__ = ["scalar", "Scalar", "CallbackState", "empty_cache"]

_WAVEFIELD_NAMES = ("wavefield_0", "wavefield_m1", "psiy_m1", "psix_m1", "zetay_m1", "zetax_m1")


@dataclasses.dataclass
class _Setup:
    """Everything fixed for one propagation, on the padded grid."""

    n_shots: int
    ny: int
    nx: int
    accuracy: int
    dy: float
    dx: float
    dt_inner: float
    step_ratio: int
    nt_inner: int
    profiles: List[torch.Tensor]  # ay, by, dby, ax, bx, dbx
    source_index: torch.Tensor  # [n_shots, n_src], -1 ignored
    receiver_index: torch.Tensor
    store_interval: int
    storage_mode: str
    storage_path: str
    compression: Optional[str]  # None, "bf16" or "int8"
    strategy: str  # "full", "checkpoint" or "boundary"
    pml_width: List[int]
    extents: List[int]  # the simulated region of the model: y0, y1, x0, x1
    forward_callback: Optional[Callable]
    backward_callback: Optional[Callable]
    callback_frequency: int  # in user steps
    # The padding (halo + PML) [y0, y1, x0, x1] around the simulated region.
    pad: Optional[List[int]] = None
    extra_receiver_index: Optional[torch.Tensor] = None

    @property
    def halo(self) -> int:
        return self.accuracy // 2

    def live_masks(self, dtype, device) -> Tuple[torch.Tensor, torch.Tensor]:
        """Cells where the y and x PML fields can be non-zero."""
        ay, by, _, ax, bx, _ = self.profiles
        my = ((ay != 0) | (by != 0)).to(dtype=dtype, device=device)[:, None].expand(self.ny, self.nx)
        mx = ((ax != 0) | (bx != 0)).to(dtype=dtype, device=device)[None, :].expand(self.ny, self.nx)
        return my, mx


def scalar(
    v: torch.Tensor,
    grid_spacing: Union[float, Sequence[float]],
    dt: float,
    source_amplitudes: Optional[torch.Tensor] = None,
    source_locations: Optional[torch.Tensor] = None,
    receiver_locations: Optional[torch.Tensor] = None,
    accuracy: int = 4,
    pml_width: Union[int, Sequence[int]] = 20,
    pml_freq: Optional[float] = None,
    max_vel: Optional[float] = None,
    survey_pad: Optional[Union[int, Sequence[Optional[int]]]] = None,
    wavefield_0: Optional[torch.Tensor] = None,
    wavefield_m1: Optional[torch.Tensor] = None,
    psiz_m1: Optional[torch.Tensor] = None,
    psiy_m1: Optional[torch.Tensor] = None,
    psix_m1: Optional[torch.Tensor] = None,
    zetaz_m1: Optional[torch.Tensor] = None,
    zetay_m1: Optional[torch.Tensor] = None,
    zetax_m1: Optional[torch.Tensor] = None,
    origin: Optional[Sequence[int]] = None,
    nt: Optional[int] = None,
    model_gradient_sampling_interval: int = 1,
    freq_taper_frac: float = 0.0,
    time_pad_frac: float = 0.0,
    time_taper: bool = False,
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
    """Propagates waves through a 2D wavespeed model.

    Solves ∂²u/∂t² = v²∇²u − v²f on a regular grid with finite differences
    of order ``accuracy`` in space and 2 in time, absorbing boundaries made
    of a convolutional PML ``pml_width`` cells wide, and an internal time
    step smaller than ``dt`` when ``dt`` would break the CFL condition
    (sources are then upsampled and receivers downsampled in the frequency
    domain).

    Args:
        v: wavespeed, [ny, nx] for every shot or [n_shots, ny, nx]. As in
            Deepwave the scheme sees v² only, so negative values act as
            their magnitude and zero is a cell at rest (gradients through
            zero cells need python_backend=True).
        grid_spacing: cell size, one number or (dy, dx).
        dt: time step of the amplitudes in and out; a negative dt runs the
            time-symmetric scheme backwards (the same data), as in Deepwave.
        source_amplitudes: [n_shots, n_sources, nt].
        source_locations: [n_shots, n_sources, 2] long cell indices (y, x).
        receiver_locations: [n_shots, n_receivers, 2] long cell indices.
        accuracy: spatial order, 2, 4, 6 or 8.
        pml_width: cells of PML, one int or [y0, y1, x0, x1]; 0 gives a
            reflecting edge.
        pml_freq: the frequency the PML is tuned to (default 25).
        max_vel: the velocity used for the CFL condition and the PML; at
            least the model's maximum (default: the maximum of v over the
            simulated region). It sets the PML profile and the number of
            internal steps, and no gradient flows through it: the gradient
            with respect to v is that of the operator with max_vel held
            fixed only when max_vel is given. Left to the default, it
            follows the fastest cell, so the loss has a kink wherever that
            cell changes (in a homogeneous model, at every cell) and the
            gradient there differs from finite differences. Pass max_vel
            in inversions (e.g. the upper bound of v).
        survey_pad: simulate only the region within this many cells of the
            sources and receivers (one value or [y0, y1, x0, x1], None for
            no limit on that side).
        wavefield_0, wavefield_m1, psiy_m1, psix_m1, zetay_m1, zetax_m1:
            initial fields, [n_shots, ny + PML, nx + PML] of the simulated
            region (default zero).
        psiz_m1, zetaz_m1: the z-direction PML fields of a 3D model, in
            Deepwave's argument order; a 2D model has none, and giving
            them raises ValueError.
        origin: the model cell where the initial wavefields' region starts.
        nt: number of steps when there are no source amplitudes.
        model_gradient_sampling_interval: sample the model-gradient integral
            every this many internal steps (1: exact gradient).
        freq_taper_frac, time_pad_frac, time_taper: resampling options.
        forward_callback, backward_callback: called with a CallbackState
            every ``callback_frequency`` steps.
        python_backend: False for the Go core; True or "eager", "jit",
            "compile" for the pure-PyTorch implementation.
        storage_mode: where the wavefield history for the model gradient
            is kept: "device" (the model's device), "cpu" (host memory;
            the same as "device" for CPU tensors), "disk" (a file in a new
            directory under ``storage_path``, removed once the backward
            pass is done or the graph is dropped), "auto" (the fastest of
            these with room for it; logged at debug level on the
            "torchwave" logger), or "none" (nothing: as in Deepwave, the
            gradient with respect to v is zero; those of the sources and
            initial fields are exact).
        storage_path: the directory for storage_mode="disk".
        storage_compression: False, True or "bf16" (half the bytes), or
            "int8" (about a quarter; 8 bits per value with a scale per 64
            values). Lossy: see docs/storage.md for the gradient error.
        storage_strategy: "full" stores every sampled step; "checkpoint"
            stores the state every √(6·steps) or so steps and recomputes
            the steps in between during the backward pass (one extra
            forward pass, a fraction of the memory); "boundary" stores
            the wavefield in and next to the PML every step and rebuilds
            the rest backwards in time from the final state (exact up to
            round-off; kept in memory, without compression).

    Returns:
        (wavefield_nt, wavefield_ntm1, psiy, psix, zetay, zetax,
        receiver_amplitudes), the wavefields of the simulated region with
        its PML, and receiver amplitudes [n_shots, n_receivers, nt].
    """
    common.no_z_fields(psiz_m1=psiz_m1, zetaz_m1=zetaz_m1)
    # Imaging-condition hooks of a Scalar module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"v": v})
    if hooks is not None and hooks.replaces("v"):
        v = v.detach()  # its gradient comes from the hooks, not from autograd
    setup, inputs = _prepare(
        v, grid_spacing, dt, source_amplitudes, source_locations, receiver_locations,
        accuracy, pml_width, pml_freq, max_vel, survey_pad,
        dict(zip(_WAVEFIELD_NAMES, [wavefield_0, wavefield_m1, psiy_m1, psix_m1, zetay_m1, zetax_m1])),
        origin, nt, model_gradient_sampling_interval, freq_taper_frac, time_pad_frac,
        time_taper, forward_callback, backward_callback, callback_frequency,
        python_backend, storage_mode, storage_path, storage_compression, storage_strategy,
    )
    c, src, fields, v_pad = inputs
    del inputs
    if forward_callback is None and backward_callback is None:
        v_pad = None  # only callbacks need the padded model itself
    if hooks is not None:
        h, p = setup.halo, setup.pml_width
        hooks.begin(
            n_steps=setup.nt_inner, n_shots=setup.n_shots,
            region=(h + p[0], setup.ny - h - p[1], h + p[2], setup.nx - h - p[3]), extents=setup.extents,
            dt=setup.dt_inner, dh=(setup.dy, setup.dx),
        )
    if python_backend is False and common.inside_functorch(c, src, *fields):
        # torch.func (vmap, jvp, grad) cannot see through the Go core's raw
        # pointers; the pure-PyTorch implementation gives the same numbers.
        python_backend = common.functorch_backend(setup.backward_callback)
    if python_backend is False:
        if c.device.type != "cpu":
            raise NotImplementedError(
                "the Go core's CUDA path is not built yet: run on CPU tensors, or use python_backend=True on the GPU"
            )
        hook_inputs = () if hooks is None else hooks.inputs
        outputs = _ScalarFunction.apply(c, src, *fields, setup, v_pad, hooks, *hook_inputs)
    else:
        kind = "eager" if python_backend is True else python_backend
        outputs = _propagate_reference(setup, c, src, fields, kind, v_pad, hooks)
    h = setup.halo
    wavefields = [f[:, h : setup.ny - h, h : setup.nx - h] for f in outputs[:6]]
    receivers = outputs[6].permute(1, 2, 0)  # [n_shots, n_receivers, nt_inner]
    receivers = common.downsample(receivers, setup.step_ratio, freq_taper_frac, time_pad_frac, time_taper)
    return (*wavefields, receivers)


def _prepare(
    v, grid_spacing, dt, source_amplitudes, source_locations, receiver_locations,
    accuracy, pml_width, pml_freq, max_vel, survey_pad, initial, origin, nt,
    model_gradient_sampling_interval, freq_taper_frac, time_pad_frac, time_taper,
    forward_callback, backward_callback, callback_frequency, python_backend,
    storage_mode, storage_path, storage_compression, storage_strategy, extra_receivers=None,
):
    """Validates the arguments and builds the padded problem.

    ``initial`` maps initial-field names to tensors or None; names starting
    psiy/zetay (psix/zetax) are PML fields along y (x). ``extra_receivers``
    names one more set of receiver locations (Born's background
    receivers): it takes part in the checks and the survey region, and its
    padded indices come back as ``setup.extra_receiver_index``."""
    v = common.check_tensor("v", v, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
    device, dtype = v.device, v.dtype
    common.check_finite("v", v)
    # Zero or negative wavespeeds are allowed, as in Deepwave: the scheme
    # sees only v².
    dy, dx = common.grid_spacing_2d(grid_spacing)
    # A negative dt runs the (time-symmetric) scheme backwards, as in
    # Deepwave: the CFL rule and the PML use |dt|.
    dt = common.as_nonzero_float("dt", dt)
    accuracy = common.accuracy_of(accuracy)
    widths = common.pml_widths(pml_width)
    interval = common.as_int("model_gradient_sampling_interval", model_gradient_sampling_interval, minimum=1)
    callback_frequency = common.as_int("callback_frequency", callback_frequency, minimum=1)
    for name, cb in (("forward_callback", forward_callback), ("backward_callback", backward_callback)):
        if cb is not None and not callable(cb):
            raise TypeError(f"{name} must be callable or None")
    freq_taper_frac = common.check_fraction("freq_taper_frac", freq_taper_frac)
    time_pad_frac = common.check_fraction("time_pad_frac", time_pad_frac)
    if not (python_backend is False or python_backend is True or python_backend in ("eager", "jit", "compile")):
        raise ValueError(f"python_backend must be False, True, 'eager', 'jit' or 'compile', got {python_backend!r}")
    if python_backend is not False and backward_callback is not None:
        raise ValueError(
            "backward_callback is not supported with python_backend: autograd runs that backward pass; "
            "use the Go core (python_backend=False) for backward callbacks"
        )
    compression = storage.check_options(storage_mode, storage_path, storage_compression, storage_strategy, python_backend)
    if storage_strategy == "boundary" and (compression or storage_mode == "disk"):
        # The strips are a fraction of the history, and the rebuilt field
        # needs them exact.
        raise ValueError(
            "storage_strategy='boundary' keeps its strips in memory, uncompressed: use storage_mode 'device', "
            "'cpu' or 'auto' without storage_compression, or storage_strategy='full' for those options"
        )

    # Shots, steps and the source amplitudes.
    n_shots = v.shape[0] if v.ndim == 3 else None
    source_amplitudes, source_locations, receiver_locations, nt, n_shots = common.check_survey(
        ("source_amplitudes", "source_locations", "receiver_locations"),
        source_amplitudes, source_locations, receiver_locations, nt, n_shots, dtype, device,
    )
    extra_name, extra_locations = extra_receivers if extra_receivers is not None else (None, None)
    if extra_locations is not None:
        extra_locations = common.check_locations(extra_name, extra_locations, n_shots, device)
        n_shots = common.shot_count(extra_name, extra_locations.shape[0], n_shots)
    for name, w in initial.items():
        if w is not None:
            common.check_tensor(name, w, ndims=(3,), dtypes=(dtype,), device=device)
            common.check_finite(name, w)
            n_shots = common.shot_count(name, w.shape[0], n_shots)
    n_shots = 1 if n_shots is None else n_shots
    if n_shots < 1:
        raise ValueError("the inputs have zero shots: source_amplitudes, locations and initial wavefields need at least one")

    # The simulated region of the model.
    model_shape = tuple(v.shape[-2:])
    given = [(n, w) for n, w in initial.items() if w is not None]
    if given:
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
        extents = [oy, oy + sy, ox, ox + sx]
    else:
        if origin is not None and survey_pad is not None:
            raise ValueError("give survey_pad or origin, not both")
        extents = common.survey_extents(model_shape, [source_locations, receiver_locations, extra_locations], survey_pad)
    v_sim = v[..., extents[0] : extents[1], extents[2] : extents[3]]

    batched = common.inside_vmap(v)
    if batched and max_vel is None:
        raise ValueError("under torch.func.vmap the model's values cannot be read: give max_vel")
    model_max = 0.0 if batched else float(v_sim.detach().abs().max())
    if max_vel is None:
        max_vel = model_max
    else:
        max_vel = common.as_positive_float("max_vel", max_vel)
        if max_vel < model_max * (1 - 1e-6):
            raise ValueError(
                f"max_vel={max_vel} is below the model's maximum velocity {model_max}: the time step "
                "would break the CFL condition and the simulation would be unstable"
            )
    pml_freq = common.pml_frequency(pml_freq, abs(dt))
    step_ratio = common.cfl_step_ratio(dy, dx, abs(dt), max_vel)
    dt_inner = dt / step_ratio
    h = accuracy // 2
    pad = [h + widths[0], h + widths[1], h + widths[2], h + widths[3]]
    ny = extents[1] - extents[0] + pad[0] + pad[1]
    nx = extents[3] - extents[2] + pad[2] + pad[3]

    # Model on the padded grid: edge values replicated into the PML and halo.
    v3 = v_sim if v_sim.ndim == 3 else v_sim[None]
    v_pad = torch.nn.functional.pad(v3, (pad[2], pad[3], pad[0], pad[1]), mode="replicate")
    c = v_pad * v_pad
    c.mul_(dt_inner**2)  # in place: one grid fewer at peak

    source_index = common.flat_indices("source_locations", source_locations, n_shots, extents, pad, nx, model_shape)
    receiver_index = common.flat_indices("receiver_locations", receiver_locations, n_shots, extents, pad, nx, model_shape)
    extra_index = None
    if extra_receivers is not None:
        extra_index = common.flat_indices(extra_name, extra_locations, n_shots, extents, pad, nx, model_shape)

    # Sources: upsampled to the internal step and scaled by −v²dt² at
    # their cell.
    nt_inner = nt * step_ratio
    # storage_mode="none" gives no model gradient at all, not even through
    # the source scaling (as Deepwave).
    c_src = c.detach() if storage_mode == "none" else c
    src = common.scaled_sources(
        source_amplitudes, source_index, c_src, -1.0, n_shots, nt_inner, step_ratio, freq_taper_frac, time_pad_frac, time_taper
    )

    dt_pml = abs(dt_inner)
    profiles = list(common.pml_profile(ny, h, widths[:2], dy, dt_pml, max_vel, pml_freq, accuracy, dtype, device))
    profiles += list(common.pml_profile(nx, h, widths[2:], dx, dt_pml, max_vel, pml_freq, accuracy, dtype, device))

    setup = _Setup(
        n_shots=n_shots, ny=ny, nx=nx, accuracy=accuracy, dy=dy, dx=dx, dt_inner=dt_inner,
        step_ratio=step_ratio, nt_inner=nt_inner, profiles=profiles,
        source_index=source_index, receiver_index=receiver_index, store_interval=interval,
        storage_mode=storage_mode, storage_path=os.fspath(storage_path), compression=compression,
        strategy=storage_strategy, pml_width=widths, extents=extents, forward_callback=forward_callback,
        backward_callback=backward_callback, callback_frequency=callback_frequency,
        pad=pad, extra_receiver_index=extra_index,
    )

    # Initial fields on the padded grid, zero in the halo; PML fields also
    # zero where their profile is (they have no effect there).
    my, mx = setup.live_masks(dtype, device)
    fields = []
    for name, w in initial.items():
        mask = my if name.startswith(("psiy", "zetay")) else mx if name.startswith(("psix", "zetax")) else None
        if w is None:
            fields.append(None)  # zero; allocated where it is needed
            continue
        full = torch.nn.functional.pad(w, (h, h, h, h))
        fields.append(full if mask is None else full * mask)
    return setup, (c, src, fields, v_pad)


def _callback_state(setup: _Setup, step_inner: int, fields, models, gradients) -> CallbackState:
    return CallbackState(
        setup.dt_inner, step_inner // setup.step_ratio, dict(zip(_WAVEFIELD_NAMES, fields)),
        models, gradients, setup.halo, setup.pml_width,
    )


class _ScalarFunction(torch.autograd.Function):
    """The Go core as an autograd op on the padded grid: inputs c = v²dt²,
    scaled sources [nt, shots, n_src] and the six initial fields; outputs
    the six final fields and the receivers [nt, shots, n_rec]."""

    @staticmethod
    def forward(ctx, c, src, u0, um1, psiy, psix, zetay, zetax, setup: _Setup, v_pad, hooks, *hook_inputs):
        if any(ctx.needs_input_grad):
            common.check_adjoint_scaling(c)
        rec = torch.zeros(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=c.dtype)
        src_in, src = src, src.contiguous()
        shape = (setup.n_shots, setup.ny, setup.nx)

        def own(t, slot):
            # A working copy of an initial field (inputs are never written).
            buf = common.zeros(shape, c.dtype, near=c, slot=slot)
            return buf if t is None else buf.copy_(t)

        pairs = _forward_pairs(*(own(t, slot) for slot, t in enumerate((u0, um1, psiy, psix, zetay, zetax), 1)), near=c)
        core_args = _core_args(setup, c)
        history = None
        if ctx.needs_input_grad[0] and setup.storage_mode != "none":
            # storage_mode="none" keeps nothing: as in Deepwave, v's gradient
            # is then zero and the other gradients are exact.
            history = _history(setup, c, src, core_args)
        try:
            if isinstance(history, storage.Checkpointed):
                history.save_initial(pairs)
            every = setup.callback_frequency * setup.step_ratio
            for start, count in driver.chunks(setup, setup.forward_callback, _segment(history), hooks):
                if setup.forward_callback is not None and start % every == 0:
                    setup.forward_callback(_callback_state(setup, start, _current(pairs), {"v": v_pad}, {}))
                if hooks is not None:
                    hooks.forward_step(start, _hook_fields(pairs))
                store, first = (None, 0) if history is None else history.forward_buffer(start, count)
                _run_chunk(False, core_args, pairs, start, count, src, rec, store, first, None, _boundary_of(history))
                if history is not None:
                    history.after_forward(start, count, pairs)
            if isinstance(history, storage.Boundary):
                history.keep_final(*pairs["u"])
        except BaseException:
            if history is not None:
                history.close()
            raise
        ctx.setup = setup
        # Unused outputs get None gradients instead of zero-filled grids.
        ctx.set_materialize_grads(False)
        ctx.v_pad = v_pad if setup.backward_callback is not None else None
        # The history goes into autograd's saved tensors (see _storage):
        # released after the backward pass or with the graph, kept under
        # retain_graph=True, recomputed by torch.utils.checkpoint.
        ctx.history, ctx.hooks = history, hooks
        # The sources as given (not a contiguous copy), so a double
        # backward can differentiate through them.
        # The initial fields too: a double backward the Go core cannot
        # serve re-runs the reference implementation from them.
        driver.save_for_backward(
            ctx, (c, src_in, u0, um1, psiy, psix, zetay, zetax), [] if history is None else [history], hooks
        )
        out = _current(pairs)
        return (*out, rec)

    @staticmethod
    def backward(ctx, g_u, g_um1, g_psiy, g_psix, g_zetay, g_zetax, g_rec):
        if torch.is_grad_enabled():
            # create_graph=True: the gradient must be differentiable itself
            # (Hessian-vector products), which Born modelling provides.
            return differentiable_backward(ctx, (g_u, g_um1, g_psiy, g_psix, g_zetay, g_zetax, g_rec))
        with driver.restored(ctx) as ((c, *_), hook_kept):
            history = ctx.history if ctx.needs_input_grad[0] else None
            return _backward(ctx, c, history, hook_kept, g_u, g_um1, g_psiy, g_psix, g_zetay, g_zetax, g_rec)


def _backward(ctx, c, history, hook_kept, g_u, g_um1, g_psiy, g_psix, g_zetay, g_zetax, g_rec):
    """The adjoint pass of _ScalarFunction, with the history restored."""
    setup: _Setup = ctx.setup
    hooks: Optional[HookRun] = ctx.hooks
    if hooks is not None:
        hooks.restore(hook_kept)
    dtype = c.dtype
    shape = (setup.n_shots, setup.ny, setup.nx)

    def scaled(g, factor, slot):
        # The adjoint state's starting buffer: zero where no gradient flows in.
        buf = common.zeros(shape, dtype, near=c, slot=slot)
        return buf if g is None else torch.mul(g, factor, out=buf)

    my, mx = setup.live_masks(dtype, c.device)
    pairs = {
        "u": [scaled(g_u, c, 1), scaled(g_um1, -c, 2)],
        "psiy": [scaled(g_psiy, my, 3), common.zeros(shape, dtype, near=c, slot=7)],
        "psix": [scaled(g_psix, mx, 4), common.zeros(shape, dtype, near=c, slot=8)],
        "zetay": [scaled(g_zetay, my, 5), common.zeros(shape, dtype, near=c, slot=9)],
        "zetax": [scaled(g_zetax, mx, 6), common.zeros(shape, dtype, near=c, slot=10)],
    }
    n_rec = setup.receiver_index.shape[1]
    g_rec = torch.zeros(setup.nt_inner, setup.n_shots, n_rec, dtype=dtype) if g_rec is None else g_rec.contiguous()
    g_src = torch.zeros(setup.nt_inner, setup.n_shots, setup.source_index.shape[1], dtype=dtype)
    want_c = ctx.needs_input_grad[0] and history is not None  # None: storage_mode="none"
    grad_c = common.zeros(shape, dtype, near=c, slot=11) if want_c else None
    if isinstance(history, storage.Boundary):
        history.start_backward()
    core_args = _core_args(setup, c)
    every = setup.callback_frequency * setup.step_ratio
    for start, count in reversed(driver.chunks(setup, setup.backward_callback, _segment(history), hooks)):
        store, first = (None, 0) if history is None else history.backward_buffer(start, count)
        _run_chunk(True, core_args, pairs, start, count, g_src, g_rec, store, first, grad_c, _boundary_of(history))
        if hooks is not None:
            # The pairs hold ∂loss/∂(state at `start`), the wavefield's
            # scaled as μ = c·λ.
            adjoint = {k: hooks.crop(a) for k, a in _hook_fields(pairs).items() if k in hooks.fields}
            if "wavefield" in adjoint:
                adjoint["wavefield"] = adjoint["wavefield"] / hooks.crop(c)
            hooks.adjoint_step(start, adjoint)
        if setup.backward_callback is not None and start % every == 0:
            grads = {} if grad_c is None else {"v": _v_gradient(grad_c, c, ctx.v_pad, setup)}
            version = grads["v"]._version if grads else None
            adj = _current(pairs)
            adj[0], adj[1] = adj[0] / c, -adj[1] / c
            setup.backward_callback(_callback_state(setup, start, adj, {"v": ctx.v_pad}, grads))
            if grads and grads["v"]._version != version:
                # The callback edited the gradient in place (as Deepwave
                # allows): the accumulation goes on from its values.
                _set_v_gradient(grad_c, grads["v"], c, ctx.v_pad, setup)
    mu, q = pairs["u"]
    g_c = torch.zeros_like(c) if ctx.needs_input_grad[0] else None
    if want_c:
        g_c = grad_c * (setup.store_interval / c)
        if c.shape[0] == 1 and setup.n_shots > 1:
            g_c = g_c.sum(dim=0, keepdim=True)
    hook_grads = ()
    if hooks is not None:
        hook_grads = hooks.finish()
        hooks.release()
    need = ctx.needs_input_grad
    # Inputs given as None (zero initial fields) take no gradient.
    return (
        g_c, g_src if need[1] else None,
        mu / c if need[2] else None, -q / c if need[3] else None,
        *(pairs[k][0] if need[4 + i] else None for i, k in enumerate(("psiy", "psix", "zetay", "zetax"))),
        None, None, None, *hook_grads,
    )


def _placed_pairs(state, near: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
    """_forward_pairs over copies of the six state tensors, placed near near
    as the forward places its working fields (see common.zeros)."""
    copies = [common.zeros(t.shape, t.dtype, t.device, near=near, slot=k).copy_(t) for k, t in enumerate(state, 1)]
    return _forward_pairs(*copies, near=near)


def _forward_pairs(u, um1, psiy, psix, zetay, zetax, near=None, first_slot=7) -> Dict[str, List[torch.Tensor]]:
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


def _hook_fields(pairs) -> Dict[str, torch.Tensor]:
    """The current state under the names imaging hooks know it by."""
    return {
        "wavefield": pairs["u"][0], "psiy": pairs["psiy"][0], "psix": pairs["psix"][0],
        "zetay": pairs["zetay"][0], "zetax": pairs["zetax"][0],
    }


def _history(setup: _Setup, c: torch.Tensor, src: torch.Tensor, core_args: dict):
    """The plan that keeps (or recomputes) the forward snapshots the model
    gradient needs, following the storage options."""
    shape = (setup.n_shots, setup.ny, setup.nx)
    n_store = -(-setup.nt_inner // setup.store_interval)
    interval, dtype = setup.store_interval, c.dtype
    if setup.strategy == "boundary":
        cells = _lib.scalar_boundary_cells(**core_args)
        # From the pool, as the full history: an inversion asks for the
        # same strips every iteration.
        return storage.Boundary(storage.snapshot_pool.take((setup.nt_inner + 2, setup.n_shots, cells), dtype), src)
    if setup.strategy == "checkpoint":
        per_segment = storage.staging_snapshots(n_store, state_fields=6)
        scratch = torch.empty(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=dtype)

        def recompute(pairs, start, count, store, first):
            _run_chunk(False, core_args, pairs, start, count, src, scratch, store, first, None)

        return storage.Checkpointed(
            setup.nt_inner, interval, per_segment * interval, torch.empty((per_segment, *shape), dtype=dtype),
            lambda pairs: [t.clone() for t in _current(pairs)],
            lambda state: _placed_pairs(state, c),
            recompute,
        )
    return _stored_history(setup, c)


def _stored_history(setup: _Setup, c: torch.Tensor):
    """The "full" strategy's plan: every sampled snapshot kept, in memory
    or staged through a codec into host memory or a file."""
    n_store = -(-setup.nt_inner // setup.store_interval)
    codec = storage.Codec(setup.compression, (setup.n_shots, setup.ny, setup.nx), c.dtype)
    mode = storage.resolve_mode(setup.storage_mode, c.device, n_store * codec.row_bytes, setup.storage_path)
    return storage.full_history(mode, codec, setup.nt_inner, setup.store_interval, c.device, setup.storage_path)


def _run_chunk(
    backward, core_args, pairs, start, count, sources, receivers, store, store_first, grad_c, boundary=None
) -> None:
    """Runs steps [start, start + count) in Go. ``store`` holds snapshots
    from number ``store_first`` on; ``boundary`` is a Boundary plan for
    boundary saving. Every step swaps the halves of each buffer pair, so
    after an odd count the current state is in the other half: swap the
    Python-side pairs to match."""
    _lib.scalar_call(
        backward, None if boundary is None else boundary.fields(backward, start, count),
        **core_args, step0=start, n_steps=count,
        source_amplitudes=sources[start : start + count], receiver_amplitudes=receivers[start : start + count],
        store=store, n_store=0 if store is None else store.shape[0], store_first=store_first,
        grad_c=grad_c, **pairs,
    )
    if count % 2:
        for pair in pairs.values():
            pair.reverse()
        if backward and boundary is not None:
            boundary.u.reverse()


def _segment(history) -> Optional[int]:
    return None if history is None else history.segment


def _boundary_of(history):
    """The plan itself when it is boundary saving, else None."""
    return history if isinstance(history, storage.Boundary) else None


def _v_gradient(grad_c, c, v_pad, setup):
    """∂loss/∂v on the padded grid from the accumulated ∂loss/∂c so far."""
    g = grad_c * (setup.store_interval / c) * 2 * v_pad * setup.dt_inner**2
    return g.sum(dim=0, keepdim=True) if v_pad.shape[0] == 1 else g


def _set_v_gradient(grad_c, g_v, c, v_pad, setup) -> None:
    """The inverse of _v_gradient: grad_c from an edited ∂loss/∂v (a
    gradient summed over shots goes to the first shot's slot)."""
    g = g_v / ((setup.store_interval / c) * 2 * v_pad * setup.dt_inner**2)
    grad_c.zero_()
    grad_c[: g.shape[0]] = g


def _current(pairs) -> List[torch.Tensor]:
    return [pairs[k][0] for k in ("u",)] + [pairs["u"][1]] + [pairs[k][0] for k in ("psiy", "psix", "zetay", "zetax")]


def _core_args(setup: _Setup, c: torch.Tensor) -> dict:
    ay, by, dby, ax, bx, dbx = (p.contiguous() for p in setup.profiles)
    return dict(
        dtype=0 if c.dtype == torch.float32 else 1,
        n_shots=setup.n_shots, ny=setup.ny, nx=setup.nx, accuracy=setup.accuracy,
        n_sources=setup.source_index.shape[1], n_receivers=setup.receiver_index.shape[1],
        store_interval=setup.store_interval, model_per_shot=int(c.shape[0] > 1),
        rdy=1.0 / setup.dy, rdx=1.0 / setup.dx,
        c=c.contiguous(), ay=ay, by=by, dby=dby, ax=ax, bx=bx, dbx=dbx,
        source_index=setup.source_index, receiver_index=setup.receiver_index,
    )


def _propagate_reference(setup: _Setup, c, src, fields, kind: str, v_pad, hooks: Optional[HookRun] = None):
    """The same propagation in plain PyTorch, differentiated by autograd."""
    if setup.storage_mode == "none" and c.requires_grad:
        c = c.detach() + 0 * c  # a zero gradient for v, as the Go core gives
    step = get_step(kind)
    h = setup.halo
    ay, by, dby, ax, bx, dbx = setup.profiles
    ay, by, dby = ay[:, None], by[:, None], dby[:, None]
    d1y = [w / setup.dy for w in common.first_derivative_weights(setup.accuracy)]
    d1x = [w / setup.dx for w in common.first_derivative_weights(setup.accuracy)]
    c0, w2 = common.second_derivative_weights(setup.accuracy)
    d2y = [w / setup.dy**2 for w in w2]
    d2x = [w / setup.dx**2 for w in w2]
    n_shots = setup.n_shots
    cells = setup.ny * setup.nx
    src_idx = setup.source_index.to(c.device)
    rec_idx = setup.receiver_index.to(c.device)
    src_ok = (src_idx >= 0).to(c.dtype)
    rec_ok = (rec_idx >= 0).to(c.dtype)
    src_idx, rec_idx = src_idx.clamp_min(0), rec_idx.clamp_min(0)
    u, up, psiy, psix, zetay, zetax = (
        torch.zeros(n_shots, setup.ny, setup.nx, dtype=c.dtype, device=c.device) if f is None else f for f in fields
    )
    if hooks is not None:
        u, up, psiy, psix, zetay, zetax = hooks.attach([u, up, psiy, psix, zetay, zetax])
    records = []
    callback = setup.forward_callback
    for t in range(setup.nt_inner):
        if callback is not None and t % (setup.callback_frequency * setup.step_ratio) == 0:
            callback(_callback_state(setup, t, [u, up, psiy, psix, zetay, zetax], {"v": v_pad}, {}))
        if hooks is not None:
            state = hooks.watch(t, {"wavefield": u, "psiy": psiy, "psix": psix, "zetay": zetay, "zetax": zetax})
            u, psiy, psix, zetay, zetax = state.values()
        records.append(u.reshape(n_shots, cells).gather(1, rec_idx) * rec_ok)
        u, up, psiy, psix, zetay, zetax, _ = step(
            u, up, psiy, psix, zetay, zetax, c, ay, by, dby, ax, bx, dbx, h,
            d1y, d1x, c0 / setup.dy**2, d2y, c0 / setup.dx**2, d2x,
        )
        if src.shape[-1] > 0:
            u = u.reshape(n_shots, cells).scatter_add(1, src_idx, src[t] * src_ok).reshape(n_shots, setup.ny, setup.nx)
    rec = torch.stack(records) if records else torch.zeros(0, n_shots, rec_idx.shape[1], dtype=c.dtype, device=c.device)
    return [u, up, psiy, psix, zetay, zetax, rec]


class Scalar(HookedPropagator, torch.nn.Module):
    """A scalar propagator that owns its wavespeed model.

    ``Scalar(v, grid_spacing, v_requires_grad=False)(dt, source_amplitudes,
    ...)`` calls :func:`scalar` with the stored model; the keyword arguments
    are the same.

    Imaging conditions of your own replace the gradient of ``v`` or make
    images: ``register_gradient``, ``clear_gradients``, ``imaging`` (see
    :mod:`torchwave.hooks`). The fields are ``wavefield`` (u) and the PML's
    ``psiy``, ``psix``, ``zetay``, ``zetax``.
    """

    _wavefield_names = ("wavefield", "psiy", "psix", "zetay", "zetax")
    _source_type = ("wavefield",)
    _receiver_type = ("wavefield",)
    model_names = ("v",)

    def __init__(
        self,
        v: torch.Tensor,
        grid_spacing,
        v_requires_grad: bool = False,
        storage_mode: str = "device",
        storage_path: str = ".",
        storage_compression: Union[bool, str] = False,
    ):
        super().__init__()
        common.check_module_model("v", v, v_requires_grad)
        common.check_tensor("v", v, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
        self.v = torch.nn.Parameter(v, requires_grad=v_requires_grad)
        self.grid_spacing = grid_spacing
        self.storage_mode = storage_mode
        self.storage_path = storage_path
        self.storage_compression = storage_compression

    def forward(self, dt: float, source_amplitudes=None, source_locations=None, receiver_locations=None, *args, **kwargs):
        """Calls :func:`scalar` with the stored model; positional arguments
        after ``receiver_locations`` follow :func:`scalar`'s order, and the
        storage options default to the module's."""
        kwargs = common.positional_kwargs(scalar, "receiver_locations", args, kwargs, "python_backend")
        for name in ("storage_mode", "storage_path", "storage_compression"):
            kwargs.setdefault(name, getattr(self, name))
        return scalar(
            self.v, self.grid_spacing, dt, source_amplitudes, source_locations, receiver_locations,
            **kwargs, _hooks=self._hook_run(),
        )
