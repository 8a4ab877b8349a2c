"""Imaging conditions of your own: a formula of the forward and adjoint
wavefields that replaces a propagator module's model gradient, or makes an
image.

Every propagator module (:class:`torchwave.Scalar`,
:class:`torchwave.MaxwellTM`) has::

    prop.register_gradient(name, fn, mode="gradient", imaging_type=None)
    prop.clear_gradients()
    prop.imaging(*args, observed=None, adjoint_source=None, **kwargs)

``fn(forward, adjoint, models, dt, dh)`` is called once per internal time
step t = 0 .. nt_internal − 1. ``forward[k]`` is field ``k`` (a name from
``prop.wavefield_names``) as the propagator holds it at the start of step t
(t = 0: the initial state) and ``adjoint[k]`` is ∂loss/∂forward[k], the
gradient autograd delivers for that tensor. Both are [n_shots, ny, nx] on
the model's region of the simulated grid (no PML, no halo). ``models`` are
the module's models (``prop.model_names``), detached and cut to the same
region; ``dt`` is the internal time step and ``dh`` the grid spacing
(dy, dx). The sum of fn over t is the image for parameter ``name``.

In ``mode="gradient"`` that sum becomes the parameter's gradient in
``loss.backward()`` in place of what autograd would have computed through
the propagator; in ``mode="imaging"`` it is only returned by
``prop.imaging(...)``. See docs/hooks.md.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, cast

import torch

from . import _common as common
from . import _storage as storage

__all__ = ["HookedPropagator", "laplacian", "standard_imaging_condition"]

MODES = ("gradient", "imaging")


def laplacian(field: torch.Tensor, dh: Union[float, Sequence[float]], accuracy: int = 4) -> torch.Tensor:
    """Finite-difference Laplacian of ``field`` [..., ny, nx] (or, given
    ``dh`` as one spacing per dimension, over the last ``len(dh)``
    dimensions: [..., nx] in 1D, [..., nz, ny, nx] in 3D) with central
    differences of order ``accuracy`` (2, 4, 6 or 8) and grid spacing ``dh``
    (one number: 2D).

    It is zero on the border of ``accuracy // 2`` cells where the stencil
    would reach outside the field: a hook's fields end at the model's edge
    but the wave does not, so a difference across the edge would be
    spurious.
    """
    ndim = len(dh) if isinstance(dh, (list, tuple)) else 2
    if not isinstance(field, torch.Tensor) or field.ndim < ndim:
        raise TypeError(f"field must be a torch.Tensor of at least {ndim} dimensions")
    spacing = common.grid_spacing_nd(dh, ndim)
    accuracy = common.accuracy_of(accuracy)
    h = accuracy // 2
    centre, weights = common.second_derivative_weights(accuracy)
    shape = field.shape[field.ndim - ndim :]
    if any(n <= 2 * h for n in shape):
        return torch.zeros_like(field)

    def shifted(axis: int, k: int) -> tuple:
        # The interior, moved k cells along one axis.
        return (..., *(slice(h + k, n - h + k) if j == axis else slice(h, n - h) for j, n in enumerate(shape)))

    inner = field[shifted(0, 0)] * sum(centre / d**2 for d in spacing)
    for k, w in enumerate(weights, 1):
        for axis, d in enumerate(spacing):
            inner.add_(field[shifted(axis, k)] + field[shifted(axis, -k)], alpha=w / d**2)
    return torch.nn.functional.pad(inner, [h] * (2 * ndim))


def standard_imaging_condition(
    forward: Dict[str, torch.Tensor],
    adjoint: Dict[str, torch.Tensor],
    models: List[torch.Tensor],
    dt: float,
    dh: Tuple[float, float],
    accuracy: int = 4,
) -> torch.Tensor:
    """The acoustic imaging condition 2·dt²·v·∇²u·λ, for
    ``Scalar.register_gradient("v", standard_imaging_condition)``.

    The scalar scheme is u⁺ = v²dt²∇²u + 2u − u⁻, so ∂loss/∂v is
    Σₜ 2·dt²·v·∇²uₜ·λₜ₊₁; pairing uₜ with λₜ, as a hook sees them, shifts
    the adjoint by one step (a cosine of about 0.99 with the exact
    gradient in the model's interior at 10 Hz and dt = 2 ms). Pass
    ``functools.partial(standard_imaging_condition, accuracy=8)`` to match
    a propagator run with another ``accuracy``.
    """
    image = laplacian(forward["wavefield"], dh, accuracy)
    return image.mul_(adjoint["wavefield"]).mul_(models[0]).mul_(2 * dt**2)


@dataclasses.dataclass(frozen=True)
class _Hook:
    name: str
    fn: Callable
    mode: str
    fields: Tuple[str, ...]


class HookedPropagator:
    """Mixin giving an ``nn.Module`` propagator ``register_gradient``,
    ``clear_gradients`` and ``imaging``.

    The module sets the class attributes ``_wavefield_names``,
    ``_source_type``, ``_receiver_type`` and ``model_names`` (the
    parameters hooks may be registered for, also attributes of the module)
    and passes ``_hooks=self._hook_run()`` to its propagator function,
    which calls :meth:`HookRun.bind` with its models and the rest of the
    HookRun protocol along its forward and backward passes.
    """

    _wavefield_names: Tuple[str, ...] = ()
    _source_type: Tuple[str, ...] = ()
    _receiver_type: Tuple[str, ...] = ()
    model_names: Tuple[str, ...] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._imaging_hooks: Dict[str, _Hook] = {}
        self._imaging_run: Optional[HookRun] = None

    @property
    def wavefield_names(self) -> List[str]:
        """The fields ``imaging_type`` may name."""
        return list(self._wavefield_names)

    @property
    def source_type(self) -> List[str]:
        """The fields the sources are injected into."""
        return list(self._source_type)

    @property
    def receiver_type(self) -> List[str]:
        """The fields the receivers record."""
        return list(self._receiver_type)

    def register_gradient(
        self,
        name: str,
        fn: Callable,
        mode: str = "gradient",
        imaging_type: Optional[Sequence[str]] = None,
    ) -> None:
        """Registers ``fn(forward, adjoint, models, dt, dh)`` for parameter
        ``name``, replacing an earlier hook for it.

        Args:
            name: one of ``model_names``.
            fn: called once per internal time step; returns the step's
                contribution to the image, [ny, nx] or [n_shots, ny, nx].
            mode: "gradient": in ``loss.backward()`` the image is the
                parameter's gradient from the propagator, in place of
                autograd's; "imaging": the image is only returned by
                :meth:`imaging`.
            imaging_type: the fields ``forward`` and ``adjoint`` hold, a
                subset of ``wavefield_names`` (default
                ``[source_type[0]]``).
        """
        if not isinstance(name, str) or name not in self.model_names:
            raise ValueError(f"unknown parameter {name!r}; {type(self).__name__}'s parameters are {list(self.model_names)}")
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if mode not in MODES:
            raise ValueError(f"mode must be 'gradient' or 'imaging', got {mode!r}")
        if imaging_type is None:
            imaging_type = [self._source_type[0]]
        elif isinstance(imaging_type, str):
            imaging_type = [imaging_type]
        if not isinstance(imaging_type, (list, tuple)) or not imaging_type:
            raise TypeError(f"imaging_type must be a non-empty list of wavefield names, got {imaging_type!r}")
        for k in imaging_type:
            if k not in self._wavefield_names:
                raise ValueError(
                    f"unknown wavefield {k!r} in imaging_type; {type(self).__name__}'s wavefields are "
                    f"{list(self._wavefield_names)}"
                )
        fields = tuple(k for k in self._wavefield_names if k in imaging_type)
        self._imaging_hooks[name] = _Hook(name, fn, mode, fields)

    def clear_gradients(self) -> None:
        """Removes every registered hook: plain autograd gradients again."""
        self._imaging_hooks.clear()

    def imaging(self, *args, observed: Optional[torch.Tensor] = None, adjoint_source: Optional[torch.Tensor] = None, **kwargs):
        """Runs the module forward with ``args`` and ``kwargs``, then the
        reverse pass from its receiver data ``pred`` with the adjoint
        source ``adjoint_source``, else ``pred − observed``, else ``pred``,
        and returns ``{name: image}`` of the hooks registered with
        ``mode="imaging"``. No ``.grad`` is changed."""
        hooks = [h for h in self._imaging_hooks.values() if h.mode == "imaging"]
        if not hooks:
            raise RuntimeError("imaging() needs a hook registered with mode='imaging' (see register_gradient)")
        run = HookRun(hooks, imaging=True)
        self._imaging_run = run
        try:
            with torch.enable_grad():
                outputs = self(*args, **kwargs)  # type: ignore[operator]  # mixed into an nn.Module
        finally:
            self._imaging_run = None
        pred = outputs[-1]
        if adjoint_source is not None:
            adjoint = _like("adjoint_source", adjoint_source, pred)
        elif observed is not None:
            adjoint = pred.detach() - _like("observed", observed, pred)
        else:
            adjoint = pred.detach()
        torch.autograd.grad(pred, run.inputs, grad_outputs=adjoint)
        return run.images

    def _hook_run(self) -> Optional[HookRun]:
        """The hooks the next propagation should run, or None."""
        if self._imaging_run is not None:
            return self._imaging_run
        hooks = [h for h in self._imaging_hooks.values() if h.mode == "gradient"]
        if not hooks or not torch.is_grad_enabled():
            return None
        return HookRun(hooks, imaging=False)


def _like(name: str, t, pred: torch.Tensor) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.shape != pred.shape:
        raise ValueError(f"{name} must have the receiver data's shape {tuple(pred.shape)}, got {tuple(t.shape)}")
    if t.dtype != pred.dtype or t.device != pred.device:
        raise TypeError(f"{name} must be {pred.dtype} on {pred.device} like the receiver data, got {t.dtype} on {t.device}")
    return t.detach()


class HookRun:
    """The hooks of one propagation and the images they accumulate.

    A propagator function uses it in this order: ``bind`` (which models it
    replaces or whether it images), ``begin`` (the grid), then per forward
    step ``forward_step`` with the requested fields and per backward step
    ``adjoint_step`` with their adjoints, and ``finish`` for the gradients
    of ``inputs``. Without a backward of its own (the pure-PyTorch path),
    ``attach`` and ``watch`` do the last three through autograd.
    """

    def __init__(self, hooks: Sequence[_Hook], imaging: bool):
        self.hooks = list(hooks)
        self.imaging = imaging
        self.images: Dict[str, torch.Tensor] = {}

    def bind(self, models: Dict[str, torch.Tensor]) -> Optional[HookRun]:
        """Takes the propagator's models (name: tensor, as given); returns
        self, or None when no hook acts on this call (a gradient-mode hook
        only acts when its parameter requires grad)."""
        if not self.imaging:
            self.hooks = [h for h in self.hooks if models[h.name].requires_grad]
            if not self.hooks:
                return None
        self.model_list = list(models.values())
        self.model_names = list(models)
        ref = self.model_list[0]
        if self.imaging:
            # A private leaf for autograd.grad to aim at: the reverse pass
            # runs without leaving anything in any .grad.
            self.inputs: Tuple[torch.Tensor, ...] = (torch.zeros((), dtype=ref.dtype, device=ref.device, requires_grad=True),)
        else:
            self.inputs = tuple(models[h.name] for h in self.hooks)
        self.fields = tuple(dict.fromkeys(k for h in self.hooks for k in h.fields))
        return self

    def replaces(self, name: str) -> bool:
        """Whether the propagator must leave model ``name`` out of its own
        autograd graph (the hooks provide its gradient, or none is wanted)."""
        return self.imaging or any(h.name == name for h in self.hooks)

    def begin(self, *, n_steps: int, n_shots: int, region: Sequence[int], extents: Sequence[int], dt: float, dh) -> None:
        """The grid: ``region`` (start and end per dimension) is the model's
        part of the padded grid, ``extents`` the same cells in model
        coordinates."""
        self.n_steps, self.n_shots = n_steps, n_shots
        self.region, self.extents = tuple(region), tuple(extents)
        self.dt, self.dh = dt, tuple(dh)
        self.models = [m.detach()[common.box(self.extents)] for m in self.model_list]
        ref = self.models[0]
        e = self.extents
        shape = (len(self.fields), n_steps, n_shots, *(e[2 * i + 1] - e[2 * i] for i in range(len(e) // 2)))
        if ref.device.type == "cpu":
            # Reused between calls: first-touch page faults on a fresh
            # buffer cost more than the steps that fill it.
            self.restore((storage.snapshot_pool.take(shape, ref.dtype),))
        else:
            self.restore((torch.empty(shape, dtype=ref.dtype, device=ref.device),))
        self._sums: Dict[str, torch.Tensor] = {}
        self._pending: Dict[int, Dict[str, torch.Tensor]] = {}
        self._seen: Set[int] = set()

    def crop(self, field: torch.Tensor) -> torch.Tensor:
        return field[common.box(self.region)]

    def forward_step(self, t: int, fields: Dict[str, torch.Tensor]) -> None:
        """Keeps the requested fields (padded grid) at the start of step t."""
        for k in self.fields:
            self.forward[k][t].copy_(self.crop(fields[k].detach()))

    def saved(self) -> Tuple[torch.Tensor, ...]:
        """Hands the kept forward fields over to an autograd Function's
        ``save_for_backward``, so that they go when the graph's saved
        tensors go (after the backward pass unless it is retained)."""
        kept = (cast(torch.Tensor, self._store),)
        self.release()
        return kept

    def restore(self, kept: Sequence[torch.Tensor]) -> None:
        """Takes back what ``saved`` gave, for the backward pass."""
        # The per-field views must not outlive ``_store``: a pooled buffer
        # goes back to the pool when that tensor object dies.
        (store,) = kept
        self._store: Optional[torch.Tensor] = store
        self.forward = {k: store[i] for i, k in enumerate(self.fields)}

    def release(self) -> None:
        """Drops the references to the kept forward fields."""
        self._store = None
        self.forward = {}

    def adjoint_step(self, t: int, adjoint: Dict[str, torch.Tensor]) -> None:
        """Calls every hook at step t with ∂loss/∂field (model region)."""
        self._seen.add(t)
        for hook in self.hooks:
            fwd = {k: self.forward[k][t] for k in hook.fields}
            adj = {k: adjoint[k] for k in hook.fields}
            out = hook.fn(fwd, adj, list(self.models), self.dt, self.dh)
            self._accumulate(hook, out)

    def _accumulate(self, hook: _Hook, out) -> None:
        model = self.models[self.model_names.index(hook.name)]
        ndim = len(self.region) // 2
        region = tuple(model.shape[model.ndim - ndim :])
        allowed = [(self.n_shots, *region)] if model.ndim > ndim else [region, (self.n_shots, *region)]
        expected = " or ".join(str(list(s)) for s in allowed)
        what = f"the {hook.mode}-mode hook for {hook.name!r}"
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"{what} returned {type(out).__name__}; expected a tensor of shape {expected}")
        if out.dtype != model.dtype or out.device != model.device:
            raise TypeError(
                f"{what} returned a {out.dtype} tensor on {out.device}; expected {model.dtype} on {model.device}, like {hook.name}"
            )
        if tuple(out.shape) not in allowed:
            raise ValueError(f"{what} returned a tensor of shape {list(out.shape)}; expected {expected}")
        out = out.detach()
        if model.ndim == ndim and out.ndim == ndim + 1:
            out = out.sum(dim=0)
        if hook.name in self._sums:
            self._sums[hook.name] += out
        else:
            self._sums[hook.name] = out.clone()

    def finish(self) -> Tuple[torch.Tensor, ...]:
        """The gradients of ``inputs``: the images in gradient mode (zero
        where the simulated region leaves the model), a zero for the
        imaging leaf, whose images go to ``images``. Resets the sums, so a
        retained graph's second backward pass starts afresh."""
        for t in range(self.n_steps - 1, -1, -1):
            # Steps no gradient reached (pure-PyTorch path only).
            if t not in self._seen:
                got = self._pending.pop(t, {})
                self.adjoint_step(t, {k: got.get(k, torch.zeros_like(self.forward[k][t])) for k in self.fields})
        self._seen = set()
        images = {}
        for hook in self.hooks:
            model = self.model_list[self.model_names.index(hook.name)]
            total = self._sums.get(hook.name)
            full = torch.zeros(model.shape, dtype=model.dtype, device=model.device)
            if total is not None:
                full[common.box(self.extents)] = total
            images[hook.name] = full
        self._sums = {}
        if self.imaging:
            self.images = images
            return (torch.zeros_like(self.inputs[0]),)
        return tuple(images[h.name] for h in self.hooks)

    # The pure-PyTorch path: autograd delivers the adjoints.

    def attach(self, fields: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """The initial fields, passed through a node whose backward runs
        after every step's and hands ``finish()`` to ``inputs``."""
        return list(_Finish.apply(self, len(self.inputs), *self.inputs, *fields))

    def watch(self, t: int, fields: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``forward_step``, plus tensor hooks that collect the fields'
        gradients and call ``adjoint_step`` once all of step t's are in.
        Step t must take the returned fields: views of the given ones, used
        by no earlier step, so that their gradients are those of the state
        going into step t."""
        self.forward_step(t, fields)
        fields = dict(fields)
        for k in self.fields:
            fields[k] = fields[k].view_as(fields[k])
            fields[k].register_hook(functools.partial(self._arrive, t, k))
        return fields

    def _arrive(self, t: int, k: str, grad: torch.Tensor) -> None:
        got = self._pending.setdefault(t, {})
        got[k] = self.crop(grad).clone()
        if len(got) == len(self.fields):
            self.adjoint_step(t, self._pending.pop(t))


class _Finish(torch.autograd.Function):
    """Identity on the initial fields; its backward, the last of the
    propagation's, returns the hooks' results as the inputs' gradients."""

    @staticmethod
    def forward(ctx, run: HookRun, n_inputs: int, *tensors):
        ctx.run = run
        ctx.set_materialize_grads(False)
        return tuple(f.clone() for f in tensors[n_inputs:])

    @staticmethod
    def backward(ctx, *grads):
        return (None, None, *ctx.run.finish(), *grads)
