"""Born (linearised) scalar wave propagation, 2D.

`scalar_born` has Deepwave 0.0.27's signature, defaults and return tuple for
2D models. It propagates a background wavefield through ``v`` and, beside
it, the scattered wavefield: the exact first-order change of the discrete
scalar wavefield when the wavespeed changes by ``scatter``,

    δu_tt = v²∇²δu + 2·v·scatter·∇²u − 2·v·scatter·f·δ(source),

so ``scalar_born(v, scatter, ...)``'s scattered receivers equal the
directional derivative of ``scalar(v, ...)``'s receivers along ``scatter``
(checked against finite differences in the tests). Gradients with respect
to v, scatter, the source amplitudes and the initial wavefields are the
exact discrete adjoint, from torchwave's Go core (or from autograd with
``python_backend``).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import _common as common
from . import _driver as driver
from . import _lib
from . import _scalar_core as core
from ._driver import CallbackState
from ._scalar_born_reference import born_step
from ._scalar_reference import get_step
from .hooks import HookedPropagator, HookRun

__all__ = ["scalar_born", "ScalarBorn"]


def _scattered_names(ndim: int) -> Tuple[str, ...]:
    """The scattered field's initial fields, in Deepwave's order."""
    return tuple(n.replace("_m1", "_sc_m1").replace("wavefield_0", "wavefield_sc_0") for n in core.field_names(ndim))


def scalar_born(
    v: torch.Tensor,
    scatter: torch.Tensor,
    grid_spacing: Union[float, Sequence[float]],
    dt: float,
    source_amplitudes: Optional[torch.Tensor] = None,
    source_locations: Optional[torch.Tensor] = None,
    receiver_locations: Optional[torch.Tensor] = None,
    bg_receiver_locations: Optional[torch.Tensor] = None,
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
    wavefield_sc_0: Optional[torch.Tensor] = None,
    wavefield_sc_m1: Optional[torch.Tensor] = None,
    psiz_sc_m1: Optional[torch.Tensor] = None,
    psiy_sc_m1: Optional[torch.Tensor] = None,
    psix_sc_m1: Optional[torch.Tensor] = None,
    zetaz_sc_m1: Optional[torch.Tensor] = None,
    zetay_sc_m1: Optional[torch.Tensor] = None,
    zetax_sc_m1: Optional[torch.Tensor] = None,
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
    """Born modelling: background and scattered wavefields.

    The arguments are those of :func:`torchwave.scalar`, plus:

    Args:
        max_vel: as for :func:`torchwave.scalar`: taken from v alone
            (scatter does not change it), by default the maximum of v over
            the simulated region. No gradient flows through it, so the
            gradient with respect to v is that of the operator with
            max_vel held fixed only when max_vel is given; the default
            follows the fastest cell of v and gives the loss a kink there.
            Pass max_vel when inverting v (the gradient with respect to
            scatter is unaffected).
        scatter: the scattering potential, a wavespeed perturbation in the
            units of v, shaped as v (1D, 2D or 3D, optionally per shot);
            like v, its edge values extend into the PML.
        receiver_locations: receivers of the scattered wavefield.
        bg_receiver_locations: receivers of the background wavefield
            (optional; without them the background receiver output has
            zero receivers).
        wavefield_sc_0, wavefield_sc_m1, psiz_sc_m1, psiy_sc_m1,
            psix_sc_m1, zetaz_sc_m1, zetay_sc_m1, zetax_sc_m1: initial
            scattered fields, laid out as the background's.

    Every ``storage_mode``, ``storage_compression`` and
    ``storage_strategy="checkpoint"`` (the state of both fields per segment,
    each segment's history recomputed in the backward pass) apply as for
    :func:`torchwave.scalar`; ``storage_strategy="boundary"`` does not.

    Returns:
        (wavefield_nt, wavefield_ntm1, [psiz], [psiy], psix, [zetaz],
        [zetay], zetax, then the same of the scattered field,
        bg_receiver_amplitudes, receiver_amplitudes), as Deepwave returns
        them in 1D, 2D and 3D (the bracketed fields exist where the model
        has that axis): the final background and scattered fields, then
        the background and the scattered receiver amplitudes [n_shots,
        n_receivers, nt].
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
        wavefield_sc_0=wavefield_sc_0,
        wavefield_sc_m1=wavefield_sc_m1,
        psiz_sc_m1=psiz_sc_m1,
        psiy_sc_m1=psiy_sc_m1,
        psix_sc_m1=psix_sc_m1,
        zetaz_sc_m1=zetaz_sc_m1,
        zetay_sc_m1=zetay_sc_m1,
        zetax_sc_m1=zetax_sc_m1,
    )
    ndim = common.spatial_ndim(
        {"v": v, "scatter": scatter},
        {k: given[k] for k in ("wavefield_0", "wavefield_m1", "wavefield_sc_0", "wavefield_sc_m1")},
        {
            "source_locations": source_locations,
            "receiver_locations": receiver_locations,
            "bg_receiver_locations": bg_receiver_locations,
        },
        {a: {k: given[k] for k in (f"psi{a}_m1", f"zeta{a}_m1", f"psi{a}_sc_m1", f"zeta{a}_sc_m1")} for a in "zyx"},
    )
    spec = SPECS[ndim]
    common.check_tensor("v", v, ndims=(ndim, ndim + 1), dtypes=(torch.float32, torch.float64))
    scatter = common.check_tensor("scatter", scatter, ndims=(ndim, ndim + 1), dtypes=(v.dtype,), device=v.device)
    common.check_finite("scatter", scatter)
    if scatter.shape[-ndim:] != v.shape[-ndim:]:
        raise ValueError(f"scatter has spatial shape {tuple(scatter.shape[-ndim:])}, but v has {tuple(v.shape[-ndim:])}")
    if (
        scatter.ndim == ndim + 1
        and v.ndim == ndim + 1
        and 1 not in (scatter.shape[0], v.shape[0])
        and scatter.shape[0] != v.shape[0]
    ):
        raise ValueError(f"scatter has {scatter.shape[0]} shots but v has {v.shape[0]}")
    # Imaging-condition hooks of a ScalarBorn module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"v": v, "scatter": scatter})
    if hooks is not None:
        v = v.detach() if hooks.replaces("v") else v
        scatter = scatter.detach() if hooks.replaces("scatter") else scatter
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
    initial = core.initial_fields(ndim, given) | core.initial_fields(ndim, given, "_sc")
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
        extra_receivers=("bg_receiver_locations", bg_receiver_locations),
    )
    if scatter.ndim == ndim + 1 and scatter.shape[0] not in (1, setup.n_shots):
        raise ValueError(f"scatter has {scatter.shape[0]} shots but the other inputs have {setup.n_shots}")

    # The scattering potential on the padded grid, its edge values
    # replicated into the PML as v's are: then the scattered field is the
    # exact derivative of `scalar`'s (Deepwave pads scatter with zeros
    # instead; the two differ only for scatter on the model's edge).
    sc_pad = driver.pad_replicate(scatter[common.box(setup.extents)], setup.pad)
    dc = 2 * setup.dt_inner**2 * v_pad * sc_pad
    if dc.shape[0] != c.shape[0]:  # one of v, scatter per shot: both per shot
        c = c.expand(setup.shape)
        dc = dc.expand(setup.shape)
    c, dc = c.contiguous(), dc.contiguous()
    # The scattered source: the change of the scaled background source
    # −v²dt²·f, i.e. −2·v·scatter·dt²·f at each source cell.
    src_sc = common.scaled_sources(
        source_amplitudes,
        setup.source_index,
        dc.detach() if setup.storage_mode == "none" else dc,
        -1.0,
        setup.n_shots,
        setup.nt_inner,
        setup.step_ratio,
        *setup.resampling,
    )
    if forward_callback is not None or backward_callback is not None:
        setup.models = {"v": v_pad, "scatter": sc_pad}
    return driver.propagate(spec, setup, [c, dc], [src, src_sc], fields, python_backend, hooks)


