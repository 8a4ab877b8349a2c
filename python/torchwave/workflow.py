"""Shot bookkeeping for inversions: acquisition layouts, shot batches,
receiver losses, batched gradients and curvature preconditioners.

The split of work follows the usual shape of an inversion script:

* this module owns shot indexing, receiver concatenation, the data misfit
  and mini-batch gradient accumulation;
* :mod:`torchwave.optim` owns the optimiser loop;
* user code owns the model parametrisation (packing, constraints) and
  whatever is experiment-specific inside a batch's loss.

Every function takes and returns torch tensors in torchwave's one layout:
source amplitudes ``[n_shots, n_sources, nt]``, locations
``[n_shots, n, ndim]`` (cell indices, ``(z, y, x)`` order, as many as the
model has dimensions) and receiver data ``[n_shots, n_receivers, nt]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch

__all__ = [
    "Acquisition",
    "acoustic_receiver_index",
    "ShotBatch",
    "backward_shot_batches",
    "block_preconditioner",
    "curvature_preconditioner_block",
    "curvature_preconditioner_diagonal",
    "diagonal_preconditioner",
    "expand_source_amplitude",
    "line_acquisition_2d",
    "receiver_mse_loss",
    "run_shot_batches",
    "split_shots",
    "take_shot_batch",
]

#: Keyword arguments of the propagators that hold one entry per shot and so
#: are sliced per batch by :func:`run_shot_batches` (the Deepwave-style
#: plural names of ``scalar``, the singular names of ``maxwelltm`` and
#: ``acoustic``'s names of each kind of source and receiver).
SHOT_ARGUMENTS = (
    "source_amplitude",
    "source_amplitudes",
    "source_location",
    "source_locations",
    "receiver_location",
    "receiver_locations",
    "bg_receiver_locations",
    *(f"{name}_{kind}" for kind in "pzyx" for name in ("source_amplitudes", "source_locations", "receiver_locations")),
)

#: torchwave.acoustic's kinds of receiver, in the order of its receiver
#: outputs, by the number of dimensions.
_ACOUSTIC_RECEIVERS = {1: ("p", "x"), 2: ("p", "y", "x"), 3: ("p", "z", "y", "x")}


def acoustic_receiver_index(kind: str = "p", ndim: int = 2) -> int:
    """The index, in :func:`torchwave.acoustic`'s outputs, of the receiver
    data of ``kind`` ("p" for pressure, or the velocity component "z"
    (3D), "y" (2D, 3D) or "x") in ``ndim`` dimensions: the
    ``output_index`` to give :func:`run_shot_batches`. The receivers are
    its last outputs, pressure first, so the default ``-1`` of
    :func:`run_shot_batches` is the x velocity."""
    if ndim not in _ACOUSTIC_RECEIVERS:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    kinds = _ACOUSTIC_RECEIVERS[ndim]
    if kind not in kinds:
        raise ValueError(f"kind must be one of {list(kinds)} in {ndim}D, got {kind!r}")
    return kinds.index(kind) - len(kinds)


# Acquisition ---------------------------------------------------------------


def expand_source_amplitude(wavelet: torch.Tensor, n_shots: int, n_sources: int = 1) -> torch.Tensor:
    """The same wavelet ``[nt]`` for every source of every shot:
    ``[n_shots, n_sources, nt]`` (a contiguous copy, so it can be scaled
    or edited per shot)."""
    if not isinstance(wavelet, torch.Tensor):
        raise TypeError(f"wavelet must be a torch.Tensor, got {type(wavelet).__name__}")
    if wavelet.ndim != 1:
        raise ValueError(f"wavelet must be 1-D [nt], got shape {tuple(wavelet.shape)}")
    n_shots = _positive_int("n_shots", n_shots)
    n_sources = _positive_int("n_sources", n_sources)
    return wavelet.reshape(1, 1, -1).expand(n_shots, n_sources, -1).contiguous()


@dataclass
class Acquisition:
    """Source and receiver cells of a survey, ``[n_shots, n, 2]`` each."""

    source_location: torch.Tensor
    receiver_location: torch.Tensor

    @property
    def n_shots(self) -> int:
        return self.source_location.shape[0]

    # The Deepwave-style plural names, so either spelling reads naturally.
    @property
    def source_locations(self) -> torch.Tensor:
        return self.source_location

    @property
    def receiver_locations(self) -> torch.Tensor:
        return self.receiver_location


def line_acquisition_2d(
    source_x,
    receiver_x,
    *,
    source_depth: int,
    receiver_depth: Optional[int] = None,
    receiver_mode: str = "shared",
) -> Acquisition:
    """A line survey: one source per shot at ``(source_depth, source_x[i])``.

    ``receiver_mode="shared"``: every shot records at all of ``receiver_x``
    (a fixed spread). ``receiver_mode="paired"``: shot ``i`` records at
    ``receiver_x[i]`` alone (common-offset or zero-offset profiling, as in
    GPR), so ``receiver_x`` has one entry per shot. ``receiver_depth``
    defaults to ``source_depth``. Positions are cell indices; the result is
    on ``source_x``'s device.
    """
    source_x = _index_vector("source_x", source_x)
    receiver_x = _index_vector("receiver_x", receiver_x, device=source_x.device)
    source_depth = _nonnegative_int("source_depth", source_depth)
    receiver_depth = source_depth if receiver_depth is None else _nonnegative_int("receiver_depth", receiver_depth)
    n_shots = source_x.numel()
    sources = torch.stack([torch.full_like(source_x, source_depth), source_x], dim=-1)[:, None, :]
    if receiver_mode == "shared":
        line = torch.stack([torch.full_like(receiver_x, receiver_depth), receiver_x], dim=-1)
        receivers = line[None].expand(n_shots, -1, -1).contiguous()
    elif receiver_mode == "paired":
        if receiver_x.numel() != n_shots:
            raise ValueError(
                f'receiver_mode="paired" needs one receiver_x per shot: got {receiver_x.numel()} '
                f"receiver positions for {n_shots} sources"
            )
        receivers = torch.stack([torch.full_like(receiver_x, receiver_depth), receiver_x], dim=-1)[:, None, :]
    else:
        raise ValueError(f'receiver_mode must be "shared" or "paired", got {receiver_mode!r}')
    return Acquisition(sources.contiguous(), receivers)


# Shot batches --------------------------------------------------------------


def split_shots(
    n_shots: int,
    batch_size: int,
    device: Union[torch.device, str, None] = None,
    *,
    shuffle: bool = False,
    generator: Optional[torch.Generator] = None,
) -> List[torch.Tensor]:
    """Shot indices ``0 .. n_shots-1`` in batches of at most ``batch_size``
    (a list of 1-D long tensors; the last may be shorter). ``shuffle``
    draws a random order first (from ``generator`` if given)."""
    n_shots = _positive_int("n_shots", n_shots)
    batch_size = _positive_int("batch_size", batch_size)
    order = torch.randperm(n_shots, generator=generator) if shuffle else torch.arange(n_shots)
    return [batch.to(device) for batch in order.split(batch_size)]


class ShotBatch:
    """The per-shot tensors of one batch, as attributes named after the
    keyword arguments given to :func:`take_shot_batch`."""

    def __init__(self, shot_indices: torch.Tensor, tensors: Dict[str, Optional[torch.Tensor]]):
        self.shot_indices = shot_indices
        self._names = tuple(tensors)
        for name, value in tensors.items():
            setattr(self, name, value)

    def as_kwargs(self) -> Dict[str, Optional[torch.Tensor]]:
        """The sliced tensors as a dict, to splat into a propagator call."""
        return {name: getattr(self, name) for name in self._names}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{n}={tuple(v.shape) if isinstance(v, torch.Tensor) else v}" for n, v in self.as_kwargs().items())
        return f"ShotBatch(shots={self.shot_indices.tolist()}, {shapes})"


def take_shot_batch(*, shot_indices, **per_shot: Optional[torch.Tensor]) -> ShotBatch:
    """Selects the shots ``shot_indices`` from every per-shot tensor passed
    by keyword (``source_amplitude=..., source_location=...``; any name
    works, ``None`` passes through). Each tensor's first dimension is the
    shot; all must have the same number of shots."""
    shot_indices = _index_vector("shot_indices", shot_indices)
    n_shots = None
    out: Dict[str, Optional[torch.Tensor]] = {}
    for name, value in per_shot.items():
        if value is None:
            out[name] = None
            continue
        if not isinstance(value, torch.Tensor) or value.ndim == 0:
            raise TypeError(f"{name} must be a tensor whose first dimension is the shot")
        if n_shots is None:
            n_shots = value.shape[0]
        elif value.shape[0] != n_shots:
            raise ValueError(f"{name} has {value.shape[0]} shots, but the other per-shot tensors have {n_shots}")
        out[name] = value[_checked_indices(shot_indices, value.shape[0], value.device)]
    return ShotBatch(shot_indices, out)


def run_shot_batches(
    propagator: Callable[..., Any],
    *,
    n_shots: int,
    batch_size: int,
    output_index: Optional[int] = None,
    shot_arguments: Sequence[str] = (),
    progress: bool = False,
    **kwargs,
) -> torch.Tensor:
    """Runs ``propagator(**kwargs)`` one batch of shots at a time and
    returns its per-shot output for all the shots, concatenated along the
    shot dimension.

    ``propagator`` may return a tuple (or list), as torchwave's propagators
    do, or a single tensor whose first dimension is the shot. Of a tuple,
    element ``output_index`` is taken, by default the last one (the
    receiver data of ``scalar``, ``scalar_born`` and ``maxwelltm``; for
    ``acoustic``, :func:`acoustic_receiver_index` gives that of each kind
    of receiver); a
    single tensor is taken whole, and ``output_index`` must then be left
    as ``None``.

    The per-shot keyword arguments (source amplitudes, source and receiver
    locations under any propagator's spelling, :data:`SHOT_ARGUMENTS`, plus
    any named in ``shot_arguments``,
    e.g. a per-shot model) are sliced for each batch; the others are passed
    unchanged. Meant for forward-only work (observed data, diagnostics):
    run it under ``torch.no_grad()`` unless the graph of every batch is
    wanted at once; inside an objective use :func:`backward_shot_batches`.
    Without ``max_vel`` in ``kwargs`` a torchwave propagator takes it from
    the model each batch sees (with ``survey_pad``, the batch's region, and
    with a per-shot model, the batch's shots), so pass ``max_vel`` for the
    batches to share one time step and one PML profile.
    """
    n_shots = _positive_int("n_shots", n_shots)
    if output_index is not None and (isinstance(output_index, bool) or not isinstance(output_index, int)):
        raise TypeError(f"output_index must be an int or None, got {output_index!r}")
    names = [n for n in (*SHOT_ARGUMENTS, *shot_arguments) if kwargs.get(n) is not None]
    for name in names:
        value = kwargs[name]
        if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != n_shots:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{name} must have n_shots={n_shots} entries in its first dimension, got {shape}")
    batches = split_shots(n_shots, batch_size)
    outputs = []
    for shots in _progress(batches, progress, "shot batches"):
        call = dict(kwargs)
        call.update({name: kwargs[name][shots.to(kwargs[name].device)] for name in names})
        outputs.append(_per_shot_output(propagator(**call), output_index, len(shots)))
    return torch.cat(outputs, dim=0)


def _per_shot_output(output, output_index: Optional[int], n_batch: int) -> torch.Tensor:
    """The per-shot tensor of one batch's propagator output: the output
    itself if it is a tensor, else its element ``output_index`` (default
    the last)."""
    if isinstance(output, torch.Tensor):
        if output_index is not None:
            raise TypeError(
                f"output_index={output_index} selects an element of a tuple output, but the propagator "
                "returned a single tensor; leave output_index as None to take it whole"
            )
        selected = output
    elif isinstance(output, (tuple, list)):
        if not output:
            raise ValueError("the propagator returned an empty sequence")
        index = -1 if output_index is None else output_index
        if not -len(output) <= index < len(output):
            raise IndexError(f"output_index={index} is out of range for the propagator's {len(output)} outputs")
        selected = output[index]
        if not isinstance(selected, torch.Tensor):
            raise TypeError(f"output {index} of the propagator is a {type(selected).__name__}, not a tensor")
    else:
        raise TypeError(f"the propagator must return a tensor or a tuple of tensors, got {type(output).__name__}")
    if selected.ndim == 0 or selected.shape[0] != n_batch:
        raise ValueError(
            f"the propagator's output has shape {tuple(selected.shape)} for a batch of {n_batch} shots; "
            "its first dimension must be the shot"
        )
    return selected


def backward_shot_batches(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[torch.Tensor],
    *,
    zero_each_batch: bool = False,
    after_backward: Optional[Callable[[int, torch.Tensor, torch.Tensor], None]] = None,
    parameters: Optional[Sequence[torch.Tensor]] = None,
    progress: bool = False,
) -> float:
    """Calls ``loss_fn(shot_indices)`` for each batch and back-propagates
    each batch's loss before building the next graph, so only one batch's
    graph (and wavefield storage) is alive at a time. Returns the total
    loss as a float. Gradients accumulate into ``.grad`` as usual: with a
    loss whose batch terms sum to the full loss (e.g.
    :func:`receiver_mse_loss` with ``normalization="all"`` or ``"sum"``),
    the result equals one backward over all the shots.

    ``after_backward(batch_number, shot_indices, loss)`` runs after each
    batch's backward. With ``zero_each_batch=True`` the leaf tensors'
    ``.grad`` hold only the current batch's gradient while it runs (to
    build per-batch curvature, e.g. a sum of squared gradients); the
    batches' sum is restored into ``.grad`` at the end, so the objective's
    gradient is the same either way. The leaves are ``parameters`` if
    given, else every leaf that requires grad in the first batch's graph.
    """
    if after_backward is not None and not callable(after_backward):
        raise TypeError("after_backward must be callable")
    total = 0.0
    leaves: Optional[List[torch.Tensor]] = list(parameters) if parameters is not None else None
    sums: Dict[int, Optional[torch.Tensor]] = {}
    n_batches = 0
    for number, shots in enumerate(_progress(batches, progress, "shot batches")):
        n_batches += 1
        loss = loss_fn(shots)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__}")
        if zero_each_batch:
            if leaves is None:
                leaves = _graph_leaves(loss)
            for leaf in leaves:
                if leaf.grad is not None:  # stash what has accumulated so far
                    stashed = sums.get(id(leaf))
                    sums[id(leaf)] = leaf.grad if stashed is None else stashed + leaf.grad
                leaf.grad = None
        loss.backward()
        total += float(loss.detach())
        if after_backward is not None:
            after_backward(number, shots, loss.detach())
    if n_batches == 0:
        raise ValueError("batches is empty")
    if zero_each_batch and leaves:
        for leaf in leaves:
            stashed = sums.get(id(leaf))
            if stashed is not None:
                leaf.grad = stashed if leaf.grad is None else stashed + leaf.grad
    return total


def receiver_mse_loss(
    predicted: torch.Tensor,
    observed: torch.Tensor,
    shot_indices=None,
    normalization: str = "batch",
) -> torch.Tensor:
    """Mean squared receiver misfit of one batch of shots.

    ``observed`` holds every shot (``[n_shots, n_receivers, nt]``) and
    ``shot_indices`` picks the batch's rows; with ``shot_indices=None`` it
    must already match ``predicted``. ``normalization``:

    * ``"batch"``: the mean over the batch's samples;
    * ``"all"``: the batch's squared error divided by the number of samples
      of *all* shots, so the batch losses sum to the full-data MSE and their
      gradients to the full-data gradient;
    * ``"sum"``: the plain sum of squared errors.
    """
    if not isinstance(predicted, torch.Tensor) or not isinstance(observed, torch.Tensor):
        raise TypeError("predicted and observed must be torch tensors")
    if shot_indices is None:
        batch_observed = observed
    else:
        shot_indices = _index_vector("shot_indices", shot_indices)
        batch_observed = observed[_checked_indices(shot_indices, observed.shape[0], observed.device)]
    if batch_observed.shape != predicted.shape:
        raise ValueError(
            f"predicted has shape {tuple(predicted.shape)} but the observed data of its shots have shape "
            f"{tuple(batch_observed.shape)}"
        )
    squared = (predicted - batch_observed.to(predicted.dtype)).square().sum()
    if normalization == "batch":
        return squared / max(predicted.numel(), 1)
    if normalization == "all":
        return squared / max(observed.numel(), 1)
    if normalization == "sum":
        return squared
    raise ValueError(f'normalization must be "batch", "all" or "sum", got {normalization!r}')


# Preconditioners -----------------------------------------------------------


def curvature_preconditioner_diagonal(
    curvature: torch.Tensor,
    *,
    inactive_mask: Optional[torch.Tensor] = None,
    smooth_sigma: float = 0.0,
    damping: float = 1e-2,
    power: float = 1.0,
    quantile: float = 0.5,
    clip_min: Optional[float] = None,
    clip_max: Optional[float] = None,
    blend: float = 1.0,
) -> torch.Tensor:
    """Turns a non-negative curvature proxy (a diagonal Hessian estimate, a
    sum of squared per-batch gradients, an illumination map) into a
    diagonal scaling to use as the optimiser's initial inverse Hessian.

    In order: take ``|curvature|``; smooth it with a Gaussian of
    ``smooth_sigma`` cells along each of its dimensions (it has the
    model's shape, 1D, 2D or 3D); divide it by its
    ``quantile`` over the active cells (making it dimensionless, about 1 in
    a typical cell); add ``damping`` (so weakly illuminated cells do not get
    huge steps); raise to ``-power``; divide by the mean over the active
    cells (the optimiser fixes the overall scale, only the shape matters);
    clip to ``[clip_min, clip_max]``; and mix with the identity as
    ``blend·d + (1 − blend)``. Cells where ``inactive_mask`` is true (water,
    air) get the smallest active value: to freeze them, use equal lower and
    upper bounds in the optimiser.

    Returns a positive tensor of ``curvature``'s shape, dtype and device.
    """
    c = _curvature("curvature", curvature).abs()
    active = _active_mask(inactive_mask, c)
    c = _smooth(c, smooth_sigma)
    c = c / _quantile_scale(c, active, quantile)
    d = (c + _nonnegative_float("damping", damping)).pow(-_positive_float("power", power))
    d = _post_process(d, active, clip_min, clip_max, blend)
    return d.to(curvature.dtype)


def curvature_preconditioner_block(
    c11: torch.Tensor,
    c12: torch.Tensor,
    c22: torch.Tensor,
    *,
    inactive_mask: Optional[torch.Tensor] = None,
    smooth_sigma: float = 0.0,
    damping: float = 1e-2,
    power: float = 1.0,
    quantile: float = 0.5,
    clip_min: Optional[float] = None,
    clip_max: Optional[float] = None,
    blend: float = 1.0,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two-parameter form of :func:`curvature_preconditioner_diagonal`:
    per cell a symmetric 2×2 curvature ``C = [[c11, c12], [c12, c22]]``
    (e.g. sums of ``g1²``, ``g1·g2`` and ``g2²`` over batches) becomes a
    symmetric positive-definite 2×2 block ``H`` of the initial inverse
    Hessian, returned as ``(h11, h12, h22)``.

    Each parameter is made dimensionless by the ``quantile`` of its own
    curvature, ``C̃ = S^-½ C S^-½``; then ``H̃ = (C̃ + damping·I)^-power``
    through the 2×2 eigen-decomposition, with its eigenvalues (divided by
    their mean over the active cells) clipped to ``[clip_min, clip_max]``
    and mixed with the identity by ``blend``; finally the units come back,
    ``H = S^-power/2 H̃ S^-power/2``. With ``power=1`` and no clipping or
    blending, ``H`` is proportional to ``(C + damping·S)^-1``: the coupling
    between the parameters, which a diagonal scaling cannot express, is
    kept.
    """
    c11 = _curvature("c11", c11)
    c12 = _curvature("c12", c12)
    c22 = _curvature("c22", c22)
    if not (c11.shape == c12.shape == c22.shape):
        raise ValueError(f"c11, c12 and c22 must have one shape, got {tuple(c11.shape)}, {tuple(c12.shape)}, {tuple(c22.shape)}")
    power = _positive_float("power", power)
    damping = _nonnegative_float("damping", damping)
    active = _active_mask(inactive_mask, c11)
    a, b, d = _smooth(c11.abs(), smooth_sigma), _smooth(c12, smooth_sigma), _smooth(c22.abs(), smooth_sigma)
    s1, s2 = _quantile_scale(a, active, quantile), _quantile_scale(d, active, quantile)
    a, b, d = a / s1, b / math.sqrt(s1 * s2), d / s2
    # Closed-form eigen-decomposition of [[a, b], [b, d]]; the cap on |b|
    # keeps a curvature estimate that is not quite semi-definite usable.
    b = b.clamp(-torch.sqrt(a * d), torch.sqrt(a * d))
    half_trace, half_gap = (a + d) / 2, torch.sqrt(((a - d) / 2).square() + b.square())
    lam1, lam2 = half_trace + half_gap, half_trace - half_gap
    theta = 0.5 * torch.atan2(2 * b, a - d)  # eigenvector of lam1: (cos θ, sin θ)
    cos, sin = torch.cos(theta), torch.sin(theta)
    mu1, mu2 = (lam1 + damping).pow(-power), (lam2.clamp_min(0) + damping).pow(-power)
    scale = ((mu1 + mu2) / 2)[active].mean()
    mu1, mu2 = (
        _post_process(mu1, active, clip_min, clip_max, blend, scale),
        _post_process(mu2, active, clip_min, clip_max, blend, scale),
    )
    h11 = mu1 * cos * cos + mu2 * sin * sin
    h12 = (mu1 - mu2) * cos * sin
    h22 = mu1 * sin * sin + mu2 * cos * cos
    u1, u2 = s1 ** (-power / 2), s2 ** (-power / 2)
    dtype = c11.dtype
    return (h11 * u1 * u1).to(dtype), (h12 * u1 * u2).to(dtype), (h22 * u2 * u2).to(dtype)


def diagonal_preconditioner(diagonal: torch.Tensor):
    """An initial inverse Hessian ``diag(diagonal)`` for
    :func:`torchwave.optim.lbfgs_minimize`; ``diagonal`` is flattened in
    the order the optimiser's vector packs the model."""
    from .optim import DiagonalPreconditioner

    return DiagonalPreconditioner(_as_flat("diagonal", diagonal))


def block_preconditioner(h11: torch.Tensor, h12: torch.Tensor, h22: torch.Tensor):
    """An initial inverse Hessian of 2×2 blocks for a two-parameter model
    packed as ``x = [p1.ravel(), p2.ravel()]``: block ``i`` couples
    ``x[i]`` and ``x[m + i]`` (``m`` cells). The output of
    :func:`curvature_preconditioner_block` goes straight in."""
    from .optim import BlockPreconditioner

    return BlockPreconditioner(_as_flat("h11", h11), _as_flat("h12", h12), _as_flat("h22", h22))


# Helpers -------------------------------------------------------------------


def _progress(items, enabled: bool, what: str):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=what, leave=False)


