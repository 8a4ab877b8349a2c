"""A neural network that outputs the wavespeed, trained through the wave equation.

A small MLP maps each cell's (y, x) coordinates to a wavespeed
``1500 + 1000 * sigmoid(mlp(y, x))`` m/s. Waves are propagated through that
model with :func:`torchwave.scalar`, the misfit to "observed" data (made with
a layered model with an anomaly) is backpropagated through the propagator's
adjoint into the network's weights, and Adam trains the network for a few
steps.

Shots are processed in batches, as one would when all of them do not fit in
memory at once: each batch's loss is normalised by the energy of all the
observed data, so the batch losses sum to the full loss, and ``backward()``
per batch accumulates exactly the full gradient in the weights. The script
checks this against one backward over all the shots and prints the largest
difference relative to the largest gradient entry.

Run it from the repository root::

    PYTHONPATH=python python3 examples/nn_wavespeed.py [--steps N] [--batch N]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional, Sequence, Tuple, Union

import torch
from tqdm import tqdm

import torchwave

V_LOW, V_RANGE = 1500.0, 1000.0  # the network's wavespeeds lie in (1500, 2500) m/s


class WavespeedMLP(torch.nn.Module):
    """(y, x) in [-1, 1]² -> wavespeed in (V_LOW, V_LOW + V_RANGE) m/s."""

    def __init__(self, hidden: int = 32, frequencies: int = 3):
        super().__init__()
        # A few fixed Fourier features let a small MLP represent layers.
        self.register_buffer("freqs", torch.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32)[:, None])
        n_in = 2 + 4 * frequencies
        self.net = torch.nn.Sequential(
            torch.nn.Linear(n_in, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.Tanh(),
            torch.nn.Linear(hidden, 1),
        )

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """coords [ny, nx, 2] -> v [ny, nx]."""
        phase = coords[..., None, :] * self.freqs  # [ny, nx, F, 2]
        features = torch.cat([coords, phase.sin().flatten(-2), phase.cos().flatten(-2)], dim=-1)
        return V_LOW + V_RANGE * torch.sigmoid(self.net(features)[..., 0])


def target_model(ny: int, nx: int, dtype: torch.dtype) -> torch.Tensor:
    """Three layers and a circular slow anomaly, within the network's range."""
    z = torch.linspace(0, 1, ny, dtype=dtype)[:, None].expand(ny, nx)
    x = torch.linspace(0, 1, nx, dtype=dtype)[None, :].expand(ny, nx)
    v = torch.full((ny, nx), 1700.0, dtype=dtype)
    v = torch.where(z > 0.3, torch.full_like(v, 2050.0), v)
    v = torch.where(z > 0.65, torch.full_like(v, 2350.0), v)
    blob = (z - 0.5) ** 2 + ((x - 0.5) * nx / ny) ** 2 < 0.12**2
    return torch.where(blob, torch.full_like(v, 1800.0), v)


def shot_batches(n_shots: int, batch: int) -> List[torch.Tensor]:
    return list(torch.arange(n_shots).split(batch))


