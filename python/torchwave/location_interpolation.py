"""Sources and receivers between grid points: Hicks (2002) interpolation.

A point source at a position that is not a cell centre is spread over the
cells around it with Kaiser-windowed sinc weights, one factor per
dimension; a receiver there records the same weighted sum of the cells.
The weights reproduce band-limited fields exactly up to about two thirds
of the spatial Nyquist wavenumber (halfwidth 4), where rounding to the
nearest cell errs by a fraction of a cell in position. Dipoles use the
derivative of the windowed sinc instead. Next to a free surface, the
weights of cells beyond it are mirrored back with the opposite sign (an
image source), so the interpolated point sees the surface's u = 0.

Every propagator applies this automatically to floating-point locations
(:func:`interpolate`, with :data:`DEFAULT_HALFWIDTH`); :class:`Hicks` is the
same interpolation by hand, with Deepwave 0.0.27's interface (in any
number of dimensions, not only two).

Gradients flow through the weights: with respect to the amplitudes, and,
when the locations require a gradient, with respect to the locations too
(the derivative of the windowed sinc; exact for the interpolated survey).
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ._common import IGNORE_LOCATION

__all__ = ["Hicks", "DEFAULT_HALFWIDTH", "hicks_weights", "interpolate"]

#: The halfwidth the propagators use for floating-point locations: a
#: window of 2·4 cells per dimension.
DEFAULT_HALFWIDTH = 4
DEFAULT_EPS = 1e-5
# Kaiser window β per halfwidth 1..10 (Hicks 2002, table 2).
_BETAS = (0.0, 1.84, 3.04, 4.14, 5.26, 6.40, 7.51, 8.56, 9.56, 10.64)


def _check_halfwidth(halfwidth) -> int:
    if isinstance(halfwidth, bool) or not isinstance(halfwidth, int):
        raise TypeError(f"halfwidth must be an int, got {type(halfwidth).__name__}")
    if not 1 <= halfwidth <= 10:
        raise ValueError(f"halfwidth must be in [1, 10], got {halfwidth}")
    return halfwidth


def hicks_weights(
    position: torch.Tensor,
    halfwidth: int = DEFAULT_HALFWIDTH,
    monopole: Union[bool, torch.Tensor] = True,
    free_surface: Sequence[Optional[float]] = (None, None),
    eps: float = DEFAULT_EPS,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The cells and weights of positions along one dimension.

    ``position`` is any-shaped (cells, as floats: 2.5 is half-way between
    cells 2 and 3). Returns (cells, weights), each ``position.shape +
    (2·halfwidth,)``: the window's cell indices (long) and their weights
    (differentiable in ``position``). A monopole within ``eps`` of a cell
    centre, and not requiring a gradient, gets weight 1 on that cell and 0
    elsewhere. ``monopole`` (a bool or a bool tensor of position's shape)
    False gives a dipole along this dimension. ``free_surface`` holds the
    positions (multiples of 0.5) of a free surface before the first and
    after the last cell, or None: window cells beyond one have their weight
    subtracted from their mirror image and set to zero."""
    hw = _check_halfwidth(halfwidth)
    dtype = position.dtype if position.is_floating_point() else torch.float64
    position = position.to(dtype)
    base = torch.floor(position.detach()).long()
    offsets = torch.arange(-hw + 1, hw + 1, device=position.device)
    cells = base[..., None] + offsets
    x = cells.to(dtype) - position[..., None]  # cell minus point, in (-hw, hw]
    beta = _BETAS[hw - 1]
    # clamp: the window's end has sqrt(0), whose derivative is infinite.
    i0_beta = float(torch.special.i0(torch.tensor(beta, dtype=torch.float64)))
    window = torch.special.i0(beta * (1 - (x / hw) ** 2).clamp_min(1e-30).sqrt()) / i0_beta
    mono = torch.sinc(x) * window
    di = (torch.cos(math.pi * x) - torch.sinc(x)) / (x**2 + eps) * x * window
    if isinstance(monopole, torch.Tensor):
        weights = torch.where(monopole.to(torch.bool)[..., None], mono, di)
        is_mono = monopole.to(torch.bool)
    else:
        weights = mono if monopole else di
        is_mono = torch.full(position.shape, bool(monopole), dtype=torch.bool, device=position.device)
    if not position.requires_grad:
        near = ((position - position.round()).abs() < eps) & is_mono
        one_hot = (cells == position.round().long()[..., None]).to(dtype)
        weights = torch.where(near[..., None], one_hot, weights)
    for side, surface in enumerate(free_surface):
        if surface is None:
            continue
        s2 = 2 * float(surface)
        if s2 != round(s2):
            raise ValueError(f"a free surface must lie on a cell or half-way between two, got {surface}")
        beyond = cells < surface if side == 0 else cells > surface
        on = cells == surface  # a surface on a cell: u = 0 there
        mirror = int(round(s2)) - cells
        column = (mirror - cells[..., :1]).clamp(0, 2 * hw - 1)
        moved = torch.where(beyond | on, weights, torch.zeros_like(weights))
        weights = weights.scatter_add(-1, column, -moved)
        weights = torch.where(beyond, torch.zeros_like(weights), weights)
    return cells, weights


