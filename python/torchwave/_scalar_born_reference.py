"""Born modelling in plain PyTorch: the oracle the Go core's Born kernels
are tested against, and the path for higher-order derivatives.

The scattered wavefield is the exact linearisation of the discrete scalar
scheme: with W the CPML Laplacian of one step (see _scalar_reference),

    u'  = c·W(u) + 2u − u_prev + s
    δu' = c·W(δu) + δc·W(u) + 2δu − δu_prev + δs

where δc is the perturbation of c = v²dt² (2·v·scatter·dt²) and δs the
perturbation of the scaled sources."""

from __future__ import annotations

from typing import List

import torch


def born_step(step, background: List[torch.Tensor], scattered: List[torch.Tensor], c, dc, *operator):
    """One Born step: returns the next background and scattered states
    (2 + 2·ndim fields each) and W of the background. ``step`` is the
    scalar reference step, ``operator`` its trailing arguments (profiles,
    halo, weights)."""
    bg = step(background, c, *operator)
    sc = step(scattered, c, *operator)
    w = bg[-1]
    sc[0] = sc[0] + dc * w
    return bg[:-1], sc[:-1], w
