"""The variable-density acoustic propagator written in plain PyTorch: the
oracle the Go core is tested against, and the path for torch.func
transforms and higher-order derivatives. It applies exactly Deepwave
0.0.27's discrete step (acoustic.c) on torchwave's padded grid, in any
number of spatial dimensions, and lets autograd differentiate it.

The padded grid has a halo of h = accuracy/2 cells at both ends of every
axis (Deepwave's has h − 1 at the end: the extra cell is never read or
written). Pressure p lives on the cells, velocity v_i half a cell further
along axis i. Per internal step, with D⁺ the derivative half a cell ahead
and D⁻ half a cell behind (``STAGGERED_WEIGHTS``)::

    G_i  = D⁺_i p;   ψ_i ← bh_i·G_i + ah_i·ψ_i;   G_i += ψ_i
    v_i ← v_i − dt·B_i·G_i                       (+ velocity sources)
    E_i  = D⁻_i v_i; φ_i ← a_i·φ_i + b_i·E_i;    E_i += φ_i
    p   ← p − dt·K·Σ_i E_i                        (+ pressure sources)

D⁺_i is evaluated on cells h ≤ j < n − h − 1 of axis i (a velocity's last
cell before the halo stays zero, as in Deepwave), D⁻_i on h ≤ j < n − h;
both are zero elsewhere. The CPML profiles are zero outside the PML and
the memory fields start zero there, so updating them everywhere is
Deepwave's update restricted to the PML, exactly."""

from __future__ import annotations

from typing import Callable, List, Tuple

import torch

from . import _common as common

#: Staggered first-derivative weights, k = 1..accuracy/2: the derivative
#: half a cell ahead of j is Σ w_k (f[j+k] − f[j+1−k]) / h.
STAGGERED_WEIGHTS = {
    2: [1.0],
    4: [9 / 8, -1 / 24],
    6: [75 / 64, -25 / 384, 3 / 640],
    8: [1225 / 1024, -245 / 3072, 49 / 5120, -5 / 7168],
}


def _pad_axis(inner: torch.Tensor, dim: int, before: int, after: int) -> torch.Tensor:
    """``inner`` padded with zeros along dimension ``dim`` (negative)."""
    pad: List[int] = []
    for _ in range(-dim - 1):
        pad += [0, 0]
    pad += [before, after]
    return torch.nn.functional.pad(inner, pad)


def d_ahead(p: torch.Tensor, dim: int, h: int, w: List[float], rd: float) -> torch.Tensor:
    """D⁺ along dim on cells [h, n − h − 1), zero elsewhere."""
    n = p.shape[dim]
    m = n - 2 * h - 1
    inner = w[0] * (p.narrow(dim, h + 1, m) - p.narrow(dim, h, m))
    for k in range(2, h + 1):
        inner = inner + w[k - 1] * (p.narrow(dim, h + k, m) - p.narrow(dim, h + 1 - k, m))
    return _pad_axis(inner * rd, dim, h, h + 1)


def d_behind(v: torch.Tensor, dim: int, h: int, w: List[float], rd: float) -> torch.Tensor:
    """D⁻ along dim on cells [h, n − h), zero elsewhere."""
    n = v.shape[dim]
    m = n - 2 * h
    inner = w[0] * (v.narrow(dim, h, m) - v.narrow(dim, h - 1, m))
    for k in range(2, h + 1):
        inner = inner + w[k - 1] * (v.narrow(dim, h + k - 1, m) - v.narrow(dim, h - k, m))
    return _pad_axis(inner * rd, dim, h, h)


def velocity_step(
    p: torch.Tensor,
    vel: List[torch.Tensor],
    psi: List[torch.Tensor],
    buoyancy: List[torch.Tensor],
    ah: List[torch.Tensor],
    bh: List[torch.Tensor],
    h: int,
    w: List[float],
    rd: List[float],
    dt: float,
) -> Tuple[List[torch.Tensor], List[torch.Tensor], List[torch.Tensor]]:
    """The velocity half of a step: returns (v, ψ, G per axis); G is what
    ∂/∂B_i multiplies. Profiles are shaped to broadcast along their axes."""
    ndim = len(vel)
    new_v: List[torch.Tensor] = []
    new_psi: List[torch.Tensor] = []
    terms: List[torch.Tensor] = []
    for i in range(ndim):
        g = d_ahead(p, i - ndim, h, w, rd[i])
        ps = bh[i] * g + ah[i] * psi[i]
        g = g + ps
        new_psi.append(ps)
        terms.append(g)
        new_v.append(vel[i] - dt * buoyancy[i] * g)
    return new_v, new_psi, terms


def pressure_step(
    p: torch.Tensor,
    vel: List[torch.Tensor],
    phi: List[torch.Tensor],
    k: torch.Tensor,
    a: List[torch.Tensor],
    b: List[torch.Tensor],
    h: int,
    w: List[float],
    rd: List[float],
    dt: float,
) -> Tuple[torch.Tensor, List[torch.Tensor], torch.Tensor]:
    """The pressure half of a step: returns (p, φ, div); div is what ∂/∂K
    multiplies."""
    ndim = len(vel)
    new_phi: List[torch.Tensor] = []
    div = torch.zeros_like(p)
    for i in range(ndim):
        e = d_behind(vel[i], i - ndim, h, w, rd[i])
        ph = a[i] * phi[i] + b[i] * e
        new_phi.append(ph)
        div = div + (e + ph)
    return p - dt * k * div, new_phi, div


def get_steps(kind: str) -> Tuple[Callable, Callable]:
    return common.step_function(velocity_step, kind), common.step_function(pressure_step, kind)
