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
from . import _storage as storage
from ._driver import CallbackState
from ._scalar_born_reference import born_step
from ._scalar_reference import get_step
from .hooks import HookedPropagator, HookRun
from .scalar import _WAVEFIELD_NAMES, _core_args, _current, _forward_pairs, _prepare, _stored_history

__all__ = ["scalar_born", "ScalarBorn"]

_BACKGROUND_NAMES = _WAVEFIELD_NAMES
_SCATTERED_NAMES = ("wavefield_sc_0", "wavefield_sc_m1", "psiy_sc_m1", "psix_sc_m1", "zetay_sc_m1", "zetax_sc_m1")
_FIELD_KEYS = ("psiy", "psix", "zetay", "zetax")


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
            units of v, [ny, nx] or [n_shots, ny, nx]; like v, its edge
            values extend into the PML.
        receiver_locations: receivers of the scattered wavefield.
        bg_receiver_locations: receivers of the background wavefield
            (optional; without them the background receiver output has
            zero receivers).
        wavefield_sc_0, wavefield_sc_m1, psiy_sc_m1, psix_sc_m1,
            zetay_sc_m1, zetax_sc_m1: initial scattered fields.
        psiz_m1, zetaz_m1, psiz_sc_m1, zetaz_sc_m1: the z-direction PML
            fields of a 3D model, in Deepwave's argument order; a 2D model
            has none, and giving them raises ValueError.

    Every ``storage_mode``, ``storage_compression`` and
    ``storage_strategy="checkpoint"`` (the state of both fields per segment,
    each segment's history recomputed in the backward pass) apply as for
    :func:`torchwave.scalar`; ``storage_strategy="boundary"`` does not.

    Returns:
        (wavefield_nt, wavefield_ntm1, psiy, psix, zetay, zetax,
        wavefield_sc_nt, wavefield_sc_ntm1, psiy_sc, psix_sc, zetay_sc,
        zetax_sc, bg_receiver_amplitudes, receiver_amplitudes): the final
        background and scattered fields, then the background and the
        scattered receiver amplitudes [n_shots, n_receivers, nt].
    """
    common.no_z_fields(psiz_m1=psiz_m1, zetaz_m1=zetaz_m1, psiz_sc_m1=psiz_sc_m1, zetaz_sc_m1=zetaz_sc_m1)
    common.check_tensor("v", v, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
    scatter = common.check_tensor("scatter", scatter, ndims=(2, 3), dtypes=(v.dtype,), device=v.device)
    common.check_finite("scatter", scatter)
    if scatter.shape[-2:] != v.shape[-2:]:
        raise ValueError(f"scatter has spatial shape {tuple(scatter.shape[-2:])}, but v has {tuple(v.shape[-2:])}")
    if scatter.ndim == 3 and v.ndim == 3 and scatter.shape[0] != v.shape[0]:
        raise ValueError(f"scatter has {scatter.shape[0]} shots but v has {v.shape[0]}")
    if storage_strategy == "boundary":
        raise NotImplementedError("storage_strategy='boundary' is not available for scalar_born; use 'checkpoint'")
    # Imaging-condition hooks of a ScalarBorn module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"v": v, "scatter": scatter})
    if hooks is not None:
        v = v.detach() if hooks.replaces("v") else v
        scatter = scatter.detach() if hooks.replaces("scatter") else scatter
    initial = dict(zip(
        _BACKGROUND_NAMES + _SCATTERED_NAMES,
        [wavefield_0, wavefield_m1, psiy_m1, psix_m1, zetay_m1, zetax_m1,
         wavefield_sc_0, wavefield_sc_m1, psiy_sc_m1, psix_sc_m1, zetay_sc_m1, zetax_sc_m1],
    ))
    setup, inputs = _prepare(
        v, grid_spacing, dt, source_amplitudes, source_locations, receiver_locations,
        accuracy, pml_width, pml_freq, max_vel, survey_pad, initial,
        origin, nt, model_gradient_sampling_interval, freq_taper_frac, time_pad_frac,
        time_taper, forward_callback, backward_callback, callback_frequency,
        python_backend, storage_mode, storage_path, storage_compression, storage_strategy,
        extra_receivers=("bg_receiver_locations", bg_receiver_locations),
    )
    c, src, fields, v_pad = inputs
    del inputs
    if scatter.ndim == 3 and scatter.shape[0] != setup.n_shots:
        raise ValueError(f"scatter has {scatter.shape[0]} shots but the other inputs have {setup.n_shots}")

    # The scattering potential on the padded grid, its edge values
    # replicated into the PML as v's are: then the scattered field is the
    # exact derivative of `scalar`'s (Deepwave pads scatter with zeros
    # instead; the two differ only for scatter on the model's edge).
    y0, y1, x0, x1 = setup.extents
    pad = setup.pad
    sc = scatter[..., y0:y1, x0:x1]
    sc = sc if sc.ndim == 3 else sc[None]
    sc_pad = torch.nn.functional.pad(sc, (pad[2], pad[3], pad[0], pad[1]), mode="replicate")
    dc = 2 * setup.dt_inner**2 * v_pad * sc_pad
    if dc.shape[0] != c.shape[0]:  # one of v, scatter per shot: both per shot
        c = c.expand(setup.n_shots, -1, -1)
        dc = dc.expand(setup.n_shots, -1, -1)
    c, dc = c.contiguous(), dc.contiguous()
    # The scattered source: the change of the scaled background source
    # −v²dt²·f, i.e. −2·v·scatter·dt²·f at each source cell.
    src_sc = common.scaled_sources(
        source_amplitudes, setup.source_index, dc.detach() if setup.storage_mode == "none" else dc, -1.0,
        setup.n_shots, setup.nt_inner, setup.step_ratio,
        freq_taper_frac, time_pad_frac, time_taper,
    )
    models = None
    if forward_callback is not None or backward_callback is not None:
        models = {"v": v_pad, "scatter": sc_pad}
    if hooks is not None:
        h, p = setup.halo, setup.pml_width
        hooks.begin(
            n_steps=setup.nt_inner, n_shots=setup.n_shots,
            region=(h + p[0], setup.ny - h - p[1], h + p[2], setup.nx - h - p[3]), extents=setup.extents,
            dt=setup.dt_inner, dh=(setup.dy, setup.dx),
        )
    if python_backend is False and common.inside_functorch(c, dc, src, src_sc, *fields):
        # torch.func (vmap, jvp, grad) cannot see through the Go core's raw
        # pointers; the pure-PyTorch implementation gives the same numbers.
        python_backend = common.functorch_backend(setup.backward_callback)
    if python_backend is False:
        if c.device.type != "cpu":
            raise NotImplementedError(
                "the Go core's CUDA path is not built yet: run on CPU tensors, or use python_backend=True on the GPU"
            )
        hook_inputs = () if hooks is None else hooks.inputs
        outputs = _ScalarBornFunction.apply(c, dc, src, src_sc, *fields, setup, models, hooks, *hook_inputs)
    else:
        kind = "eager" if python_backend is True else python_backend
        outputs = _propagate_reference(setup, c, dc, src, src_sc, fields, kind, models, hooks)
    h = setup.halo
    wavefields = [f[:, h : setup.ny - h, h : setup.nx - h] for f in outputs[:12]]
    receivers = [
        common.downsample(r.permute(1, 2, 0), setup.step_ratio, freq_taper_frac, time_pad_frac, time_taper)
        for r in outputs[12:]
    ]
    return (*wavefields, *receivers)


def _callback_state(setup, step_inner: int, background, scattered, models, gradients) -> CallbackState:
    fields = dict(zip(_BACKGROUND_NAMES, background))
    fields.update(zip(_SCATTERED_NAMES, scattered))
    return CallbackState(
        setup.dt_inner, step_inner // setup.step_ratio, fields, models or {}, gradients, setup.halo, setup.pml_width
    )


class _ScalarBornFunction(torch.autograd.Function):
    """The Go core's Born propagation as an autograd op on the padded grid.

    Inputs: c = v²dt², dc = 2·v·scatter·dt² (both [1 or n_shots, ny, nx],
    the same shape), the scaled background and scattered sources [nt,
    shots, n_src], the six background and six scattered initial fields.
    Outputs: the twelve final fields, then the background and scattered
    receivers [nt, shots, n]."""

    @staticmethod
    def forward(ctx, c, dc, src, src_sc, *rest):
        if any(ctx.needs_input_grad):
            common.check_adjoint_scaling(c)
        fields, (setup, models, hooks) = rest[:12], rest[12:15]
        dtype = c.dtype
        shape = (setup.n_shots, setup.ny, setup.nx)
        nt = setup.nt_inner
        rec_bg = torch.zeros(nt, setup.n_shots, setup.extra_receiver_index.shape[1], dtype=dtype)
        rec_sc = torch.zeros(nt, setup.n_shots, setup.receiver_index.shape[1], dtype=dtype)
        src, src_sc = src.contiguous(), src_sc.contiguous()

        def own(t, slot):
            # A working copy, placed near c (see common.zeros).
            buf = common.zeros(shape, dtype, near=c, slot=slot)
            return buf if t is None else buf.copy_(t)

        background = _forward_pairs(*(own(t, k) for k, t in enumerate(fields[:6], 1)), near=c, first_slot=7)
        scattered = _forward_pairs(*(own(t, k) for k, t in enumerate(fields[6:], 9)), near=c, first_slot=15)
        want_c, want_dc = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        args = _born_args(setup, c, dc)
        histories = []
        if (want_c or want_dc) and setup.storage_mode != "none":
            # storage_mode="none" keeps nothing: as in Deepwave, the model
            # gradients are then zero and the other gradients exact.
            # W of the background for both gradients; W of the scattered
            # field only for the gradient with respect to v.
            if setup.strategy == "checkpoint":
                histories.append(_checkpointed_history(setup, args, src, src_sc, 2 if want_c else 1))
                histories[0].save_initial((background, scattered))
            else:
                histories.append(_stored_history(setup, c))
                if want_c:
                    histories.append(_stored_history(setup, c))
        try:
            every = setup.callback_frequency * setup.step_ratio
            segment = histories[0].segment if histories else None
            for start, count in driver.chunks(setup, setup.forward_callback, segment, hooks):
                if setup.forward_callback is not None and start % every == 0:
                    state = _callback_state(
                        setup, start, _current(background), _current(scattered), models, {}
                    )
                    setup.forward_callback(state)
                if hooks is not None:
                    hooks.forward_step(start, _hook_fields(background, scattered))
                stores = _stores(h.forward_buffer(start, count) for h in histories)
                _run_chunk(
                    False, args, background, scattered, start, count, src, src_sc, rec_bg, rec_sc, stores, None, None, True
                )
                for h in histories:
                    h.after_forward(start, count, (background, scattered))
        except BaseException:
            for h in histories:
                h.close()
            raise
        ctx.setup, ctx.models = setup, models
        ctx.set_materialize_grads(False)
        # The histories go into autograd's saved tensors (see _storage), so
        # torch.utils.checkpoint and saved_tensors_hooks see them.
        ctx.hooks = hooks
        driver.save_for_backward(ctx, (c, dc), histories, hooks)
        return (*_current(background), *_current(scattered), rec_bg, rec_sc)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "second derivatives of scalar_born through torchwave's Go core are not available (the gradient "
                "was requested with create_graph=True); use python_backend=True"
            )
        with driver.restored(ctx) as ((c, dc), hook_kept):
            return _backward(ctx, c, dc, hook_kept, grads)


def _backward(ctx, c, dc, hook_kept, grads):
    """The adjoint pass of _ScalarBornFunction, with the histories restored."""
    setup = ctx.setup
    hooks: Optional[HookRun] = ctx.hooks
    if hooks is not None:
        hooks.restore(hook_kept)
    dtype = c.dtype
    shape = (setup.n_shots, setup.ny, setup.nx)
    need = ctx.needs_input_grad
    # No histories: storage_mode="none", zero model gradients.
    want_c, want_dc = need[0] and bool(ctx.histories), need[1] and bool(ctx.histories)
    # The background adjoint is needed only for gradients of background
    # inputs; the scattered adjoint alone serves scatter and its source.
    adjoint_bg = want_c or need[2] or any(need[4:10])
    if hooks is not None:
        adjoint_bg = adjoint_bg or any(not k.endswith("_sc") for k in hooks.fields)
    my, mx = setup.live_masks(dtype, c.device)

    def start_state(g_fields):
        def scaled(g, factor):
            return common.zeros(shape, dtype) if g is None else (g * factor).contiguous()

        g_u, g_um1, *g_aux = g_fields
        pairs = {"u": [scaled(g_u, c), scaled(g_um1, -c)]}
        for key, g, mask in zip(_FIELD_KEYS, g_aux, (my, mx, my, mx)):
            pairs[key] = [scaled(g, mask), common.zeros(shape, dtype)]
        return pairs

    background = start_state(grads[:6])
    scattered = start_state(grads[6:12])
    nt = setup.nt_inner

    def receiver_grad(g, n):
        return torch.zeros(nt, setup.n_shots, n, dtype=dtype) if g is None else g.contiguous()

    g_rec_bg = receiver_grad(grads[12], setup.extra_receiver_index.shape[1])
    g_rec_sc = receiver_grad(grads[13], setup.receiver_index.shape[1])
    n_src = setup.source_index.shape[1]
    g_src = torch.zeros(nt, setup.n_shots, n_src, dtype=dtype)
    g_src_sc = torch.zeros(nt, setup.n_shots, n_src, dtype=dtype)
    grad_c = torch.zeros(shape, dtype=dtype) if want_c else None
    grad_dc = torch.zeros(shape, dtype=dtype) if want_dc else None
    histories = ctx.histories if (want_c or want_dc) else []
    if not want_c:
        histories = histories[:1]
    args = _born_args(setup, c, dc)
    every = setup.callback_frequency * setup.step_ratio
    segment = histories[0].segment if histories else None
    for start, count in reversed(driver.chunks(setup, setup.backward_callback, segment, hooks)):
        stores = _stores(h.backward_buffer(start, count) for h in histories)
        _run_chunk(
            True, args, background, scattered, start, count, g_src, g_src_sc, g_rec_bg, g_rec_sc, stores,
            grad_c, grad_dc, adjoint_bg,
        )
        if hooks is not None:
            # ∂loss/∂(state at `start`); the wavefields' scaled as μ = c·λ.
            fields = _hook_fields(background, scattered)
            adjoint = {k: hooks.crop(fields[k]) for k in hooks.fields}
            for k in ("wavefield", "wavefield_sc"):
                if k in adjoint:
                    adjoint[k] = adjoint[k] / hooks.crop(c)
            hooks.adjoint_step(start, adjoint)
        if setup.backward_callback is not None and start % every == 0:
            gradients = _model_gradients(setup, c, ctx.models, grad_c, grad_dc)
            versions = {k: g._version for k, g in gradients.items()}
            adj_bg, adj_sc = _current(background), _current(scattered)
            for adj in (adj_bg, adj_sc):
                adj[0], adj[1] = adj[0] / c, -adj[1] / c
            setup.backward_callback(_callback_state(setup, start, adj_bg, adj_sc, ctx.models, gradients))
            if any(g._version != versions[k] for k, g in gradients.items()):
                # Edited in place (as Deepwave allows): accumulate from there.
                _set_model_gradients(setup, c, ctx.models, grad_c, grad_dc, gradients)
    scale = setup.store_interval / c
    g_c = grad_c * scale if want_c else torch.zeros_like(c) if need[0] else None
    g_dc = grad_dc * scale if want_dc else torch.zeros_like(dc) if need[1] else None

    def initial_grads(pairs, offset):
        mu, q = pairs["u"]
        out = [mu / c, -q / c] + [pairs[k][0] for k in _FIELD_KEYS]
        return [g if need[offset + i] else None for i, g in enumerate(out)]

    g_bg = initial_grads(background, 4) if adjoint_bg else [None] * 6
    hook_grads = ()
    if hooks is not None:
        hook_grads = hooks.finish()
        hooks.release()
    return (
        g_c, g_dc, g_src if need[2] else None, g_src_sc if need[3] else None,
        *g_bg, *initial_grads(scattered, 10), None, None, None, *hook_grads,
    )


def _stores(buffers) -> List[Tuple[Optional[torch.Tensor], int]]:
    """(buffer, first snapshot) of the background W history, then of the
    scattered one: one per plan, or both from a checkpointed plan, whose
    staging holds them side by side [2, snapshots, shots, ny, nx]."""
    out = []
    for buffer, first in buffers:
        if buffer is not None and buffer.ndim == 5:
            out.extend((b, first) for b in buffer)
        else:
            out.append((buffer, first))
    return out


def _checkpointed_history(setup, args: dict, src, src_sc, n_histories: int):
    """The state of both fields every segment; the backward pass recomputes
    a segment's W(u) (and W(δu)) from it."""
    shape = (setup.n_shots, setup.ny, setup.nx)
    dtype = src.dtype
    n_store = -(-setup.nt_inner // setup.store_interval)
    per_segment = storage.staging_snapshots(n_histories * n_store, state_fields=12) // n_histories
    per_segment = max(per_segment, 1)
    scratch_bg = torch.empty(setup.nt_inner, setup.n_shots, setup.extra_receiver_index.shape[1], dtype=dtype)
    scratch_sc = torch.empty(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=dtype)

    def state_of(fields):
        background, scattered = fields
        return [t.clone() for t in _current(background) + _current(scattered)]

    def fields_from(state):
        return _forward_pairs(*(t.clone() for t in state[:6])), _forward_pairs(*(t.clone() for t in state[6:]))

    def recompute(fields, start, count, staging, first):
        background, scattered = fields
        stores = [(b, first) for b in staging]
        _run_chunk(False, args, background, scattered, start, count, src, src_sc, scratch_bg, scratch_sc, stores,
                   None, None, True)

    staging = torch.empty((n_histories, per_segment, *shape), dtype=dtype)
    return storage.Checkpointed(setup.nt_inner, setup.store_interval, per_segment * setup.store_interval, staging,
                                state_of, fields_from, recompute)


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


def _hook_fields(background, scattered) -> Dict[str, torch.Tensor]:
    """The current state of both field sets under the hooks' names."""
    fields = {}
    for suffix, pairs in (("", background), ("_sc", scattered)):
        fields["wavefield" + suffix] = pairs["u"][0]
        for k in _FIELD_KEYS:
            fields[k + suffix] = pairs[k][0]
    return fields


def _born_args(setup, c: torch.Tensor, dc: torch.Tensor) -> dict:
    background = _core_args(setup, c)
    background.update(n_receivers=setup.extra_receiver_index.shape[1], receiver_index=setup.extra_receiver_index)
    return dict(background=background, dc=dc, n_receivers_sc=setup.receiver_index.shape[1],
                receiver_index_sc=setup.receiver_index)


def _run_chunk(backward, args, background, scattered, start, count, src, src_sc, rec_bg, rec_sc, stores,
               grad_c, grad_dc, adjoint_bg) -> None:
    """Runs steps [start, start + count) of the Born propagation in Go.
    ``stores`` lists (buffer, first snapshot) of the background W history
    and, when present, the scattered one."""
    (store, first), (store_sc, _) = (stores + [(None, 0), (None, 0)])[:2]
    n_store = 0 if store is None else store.shape[0]
    bg = dict(
        args["background"], step0=start, n_steps=count,
        source_amplitudes=src[start : start + count], receiver_amplitudes=rec_bg[start : start + count],
        store=store, n_store=n_store, store_first=first, grad_c=grad_c, **background,
    )
    _lib.born_call(
        backward, bg,
        dc=args["dc"], n_receivers_sc=args["n_receivers_sc"], receiver_index_sc=args["receiver_index_sc"],
        source_amplitudes_sc=src_sc[start : start + count], receiver_amplitudes_sc=rec_sc[start : start + count],
        store_sc=store_sc, grad_dc=grad_dc, adjoint_bg=int(adjoint_bg),
        **{f"{k}_sc": v for k, v in scattered.items()},
    )
    if count % 2:
        for pairs in (background, scattered) if (adjoint_bg or not backward) else (scattered,):
            for pair in pairs.values():
                pair.reverse()


def _propagate_reference(setup, c, dc, src, src_sc, fields, kind: str, models, hooks: Optional[HookRun] = None):
    """The same propagation in plain PyTorch, differentiated by autograd."""
    if setup.storage_mode == "none":
        # Zero gradients for v and scatter, as the Go core gives.
        c = c.detach() + 0 * c if c.requires_grad else c
        dc = dc.detach() + 0 * dc if dc.requires_grad else dc
    step = get_step(kind)
    h = setup.halo
    ay, by, dby, ax, bx, dbx = setup.profiles
    ay, by, dby = ay[:, None], by[:, None], dby[:, None]
    w1 = common.first_derivative_weights(setup.accuracy)
    c0, w2 = common.second_derivative_weights(setup.accuracy)
    operator = (
        ay, by, dby, ax, bx, dbx, h,
        [w / setup.dy for w in w1], [w / setup.dx for w in w1],
        c0 / setup.dy**2, [w / setup.dy**2 for w in w2], c0 / setup.dx**2, [w / setup.dx**2 for w in w2],
    )
    n_shots, cells = setup.n_shots, setup.ny * setup.nx
    device, dtype = c.device, c.dtype

    def indices(idx):
        idx = idx.to(device)
        return idx.clamp_min(0), (idx >= 0).to(dtype)

    src_idx, src_ok = indices(setup.source_index)
    bg_idx, bg_ok = indices(setup.extra_receiver_index)
    sc_idx, sc_ok = indices(setup.receiver_index)
    zeros = torch.zeros(n_shots, setup.ny, setup.nx, dtype=dtype, device=device)
    state = [zeros if f is None else f for f in fields]
    if hooks is not None:
        state = hooks.attach(state)
    background, scattered = state[:6], state[6:]
    records_bg, records_sc = [], []
    every = setup.callback_frequency * setup.step_ratio

    def inject(u, amplitudes):
        return u.reshape(n_shots, cells).scatter_add(1, src_idx, amplitudes * src_ok).reshape(u.shape)

    for t in range(setup.nt_inner):
        if setup.forward_callback is not None and t % every == 0:
            setup.forward_callback(_callback_state(setup, t, background, scattered, models, {}))
        if hooks is not None:
            names = ("wavefield", *_FIELD_KEYS)
            watched = {k: f for k, f in zip(names, background[:1] + background[2:])}
            watched.update({k + "_sc": f for k, f in zip(names, scattered[:1] + scattered[2:])})
            watched = hooks.watch(t, watched)
            background = [watched["wavefield"], background[1], *(watched[k] for k in _FIELD_KEYS)]
            scattered = [watched["wavefield_sc"], scattered[1], *(watched[k + "_sc"] for k in _FIELD_KEYS)]
        records_bg.append(background[0].reshape(n_shots, cells).gather(1, bg_idx) * bg_ok)
        records_sc.append(scattered[0].reshape(n_shots, cells).gather(1, sc_idx) * sc_ok)
        background, scattered, _ = born_step(step, background, scattered, c, dc, *operator)
        if src.shape[-1] > 0:
            background[0] = inject(background[0], src[t])
            scattered[0] = inject(scattered[0], src_sc[t])

    def stack(records, idx):
        if records:
            return torch.stack(records)
        return torch.zeros(0, n_shots, idx.shape[1], dtype=dtype, device=device)

    return [*background, *scattered, stack(records_bg, bg_idx), stack(records_sc, sc_idx)]


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

    _wavefield_names = ("wavefield", *_FIELD_KEYS, "wavefield_sc", *(k + "_sc" for k in _FIELD_KEYS))
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
        common.check_tensor("v", v, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
        common.check_tensor("scatter", scatter, ndims=(2, 3), dtypes=(v.dtype,), device=v.device)
        self.v = torch.nn.Parameter(v, requires_grad=v_requires_grad)
        self.scatter = torch.nn.Parameter(scatter, requires_grad=scatter_requires_grad)
        self.grid_spacing = grid_spacing
        self.storage_mode = storage_mode
        self.storage_path = storage_path
        self.storage_compression = storage_compression

    def forward(self, dt: float, source_amplitudes=None, source_locations=None, receiver_locations=None,
                bg_receiver_locations=None, *args, **kwargs):
        """Calls :func:`scalar_born` with the stored models; positional
        arguments after ``bg_receiver_locations`` follow its order, and the
        storage options default to the module's."""
        kwargs = common.positional_kwargs(scalar_born, "bg_receiver_locations", args, kwargs, "python_backend")
        for name in ("storage_mode", "storage_path", "storage_compression"):
            kwargs.setdefault(name, getattr(self, name))
        return scalar_born(
            self.v, self.scatter, self.grid_spacing, dt, source_amplitudes, source_locations, receiver_locations,
            bg_receiver_locations, **kwargs, _hooks=self._hook_run(),
        )