class Hicks:
    """Hicks interpolation of points onto a grid, with Deepwave 0.0.27's
    interface, in 1, 2 or 3 dimensions.

    ``Hicks(locations)`` with float locations [shot, n, ndim] (in cells)
    gives, per shot, the cells the points spread over
    (:meth:`get_locations`, long, unique within a shot, padded with
    IGNORE_LOCATION), the amplitudes of those cells' sources from the
    points' (:meth:`source`), and the points' receiver data from the
    cells' (:meth:`receiver`).

    Args:
        locations: [shot, n, ndim] float positions in cells.
        halfwidth: the window spans 2·halfwidth cells per dimension, 1–10.
        free_surfaces: 2·ndim bools, a free surface at the start and the end
            of each dimension (slowest first); needs ``model_shape``.
        free_surface_locs: their positions, default half a cell outside the
            grid (-0.5 and n - 0.5).
        model_shape: the grid's shape, for free surfaces.
        monopole: True (default), False (dipoles), or a [shot, n] bool tensor.
        dipole_dim: the dimension a dipole points along (an int, or [shot, n]).
        dtype: the weights' dtype.
        eps: points closer than this to a cell centre use that cell alone.
    """

    def __init__(
        self,
        locations: torch.Tensor,
        halfwidth: int = DEFAULT_HALFWIDTH,
        free_surfaces: Optional[List[bool]] = None,
        free_surface_locs: Optional[List[float]] = None,
        model_shape: Optional[List[int]] = None,
        monopole: Union[torch.Tensor, bool] = True,
        dipole_dim: Union[torch.Tensor, int] = 0,
        dtype: torch.dtype = torch.float,
        eps: float = DEFAULT_EPS,
    ) -> None:
        if not isinstance(locations, torch.Tensor):
            raise TypeError("locations must be a torch.Tensor.")
        if locations.ndim != 3 or not 1 <= locations.shape[-1] <= 3:
            raise ValueError(f"locations must have shape [shot, n, ndim] with ndim 1, 2 or 3, got {tuple(locations.shape)}")
        if not isinstance(dtype, torch.dtype):
            raise TypeError("dtype must be a torch.dtype.")
        halfwidth = _check_halfwidth(halfwidth)
        ndim = locations.shape[-1]
        if free_surfaces is None:
            free_surfaces = [False] * (2 * ndim)
        if not isinstance(free_surfaces, (list, tuple)) or len(free_surfaces) != 2 * ndim:
            raise ValueError(f"free_surfaces must be a list of {2 * ndim} bools")
        if any(free_surfaces) and model_shape is None and free_surface_locs is None:
            raise ValueError("with free surfaces, give model_shape (or free_surface_locs)")
        if model_shape is not None and (not isinstance(model_shape, (list, tuple)) or len(model_shape) != ndim):
            raise ValueError(f"model_shape must be a list of {ndim} ints")
        if free_surface_locs is None:
            shape = [0] * ndim if model_shape is None else [int(n) for n in model_shape]
            free_surface_locs = [e for n in shape for e in (-0.5, n - 0.5)]
        if len(free_surface_locs) != 2 * ndim:
            raise ValueError(f"free_surface_locs must be a list of {2 * ndim} floats")
        self.locations = locations
        self.ndim = ndim
        shape = tuple(locations.shape[:2])
        mono = monopole if isinstance(monopole, torch.Tensor) else torch.full(shape, bool(monopole))
        dim = dipole_dim if isinstance(dipole_dim, torch.Tensor) else torch.full(shape, int(dipole_dim))
        for name, t in (("monopole", mono), ("dipole_dim", dim)):
            if tuple(t.shape) != shape:
                raise ValueError(f"{name} must have shape [shot, n] = {list(shape)}, got {tuple(t.shape)}")
        mono, dim = mono.to(locations.device, torch.bool), dim.to(locations.device)
        ignored = (locations == IGNORE_LOCATION).all(dim=-1)
        pos = locations.to(dtype)
        if bool(ignored.any()):
            pos = torch.where(ignored[..., None], torch.zeros_like(pos), pos)
        cells, weights = [], []
        for d in range(ndim):
            surfaces = [free_surface_locs[2 * d + k] if free_surfaces[2 * d + k] else None for k in range(2)]
            c, w = hicks_weights(pos[..., d], halfwidth, mono | (dim != d), surfaces, eps)
            cells.append(c)
            weights.append(w)
        self._index, self._weights, self.hicks_locations = _merge(cells, weights, not pos.requires_grad, ignored)

    def get_locations(self, shot_idxs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The cells to give a propagator as source or receiver locations."""
        return self.hicks_locations if shot_idxs is None else self.hicks_locations[shot_idxs]

    def _maps(self, shot_idxs):
        if shot_idxs is None:
            return self._index, self._weights
        return self._index[shot_idxs], self._weights[shot_idxs]

    def source(self, amplitudes: torch.Tensor, shot_idxs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The cells' source amplitudes [shot, cells, nt] from the points'
        [shot, n, nt]."""
        index, weights = self._maps(_check_shots(amplitudes, shot_idxs))
        return spread(amplitudes, index, weights, self.hicks_locations.shape[1])

    def receiver(self, amplitudes: torch.Tensor, shot_idxs: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The points' receiver data [shot, n, nt] from the cells'
        [shot, cells, nt]."""
        index, weights = self._maps(_check_shots(amplitudes, shot_idxs))
        return gather(amplitudes, index, weights)


def _check_shots(amplitudes, shot_idxs):
    if not isinstance(amplitudes, torch.Tensor):
        raise TypeError("amplitudes must be a torch.Tensor.")
    if amplitudes.ndim != 3:
        raise ValueError(f"amplitudes must have shape [shot, n, nt], got {tuple(amplitudes.shape)}")
    if shot_idxs is not None and tuple(shot_idxs.shape) != (amplitudes.shape[0],):
        raise ValueError("shot_idxs must have one entry per shot of amplitudes")
    return shot_idxs


def _merge(cells: List[torch.Tensor], weights: List[torch.Tensor], drop_zeros: bool, ignored: torch.Tensor):
    """The tensor product of per-dimension windows, merged per shot into
    unique cells; ``ignored`` points [shot, n] get none. Returns (index [shot, n, K] into each shot's cells, -1:
    none; weights [shot, n, K]; cells [shot, n_cells, ndim] padded with
    IGNORE_LOCATION)."""
    ndim = len(cells)
    n_shots, n = cells[0].shape[:2]
    # [shot, n, W, W, ...] → [shot, n, K]
    w = weights[0]
    coords = [cells[0]]
    for d in range(1, ndim):
        w = w[..., None] * weights[d].reshape(*weights[d].shape[:2], *([1] * d), -1)
        coords = [c[..., None] for c in coords] + [cells[d].reshape(*cells[d].shape[:2], *([1] * d), -1)]
    shape = w.shape
    w = w.reshape(n_shots, n, -1)
    coords_np = np.stack([np.broadcast_to(c.cpu().numpy(), shape).reshape(n_shots, n, -1) for c in coords], axis=-1)
    keep = np.ones(w.shape, dtype=bool) if not drop_zeros else (w.detach().cpu().numpy() != 0)
    keep &= ~ignored.cpu().numpy()[..., None]
    index = np.full(w.shape, -1, dtype=np.int64)
    uniques = []
    for s in range(n_shots):
        rows = coords_np[s][keep[s]]
        got, inverse = np.unique(rows.reshape(-1, ndim), axis=0, return_inverse=True)
        index[s][keep[s]] = inverse.reshape(-1)
        uniques.append(got)
    n_cells = max((len(u) for u in uniques), default=0)
    out = np.full((n_shots, n_cells, ndim), IGNORE_LOCATION, dtype=np.int64)
    for s, u in enumerate(uniques):
        out[s, : len(u)] = u
    device = weights[0].device
    index_t = torch.from_numpy(index).to(device)
    w = torch.where(index_t >= 0, w, torch.zeros_like(w))
    return index_t, w, torch.from_numpy(out).to(device)


def spread(amplitudes: torch.Tensor, index: torch.Tensor, weights: torch.Tensor, n_cells: int) -> torch.Tensor:
    """out[s, index[s, i, k]] += weights[s, i, k] · amplitudes[s, i], one
    window position at a time (memory of one amplitude array per step)."""
    n_shots, _, nt = amplitudes.shape
    w = weights.to(amplitudes.dtype)
    out = amplitudes.new_zeros(n_shots, n_cells, nt)
    for k in range(index.shape[-1]):
        idx = index[..., k].clamp_min(0)[..., None].expand(-1, -1, nt)
        out = out.scatter_add(1, idx, w[..., k, None] * amplitudes)
    return out


def gather(amplitudes: torch.Tensor, index: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """out[s, i] = Σ_k weights[s, i, k] · amplitudes[s, index[s, i, k]]."""
    nt = amplitudes.shape[-1]
    w = weights.to(amplitudes.dtype)
    out = amplitudes.new_zeros(*index.shape[:2], nt)
    if amplitudes.shape[1] == 0:
        return out
    for k in range(index.shape[-1]):
        idx = index[..., k].clamp_min(0)[..., None].expand(-1, -1, nt)
        out = out + w[..., k, None] * amplitudes.gather(1, idx)
    return out


def interpolate(name: str, locations: torch.Tensor, model_shape: Sequence[int], halfwidth: int = DEFAULT_HALFWIDTH) -> Hicks:
    """The interpolation a propagator applies to floating-point
    ``locations`` (the argument ``name``) in a model of ``model_shape``:
    checked to lie inside the model with the whole window, monopoles, the
    weights in the locations' dtype."""
    ndim = len(model_shape)
    if locations.ndim != 3 or locations.shape[-1] != ndim:
        raise ValueError(
            f"{name} must have shape [n_shots, n, {ndim}] ({ndim} coordinates for a {ndim}D model), got {tuple(locations.shape)}"
        )
    used = locations.detach()[~(locations.detach() == IGNORE_LOCATION).all(dim=-1)]
    if not bool(torch.isfinite(used).all()):
        raise ValueError(f"{name} has a non-finite coordinate")
    hw = _check_halfwidth(halfwidth)
    for d, n in enumerate(model_shape):
        if used.numel() == 0:
            break
        lo, hi = float(used[:, d].min()), float(used[:, d].max())
        bad = lo if lo < 0 else hi if hi > n - 1 else None
        if bad is not None:
            raise ValueError(
                f"{name} has a coordinate {bad} along dimension {d} outside the model, which spans 0 to {n - 1} there"
            )
        # The window reaches floor(x) − hw + 1 … floor(x) + hw (a point on
        # a cell centre uses that cell alone).
        x = used[:, d].double()
        exact = ((x - x.round()).abs() < DEFAULT_EPS) & (not locations.requires_grad)
        first = torch.where(exact, x.round(), x.floor() - hw + 1)
        last = torch.where(exact, x.round(), x.floor() + hw)
        out = (first < 0) | (last > n - 1)
        if bool(out.any()):
            k = int(out.nonzero()[0, 0])
            raise ValueError(
                f"{name} has a coordinate {float(x[k])} along dimension {d} too close to the model's edge for "
                f"interpolation: its window of {2 * hw} cells spans {int(first[k])} to {int(last[k])}, outside 0 to "
                f"{n - 1} (move it inward, pad the model, or give integer cell indices)"
            )
    dtype = locations.dtype if locations.dtype in (torch.float32, torch.float64) else torch.float64
    return Hicks(locations, halfwidth=hw, dtype=dtype)