class _BornSpec(driver.Spec):
    """Born modelling for the driver: models c = v²dt² and dc =
    2·v·scatter·dt² (the same shape), the scaled background and scattered
    sources, six background and six scattered fields; receivers of the
    background (``setup.extra_receiver_index``), then of the scattered
    field. A backward state carries whether it runs the background's
    adjoint too."""

    name = "scalar_born"
    model_names = ("c", "dc")
    n_sources = 2

    def __init__(self, ndim: int):
        self.ndim = ndim
        self.field_names = core.field_names(ndim) + _scattered_names(ndim)
        names = core.hook_names(ndim)
        self.hook_names = names + tuple(None if k is None else k + "_sc" for k in names)
        self.n_fields = len(names)  # of each wavefield

    def receiver_counts(self, setup):
        return [setup.extra_receiver_index.shape[1], setup.receiver_index.shape[1]]

    def check_adjoint(self, models):
        common.check_adjoint_scaling(models[0])

    def core_args(self, setup, models):
        background = core.core_args(setup, models[0])
        background.update(n_receivers=setup.extra_receiver_index.shape[1], receiver_index=setup.extra_receiver_index)
        return dict(
            background=background,
            dc=models[1],
            n_receivers_sc=setup.receiver_index.shape[1],
            receiver_index_sc=setup.receiver_index,
            coupling_interval=setup.coupling_interval,
        )

    def forward_state(self, setup, models, initial):
        c, n = models[0], self.n_fields
        return (
            core.working_pairs(setup, initial[:n], c, first_slot=1, pair_slot=7),
            core.working_pairs(setup, initial[n:], c, first_slot=9, pair_slot=15),
        )

    def current(self, state):
        return core.current(state[0]) + core.current(state[1])

    def histories(self, setup, args, models, sources, wanted):
        # W of the background for both gradients; W of the scattered field
        # only for the gradient with respect to v.
        n = 2 if wanted[0] else 1
        if setup.strategy == "checkpoint":
            return [driver.checkpointed(self, setup, args, models, sources, n)]
        return driver.stored_histories(setup, n, models[0].device, models[0].dtype)

    def run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories):
        background, scattered, *with_background = state
        grad_c, grad_dc = (None, None) if grads is None else grads
        _run_chunk(
            backward,
            args,
            background,
            scattered,
            start,
            count,
            *sources,
            *receivers,
            _stores(stores, self.ndim),
            grad_c,
            grad_dc,
            with_background[0] if backward else True,
        )

    def adjoint_state(self, setup, models, field_grads, need, wanted, hooks):
        # The background adjoint is needed only for gradients of background
        # inputs; the scattered adjoint alone serves scatter and its source.
        n = self.n_fields
        with_background = wanted[0] or need[2] or any(need[4 : 4 + n])
        if hooks is not None:
            with_background = with_background or any(not k.endswith("_sc") for k in hooks.fields)
        c = models[0]
        return (
            core.adjoint_pairs(setup, c, field_grads[:n], first_slot=1, pair_slot=7),
            core.adjoint_pairs(setup, c, field_grads[n:], first_slot=11, pair_slot=17),
            with_background,
        )

    def adjoint_fields(self, state, models, names=None):
        background, scattered, with_background = state
        c = models[0]
        names_sc = None if names is None else {k[:-3] for k in names if k.endswith("_sc")}
        bg = core.adjoint_current(background, c, names) if with_background else [None] * self.n_fields
        return bg + core.adjoint_current(scattered, c, names_sc)

    def model_gradients(self, setup, models, grads):
        scale = setup.store_interval / models[0]
        return [None if g is None else g * scale for g in grads]

    def callback_gradients(self, setup, models, grads):
        return _model_gradients(setup, models[0], setup.models, *grads)

    def set_callback_gradients(self, setup, models, grads, edited):
        _set_model_gradients(setup, models[0], setup.models, *grads, edited)

    def reference_stepper(self, setup, models, sources, kind):
        step, operator = get_step(kind), core.operator(setup)
        (c, dc), (src, src_sc), n = models, sources, self.n_fields
        injection = driver.Survey(setup.source_index, setup, c)
        bg_receivers = driver.Survey(setup.extra_receiver_index, setup, c)
        sc_receivers = driver.Survey(setup.receiver_index, setup, c)

        def advance(state, t):
            recorded = [bg_receivers.record(state[0]), sc_receivers.record(state[n])]
            background, scattered, _ = born_step(step, state[:n], state[n:], c, dc, *operator)
            background[0] = injection.inject(background[0], src[t])
            scattered[0] = injection.inject(scattered[0], src_sc[t])
            return background + scattered, recorded

        return advance


