"""The layer every propagator shares: what a callback sees, the chunks of
time steps between Go calls, and the hand-over of the wavefield history
to autograd's saved tensors.

Propagators (scalar, scalar_born, maxwelltm) import this module; none
imports another propagator's module for these.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from . import _storage as storage

__all__ = ["CallbackState", "empty_cache", "chunks", "save_for_backward", "restored"]


class CallbackState:
    """What a forward or backward callback sees at a step.

    ``step`` is the user time step; ``dt`` the internal time step. Fields are
    on the padded grid; ``get_wavefield(name, view)`` returns the "inner"
    (model region), "pml" (model and PML) or "full" (also the halo) part.
    In the backward pass the wavefields are the adjoint fields and
    ``get_gradient("v")`` the model gradient accumulated so far; as in
    Deepwave, editing it in place changes the gradient (the accumulation
    of later steps adds to the edited values). In the forward pass the
    wavefields are the working fields themselves; in the backward pass
    ``wavefield_0``/``wavefield_m1`` are computed copies (the Go core keeps
    the adjoint scaled by v²dt²), so editing those has no effect.
    """

    def __init__(self, dt, step, wavefields, models, gradients, fd_pad, pml_width):
        self.dt = dt
        self.step = step
        self._wavefields = wavefields
        self._models = models
        self._gradients = gradients
        self._fd_pad = fd_pad
        self._pml_width = pml_width

    @property
    def wavefields(self) -> Dict[str, torch.Tensor]:
        return {k: self.get_wavefield(k) for k in self._wavefields}

    def get_wavefield(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._wavefields:
            raise KeyError(f"unknown wavefield {name!r}; available: {sorted(self._wavefields)}")
        return self._view(self._wavefields[name], view)

    def get_model(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._models:
            raise KeyError(f"unknown model {name!r}; available: {sorted(self._models)}")
        return self._view(self._models[name], view)

    def get_gradient(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._gradients:
            raise KeyError(f"no gradient {name!r} here; available: {sorted(self._gradients)}")
        return self._view(self._gradients[name], view)

    def _view(self, x: torch.Tensor, view: str) -> torch.Tensor:
        h = self._fd_pad
        if view == "full":
            return x
        if view == "pml":
            return x[..., h : x.shape[-2] - h, h : x.shape[-1] - h]
        if view == "inner":
            p = self._pml_width
            return x[..., h + p[0] : x.shape[-2] - h - p[1], h + p[2] : x.shape[-1] - h - p[3]]
        raise ValueError(f"view must be 'inner', 'pml' or 'full', got {view!r}")


def empty_cache() -> None:
    """Frees the snapshot buffer torchwave keeps for the next gradient
    computation or imaging-hook run (it is reused while sizes fit, like
    PyTorch's caching allocator on the GPU)."""
    storage.snapshot_pool.clear()


def chunks(setup, callback: Optional[Callable], segment: Optional[int], hooks=None) -> List[Tuple[int, int]]:
    """(start, count) runs of internal steps between callbacks (every
    ``setup.callback_frequency`` user steps) and between the segments of a
    segmented history (``segment`` steps, or None); single steps when
    imaging hooks need every step's fields."""
    every = None if callback is None else setup.callback_frequency * setup.step_ratio
    if hooks is not None:
        every = 1
    return storage.segment_boundaries(setup.nt_inner, every, segment)


def save_for_backward(ctx, tensors: Sequence[torch.Tensor], histories: Sequence, hooks=None) -> None:
    """``ctx.save_for_backward`` of ``tensors``, then every tensor the
    history plans hold, then the imaging hooks' kept fields.

    The plans give their tensors up (see _storage), so the history lives
    exactly as long as autograd's saved tensors, and checkpointing,
    ``saved_tensors_hooks`` and ``save_on_cpu`` act on it too."""
    kept = [t for h in histories for t in h.saved()]
    ctx.histories = list(histories)
    ctx.n_fixed, ctx.n_kept = len(tensors), len(kept)
    ctx.save_for_backward(*tensors, *kept, *(() if hooks is None else hooks.saved()))


@contextlib.contextmanager
def restored(ctx) -> Iterator[Tuple[List[torch.Tensor], List[torch.Tensor]]]:
    """In a backward pass: yields (the tensors given to save_for_backward,
    the hooks' kept fields) with ``ctx.histories`` restored, and releases
    the histories' tensors again afterwards."""
    saved = ctx.saved_tensors
    fixed, kept = list(saved[: ctx.n_fixed]), saved[ctx.n_fixed :]
    tensors = iter(kept[: ctx.n_kept])
    for h in ctx.histories:
        h.restore(tensors)
    try:
        yield fixed, list(kept[ctx.n_kept :])
    finally:
        for h in ctx.histories:
            h.release()
