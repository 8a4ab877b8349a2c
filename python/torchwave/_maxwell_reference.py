"""The 2D TM Maxwell propagator written in plain PyTorch: the oracle the Go
core is tested against, and the path for torch.func transforms and
higher-order derivatives. It applies exactly the same discrete operator as
the Go kernels (kernels/maxwell), on the same padded grid, and lets
autograd differentiate it."""

from __future__ import annotations

from typing import Callable, List

import torch

from . import _common as common

#: Staggered first-derivative weights, k = 1..stencil/2: the derivative
#: half a cell from i is Σ w_k (f[i+k] − f[i+1−k]) / h.
STAGGERED_WEIGHTS = {
    2: [1.0],
    4: [9 / 8, -1 / 24],
    6: [75 / 64, -25 / 384, 3 / 640],
    8: [1225 / 1024, -245 / 3072, 49 / 5120, -5 / 7168],
}


def _pad_back(inner: torch.Tensor, dim: int, h: int) -> torch.Tensor:
    pad = [h, h] if dim == -1 else [0, 0, h, h]
    return torch.nn.functional.pad(inner, pad)


def d_plus(f: torch.Tensor, dim: int, h: int, w: List[float]) -> torch.Tensor:
    """Derivative half a cell ahead along dim (-2: y, -1: x), on the rows or
    columns outside the halo; zero in the halo."""
    n = f.shape[dim] - 2 * h
    inner = torch.zeros_like(f.narrow(dim, h, n))
    for k in range(1, h + 1):
        inner = inner + w[k - 1] * (f.narrow(dim, h + k, n) - f.narrow(dim, h + 1 - k, n))
    return _pad_back(inner, dim, h)


def d_minus(f: torch.Tensor, dim: int, h: int, w: List[float]) -> torch.Tensor:
    """Derivative half a cell behind along dim, from fields on half cells."""
    n = f.shape[dim] - 2 * h
    inner = torch.zeros_like(f.narrow(dim, h, n))
    for k in range(1, h + 1):
        inner = inner + w[k - 1] * (f.narrow(dim, h + k - 1, n) - f.narrow(dim, h - k, n))
    return _pad_back(inner, dim, h)


def maxwell_step(
    ey: torch.Tensor,
    hx: torch.Tensor,
    hz: torch.Tensor,
    m_ey_x: torch.Tensor,
    m_ey_z: torch.Tensor,
    m_hx_z: torch.Tensor,
    m_hz_x: torch.Tensor,
    ca: torch.Tensor,
    cb: torch.Tensor,
    cq: torch.Tensor,
    ay: torch.Tensor,
    by: torch.Tensor,
    ayh: torch.Tensor,
    byh: torch.Tensor,
    ax: torch.Tensor,
    bx: torch.Tensor,
    axh: torch.Tensor,
    bxh: torch.Tensor,
    h: int,
    wy: List[float],
    wx: List[float],
) -> List[torch.Tensor]:
    """One step without the source: returns [Ey, Hx, Hz, m_Ey_x, m_Ey_z,
    m_Hx_z, m_Hz_x]. Profiles along y have shape [ny, 1], along x [nx];
    weights are already divided by the grid spacing."""
    dz = d_plus(ey, -2, h, wy)
    dx = d_plus(ey, -1, h, wx)
    m_ey_z = byh * m_ey_z + ayh * dz
    m_ey_x = bxh * m_ey_x + axh * dx
    hx = hx - cq * (dz + m_ey_z)
    hz = hz + cq * (dx + m_ey_x)
    ez = d_minus(hx, -2, h, wy)
    ex = d_minus(hz, -1, h, wx)
    m_hx_z = by * m_hx_z + ay * ez
    m_hz_x = bx * m_hz_x + ax * ex
    ey = ca * ey + cb * ((ex + m_hz_x) - (ez + m_hx_z))
    return [ey, hx, hz, m_ey_x, m_ey_z, m_hx_z, m_hz_x]


def get_step(kind: str) -> Callable:
    return common.step_function(maxwell_step, kind)
