"""3D full-waveform inversion of a small model, on the CPU.

The true model (60³ cells of 10 m by default) has a wavespeed rising with
depth from 1500 to 2500 m/s, a dipping interface, and a spherical
high-velocity body near the centre. Synthetic data are recorded on a grid
of receivers at the surface for a few sources, also at the surface; the
inversion starts from a Gaussian-smoothed copy of the true model and fits
the data with ``torch.optim.Adam`` on the wavespeed itself, every gradient
coming from torchwave's exact discrete adjoint. ``max_vel`` is fixed (the
upper bound of the model) so that the PML and the time step stay the same
from one iteration to the next.

Run it from the repository root::

    PYTHONPATH=python python3 examples/fwi_3d.py            # 60³, a few minutes
    PYTHONPATH=python python3 examples/fwi_3d.py --quick    # 24³, seconds

It prints the relative model error ||v - v_true|| / ||v_true|| before and
after the inversion and writes a figure (default
``examples/out/fwi_3d.png``) of three orthogonal slices through the centre
(depth slice xy, vertical slices xz and yz) of the true, initial and
inverted models.
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
import torch  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402
from tqdm import tqdm  # noqa: E402

import torchwave  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "fwi_3d.png"
V_MIN, V_MAX = 1400.0, 2900.0  # bounds of the inverted model, m/s (V_MAX is also max_vel)


def true_model(n: int) -> torch.Tensor:
    """[nz, ny, nx] = [n, n, n]: v rising with depth, a dipping interface
    (+250 m/s below it) and a sphere (+400 m/s) near the centre. Geometry
    in fractions of the model, so any size gives the same picture."""
    c = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    z, y, x = c[:, None, None], c[None, :, None], c[None, None, :]
    v = (1500.0 + 800.0 * z).expand(n, n, n)
    v = torch.where(z > 0.70 + 0.12 * (x - 0.5) + 0.06 * (y - 0.5), v + 250.0, v)
    inside = (z - 0.45) ** 2 + (y - 0.5) ** 2 + (x - 0.5) ** 2 <= 0.16**2
    return torch.where(inside, v + 400.0, v)


def smoothed(v: torch.Tensor, sigma_cells: float) -> torch.Tensor:
    """Gaussian smoothing in all three dimensions, edge values extended."""
    return torch.from_numpy(gaussian_filter(v.numpy(), sigma_cells, mode="nearest"))


def survey(n: int, shots_per_side: int, receiver_spacing: int, depth: int = 1):
    """Sources on a shots_per_side x shots_per_side grid at the surface,
    the same receiver grid (every receiver_spacing cells) for every shot.
    Locations are [shot, n, 3] cell indices (z, y, x)."""
    margin = max(2, n // 6)
    line = torch.linspace(margin, n - 1 - margin, shots_per_side).round().long()
    sy, sx = torch.meshgrid(line, line, indexing="ij")
    shots = shots_per_side**2
    source_locations = torch.zeros(shots, 1, 3, dtype=torch.long)
    source_locations[:, 0, 0] = depth
    source_locations[:, 0, 1] = sy.reshape(-1)
    source_locations[:, 0, 2] = sx.reshape(-1)
    r = torch.arange(receiver_spacing // 2, n, receiver_spacing)
    ry, rx = torch.meshgrid(r, r, indexing="ij")
    receiver_locations = torch.zeros(shots, ry.numel(), 3, dtype=torch.long)
    receiver_locations[..., 0] = depth
    receiver_locations[..., 1] = ry.reshape(-1)
    receiver_locations[..., 2] = rx.reshape(-1)
    return source_locations, receiver_locations


def relative_error(v: torch.Tensor, v_true: torch.Tensor) -> float:
    return float(torch.linalg.norm(v.double() - v_true.double()) / torch.linalg.norm(v_true.double()))


def slices(v: torch.Tensor):
    """The three orthogonal slices through the centre: (name, 2D array,
    (horizontal axis, vertical axis) names)."""
    nz, ny, nx = v.shape
    a = v.numpy()
    return [
        ("xy (depth slice)", a[nz // 2, :, :], ("x", "y")),
        ("xz", a[:, ny // 2, :], ("x", "z")),
        ("yz", a[:, :, nx // 2], ("y", "z")),
    ]


def plot(path, v_true, v_init, v_inv, dx, err0, err1):
    """3 rows (true, initial, inverted) x 3 columns (xy, xz, yz slices)."""
    vmin, vmax = float(v_true.min()), float(v_true.max())
    fig, axes = plt.subplots(3, 3, figsize=(11, 10.5), layout="constrained")
    rows = [
        (v_true, "True"),
        (v_init, f"Initial (smoothed), error {100 * err0:.2f}%"),
        (v_inv, f"Inverted, error {100 * err1:.2f}%"),
    ]
    im = None
    for i, (model, title) in enumerate(rows):
        for j, (name, a, (h, w)) in enumerate(slices(model)):
            ax = axes[i, j]
            extent = (0.0, a.shape[1] * dx, a.shape[0] * dx, 0.0)
            im = ax.imshow(a, extent=extent, cmap="viridis", vmin=vmin, vmax=vmax, aspect="equal")
            ax.set_title(f"{title}: {name}", fontsize=9)
            ax.set_xlabel(f"{h} (m)")
            ax.set_ylabel(f"{w} (m)")
    fig.colorbar(im, ax=axes, label="wavespeed (m/s)", shrink=0.6)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(
    n: int = 60,
    dx: float = 10.0,
    nt: int = 500,
    dt: float = 0.001,
    freq: float = 12.0,
    shots_per_side: int = 2,
    receiver_spacing: int = 3,
    pml_width: int = 10,
    iterations: int = 20,
    lr: float = 25.0,
    smoothing: float = 5.0,
    out: Optional[str | pathlib.Path] = DEFAULT_OUT,
    progress: bool = True,
    threads: Optional[int] = None,
) -> dict:
    """Runs the inversion; returns the model errors, losses, output path,
    run time and the inverted model. ``lr`` is Adam's step in m/s;
    ``smoothing`` the Gaussian sigma of the starting model in cells."""
    if threads is not None:
        torch.set_num_threads(threads)
        torchwave.set_num_threads(threads)
    start = time.perf_counter()
    dtype = torch.float32
    v_true = true_model(n)
    v_init = smoothed(v_true, smoothing)
    source_locations, receiver_locations = survey(n, shots_per_side, receiver_spacing)
    shots = source_locations.shape[0]
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
            pml_width=pml_width,
            pml_freq=freq,
            max_vel=V_MAX,
        )[-1]

    with torch.no_grad():
        observed = forward(v_true.to(dtype))
    scale = observed.pow(2).sum()

    # The gradient is strongest, and least informative, right at the sources
    # and receivers: taper it to zero over the top few cells.
    taper_cells = 3
    mask = torch.ones(n, 1, 1, dtype=dtype)
    mask[: taper_cells + 1, 0, 0] = torch.linspace(0.0, 1.0, taper_cells + 2, dtype=dtype)[:-1]

    v = v_init.to(dtype).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([v], lr=lr, betas=(0.5, 0.9))
    losses = []
    err0 = relative_error(v.detach(), v_true)
    bar = tqdm(range(iterations), desc="3D FWI", unit="it", disable=not progress)
    for _ in bar:
        optimiser.zero_grad()
        loss = (forward(v) - observed).pow(2).sum() / scale
        loss.backward()
        with torch.no_grad():
            v.grad *= mask
        optimiser.step()
        with torch.no_grad():
            v.clamp_(V_MIN, V_MAX)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    bar.close()
    v_inv = v.detach().double()
    err1 = relative_error(v_inv, v_true)
    seconds = time.perf_counter() - start
    path = plot(out, v_true, v_init, v_inv, dx, err0, err1) if out is not None else None
    return {
        "error_initial": err0,
        "error_final": err1,
        "losses": losses,
        "out": path,
        "seconds": seconds,
        "v_true": v_true,
        "v_initial": v_init,
        "v_inverted": v_inv,
    }


#: --quick: the model at 24³, seconds on two cores.
QUICK = dict(n=24, nt=240, dt=0.001, freq=25.0, pml_width=6, iterations=8, smoothing=2.5, receiver_spacing=2, lr=40.0)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a 24³ model and 8 iterations (seconds)")
    p.add_argument("--n", type=int, default=None, help="cells per side (default 60)")
    p.add_argument("--iterations", type=int, default=None, help="optimiser steps (default 20)")
    p.add_argument("--shots-per-side", type=int, default=2, help="sources on an N x N surface grid (default 2)")
    p.add_argument("--receiver-spacing", type=int, default=None, help="cells between receivers (default 3)")
    p.add_argument("--nt", type=int, default=None, help="time samples (default 500)")
    p.add_argument("--dt", type=float, default=None, help="sample interval in seconds (default 0.001)")
    p.add_argument("--freq", type=float, default=None, help="Ricker peak frequency in Hz (default 12)")
    p.add_argument("--smoothing", type=float, default=None, help="Gaussian sigma of the initial model in cells (default 5)")
    p.add_argument("--lr", type=float, default=None, help="Adam's step in m/s (default 25)")
    p.add_argument("--threads", type=int, default=None, help="torch and torchwave threads (default: theirs)")
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="PNG to write (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    kw = dict(QUICK) if args.quick else {}
    for name in ("n", "iterations", "receiver_spacing", "nt", "dt", "freq", "smoothing", "lr"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    kw.update(shots_per_side=args.shots_per_side, out=args.out, progress=not args.no_progress, threads=args.threads)
    n = kw.get("n", 60)
    print(f"3D FWI: {n}³ cells, {args.shots_per_side**2} shots, {kw.get('iterations', 20)} iterations of Adam")
    result = run(**kw)
    e0, e1 = result["error_initial"], result["error_final"]
    print(f"relative model error ||v - v_true|| / ||v_true||: before {e0:.4f}, after {e1:.4f} ({100 * (1 - e1 / e0):.1f}% lower)")
    print(f"loss: {result['losses'][0]:.4g} -> {result['losses'][-1]:.4g}")
    print(f"wrote {result['out']} ({result['seconds']:.1f} s)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
