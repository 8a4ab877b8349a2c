"""Small random problems for the maxwelltm tests: tens of cells, tens of
steps, a GPR-like scale (relative permittivity 3-9, conductivity of a few
mS/m, 2 cm cells, tens of picoseconds per step)."""

from __future__ import annotations

import math
from typing import Any, Dict

import torch
from conftest import random_locations

import torchwave
from torchwave.maxwell import C0

FIELDS = ("Ey_0", "Hx_0", "Hz_0", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x")


def stable_dt(dy: float, dx: float, vmax: float, fraction: float = 0.9) -> float:
    """`fraction` of the largest step torchwave runs without subdividing."""
    return fraction * 0.6 / math.sqrt(1 / dy**2 + 1 / dx**2) / vmax


def make_problem(
    ny: int = 10,
    nx: int = 11,
    nt: int = 12,
    n_shots: int = 2,
    n_sources: int = 2,
    n_receivers: int = 2,
    dtype: torch.dtype = torch.float64,
    stencil: int = 4,
    pml_width: Any = 2,
    per_shot_model: bool = False,
    dt_fraction: float = 0.9,
    seed: int = 0,
) -> Dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    shape = (n_shots, ny, nx) if per_shot_model else (ny, nx)
    epsilon = 3 + 6 * torch.rand(shape, generator=gen, dtype=torch.float64)
    sigma = 5e-3 * torch.rand(shape, generator=gen, dtype=torch.float64)
    mu = 1 + 0.5 * torch.rand(shape, generator=gen, dtype=torch.float64)
    dy, dx = 0.02, 0.025
    vmax = C0 / math.sqrt(float((epsilon * mu).min()))
    return dict(
        epsilon=epsilon.to(dtype),
        sigma=sigma.to(dtype),
        mu=mu.to(dtype),
        grid_spacing=[dy, dx],
        dt=stable_dt(dy, dx, 1.05 * vmax, dt_fraction),
        source_amplitude=torch.randn(n_shots, n_sources, nt, generator=gen, dtype=torch.float64).to(dtype),
        source_location=random_locations(gen, n_shots, n_sources, ny, nx),
        receiver_location=random_locations(gen, n_shots, n_receivers, ny, nx),
        stencil=stencil,
        pml_width=pml_width,
        # Fixed, so that perturbing the fastest cell does not move the CPML
        # profiles (which follow max_vel, not differentiably).
        max_vel=1.05 * vmax,
    )


def random_fields(problem: Dict[str, Any], seed: int = 1, scale: float = 1.0) -> Dict[str, torch.Tensor]:
    """Random initial fields (all seven) for the model and its PML."""
    gen = torch.Generator().manual_seed(seed)
    eps = problem["epsilon"]
    w = problem["pml_width"]
    w = [w] * 4 if isinstance(w, int) else list(w)
    shape = (problem["source_amplitude"].shape[0], eps.shape[-2] + w[0] + w[1], eps.shape[-1] + w[2] + w[3])
    return {n: scale * torch.randn(shape, generator=gen, dtype=torch.float64).to(eps.dtype) for n in FIELDS}


def run(problem: Dict[str, Any], **overrides) -> tuple:
    kw = dict(problem)
    kw.update(overrides)
    return torchwave.maxwelltm(**kw)
