"""One small problem per propagator and dimension, for the tests that run
every propagator alike (interrupts, bad input, long runs, property tests,
leaks): ``problem(kind, ndim)`` gives the function and its keyword
arguments, ``models(kind)`` the names of its model arguments and
``source(kind)``/``locations(kind)`` those of its survey arguments."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Tuple

import torch

import torchwave
from torchwave.maxwell import C0

#: (propagator, spatial dimensions) for every propagator torchwave has.
KINDS = [
    ("scalar", 1),
    ("scalar", 2),
    ("scalar", 3),
    ("scalar_born", 1),
    ("scalar_born", 2),
    ("scalar_born", 3),
    ("maxwelltm", 2),
    ("acoustic", 1),
    ("acoustic", 2),
    ("acoustic", 3),
]

FUNCTIONS: Dict[str, Callable] = {
    "scalar": torchwave.scalar,
    "scalar_born": torchwave.scalar_born,
    "maxwelltm": torchwave.maxwelltm,
    "acoustic": torchwave.acoustic,
}

_MODELS = {"scalar": ("v",), "scalar_born": ("v", "scatter"), "maxwelltm": ("epsilon", "sigma", "mu"), "acoustic": ("v", "rho")}
_SURVEY = {
    "scalar": ("source_amplitudes", "source_locations", "receiver_locations"),
    "scalar_born": ("source_amplitudes", "source_locations", "receiver_locations"),
    "maxwelltm": ("source_amplitude", "source_location", "receiver_location"),
    "acoustic": ("source_amplitudes_p", "source_locations_p", "receiver_locations_p"),
}


def models(kind: str) -> Tuple[str, ...]:
    return _MODELS[kind]


def survey(kind: str) -> Tuple[str, str, str]:
    """The names of the source amplitudes, source locations and receiver
    locations arguments."""
    return _SURVEY[kind]  # type: ignore[return-value]


def problem(
    kind: str,
    ndim: int,
    *,
    n: int = 8,
    nt: int = 10,
    shots: int = 1,
    dtype: torch.dtype = torch.float64,
    pml_width: int = 2,
    seed: int = 0,
) -> Tuple[Callable, Dict[str, Any]]:
    """A homogeneous-ish model of n cells per dimension with one source in
    the middle and one receiver beside it per shot, at a stable dt."""
    gen = torch.Generator().manual_seed(seed)
    shape = (n,) * ndim
    mid = [n // 2] * ndim
    src_loc = torch.tensor([[mid]] * shots)
    rec_loc = torch.tensor([[[*mid[:-1], mid[-1] - 1]]] * shots)
    amp = torch.randn(shots, 1, nt, generator=gen, dtype=torch.float64).to(dtype)
    h = 5.0
    kw: Dict[str, Any] = dict(grid_spacing=h, pml_width=pml_width)
    if kind == "maxwelltm":
        h = 0.02
        epsilon = 4 + torch.rand(shape, generator=gen, dtype=torch.float64)
        vmax = C0 / 2
        kw.update(
            epsilon=epsilon.to(dtype),
            sigma=torch.full(shape, 1e-3, dtype=dtype),
            mu=torch.ones(shape, dtype=dtype),
            grid_spacing=h,
            stencil=4,
            max_vel=vmax,
            pml_freq=1e8,
        )
    else:
        v = 1500 + 100 * torch.rand(shape, generator=gen, dtype=torch.float64)
        vmax = 1600.0
        kw.update(v=v.to(dtype), accuracy=4, pml_freq=25.0, max_vel=vmax)
        if kind == "scalar_born":
            kw["scatter"] = (10 * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
        if kind == "acoustic":
            kw["rho"] = (1000 + 500 * torch.rand(shape, generator=gen, dtype=torch.float64)).to(dtype)
    kw["dt"] = 0.9 * 0.6 * h / math.sqrt(ndim) / vmax
    amp_name, src_name, rec_name = survey(kind)
    kw.update({amp_name: amp, src_name: src_loc, rec_name: rec_loc})
    return FUNCTIONS[kind], kw


def model_loss(kind: str, outputs) -> torch.Tensor:
    """A loss over every output: the receivers and the final fields."""
    return sum((o.double() ** 2).sum() for o in outputs)  # type: ignore[return-value]
