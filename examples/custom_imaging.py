"""Imaging conditions of your own on a two-layer acoustic model.

A 10 Hz Ricker source at the surface of a 1500 m/s layer over 2500 m/s
(96 x 128 cells of 10 m, 600 steps of 2 ms, 64 receivers) gives the
observed data; the propagator starts from a constant 1500 m/s. Three
images of the same residual ``pred - observed``:

* autograd's gradient of 0.5 ||pred - observed||² with respect to v;
* the same gradient from the standard imaging condition 2·dt²·v·∇²u·λ,
  registered with ``Scalar.register_gradient("v", ...)`` so that
  ``loss.backward()`` delivers it as ``v.grad``;
* a zero-lag cross-correlation of the forward and adjoint wavefields from
  ``Scalar.imaging(..., observed=...)``, in imaging mode, which leaves
  ``v.grad`` alone.

Run it from the repository root::

    PYTHONPATH=python python3 examples/custom_imaging.py [--small] [--out PNG]

It prints the cosine similarity of the registered gradient with autograd's
(over the model without its edge cells and the source cell, where
autograd's gradient also holds the PML strips and the source scaling, and
over the whole model) and writes the three images to
``examples/out/custom_imaging.png``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import torchwave  # noqa: E402
from torchwave.hooks import standard_imaging_condition  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "custom_imaging.png"


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def cross_correlation(forward, adjoint, models, dt, dh):
    """Zero-lag cross-correlation: an RTM image, not a gradient."""
    return forward["wavefield"] * adjoint["wavefield"]


def run(
    ny: int = 96,
    nx: int = 128,
    nt: int = 600,
    n_receivers: int = 64,
    dh: float = 10.0,
    dt: float = 0.002,
    freq: float = 10.0,
    delay: float = 0.12,
    dtype: torch.dtype = torch.float32,
    out: Optional[str | pathlib.Path] = DEFAULT_OUT,
) -> dict:
    """Computes the three images; returns them, the cosines and the figure's
    path."""
    v_true = torch.full((ny, nx), 1500.0, dtype=dtype)
    v_true[ny // 2 :] = 2500.0
    wavelet = torchwave.wavelets.ricker(freq, nt, dt, peak_time=delay, dtype=dtype)
    source_amplitudes = wavelet.reshape(1, 1, nt)
    source_locations = torch.tensor([[[2, nx // 2]]])
    rec_x = torch.linspace(0, nx - 1, n_receivers).long()
    receiver_locations = torch.stack([torch.full_like(rec_x, 4), rec_x], dim=-1)[None]
    survey = (dt, source_amplitudes, source_locations, receiver_locations)
    options = dict(pml_freq=freq)
    with torch.no_grad():
        observed = torchwave.Scalar(v_true, dh)(*survey, **options)[-1]

    prop = torchwave.Scalar(torch.full((ny, nx), 1500.0, dtype=dtype), dh, v_requires_grad=True)

    def gradient() -> torch.Tensor:
        prop.v.grad = None
        pred = prop(*survey, **options)[-1]
        loss = 0.5 * (pred - observed).pow(2).sum()
        loss.backward()
        return prop.v.grad.detach().clone()

    autograd = gradient()
    prop.register_gradient("v", standard_imaging_condition, mode="gradient")
    registered = gradient()

    prop.clear_gradients()
    prop.register_gradient("v", cross_correlation, mode="imaging")
    prop.v.grad = None
    image = prop.imaging(*survey, observed=observed, **options)["v"]
    untouched = prop.v.grad is None
    prop.clear_gradients()

    inner = torch.zeros(ny, nx, dtype=torch.bool)
    inner[2:-2, 2:-2] = True
    inner[source_locations[0, 0, 0], source_locations[0, 0, 1]] = False
    result = {
        "autograd": autograd,
        "registered": registered,
        "cross_correlation": image,
        "cosine_inner": cosine(registered[inner], autograd[inner]),
        "cosine_all": cosine(registered, autograd),
        "grad_untouched": untouched,
        "out": None,
    }
    if out is not None:
        result["out"] = plot(out, result, dh)
    return result


def plot(path, result, dh) -> pathlib.Path:
    panels = [
        (result["autograd"], "autograd gradient"),
        (result["registered"], f"registered 2dt²v∇²u·λ (cosine {result['cosine_inner']:.4f})"),
        (result["cross_correlation"], "imaging mode: cross-correlation"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8), layout="constrained")
    for ax, (img, title) in zip(axes, panels):
        # Clip at the 98th percentile: the source cell and the edges would
        # otherwise set the colour scale.
        torchwave.plot.image(img, dh, ax=ax, title=title, clip=98.0)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="a 48 x 64 model and 300 steps (for CI)")
    parser.add_argument("--float64", action="store_true", help="compute in float64 (default float32)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the figure's path (PNG)")
    args = parser.parse_args(argv)
    size = dict(ny=48, nx=64, nt=300, n_receivers=32) if args.small else {}
    result = run(**size, dtype=torch.float64 if args.float64 else torch.float32, out=args.out)
    print(
        f"cosine(registered standard condition, autograd gradient): {result['cosine_inner']:.4f} "
        f"without the edge cells and the source cell, {result['cosine_all']:.4f} over the whole model"
    )
    print(f"v.grad after imaging(): {'None' if result['grad_untouched'] else 'changed'}")
    print(f"figure: {result['out']}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
