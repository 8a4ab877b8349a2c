"""Surface GPR inversion for permittivity with torchwave.workflow and the
L-BFGS-B optimiser of torchwave.optim.

The compact pattern for a bounded inversion:

* torchwave.workflow owns shot indexing, receiver concatenation, the
  receiver loss and the mini-batch gradient accumulation;
* torchwave.optim owns the optimiser loop (L-BFGS-B, run in Go);
* this script owns the model packing (a flat float64 vector <-> the
  permittivity grid), the bounds and the curvature preconditioner.

Eight common-offset GPR shots (a 600 MHz source and a receiver 4 cells
apart, moved along the surface) over a 32×32 grid of 2 cm cells with a
buried block of higher permittivity, 300 steps of 40 ps. ``backward_shot_batches`` back-propagates two shots at a
time, so only one mini-batch graph is alive at once. The inversion runs
twice from the same start: plain, and with a diagonal preconditioner
built from the per-batch squared gradients of the first evaluation.

Run it from the repository root::

    PYTHONPATH=python python3 examples/gpr_lbfgs_workflow.py [--iterations N] [--out FILE]
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Optional, Sequence

import numpy as np
import torch

import torchwave
from torchwave import workflow
from torchwave.maxwell import C0
from torchwave.optim import LBFGSOptions, lbfgs_minimize

NY, NX = 32, 32
N_SHOTS = 8
NT = 300
DX = 0.02  # m
DT = 4e-11  # s
FREQ = 600e6  # Hz: a wavelength of 12 cells in the background
BATCH = 2
PML = 8
EPS_BACKGROUND, EPS_BLOCK = 4.0, 6.0
EPS_START, EPS_MIN, EPS_MAX = 3.5, 1.0, 9.0
# The fastest speed the bounds allow (mu = 1): max_vel fixes the CPML and
# the internal step for every model the optimiser tries, so the objective
# is smooth (left to default it would follow the lowest permittivity, and
# the gradient would not see it).
MAX_VEL = C0 / EPS_MIN**0.5


def true_permittivity(dtype=torch.float32) -> torch.Tensor:
    eps = torch.full((NY, NX), EPS_BACKGROUND, dtype=dtype)
    eps[14:22, 12:20] = EPS_BLOCK
    return eps


def setup(dtype=torch.float32):
    """The survey, the fixed models and the observed data."""
    wavelet = torchwave.wavelets.ricker(FREQ, NT, DT, dtype=dtype)
    source_amplitude = workflow.expand_source_amplitude(wavelet, N_SHOTS)
    acquisition = workflow.line_acquisition_2d(
        torch.arange(N_SHOTS) * 2 + 8, torch.arange(N_SHOTS) * 2 + 12, source_depth=4, receiver_mode="paired"
    )
    sigma = torch.zeros(NY, NX, dtype=dtype)
    mu = torch.ones(NY, NX, dtype=dtype)
    fixed = dict(sigma=sigma, mu=mu, grid_spacing=DX, dt=DT, pml_width=PML, stencil=4, max_vel=MAX_VEL)
    with torch.no_grad():
        observed = workflow.run_shot_batches(
            torchwave.maxwelltm,
            n_shots=N_SHOTS,
            batch_size=BATCH,
            epsilon=true_permittivity(dtype),
            source_amplitude=source_amplitude,
            source_location=acquisition.source_location,
            receiver_location=acquisition.receiver_location,
            **fixed,
        )
    return source_amplitude, acquisition, fixed, observed


def make_objective(source_amplitude, acquisition, fixed, observed, dtype=torch.float32, after_backward=None):
    """``objective(x, grad_out) -> loss`` over the flattened permittivity."""
    batches = workflow.split_shots(N_SHOTS, BATCH)
    # Misfit relative to the data's power: the loss starts near 1 whatever
    # the units, so the optimiser's absolute tolerances mean something.
    data_power = float(observed.square().mean())

    def objective(x: np.ndarray, grad_out: np.ndarray) -> float:
        epsilon = torch.from_numpy(x.reshape(NY, NX)).to(dtype).requires_grad_(True)

        def batch_loss(shot_indices: torch.Tensor) -> torch.Tensor:
            batch = workflow.take_shot_batch(
                source_amplitude=source_amplitude,
                source_location=acquisition.source_location,
                receiver_location=acquisition.receiver_location,
                shot_indices=shot_indices,
            )
            predicted = torchwave.maxwelltm(epsilon, **fixed, **batch.as_kwargs())[-1]
            return workflow.receiver_mse_loss(predicted, observed, shot_indices, normalization="all") / data_power

        loss = workflow.backward_shot_batches(
            batch_loss,
            batches,
            zero_each_batch=after_backward is not None,
            after_backward=None if after_backward is None else (lambda number, shots, loss: after_backward(epsilon)),
        )
        grad_out[:] = epsilon.grad.detach().to(torch.float64).reshape(-1).numpy()
        return loss

    return objective


def curvature_of(data, x0: np.ndarray) -> torch.Tensor:
    """Σ over batches of the squared per-batch gradient at x0: a diagonal
    curvature proxy (an illumination map) for the preconditioner."""
    total = torch.zeros(NY, NX, dtype=torch.float64)

    def accumulate(epsilon: torch.Tensor) -> None:
        total.add_(epsilon.grad.detach().to(torch.float64).square())

    probe = make_objective(*data, after_backward=accumulate)
    probe(x0.copy(), np.empty_like(x0))
    return total


def invert(iterations: int = 10, preconditioned: bool = False, progress: bool = False):
    """Runs the bounded inversion; returns the optimiser result and the
    loss at the start and after each iteration."""
    data = setup()
    objective = make_objective(*data)
    x0 = np.full(NY * NX, EPS_START, dtype=np.float64)
    preconditioner = None
    if preconditioned:
        curvature = curvature_of(data, x0)
        diag = workflow.curvature_preconditioner_diagonal(
            curvature, smooth_sigma=2.0, damping=5e-2, power=0.5, clip_min=0.3, clip_max=3.0, blend=0.7
        )
        preconditioner = workflow.diagonal_preconditioner(diag)
    losses = [objective(x0.copy(), np.empty_like(x0))]  # the starting misfit
    result = lbfgs_minimize(
        objective,
        x0,
        lower_bounds=np.full_like(x0, EPS_MIN),
        upper_bounds=np.full_like(x0, EPS_MAX),
        preconditioner=preconditioner,
        options=LBFGSOptions(max_iter=iterations, gtol=1e-10, progress=progress),
        callback=lambda state: losses.append(float(state.f)),
    )
    return result, losses


def model_error(x: np.ndarray) -> float:
    true = true_permittivity(torch.float64).numpy().reshape(-1)
    return float(np.linalg.norm(x - true) / np.linalg.norm(true))


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=10, help="L-BFGS-B iterations (default 10)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("examples/out/gpr_lbfgs_workflow.png"))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)

    start_error = model_error(np.full(NY * NX, EPS_START))
    runs = {}
    for name, preconditioned in (("plain", False), ("preconditioned", True)):
        result, losses = invert(args.iterations, preconditioned, progress=not args.no_progress)
        runs[name] = dict(result=result, losses=losses, error=model_error(result.x))
        print(
            f"{name:>15}: {result.iterations} iterations, {result.evaluations} evaluations, loss "
            f"{losses[0]:.3e} -> {losses[-1]:.3e}, relative model error {start_error:.3f} -> {runs[name]['error']:.3f} "
            f"({result.message})"
        )
    _plot(runs, args.out)
    print(f"figure written to {args.out}")
    return runs


def _plot(runs: dict, out: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    images = [("true", true_permittivity().numpy())] + [(name, run["result"].x.reshape(NY, NX)) for name, run in runs.items()]
    for ax, (title, image) in zip(axes, images):
        torchwave.plot.model(image, ax=ax, title=f"permittivity: {title}", vmin=EPS_START, vmax=EPS_BLOCK, colorbar=False)
    fig.colorbar(axes[0].images[-1], ax=axes[:3], shrink=0.8, label="relative permittivity")
    torchwave.plot.history({name: run["losses"] for name, run in runs.items()}, ax=axes[3], title="receiver MSE")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    main()