def run(
    size: Union[int, Tuple[int, int]] = (40, 80),
    nt: int = 250,
    shots: int = 6,
    batch: int = 2,
    steps: int = 15,
    dx: float = 10.0,
    dt: float = 0.002,
    freq: float = 12.0,
    lr: float = 0.01,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Trains the network for ``steps`` Adam steps, shots in batches of
    ``batch``. ``size`` is ny or (ny, nx) (ny alone means nx = 2 ny).

    Returns a dict: ``losses`` (the full loss before each step),
    ``grad_max_rel_diff`` (max |accumulated - full gradient| / max |full
    gradient| over all the weights, at the initial weights),
    ``loss_sum_diff`` (|sum of batch losses - full loss| / full loss),
    ``v`` (the final wavespeed) and ``seconds``."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    ny, nx = (size, 2 * size) if isinstance(size, int) else size

    # Survey: sources and receivers along the top, one row down.
    sx = torch.linspace(1, nx - 2, shots).round().long()
    source_locations = torch.stack([torch.ones_like(sx), sx], dim=-1)[:, None, :]  # [shots, 1, 2]
    rx = torch.arange(0, nx)
    receiver_locations = torch.stack([torch.ones_like(rx), rx], dim=-1)[None].repeat(shots, 1, 1)
    source_amplitudes = torchwave.wavelets.ricker(freq, nt, dt, dtype=dtype).repeat(shots, 1, 1)

    def record(v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return torchwave.scalar(
            v,
            dx,
            dt,
            source_amplitudes[idx],
            source_locations[idx],
            receiver_locations[idx],
            pml_width=20,
            pml_freq=freq,
            max_vel=V_LOW + V_RANGE,
        )[-1]

    every = torch.arange(shots)
    with torch.no_grad():
        observed = record(target_model(ny, nx, dtype), every)
    norm = observed.pow(2).sum()

    coords = torch.stack(
        torch.meshgrid(torch.linspace(-1, 1, ny, dtype=dtype), torch.linspace(-1, 1, nx, dtype=dtype), indexing="ij"),
        dim=-1,
    )
    model = WavespeedMLP().to(dtype)
    params = list(model.parameters())

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        # Normalised by all the data's energy: the batch losses sum to the full loss.
        v = model(coords)
        return (record(v, idx) - observed[idx]).pow(2).sum() / norm

    def accumulate(batches: Sequence[torch.Tensor]) -> float:
        """Zeroes the gradients, then backward per batch; returns the summed loss."""
        model.zero_grad()
        total = 0.0
        for idx in batches:
            loss = batch_loss(idx)
            loss.backward()  # adds this batch's share to p.grad
            total += loss.item()
        return total

    # The gradient check, at the initial weights.
    full_loss = accumulate([every])
    g_full = torch.cat([p.grad.flatten() for p in params])
    batched_loss = accumulate(shot_batches(shots, batch))
    g_acc = torch.cat([p.grad.flatten() for p in params])
    grad_diff = float((g_acc - g_full).abs().max() / g_full.abs().max())
    loss_diff = abs(batched_loss - full_loss) / full_loss

    # Training, shots in batches.
    optimiser = torch.optim.Adam(params, lr=lr)
    losses = []
    bar = tqdm(range(steps), desc="training", unit="step", disable=not progress)
    for _ in bar:
        losses.append(accumulate(shot_batches(shots, batch)))
        optimiser.step()
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    bar.close()
    with torch.no_grad():
        v_final = model(coords)
    return {
        "losses": losses,
        "grad_max_rel_diff": grad_diff,
        "loss_sum_diff": loss_diff,
        "v": v_final,
        "seconds": time.perf_counter() - start,
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ny", type=int, default=40, help="grid cells in depth (default 40)")
    p.add_argument("--nx", type=int, default=80, help="grid cells across (default 80)")
    p.add_argument("--nt", type=int, default=250, help="time samples (default 250)")
    p.add_argument("--shots", type=int, default=6, help="shots (default 6)")
    p.add_argument("--batch", type=int, default=2, help="shots per backward (default 2)")
    p.add_argument("--steps", type=int, default=15, help="Adam steps (default 15)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    p.add_argument("--float32", action="store_true", help="single precision (default double)")
    p.add_argument("--seed", type=int, default=0, help="seed for the network's initial weights (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    result = run(
        size=(args.ny, args.nx),
        nt=args.nt,
        shots=args.shots,
        batch=args.batch,
        steps=args.steps,
        lr=args.lr,
        dtype=torch.float32 if args.float32 else torch.float64,
        seed=args.seed,
        progress=not args.no_progress,
    )
    losses = result["losses"]
    print(f"loss: {losses[0]:.4g} -> {losses[-1]:.4g} over {len(losses)} steps")
    print(
        f"shot-batched vs all-shots gradient of the network weights: max relative difference "
        f"{result['grad_max_rel_diff']:.3g} (losses differ by {result['loss_sum_diff']:.3g})"
    )
    v = result["v"]
    print(f"final wavespeed: {float(v.min()):.0f}-{float(v.max()):.0f} m/s ({result['seconds']:.1f} s)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
