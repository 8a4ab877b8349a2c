"""The scalar propagator written in plain PyTorch: the oracle the Go core is
tested against, and the path for torch.func transforms and higher-order
derivatives. It applies exactly the same discrete operator as the Go
kernels, on the same padded grid, and lets autograd differentiate it, in
1, 2 or 3 spatial dimensions."""

from __future__ import annotations

from typing import Callable, List

import torch

from . import _common as common


def _pad_back(inner: torch.Tensor, dim: int, h: int) -> torch.Tensor:
    """``inner`` padded with h zeros at both ends of dimension ``dim`` (a
    negative index)."""
    pad: List[int] = []
    for _ in range(-dim - 1):
        pad += [0, 0]
    pad += [h, h]
    return torch.nn.functional.pad(inner, pad)


def _d1(u: torch.Tensor, dim: int, h: int, weights: List[float]) -> torch.Tensor:
    """First derivative along dim (negative: -1 is x) on the interior;
    the fields are zero in the halo, so the result is too."""
    n = u.shape[dim]
    inner = torch.zeros_like(u.narrow(dim, h, n - 2 * h))
    for k in range(1, h + 1):
        inner = inner + weights[k - 1] * (u.narrow(dim, h + k, n - 2 * h) - u.narrow(dim, h - k, n - 2 * h))
    return _pad_back(inner, dim, h)


def _d2(u: torch.Tensor, dim: int, h: int, centre: float, weights: List[float]) -> torch.Tensor:
    n = u.shape[dim]
    inner = centre * u.narrow(dim, h, n - 2 * h)
    for k in range(1, h + 1):
        inner = inner + weights[k - 1] * (u.narrow(dim, h + k, n - 2 * h) + u.narrow(dim, h - k, n - 2 * h))
    return _pad_back(inner, dim, h)


def scalar_step(
    fields: List[torch.Tensor],
    c: torch.Tensor,
    profiles: List[torch.Tensor],
    h: int,
    d1: List[List[float]],
    d2_centre: List[float],
    d2: List[List[float]],
) -> List[torch.Tensor]:
    """One step of an n-dimensional grid. ``fields`` are [u, u_prev, ψ per
    axis, ζ per axis] (axes slowest first); returns [u_next, u, ψ', ζ', W].
    ``profiles`` are a, b, b' per axis, each shaped to broadcast along its
    axis; the weights are already divided by the grid spacing."""
    ndim = len(d1)
    u, up = fields[0], fields[1]
    psi, zeta = fields[2 : 2 + ndim], fields[2 + ndim : 2 + 2 * ndim]
    w = torch.zeros_like(u)
    new_psi: List[torch.Tensor] = []
    new_zeta: List[torch.Tensor] = []
    for i in range(ndim):
        dim = i - ndim
        a, b, db = profiles[3 * i], profiles[3 * i + 1], profiles[3 * i + 2]
        du = _d1(u, dim, h, d1[i])
        tmp = (1 + b) * _d2(u, dim, h, d2_centre[i], d2[i]) + db * du + _d1(a * psi[i], dim, h, d1[i])
        w = w + (1 + b) * tmp + a * zeta[i]
        new_psi.append(b * du + a * psi[i])
        new_zeta.append(b * tmp + a * zeta[i])
    # The halo stays zero: W is zero there, and so are u and up.
    un = c * w + 2 * u - up
    return [un, u] + new_psi + new_zeta + [w]


def get_step(kind: str) -> Callable:
    return common.step_function(scalar_step, kind)