def _graph_leaves(loss: torch.Tensor) -> List[torch.Tensor]:
    """Every leaf tensor that requires grad in loss's autograd graph."""
    leaves, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        variable = getattr(node, "variable", None)  # AccumulateGrad nodes
        if variable is not None:
            leaves.append(variable)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return leaves


def _positive_int(name: str, x) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 1:
        raise ValueError(f"{name} must be a positive int, got {x!r}")
    return x


def _nonnegative_int(name: str, x) -> int:
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_floating_point():
        x = int(x)
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise ValueError(f"{name} must be a non-negative int (a cell index), got {x!r}")
    return x


def _positive_float(name: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive number, got {x!r}")
    return float(x)


def _nonnegative_float(name: str, x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a non-negative number, got {x!r}")
    return float(x)


def _index_vector(name: str, x, device=None) -> torch.Tensor:
    """A 1-D long tensor of cell or shot indices from a tensor or sequence."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, device=device)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(x.shape)}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    return x.long() if device is None else x.long().to(device)


def _checked_indices(indices: torch.Tensor, n: int, device) -> torch.Tensor:
    if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n):
        raise IndexError(f"shot_indices must lie in [0, {n}), got {indices.tolist()}")
    return indices.to(device)


def _curvature(name: str, c) -> torch.Tensor:
    if not isinstance(c, torch.Tensor) or not c.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    if c.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not bool(torch.isfinite(c).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return c.detach().to(torch.float64)


def _active_mask(inactive_mask, like: torch.Tensor) -> torch.Tensor:
    if inactive_mask is None:
        return torch.ones_like(like, dtype=torch.bool)
    if not isinstance(inactive_mask, torch.Tensor) or inactive_mask.shape != like.shape:
        shape = tuple(inactive_mask.shape) if isinstance(inactive_mask, torch.Tensor) else type(inactive_mask).__name__
        raise ValueError(f"inactive_mask must be a tensor of the curvature's shape {tuple(like.shape)}, got {shape}")
    active = ~inactive_mask.to(device=like.device, dtype=torch.bool)
    if not bool(active.any()):
        raise ValueError("inactive_mask masks every cell")
    return active


def _smooth(c: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing along every dimension, at most three (a model's;
    reflecting edges)."""
    sigma = _nonnegative_float("smooth_sigma", sigma)
    if sigma == 0 or c.ndim == 0:
        return c
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=c.dtype, device=c.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = c
    for dim in range(max(c.ndim - 3, 0), c.ndim):
        out = _convolve_along(out, kernel, dim, radius)
    return out


def _convolve_along(c: torch.Tensor, kernel: torch.Tensor, dim: int, radius: int) -> torch.Tensor:
    moved = c.movedim(dim, -1)
    shape = moved.shape
    rows = moved.reshape(-1, 1, shape[-1])
    mode = "reflect" if shape[-1] > radius else "replicate"
    padded = torch.nn.functional.pad(rows, (radius, radius), mode=mode)
    smoothed = torch.nn.functional.conv1d(padded, kernel.reshape(1, 1, -1))
    return smoothed.reshape(shape).movedim(-1, dim)


def _quantile_scale(c: torch.Tensor, active: torch.Tensor, q: float) -> float:
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
        raise ValueError(f"quantile must lie in (0, 1], got {q!r}")
    scale = float(torch.quantile(c[active], q)) if c[active].numel() <= 16_000_000 else float(c[active].max())
    if scale <= 0:
        scale = float(c[active].max())
    return scale if scale > 0 else 1.0


def _post_process(
    d: torch.Tensor,
    active: torch.Tensor,
    clip_min: Optional[float],
    clip_max: Optional[float],
    blend: float,
    scale: Union[float, torch.Tensor, None] = None,
) -> torch.Tensor:
    """Normalise to mean 1 over the active cells, clip, blend with 1 and
    give inactive cells the smallest active value."""
    d = d / (float(d[active].mean()) if scale is None else scale)
    if clip_min is not None or clip_max is not None:
        lo = None if clip_min is None else _positive_float("clip_min", clip_min)
        hi = None if clip_max is None else _positive_float("clip_max", clip_max)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clip_min ({lo}) must not exceed clip_max ({hi})")
        d = d.clamp(lo, hi)
    if isinstance(blend, bool) or not isinstance(blend, (int, float)) or not 0 <= blend <= 1:
        raise ValueError(f"blend must lie in [0, 1], got {blend!r}")
    d = blend * d + (1 - blend)
    return torch.where(active, d, d[active].min())


def _as_flat(name: str, t) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    return t.detach().reshape(-1)
