"""Source wavelets."""

from __future__ import annotations

import math
import numbers
from typing import Optional

import torch

from ._common import as_int


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
    zero), as a 1-D tensor of ``dtype`` on ``device``.

    As in Deepwave, ``freq=0`` (a constant; give ``peak_time``) and a
    negative ``dt`` (samples running back in time) are allowed; ``dt=0``
    is not."""
    freq = _as_float("freq", freq)
    if freq < 0:
        raise ValueError(f"freq must be non-negative, got {freq}")
    length = as_int("length", length, minimum=0)
    dt = _as_float("dt", dt)
    if dt == 0:
        raise ValueError("dt cannot be zero.")
    if peak_time is None:
        if freq == 0:
            raise ValueError("peak_time is needed when freq is 0 (the default peak time is 1.5 / freq)")
        peak_time = 1.5 / freq
    t = torch.arange(length, dtype=torch.float64) * dt - float(peak_time)
    a = (math.pi * freq * t) ** 2
    return ((1 - 2 * a) * torch.exp(-a)).to(dtype=dtype, device=device)


def _as_float(name: str, x) -> float:
    if isinstance(x, torch.Tensor) and x.numel() == 1:
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    if not math.isfinite(float(x)):
        raise ValueError(f"{name} must be finite, got {x}")
    return float(x)