SPECS = {ndim: driver.register(_BornSpec(ndim)) for ndim in (1, 2, 3)}


def _stores(buffers, ndim: int) -> List[Tuple[Optional[torch.Tensor], int]]:
    """(buffer, first snapshot) of the background W history, then of the
    scattered one: one per plan, or both from a checkpointed plan, whose
    staging holds them side by side [2, snapshots, shots, *grid]."""
    out = []
    for buffer, first in buffers:
        if buffer is not None and buffer.ndim == 3 + ndim:
            out.extend((b, first) for b in buffer)
        else:
            out.append((buffer, first))
    return out


def _model_gradients(setup, c, models, grad_c, grad_dc) -> Dict[str, torch.Tensor]:
    """∂loss/∂v and ∂loss/∂scatter on the padded grid so far, for callbacks."""
    if models is None:
        return {}
    v, sc = models["v"], models["scatter"]
    scale = setup.store_interval / c * 2 * setup.dt_inner**2
    g_v = torch.zeros_like(c)
    out = {}
    if grad_c is not None:
        g_v = g_v + grad_c * scale * v
    if grad_dc is not None:
        g_v = g_v + grad_dc * scale * sc
        out["scatter"] = grad_dc * scale * v
    out["v"] = g_v
    return {k: g.sum(dim=0, keepdim=True) if models[k].shape[0] == 1 else g for k, g in out.items()}


