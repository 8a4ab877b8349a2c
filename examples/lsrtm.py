"""Least-squares reverse time migration through autograd (scenario S2).

The Born operator of a smooth background model, ``torchwave.ScalarBorn``,
sits inside an ordinary torch loss: a data misfit plus a total-variation
term on the image, minimised with ``torch.optim.SGD``. The image is the
scattering potential (a wavespeed perturbation in m/s); every gradient is
the exact discrete adjoint of the Born operator, from torchwave's Go core.

The set-up follows the seed tutorial: a 101×101 model of 10 m cells, one
source at x = 500 m, 20 m deep, receivers 30 m deep across the model, 2 s
of data from a 10 Hz Ricker wavelet. The observed data are the reflections:
the data of the true model minus those of the smooth background.

Run it from the repository root::

    PYTHONPATH=python python3 examples/lsrtm.py [--epochs N] [--shots N] [--out PNG]

It prints the loss of every epoch (it falls every epoch: the step is 0.9/L
with L the data term's largest curvature, estimated by power iteration)
and writes the true perturbation, the first epoch's image (an RTM image)
and the final image to ``examples/out/lsrtm.png``.
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
from scipy.ndimage import gaussian_filter  # noqa: E402
from tqdm import tqdm  # noqa: E402

import torchwave  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "lsrtm.png"
SCALE = 100.0  # m/s: the TV term sees scatter / SCALE, of order one
# The fastest speed of the true model, given as max_vel to every call: the
# PML and the internal step are then the same for the observed, direct and
# Born data (the image does not change max_vel, which scalar_born takes
# from the background model alone).
V_MAX = 3000.0


def true_model(n: int) -> torch.Tensor:
    """Three layers (2000, 2500, 3000 m/s) with a 2300 m/s lens in the
    second: a "hard" model with sharp interfaces, given as fractions of the
    model so any size gives the same picture."""
    z = torch.arange(n, dtype=torch.float64)[:, None] / n
    x = torch.arange(n, dtype=torch.float64)[None, :] / n
    v = torch.full((n, n), 2000.0, dtype=torch.float64)
    v = torch.where(z >= 0.35 + 0.08 * x, torch.full_like(v, 2500.0), v)
    v = torch.where(z >= 0.72, torch.full_like(v, 3000.0), v)
    lens = ((z - 0.55) / 0.07) ** 2 + ((x - 0.45) / 0.16) ** 2 <= 1
    return torch.where(lens, torch.full_like(v, 2300.0), v)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute vertical derivative (the seed's TV term)."""
    return (image[1:] - image[:-1]).abs().mean()


def run(
    n: int = 101,
    dx: float = 10.0,
    nt: int = 2000,
    dt: float = 1e-3,
    freq: float = 10.0,
    shots: int = 1,
    epochs: int = 10,
    tv_weight: float = 1e-3,
    smoothing: float = 6.0,
    progress: bool = True,
) -> dict:
    v_true = true_model(n)
    v_smooth = torch.from_numpy(gaussian_filter(v_true.numpy(), smoothing, mode="nearest"))
    source_x = torch.linspace(0.5 * n, 0.5 * n, 1) if shots == 1 else torch.linspace(0.1 * n, 0.9 * n, shots)
    src_loc = torch.stack([torch.full((shots,), 2), source_x.round().long()], dim=1)[:, None, :]
    rec_x = torch.arange(0, n, dtype=torch.long)
    rec_loc = torch.stack([torch.full_like(rec_x, 3), rec_x], dim=1)[None].expand(shots, -1, -1).contiguous()
    wavelet = torchwave.wavelets.ricker(freq, nt, dt, dtype=torch.float64)
    amp = wavelet[None, None].expand(shots, 1, -1).contiguous()
    common = dict(accuracy=4, pml_width=20, pml_freq=freq, max_vel=V_MAX)

    with torch.no_grad():
        observed = torchwave.scalar(v_true, dx, dt, amp, src_loc, rec_loc, **common)[-1]
        direct = torchwave.scalar(v_smooth, dx, dt, amp, src_loc, rec_loc, **common)[-1]
    reflections = observed - direct
    data_power = reflections.square().sum()

    # The image is the module's scattering potential, a torch Parameter.
    born = torchwave.ScalarBorn(v_smooth, torch.zeros(n, n, dtype=torch.float64), dx, scatter_requires_grad=True)

    def loss_of(module):
        misfit = 0.5 * (module(dt, amp, src_loc, rec_loc, **common)[-1] - reflections).square().sum() / data_power
        return misfit + tv_weight * total_variation(module.scatter / SCALE)

    # The largest curvature of the (quadratic) data term, by power
    # iteration with the Born operator B and its adjoint: a fixed SGD step
    # 0.9/L then decreases the loss every epoch.
    def born_data(scatter):
        return torchwave.scalar_born(v_smooth, scatter, dx, dt, amp, src_loc, rec_loc, **common)[-1]

    probe = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    curvature = 0.0
    for _ in range(4):
        probe = probe / probe.norm()
        zero = torch.zeros(n, n, dtype=torch.float64, requires_grad=True)
        (hp,) = torch.autograd.grad(born_data(zero), zero, born_data(probe) / data_power)
        curvature = float((hp * probe).sum())
        probe = hp
    optimizer = torch.optim.SGD(born.parameters(), lr=0.9 / curvature)

    losses, rtm = [], None
    bar = tqdm(range(epochs), desc="LSRTM", disable=not progress)
    for epoch in bar:
        optimizer.zero_grad()
        loss = loss_of(born)
        loss.backward()
        if epoch == 0:
            rtm = -born.scatter.grad.detach().clone()  # the first step's direction: an RTM image
        optimizer.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    with torch.no_grad():
        losses.append(float(loss_of(born)))
    return dict(
        losses=losses, image=born.scatter.detach().clone(), rtm=rtm, perturbation=v_true - v_smooth, v_smooth=v_smooth, dx=dx
    )


def plot(result: dict, out: pathlib.Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4), constrained_layout=True)
    panels = [
        (result["perturbation"], "true perturbation v − v_smooth (m/s)"),
        (result["rtm"], "RTM (first gradient step)"),
        (result["image"], f"LSRTM after {len(result['losses']) - 1} epochs (m/s)"),
    ]
    for ax, (img, title) in zip(axes, panels):
        torchwave.plot.image(img, result["dx"], ax=ax, title=title)
    torchwave.plot.history(result["losses"], ax=axes[3], xlabel="epoch", title="loss (misfit + TV)")
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=101, help="cells per side")
    parser.add_argument("--nt", type=int, default=2000)
    parser.add_argument("--dt", type=float, default=1e-3)
    parser.add_argument("--freq", type=float, default=10.0)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tv-weight", type=float, default=1e-3)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    result = run(
        n=args.n,
        nt=args.nt,
        dt=args.dt,
        freq=args.freq,
        shots=args.shots,
        epochs=args.epochs,
        tv_weight=args.tv_weight,
        progress=not args.no_progress,
    )
    for epoch, loss in enumerate(result["losses"]):
        print(f"epoch {epoch:3d}  loss {loss:.4e}")
    falls = all(b < a for a, b in zip(result["losses"], result["losses"][1:]))
    print("loss fell every epoch" if falls else "loss did NOT fall every epoch")
    plot(result, args.out)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
