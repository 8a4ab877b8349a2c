"""Source wavelets."""

from __future__ import annotations

import math
from typing import Optional

import torch

from ._common import as_int, as_positive_float


def ricker(
    freq: float,
    length: int,
    dt: float,
    peak_time: Optional[float] = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A Ricker wavelet (the negated, normalised second derivative of a
    Gaussian) of peak frequency ``freq``, ``length`` samples at interval
    ``dt``, peaking at ``peak_time`` (default 1.5/freq, so it starts near
    zero), as a 1-D tensor of ``dtype`` on ``device``."""
    freq = as_positive_float("freq", freq)
    length = as_int("length", length, minimum=0)
    dt = as_positive_float("dt", dt)
    if peak_time is None:
        peak_time = 1.5 / freq
    t = torch.arange(length, dtype=torch.float64) * dt - float(peak_time)
    a = (math.pi * freq * t) ** 2
    return ((1 - 2 * a) * torch.exp(-a)).to(dtype=dtype, device=device)