def _set_model_gradients(setup, c, models, grad_c, grad_dc, edited) -> None:
    """The inverse of _model_gradients: grad_c and grad_dc from edited
    ∂loss/∂v and ∂loss/∂scatter (sums over shots go to the first shot)."""
    v, sc = models["v"], models["scatter"]
    if v.shape[0] != sc.shape[0]:
        raise NotImplementedError(
            "editing the gradients in a backward callback needs v and scatter both shared by the shots or both per shot"
        )
    scale = setup.store_interval / c * 2 * setup.dt_inner**2
    new_dc = None
    if grad_dc is not None:
        new_dc = edited["scatter"] / (scale * v)
        grad_dc.zero_()
        grad_dc[: new_dc.shape[0]] = new_dc
    if grad_c is not None:
        rest = edited["v"] if new_dc is None else edited["v"] - new_dc * scale * sc
        new_c = rest / (scale * v)
        grad_c.zero_()
        grad_c[: new_c.shape[0]] = new_c


def _run_chunk(
    backward, args, background, scattered, start, count, src, src_sc, rec_bg, rec_sc, stores, grad_c, grad_dc, adjoint_bg
) -> None:
    """Runs steps [start, start + count) of the Born propagation in Go.
    ``stores`` lists (buffer, first snapshot) of the background W history
    and, when present, the scattered one."""
    (store, first), (store_sc, _) = (stores + [(None, 0), (None, 0)])[:2]
    n_store = 0 if store is None else store.shape[0]
    bg = dict(
        args["background"],
        step0=start,
        n_steps=count,
        source_amplitudes=src[start : start + count],
        receiver_amplitudes=rec_bg[start : start + count],
        store=store,
        n_store=n_store,
        store_first=first,
        grad_c=grad_c,
        **background,
    )
    _lib.born_call(
        backward,
        bg,
        dc=args["dc"],
        n_receivers_sc=args["n_receivers_sc"],
        receiver_index_sc=args["receiver_index_sc"],
        coupling_interval=args["coupling_interval"],
        source_amplitudes_sc=src_sc[start : start + count],
        receiver_amplitudes_sc=rec_sc[start : start + count],
        store_sc=store_sc,
        grad_dc=grad_dc,
        adjoint_bg=int(adjoint_bg),
        **{f"{k}_sc": v for k, v in scattered.items()},
    )
    if count % 2:
        for pairs in (background, scattered) if (adjoint_bg or not backward) else (scattered,):
            core.swap(pairs)


