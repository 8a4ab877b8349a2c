"""Shared helpers for torchwave's tests: a small random problem builder, a
runner that fills in the defaults every test wants, and error measures.

Every problem here is tiny (tens of cells, tens of steps) so the whole
suite runs in well under two minutes on two shared cores.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Sequence

import pytest
import torch

import torchwave

#: Courant limit used by torchwave to choose its internal time step.
COURANT_MAX = 0.6


def stable_dt(dy: float, dx: float, vmax: float, fraction: float = 0.9) -> float:
    """A time step `fraction` of the largest one torchwave runs without
    subdividing (so fraction < 1 gives step_ratio 1, > 1 a subdivision)."""
    return fraction * COURANT_MAX / math.sqrt(1 / dy**2 + 1 / dx**2) / vmax


def random_locations(gen: torch.Generator, n_shots: int, n: int, ny: int, nx: int, margin: int = 0) -> torch.Tensor:
    """[n_shots, n, 2] distinct cells per shot, at least `margin` cells from
    the model's edges."""
    out = torch.empty(n_shots, n, 2, dtype=torch.long)
    cy, cx = ny - 2 * margin, nx - 2 * margin
    for s in range(n_shots):
        flat = torch.randperm(cy * cx, generator=gen)[:n]
        out[s, :, 0] = flat // cx + margin
        out[s, :, 1] = flat % cx + margin
    return out


def random_model(gen: torch.Generator, shape: Sequence[int], dtype, vmin: float = 1500.0, vmax: float = 2500.0) -> torch.Tensor:
    """A smooth-ish positive wavespeed model: a linear trend plus noise."""
    ny, nx = shape[-2:]
    y = torch.linspace(0, 1, ny, dtype=torch.float64)[:, None]
    x = torch.linspace(0, 1, nx, dtype=torch.float64)[None, :]
    base = vmin + (vmax - vmin) * (0.5 * y + 0.3 * x)
    noise = 0.1 * (vmax - vmin) * torch.rand(tuple(shape), generator=gen, dtype=torch.float64)
    v = (base + noise).clamp(vmin, vmax)
    return v.to(dtype)


def make_problem(
    ny: int = 16,
    nx: int = 18,
    nt: int = 20,
    n_shots: int = 2,
    n_sources: int = 2,
    n_receivers: int = 3,
    dtype: torch.dtype = torch.float64,
    grid_spacing: Sequence[float] = (5.0, 5.0),
    per_shot_model: bool = False,
    dt_fraction: float = 0.9,
    seed: int = 0,
    margin: int = 0,
    accuracy: int = 4,
    pml_width: Any = 3,
) -> Dict[str, Any]:
    """Keyword arguments for torchwave.scalar describing a small random
    problem: random model, random source amplitudes, distinct random
    source and receiver cells. dt_fraction > 1 makes torchwave subdivide
    the time step (step_ratio = ceil(dt_fraction))."""
    gen = torch.Generator().manual_seed(seed)
    dy, dx = grid_spacing
    shape = (n_shots, ny, nx) if per_shot_model else (ny, nx)
    v = random_model(gen, shape, dtype)
    dt = stable_dt(dy, dx, float(v.max()), dt_fraction)
    amps = torch.randn(n_shots, n_sources, nt, generator=gen, dtype=torch.float64).to(dtype)
    return dict(
        v=v,
        grid_spacing=[dy, dx],
        dt=dt,
        source_amplitudes=amps,
        source_locations=random_locations(gen, n_shots, n_sources, ny, nx, margin),
        receiver_locations=random_locations(gen, n_shots, n_receivers, ny, nx, margin),
        accuracy=accuracy,
        pml_width=pml_width,
        pml_freq=25.0,
    )


def run(problem: Dict[str, Any], **overrides) -> tuple:
    """torchwave.scalar on `problem` with `overrides` replacing entries."""
    kw = dict(problem)
    kw.update(overrides)
    return torchwave.scalar(**kw)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| (0 when both are zero)."""
    a = a.detach().to(torch.float64)
    b = b.detach().to(torch.float64)
    den = float(b.norm())
    num = float((a - b).norm())
    if den == 0:
        return num
    return num / den


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float, what: str = "") -> None:
    assert a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} vs {tuple(b.shape)}"
    e = rel_err(a, b)
    assert e <= tol, f"{what}: relative error {e:.3e} > {tol:.1e}"


def tol_for(dtype: torch.dtype) -> float:
    """Relative tolerance for the Go core vs the PyTorch reference. The
    largest differences measured: 9.9e-6 (float32, accuracy 8 model
    gradient with 63 internal steps) and 1.9e-14 (float64)."""
    return 3e-5 if dtype == torch.float32 else 1e-12


@pytest.fixture
def restore_threads():
    """Leaves torchwave's thread count as the test found it."""
    n = torchwave.get_num_threads()
    yield
    torchwave.set_num_threads(n)


#: Applied as ``pytestmark`` by the test modules: pml_freq is always given
#: in these tests, so its default-value warning means a test forgot it.
FAIL_ON_PML_FREQ_DEFAULT = pytest.mark.filterwarnings("error:pml_freq was not set")
