"""The scalar propagator written in plain PyTorch: the oracle the Go core is
tested against, and the path for torch.func transforms and higher-order
derivatives. It applies exactly the same discrete operator as the Go
kernels, on the same padded grid, and lets autograd differentiate it."""

from __future__ import annotations

from typing import Callable, List

import torch

from . import _common as common


def _pad_back(inner: torch.Tensor, dim: int, h: int) -> torch.Tensor:
    pad = [h, h] if dim == -1 else [0, 0, h, h]
    return torch.nn.functional.pad(inner, pad)


def _d1(u: torch.Tensor, dim: int, h: int, weights: List[float]) -> torch.Tensor:
    """First derivative along dim (-2: y, -1: x) on the interior rows or
    columns; the fields are zero in the halo, so the result is too."""
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
    u: torch.Tensor,
    up: torch.Tensor,
    psiy: torch.Tensor,
    psix: torch.Tensor,
    zetay: torch.Tensor,
    zetax: torch.Tensor,
    c: torch.Tensor,
    ay: torch.Tensor,
    by: torch.Tensor,
    dby: torch.Tensor,
    ax: torch.Tensor,
    bx: torch.Tensor,
    dbx: torch.Tensor,
    h: int,
    d1y: List[float],
    d1x: List[float],
    d2y0: float,
    d2y: List[float],
    d2x0: float,
    d2x: List[float],
) -> List[torch.Tensor]:
    """One step: returns [u_next, u, ψy', ψx', ζy', ζx', W]. Profiles along
    y have shape [ny, 1], along x [nx]. Weights are already divided by the
    grid spacing."""
    uy = _d1(u, -2, h, d1y)
    ux = _d1(u, -1, h, d1x)
    tmpy = (1 + by) * _d2(u, -2, h, d2y0, d2y) + dby * uy + _d1(ay * psiy, -2, h, d1y)
    tmpx = (1 + bx) * _d2(u, -1, h, d2x0, d2x) + dbx * ux + _d1(ax * psix, -1, h, d1x)
    w = (1 + by) * tmpy + ay * zetay + (1 + bx) * tmpx + ax * zetax
    # The halo stays zero: W is zero there, and so are u and up.
    un = c * w + 2 * u - up
    return [un, u, by * uy + ay * psiy, bx * ux + ax * psix, by * tmpy + ay * zetay, bx * tmpx + ax * zetax, w]


def get_step(kind: str) -> Callable:
    return common.step_function(scalar_step, kind)