class ScalarBorn(HookedPropagator, torch.nn.Module):
    """A Born propagator that owns its background wavespeed and scattering
    potential.

    ``ScalarBorn(v, scatter, grid_spacing, v_requires_grad=False,
    scatter_requires_grad=False)(dt, source_amplitudes, source_locations,
    receiver_locations, bg_receiver_locations=None, ...)`` calls
    :func:`scalar_born` with the stored models; the keyword arguments are
    the same.

    Imaging conditions of your own replace the gradients of ``v`` or
    ``scatter``, or make images: ``register_gradient``,
    ``clear_gradients``, ``imaging`` (see :mod:`torchwave.hooks`). The
    fields are the background's ``wavefield``, ``psiy``, ``psix``,
    ``zetay``, ``zetax`` and the scattered field's, named with ``_sc``;
    ``imaging`` takes the scattered receivers as its prediction.
    """

    _wavefield_names = ("wavefield", *core.pml_keys(2), "wavefield_sc", *(k + "_sc" for k in core.pml_keys(2)))
    _source_type = ("wavefield", "wavefield_sc")
    _receiver_type = ("wavefield_sc", "wavefield")
    model_names = ("v", "scatter")

    def __init__(
        self,
        v: torch.Tensor,
        scatter: torch.Tensor,
        grid_spacing,
        v_requires_grad: bool = False,
        scatter_requires_grad: bool = False,
        storage_mode: str = "device",
        storage_path: str = ".",
        storage_compression: Union[bool, str] = False,
    ):
        super().__init__()
        common.check_module_model("v", v, v_requires_grad)
        common.check_module_model("scatter", scatter, scatter_requires_grad)
        common.check_tensor("v", v, ndims=(1, 2, 3, 4), dtypes=(torch.float32, torch.float64))
        common.check_tensor("scatter", scatter, ndims=(v.ndim,), dtypes=(v.dtype,), device=v.device)
        self.v = torch.nn.Parameter(v, requires_grad=v_requires_grad)
        keys = core.pml_keys(min(v.ndim, 3))  # see Scalar
        self._wavefield_names = ("wavefield", *keys, "wavefield_sc", *(k + "_sc" for k in keys))
        self.scatter = torch.nn.Parameter(scatter, requires_grad=scatter_requires_grad)
        self.grid_spacing = grid_spacing
        self.storage_mode = storage_mode
        self.storage_path = storage_path
        self.storage_compression = storage_compression

    def forward(
        self,
        dt: float,
        source_amplitudes=None,
        source_locations=None,
        receiver_locations=None,
        bg_receiver_locations=None,
        *args,
        **kwargs,
    ):
        """Calls :func:`scalar_born` with the stored models; positional
        arguments after ``bg_receiver_locations`` follow its order, and the
        storage options default to the module's."""
        kwargs = common.positional_kwargs(scalar_born, "bg_receiver_locations", args, kwargs, "python_backend")
        for name in ("storage_mode", "storage_path", "storage_compression"):
            kwargs.setdefault(name, getattr(self, name))
        return scalar_born(
            self.v,
            self.scatter,
            self.grid_spacing,
            dt,
            source_amplitudes,
            source_locations,
            receiver_locations,
            bg_receiver_locations,
            **kwargs,
            _hooks=self._hook_run(),
        )
