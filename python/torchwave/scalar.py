"""Scalar (constant-density acoustic) wave propagation in 1D, 2D and 3D.

`scalar` has Deepwave 0.0.27's signature, defaults and return tuple, so
code written for Deepwave runs after changing the import. The compute runs
in torchwave's Go core with a hand-written exact discrete adjoint; with
``python_backend`` it runs in plain PyTorch instead.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import torch

from . import _common as common
from . import _driver as driver
from . import _lib
from . import _scalar_core as core
from . import _storage as storage
from ._driver import CallbackState, empty_cache
from ._scalar_hessian import differentiable_backward
from ._scalar_reference import get_step
from .hooks import HookedPropagator, HookRun

__all__ = ["scalar", "Scalar", "CallbackState", "empty_cache"]


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
    given = dict(
        wavefield_0=wavefield_0,
        wavefield_m1=wavefield_m1,
        psiz_m1=psiz_m1,
        psiy_m1=psiy_m1,
        psix_m1=psix_m1,
        zetaz_m1=zetaz_m1,
        zetay_m1=zetay_m1,
        zetax_m1=zetax_m1,
    )
    ndim = common.spatial_ndim(
        {"v": v},
        {"wavefield_0": wavefield_0, "wavefield_m1": wavefield_m1},
        {"source_locations": source_locations, "receiver_locations": receiver_locations},
        {a: {f"psi{a}_m1": given[f"psi{a}_m1"], f"zeta{a}_m1": given[f"zeta{a}_m1"]} for a in "zyx"},
    )
    spec = SPECS[ndim]
    # Imaging-condition hooks of a Scalar module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"v": v})
    if hooks is not None and hooks.replaces("v"):
        v = v.detach()  # its gradient comes from the hooks, not from autograd
    options = driver.check_options(
        spec,
        ndim=ndim,
        dt=dt,
        pml_width=pml_width,
        model_gradient_sampling_interval=model_gradient_sampling_interval,
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
    )
    initial = core.initial_fields(ndim, given)
    setup, c, src, fields, v_pad = core.prepare(
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
        initial,
        origin,
        nt,
        options,
        python_backend,
        storage_mode,
        storage_path,
        storage_strategy,
        forward_callback,
        backward_callback,
    )
    if forward_callback is not None or backward_callback is not None:
        setup.models = {"v": v_pad}  # only callbacks need the padded model itself
    return driver.propagate(spec, setup, [c], [src], fields, python_backend, hooks)


class _ScalarSpec(driver.Spec):
    """The scalar propagator for the driver, in ``ndim`` dimensions: model
    c = v²dt², one scaled source, u, u_prev and two CPML fields per axis;
    the Go core keeps the adjoint wavefield as μ = c·λ."""

    name = "scalar"
    model_names = ("c",)
    boundary = True

    def __init__(self, ndim: int):
        self.ndim = ndim
        self.field_names = core.field_names(ndim)
        self.hook_names = core.hook_names(ndim)

    def check_adjoint(self, models):
        common.check_adjoint_scaling(models[0])

    def core_args(self, setup, models):
        return core.core_args(setup, models[0])

    def forward_state(self, setup, models, initial):
        return core.working_pairs(setup, initial, models[0], first_slot=1, pair_slot=7)

    def current(self, state):
        return core.current(state)

    def histories(self, setup, args, models, sources, wanted):
        return [_history(self, setup, models[0], sources[0], args)]

    def run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories):
        store, first = stores[0] if stores else (None, 0)
        if store is not None and store.ndim == 3 + self.ndim:
            store = store[0]  # a checkpointed plan's staging of one series
        _run_chunk(
            backward,
            args,
            state,
            start,
            count,
            sources[0],
            receivers[0],
            store,
            first,
            None if grads is None else grads[0],
            _boundary_of(histories),
        )

    def forward_done(self, histories, state):
        if _boundary_of(histories) is not None:
            histories[0].keep_final(*state["u"])

    def backward_start(self, histories):
        if _boundary_of(histories) is not None:
            histories[0].start_backward()

    def adjoint_state(self, setup, models, field_grads, need, wanted, hooks):
        return core.adjoint_pairs(setup, models[0], field_grads, first_slot=1, pair_slot=7)

    def adjoint_fields(self, state, models, names=None):
        return core.adjoint_current(state, models[0], names)

    def model_gradients(self, setup, models, grads):
        (c,), (grad_c,) = models, grads
        if grad_c is None:
            return [None]
        g = grad_c * (setup.store_interval / c)
        return [g.sum(dim=0, keepdim=True) if c.shape[0] == 1 and setup.n_shots > 1 else g]

    def callback_gradients(self, setup, models, grads):
        if grads[0] is None:
            return {}
        g = grads[0] * (setup.store_interval / models[0]) * 2 * setup.models["v"] * setup.dt_inner**2
        return {"v": g.sum(dim=0, keepdim=True) if setup.models["v"].shape[0] == 1 else g}

    def set_callback_gradients(self, setup, models, grads, edited):
        # The inverse of callback_gradients (a gradient summed over shots
        # goes to the first shot's slot).
        g = edited["v"] / ((setup.store_interval / models[0]) * 2 * setup.models["v"] * setup.dt_inner**2)
        grads[0].zero_()
        grads[0][: g.shape[0]] = g

    def double_backward(self, ctx, grads):
        # Hessian-vector products: Born modelling serves them.
        return differentiable_backward(ctx, grads)

    def reference_stepper(self, setup, models, sources, kind):
        step, operator = get_step(kind), core.operator(setup)
        (c,), (src,) = models, sources
        receivers, injection = driver.Survey(setup.receiver_index, setup, c), driver.Survey(setup.source_index, setup, c)

        def advance(state, t):
            recorded = receivers.record(state[0])
            *state, _ = step(state, c, *operator)
            state[0] = injection.inject(state[0], src[t])
            return state, [recorded]

        return advance


SPECS = {ndim: driver.register(_ScalarSpec(ndim)) for ndim in (1, 2, 3)}


def _history(spec, setup, c: torch.Tensor, src: torch.Tensor, core_args: dict):
    """The plan that keeps (or recomputes) the forward snapshots the model
    gradient needs, following the storage options."""
    if setup.strategy == "boundary":
        cells = _lib.scalar_boundary_cells(**core_args)
        # From the pool, as the full history: an inversion asks for the
        # same strips every iteration.
        return storage.Boundary(storage.snapshot_pool.take((setup.nt_inner + 2, setup.n_shots, cells), c.dtype), src)
    if setup.strategy == "checkpoint":
        return driver.checkpointed(spec, setup, core_args, [c], [src], 1)
    return driver.stored_histories(setup, 1, c.device, c.dtype)[0]


def _boundary_of(histories):
    """The plan when it is boundary saving, else None."""
    return histories[0] if histories and isinstance(histories[0], storage.Boundary) else None


def _run_chunk(backward, core_args, pairs, start, count, sources, receivers, store, store_first, grad_c, boundary=None):
    """Runs steps [start, start + count) in Go. ``store`` holds snapshots
    from number ``store_first`` on; ``boundary`` is a Boundary plan for
    boundary saving. Every step swaps the halves of each buffer pair, so
    after an odd count the current state is in the other half: swap the
    Python-side pairs to match."""
    _lib.scalar_call(
        backward,
        None if boundary is None else boundary.fields(backward, start, count),
        **core_args,
        step0=start,
        n_steps=count,
        source_amplitudes=sources[start : start + count],
        receiver_amplitudes=receivers[start : start + count],
        store=store,
        n_store=0 if store is None else store.shape[0],
        store_first=store_first,
        grad_c=grad_c,
        **pairs,
    )
    if count % 2:
        core.swap(pairs)
        if backward and boundary is not None:
            boundary.u.reverse()


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
        common.check_tensor("v", v, ndims=(1, 2, 3, 4), dtypes=(torch.float32, torch.float64))
        self.v = torch.nn.Parameter(v, requires_grad=v_requires_grad)
        # The fields hooks can see; a model of three dimensions is taken
        # to be 3D here (a batch of 2D models sees a subset).
        self._wavefield_names = ("wavefield", *core.pml_keys(min(v.ndim, 3)))
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
            self.v,
            self.grid_spacing,
            dt,
            source_amplitudes,
            source_locations,
            receiver_locations,
            **kwargs,
            _hooks=self._hook_run(),
        )
