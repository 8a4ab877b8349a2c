"""Draws the documentation's figures into docs/img/ (committed; `make docs`
does not run this). Run from the repository root after `make build`::

    PYTHONPATH=python python3 docs/make_figures.py            # propagator pages
    PYTHONPATH=python python3 docs/make_figures.py --examples # also the gallery (minutes)

The propagator figures take a few seconds each; ``--examples`` runs every
example in examples/ at a size that takes well under a minute each and
saves its picture into docs/img/examples/.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import shutil
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import torchwave  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"


def _crop(field: torch.Tensor, model: torch.Tensor) -> tuple:
    """(top, bottom, left, right) cells of PML/padding around a returned
    wavefield."""
    dy = (field.shape[-2] - model.shape[-2]) // 2
    dx = (field.shape[-1] - model.shape[-1]) // 2
    return (dy, field.shape[-2] - model.shape[-2] - dy, dx, field.shape[-1] - model.shape[-1] - dx)


def scalar_figure() -> None:
    ny, nx, dx, dt = 100, 200, 5.0, 0.0005
    v = torch.full((ny, nx), 1500.0)
    v[40:] = 2200.0
    v[75:] = 2800.0
    src_loc = torch.tensor([[[5, 100]]])
    rec_loc = torch.stack([torch.full((nx,), 3), torch.arange(nx)], -1)[None]
    wavelet = torchwave.wavelets.ricker(30.0, 900, dt)[None, None]
    snap = torchwave.scalar(v, dx, dt, wavelet[..., :320], src_loc, rec_loc, pml_freq=30.0)[0]
    data = torchwave.scalar(v, dx, dt, wavelet, src_loc, rec_loc, pml_freq=30.0)[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), layout="constrained")
    torchwave.plot.model(v, dx, ax=axes[0], title="wavespeed", sources=src_loc[0], receivers=rec_loc[0, ::8])
    torchwave.plot.wavefield(snap[0], dx, ax=axes[1], crop=_crop(snap, v), background=v, title="wavefield at t = 0.16 s")
    torchwave.plot.shot_gather(data[0], dt, ax=axes[2], offsets=np.arange(nx) * dx, clip=98, title="receiver data")
    axes[2].set_xlabel("receiver x (m)")
    _save(fig, "scalar.png")


def scalar_born_figure() -> None:
    ny, nx, dx, dt = 80, 160, 5.0, 0.0005
    v = torch.full((ny, nx), 2000.0)
    scatter = torch.zeros(ny, nx)
    scatter[50, 60] = 200.0
    scatter[45:48, 100:130] = 100.0
    src_loc = torch.tensor([[[3, 80]]])
    rec_loc = torch.stack([torch.full((nx,), 2), torch.arange(nx)], -1)[None]
    wavelet = torchwave.wavelets.ricker(30.0, 1000, dt)[None, None]
    out = torchwave.scalar_born(v, scatter, dx, dt, wavelet[..., :440], src_loc, rec_loc, pml_freq=30.0)
    scattered_field = out[6]  # 2D: six background fields, then the scattered wavefield
    data = torchwave.scalar_born(v, scatter, dx, dt, wavelet, src_loc, rec_loc, pml_freq=30.0)[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), layout="constrained")
    torchwave.plot.image(scatter, dx, ax=axes[0], title="scatter (m/s), background 2000 m/s", label="δv (m/s)")
    torchwave.plot.wavefield(
        scattered_field[0], dx, ax=axes[1], crop=_crop(scattered_field, v), clip=100, title="scattered wavefield at t = 0.22 s"
    )
    torchwave.plot.shot_gather(
        data[0], dt, ax=axes[2], mode="wiggle", every=6, offsets=np.arange(nx) * dx, title="scattered receiver data"
    )
    axes[2].set_xlabel("receiver x (m)")
    _save(fig, "scalar_born.png")


def maxwelltm_figure() -> None:
    ny, nx, dx, dt = 80, 120, 0.02, 2e-11
    eps = torch.full((ny, nx), 4.0)
    eps[30:] = 9.0
    eps[45:55, 50:70] = 1.0
    sigma = torch.full((ny, nx), 1e-3)
    mu = torch.ones(ny, nx)
    src_loc = torch.tensor([[[2, 60]]])
    rec_loc = torch.stack([torch.full((nx,), 2), torch.arange(nx)], -1)[None]
    wavelet = torchwave.wavelets.ricker(400e6, 900, dt)[None, None]
    snap = torchwave.maxwelltm(eps, sigma, mu, dx, dt, wavelet[..., :420], src_loc, rec_loc, pml_freq=400e6)[0]
    data = torchwave.maxwelltm(eps, sigma, mu, dx, dt, wavelet, src_loc, rec_loc, pml_freq=400e6)[-1]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), layout="constrained")
    torchwave.plot.model(eps, dx, ax=axes[0], title="relative permittivity", label="ε_r", sources=src_loc[0])
    torchwave.plot.wavefield(snap[0], dx, ax=axes[1], crop=_crop(snap, eps), background=eps, title="Ey at t = 8.4 ns")
    torchwave.plot.shot_gather(data[0] * 1.0, dt * 1e9, ax=axes[2], offsets=np.arange(nx) * dx, clip=97, title="radargram (Ey)")
    axes[2].set_ylabel("time (ns)")
    axes[2].set_xlabel("receiver x (m)")
    _save(fig, "maxwelltm.png")


def slices_figure() -> None:
    nz, ny, nx = 60, 50, 70
    z, y, x = torch.meshgrid(torch.arange(nz), torch.arange(ny), torch.arange(nx), indexing="ij")
    v = 1500 + 20.0 * z
    dome = (z - 40) ** 2 / 15**2 + (y - 25) ** 2 / 18**2 + (x - 35) ** 2 / 22**2 < 1
    v = torch.where(dome & (z > 30), torch.full_like(v, 3200.0), v)
    fig, _ = torchwave.plot.slices(v, 10.0, index=(38, 25, 35), title="torchwave.plot.slices: a salt-like dome in a gradient")
    _save(fig, "slices.png")


def _save(fig, name: str) -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / name, dpi=80)
    plt.close(fig)
    print(IMG / name)


#: (example, arguments for its main(), where it writes its picture)
EXAMPLES = {
    "fwi_demo": ["--iterations", "40", "--no-progress"],
    "rtm_layered": [],
    "lsrtm": ["--epochs", "6"],
    "custom_imaging": [],
    "gpr_lbfgs_workflow": [],
    "dask_fwi": ["--iterations", "8"],
    "acoustic_joint_inversion": ["--no-progress"],
}


def example_figures(names) -> None:
    out = IMG / "examples"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = ROOT / "examples" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"example_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        target = out / f"{name}.png"
        module.main([*EXAMPLES[name], "--out", str(target)])
        plt.close("all")
        if not target.is_file():  # an example that writes elsewhere
            default = ROOT / "examples" / "out" / f"{name}.png"
            shutil.copy(default, target)
        print(target)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", nargs="*", default=None, help="also run these examples (all when none named)")
    p.add_argument("--no-propagators", action="store_true", help="skip the propagator figures")
    args = p.parse_args()
    if not args.no_propagators:
        scalar_figure()
        scalar_born_figure()
        maxwelltm_figure()
        slices_figure()
    if args.examples is not None:
        example_figures(args.examples or list(EXAMPLES))


if __name__ == "__main__":
    main()
