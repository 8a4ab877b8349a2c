"""Full-waveform inversion of a layered model with an anomaly, on the CPU.

The true model has four layers (1500-3000 m/s, one interface dipping) and an
elliptic low-velocity anomaly. Synthetic data are recorded at the surface for
a few shots; the inversion starts from a Gaussian-smoothed copy of the true
model and fits the data with ``torch.optim.Adam`` on the wavespeed itself,
every gradient coming from torchwave's exact discrete adjoint.

Run it from the repository root (``make demo`` does this)::

    PYTHONPATH=python python3 examples/fwi_demo.py [--iterations N] [--shots N] [--out PNG]

It prints the relative model error ||v - v_true|| / ||v_true|| before and
after the inversion and writes a figure with the true, initial and inverted
models and the loss curve (default ``examples/out/fwi_demo.png``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402
from tqdm import tqdm  # noqa: E402

import torchwave  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "fwi_demo.png"
V_MIN, V_MAX = 1400.0, 3200.0  # bounds of the inverted model, m/s


def true_model(ny: int, nx: int, dx: float) -> torch.Tensor:
    """Four layers (1500, 2000, 2500, 3000 m/s; the second interface dips)
    and an elliptic 2000 m/s anomaly in the third layer. Geometry is given
    as fractions of the model so any grid size gives the same picture."""
    depth, width = ny * dx, nx * dx
    z = (torch.arange(ny, dtype=torch.float64)[:, None] + 0.5) * dx
    x = (torch.arange(nx, dtype=torch.float64)[None, :] + 0.5) * dx
    v = torch.full((ny, nx), 1500.0, dtype=torch.float64)
    v = torch.where(z >= 0.20 * depth, torch.full_like(v, 2000.0), v)
    dipping = 0.38 * depth + 0.10 * depth * (x / width)
    v = torch.where(z >= dipping, torch.full_like(v, 2500.0), v)
    v = torch.where(z >= 0.72 * depth, torch.full_like(v, 3000.0), v)
    # Elliptic low-velocity anomaly (e.g. a gas pocket).
    cz, cx = 0.57 * depth, 0.55 * width
    rz, rx = 0.08 * depth, 0.10 * width
    inside = ((z - cz) / rz) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
    v = torch.where(inside, torch.full_like(v, 2000.0), v)
    return v


def smoothed(v: torch.Tensor, sigma_cells: float) -> torch.Tensor:
    """Gaussian smoothing, edge values extended."""
    return torch.from_numpy(gaussian_filter(v.numpy(), sigma_cells, mode="nearest"))


def survey(nx: int, shots: int, receiver_spacing: int = 2, depth: int = 1):
    """Sources evenly along the surface; the same receivers for every shot."""
    margin = max(2, nx // 40)
    sx = torch.linspace(margin, nx - 1 - margin, shots).round().long()
    source_locations = torch.zeros(shots, 1, 2, dtype=torch.long)
    source_locations[:, 0, 0] = depth
    source_locations[:, 0, 1] = sx
    rx = torch.arange(0, nx, receiver_spacing)
    receiver_locations = torch.zeros(shots, len(rx), 2, dtype=torch.long)
    receiver_locations[..., 0] = depth
    receiver_locations[..., 1] = rx
    return source_locations, receiver_locations


def relative_error(v: torch.Tensor, v_true: torch.Tensor) -> float:
    return float(torch.linalg.norm(v.double() - v_true.double()) / torch.linalg.norm(v_true.double()))


def plot(path, v_true, v_init, v_inv, losses, dx, dt, err0, err1, source_locations, receiver_locations, observed):
    """The models on one colour scale, the middle shot's observed data as
    an image and as wiggles, and the loss, drawn with torchwave.plot."""
    vmin, vmax = float(v_true.min()), float(v_true.max())
    fig, axes = plt.subplots(2, 3, figsize=(16, 6.6), layout="constrained")
    panels = [
        (v_true, "True model"),
        (v_init, f"Initial model (smoothed), error {100 * err0:.2f}%"),
        (v_inv, f"Inverted model, error {100 * err1:.2f}%"),
    ]
    survey = {"sources": source_locations[:, 0], "receivers": receiver_locations[0]}
    for i, (ax, (model, title)) in enumerate(zip(axes[0], panels)):
        torchwave.plot.model(model, dx, ax=ax, title=title, vmin=vmin, vmax=vmax, colorbar=False, **(survey if i == 0 else {}))
    axes[0, 0].legend(loc="lower right", fontsize=7)
    fig.colorbar(axes[0, 0].images[-1], ax=axes[0], label="wavespeed (m/s)", shrink=0.8)
    shot = observed.shape[0] // 2
    x = receiver_locations[shot, :, 1] * dx
    torchwave.plot.shot_gather(observed[shot], dt, ax=axes[1, 0], offsets=x, title=f"Observed data, shot {shot + 1}")
    torchwave.plot.shot_gather(
        observed[shot],
        dt,
        ax=axes[1, 1],
        mode="wiggle",
        offsets=x,
        every=max(1, len(x) // 40),
        title="The same, every few traces",
    )
    for ax in axes[1, :2]:
        ax.set_xlabel("receiver x (m)")
    torchwave.plot.history(np.asarray(losses), ax=axes[1, 2], ylabel="normalised data misfit", title="Loss")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(
    ny: int = 100,
    nx: int = 200,
    dx: float = 10.0,
    nt: int = 450,
    dt: float = 0.002,
    freq: float = 10.0,
    shots: int = 5,
    iterations: int = 80,
    lr: float = 30.0,
    smoothing: float = 6.0,
    noise: float = 0.0,
    seed: int = 0,
    out: Optional[str | pathlib.Path] = DEFAULT_OUT,
    progress: bool = True,
) -> dict:
    """Runs the inversion; returns the model errors, losses, output path and
    the run time. ``lr`` is Adam's step in m/s; ``smoothing`` the Gaussian
    sigma of the starting model in cells; ``noise`` the standard deviation of
    Gaussian noise added to the observed data, relative to their RMS."""
    torch.manual_seed(seed)
    start = time.perf_counter()
    dtype = torch.float32
    v_true = true_model(ny, nx, dx)
    v_init = smoothed(v_true, smoothing)
    source_locations, receiver_locations = survey(nx, shots)
    wavelet = torchwave.wavelets.ricker(freq, nt, dt, peak_time=1.2 / freq, dtype=dtype)
    source_amplitudes = wavelet.repeat(shots, 1, 1)  # [shots, 1, nt]

    def forward(v: torch.Tensor) -> torch.Tensor:
        return torchwave.scalar(
            v,
            dx,
            dt,
            source_amplitudes,
            source_locations,
            receiver_locations,
            accuracy=4,
            pml_width=20,
            pml_freq=freq,
            max_vel=V_MAX,
        )[-1]

    with torch.no_grad():
        observed = forward(v_true.to(dtype))
        if noise > 0:
            observed = observed + noise * observed.pow(2).mean().sqrt() * torch.randn_like(observed)
    scale = observed.pow(2).sum()

    # The gradient is strongest, and least informative, right at the sources
    # and receivers: taper it to zero over the top few cells.
    taper_cells = 4
    mask = torch.ones(ny, 1, dtype=dtype)
    ramp = torch.linspace(0.0, 1.0, taper_cells + 2, dtype=dtype)[1:-1]
    mask[: len(ramp), 0] = ramp
    mask[0, 0] = 0.0

    v = v_init.to(dtype).clone().requires_grad_(True)  # leaf tensor, updated in place
    optimiser = torch.optim.Adam([v], lr=lr, betas=(0.5, 0.9))
    # Large steps first, then smaller ones as the data fit improves.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(iterations, 1), eta_min=lr / 10)
    losses = []
    err0 = relative_error(v.detach(), v_true)
    bar = tqdm(range(iterations), desc="FWI", unit="it", disable=not progress)
    for _ in bar:
        optimiser.zero_grad()
        loss = (forward(v) - observed).pow(2).sum() / scale
        loss.backward()
        with torch.no_grad():
            v.grad *= mask
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            v.clamp_(V_MIN, V_MAX)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    bar.close()
    v_inv = v.detach().double()
    err1 = relative_error(v_inv, v_true)
    seconds = time.perf_counter() - start
    path = None
    if out is not None:
        path = plot(out, v_true, v_init, v_inv, losses, dx, dt, err0, err1, source_locations, receiver_locations, observed)
    return {
        "error_initial": err0,
        "error_final": err1,
        "losses": losses,
        "out": path,
        "seconds": seconds,
        "v_inverted": v_inv,
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=80, help="optimiser steps (default 80)")
    p.add_argument("--shots", type=int, default=5, help="shots along the surface (default 5)")
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="PNG to write (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed for the data noise (default 0)")
    p.add_argument("--noise", type=float, default=0.0, help="data noise std relative to the data RMS (default 0)")
    p.add_argument("--lr", type=float, default=30.0, help="Adam's initial step in m/s (default 30)")
    p.add_argument("--ny", type=int, default=100, help="grid cells in depth (default 100)")
    p.add_argument("--nx", type=int, default=200, help="grid cells across (default 200)")
    p.add_argument("--dx", type=float, default=10.0, help="cell size in metres (default 10)")
    p.add_argument("--nt", type=int, default=450, help="time samples (default 450)")
    p.add_argument("--dt", type=float, default=0.002, help="sample interval in seconds (default 0.002)")
    p.add_argument("--freq", type=float, default=10.0, help="Ricker peak frequency in Hz (default 10)")
    p.add_argument("--smoothing", type=float, default=6.0, help="Gaussian sigma of the initial model in cells (default 6)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    print(
        f"FWI: {args.ny}x{args.nx} cells of {args.dx:g} m, {args.shots} shots, {args.nt} samples of "
        f"{1000 * args.dt:g} ms, {args.freq:g} Hz Ricker, {args.iterations} iterations of Adam"
    )
    result = run(
        ny=args.ny,
        nx=args.nx,
        dx=args.dx,
        nt=args.nt,
        dt=args.dt,
        freq=args.freq,
        shots=args.shots,
        iterations=args.iterations,
        lr=args.lr,
        smoothing=args.smoothing,
        noise=args.noise,
        seed=args.seed,
        out=args.out,
        progress=not args.no_progress,
    )
    e0, e1 = result["error_initial"], result["error_final"]
    print(f"relative model error ||v - v_true|| / ||v_true||: before {e0:.4f}, after {e1:.4f} ({100 * (1 - e1 / e0):.1f}% lower)")
    print(f"loss: {result['losses'][0]:.4g} -> {result['losses'][-1]:.4g}")
    print(f"wrote {result['out']} ({result['seconds']:.1f} s)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
