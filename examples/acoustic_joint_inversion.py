"""Joint inversion of wavespeed and density with torchwave.acoustic and a
2×2 block curvature preconditioner.

A layered model (wavespeed and density rising with depth) with a density
anomaly in the middle layer that the wavespeed does not share, 5 m cells.
Pressure sources along the surface; pressure receivers along the surface
and along the bottom, so the data hold reflections and transmitted waves.
The inversion starts from smoothed models and updates both at once with
the bounded L-BFGS-B of :mod:`torchwave.optim`, the unknowns packed as
``x = [v.ravel(), rho.ravel()]``.

The two parameters have different units (m/s and kg/m³) and a gradient of
very different size, and they trade off against each other (both change
the impedance). The preconditioner works per cell on the 2×2 curvature
``[[Σg_v², Σg_v·g_rho], [Σg_v·g_rho, Σg_rho²]]``, summed over the shot
batches at the starting model
(:func:`torchwave.workflow.curvature_preconditioner_block`): it makes each
parameter dimensionless, keeps their coupling, and hands L-BFGS-B an
initial inverse Hessian of 2×2 blocks
(:func:`torchwave.workflow.block_preconditioner`).

Run it from the repository root::

    PYTHONPATH=python python3 examples/acoustic_joint_inversion.py [--iterations N] [--out PNG]

It prints the relative model errors ‖m − m_true‖ / ‖m_true‖ of v and rho
before and after, and writes a figure of the true, starting and inverted
models with the loss and the model errors per iteration (default
``examples/out/acoustic_joint_inversion.png``).
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

import torchwave
from torchwave import workflow
from torchwave.optim import LBFGSOptions, lbfgs_minimize

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "acoustic_joint_inversion.png"
DX = 5.0  # m
DT = 0.001  # s; torchwave takes smaller internal steps where the CFL condition needs them
PML = 10
# Layers: (top row as a fraction of the depth, wavespeed m/s, density kg/m³).
LAYERS = ((0.0, 1800.0, 1700.0), (0.35, 2100.0, 1900.0), (0.7, 2500.0, 2200.0))
RHO_ANOMALY = 300.0  # kg/m³ added to a block of the middle layer
V_MIN, V_MAX = 1500.0, 2800.0  # box bounds, m/s
RHO_MIN, RHO_MAX = 1200.0, 2800.0  # kg/m³


def true_models(ny: int, nx: int):
    """The layered wavespeed and density, with the density anomaly."""
    v = torch.empty(ny, nx, dtype=torch.float64)
    rho = torch.empty(ny, nx, dtype=torch.float64)
    for top, v_layer, rho_layer in LAYERS:
        v[round(top * ny) :] = v_layer
        rho[round(top * ny) :] = rho_layer
    rows = slice(round(0.42 * ny), round(0.62 * ny))
    columns = slice(round(0.4 * nx), round(0.6 * nx))
    rho[rows, columns] += RHO_ANOMALY
    return v, rho


def smoothed(m: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian-smoothed copy (the starting model), edges replicated."""
    radius = max(1, int(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=m.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).reshape(1, 1, -1)
    out = m
    for dim in (0, 1):
        rows = out.movedim(dim, -1)
        shape = rows.shape
        padded = torch.nn.functional.pad(rows.reshape(-1, 1, shape[-1]), (radius, radius), mode="replicate")
        out = torch.nn.functional.conv1d(padded, kernel).reshape(shape).movedim(-1, dim)
    return out.contiguous()


def survey(ny: int, nx: int, shots: int):
    """Sources spread along the surface (row 1); receivers every other cell
    along the surface and along the bottom row."""
    source_x = torch.linspace(2, nx - 3, shots).round().long()
    surface = torch.arange(0, nx, 2)
    receivers = torch.cat(
        [
            torch.stack([torch.full_like(surface, 1), surface], dim=-1),
            torch.stack([torch.full_like(surface, ny - 2), surface], dim=-1),
        ]
    )
    source_locations = torch.stack([torch.ones_like(source_x), source_x], dim=-1)[:, None, :]
    return source_locations, receivers[None].expand(shots, -1, -1).contiguous()


def relative_error(m: torch.Tensor, true: torch.Tensor) -> float:
    return float(torch.linalg.norm(m - true) / torch.linalg.norm(true))


class JointObjective:
    """``objective(x, grad_out) -> loss`` for x = [v.ravel(), rho.ravel()]:
    the receiver misfit over every shot, relative to the data's power,
    back-propagated a batch of shots at a time."""

    def __init__(self, shape, source_amplitudes, source_locations, receiver_locations, observed, batch: int, options: dict):
        self.shape = tuple(shape)
        self.n_shots = source_amplitudes.shape[0]
        self.batches = workflow.split_shots(self.n_shots, batch)
        self.survey = dict(
            source_amplitudes_p=source_amplitudes,
            source_locations_p=source_locations,
            receiver_locations_p=receiver_locations,
        )
        self.observed = observed
        self.data_power = float(observed.square().mean())
        self.options = options

    def models(self, x: np.ndarray):
        m = x.size // 2
        v = torch.from_numpy(x[:m].reshape(self.shape).copy()).requires_grad_(True)
        rho = torch.from_numpy(x[m:].reshape(self.shape).copy()).requires_grad_(True)
        return v, rho

    def predict(self, v: torch.Tensor, rho: torch.Tensor, survey: Dict[str, torch.Tensor]) -> torch.Tensor:
        index = workflow.acoustic_receiver_index("p", ndim=2)
        return torchwave.acoustic(v, rho, **self.options, **survey)[index]

    def __call__(self, x: np.ndarray, grad_out: np.ndarray, after_backward=None) -> float:
        v, rho = self.models(x)

        def batch_loss(shots: torch.Tensor) -> torch.Tensor:
            batch = workflow.take_shot_batch(shot_indices=shots, **self.survey)
            predicted = self.predict(v, rho, batch.as_kwargs())
            return workflow.receiver_mse_loss(predicted, self.observed, shots, normalization="all") / self.data_power

        loss = workflow.backward_shot_batches(
            batch_loss,
            self.batches,
            zero_each_batch=after_backward is not None,
            after_backward=None if after_backward is None else (lambda number, shots, loss: after_backward(v.grad, rho.grad)),
            parameters=[v, rho],
        )
        grad_out[:] = np.concatenate([v.grad.numpy().ravel(), rho.grad.numpy().ravel()])
        return loss

    def block_curvature(self, x: np.ndarray):
        """Per cell, the sums over batches of g_v², g_v·g_rho and g_rho² at
        x: the 2×2 curvature proxy of the block preconditioner."""
        c11 = torch.zeros(self.shape, dtype=torch.float64)
        c12, c22 = torch.zeros_like(c11), torch.zeros_like(c11)

        def accumulate(g_v: torch.Tensor, g_rho: torch.Tensor) -> None:
            c11.add_(g_v * g_v)
            c12.add_(g_v * g_rho)
            c22.add_(g_rho * g_rho)

        self(x, np.empty_like(x), after_backward=accumulate)
        return c11, c12, c22


def invert(
    ny: int = 40,
    nx: int = 80,
    nt: int = 400,
    shots: int = 8,
    batch: int = 4,
    freq: float = 25.0,
    iterations: int = 20,
    smoothing: float = 4.0,
    progress: bool = True,
) -> dict:
    """Runs the joint inversion; returns the models, the loss and the model
    errors of v and rho at the start and after each iteration."""
    v_true, rho_true = true_models(ny, nx)
    v0, rho0 = smoothed(v_true, smoothing), smoothed(rho_true, smoothing)
    source_locations, receiver_locations = survey(ny, nx, shots)
    wavelet = torchwave.wavelets.ricker(freq, nt, DT, dtype=torch.float64)
    source_amplitudes = workflow.expand_source_amplitude(wavelet, shots)
    # max_vel fixed at the fastest speed the bounds allow: the same CPML and
    # internal step for every model the optimiser tries.
    options = dict(grid_spacing=DX, dt=DT, accuracy=4, pml_width=PML, pml_freq=freq, max_vel=V_MAX)
    with torch.no_grad():  # the observed data, a batch of shots at a time
        observed = workflow.run_shot_batches(
            torchwave.acoustic,
            n_shots=shots,
            batch_size=batch,
            output_index=workflow.acoustic_receiver_index("p", ndim=2),
            v=v_true,
            rho=rho_true,
            source_amplitudes_p=source_amplitudes,
            source_locations_p=source_locations,
            receiver_locations_p=receiver_locations,
            **options,
        )
    objective = JointObjective((ny, nx), source_amplitudes, source_locations, receiver_locations, observed, batch, options)

    x0 = np.concatenate([v0.numpy().ravel(), rho0.numpy().ravel()])
    m = x0.size // 2
    c11, c12, c22 = objective.block_curvature(x0)
    h11, h12, h22 = workflow.curvature_preconditioner_block(
        c11, c12, c22, smooth_sigma=2.0, damping=0.05, power=0.5, clip_min=0.1, clip_max=10.0, blend=0.8
    )
    losses: List[float] = [objective(x0.copy(), np.empty_like(x0))]
    errors: Dict[str, List[float]] = {"v": [relative_error(v0, v_true)], "rho": [relative_error(rho0, rho_true)]}

    def record(state) -> None:
        losses.append(float(state.f))
        errors["v"].append(relative_error(torch.from_numpy(state.x[:m]).reshape(ny, nx), v_true))
        errors["rho"].append(relative_error(torch.from_numpy(state.x[m:]).reshape(ny, nx), rho_true))

    result = lbfgs_minimize(
        objective,
        x0,
        lower_bounds=np.concatenate([np.full(m, V_MIN), np.full(m, RHO_MIN)]),
        upper_bounds=np.concatenate([np.full(m, V_MAX), np.full(m, RHO_MAX)]),
        preconditioner=workflow.block_preconditioner(h11, h12, h22),
        options=LBFGSOptions(max_iter=iterations, gtol=1e-12, progress=progress),
        callback=record,
    )
    return dict(
        result=result,
        losses=losses,
        errors=errors,
        v_true=v_true,
        rho_true=rho_true,
        v_initial=v0,
        rho_initial=rho0,
        v_inverted=torch.from_numpy(result.x[:m].reshape(ny, nx).copy()),
        rho_inverted=torch.from_numpy(result.x[m:].reshape(ny, nx).copy()),
        source_locations=source_locations,
        receiver_locations=receiver_locations,
    )


def plot(path: pathlib.Path, run: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 4, figsize=(19, 6.4), layout="constrained")
    survey = dict(sources=run["source_locations"][:, 0], receivers=run["receiver_locations"][0, ::4])
    for row, (name, label) in enumerate((("v", "wavespeed (m/s)"), ("rho", "density (kg/m³)"))):
        true = run[f"{name}_true"]
        scale = dict(vmin=float(true.min()), vmax=float(true.max()), colorbar=False, grid_spacing=DX)
        for column, stage in enumerate(("true", "initial", "inverted")):
            torchwave.plot.model(
                run[f"{name}_{stage}"], ax=axes[row, column], title=f"{name}: {stage}", **scale, **(survey if column == 0 else {})
            )
        fig.colorbar(axes[row, 0].images[-1], ax=axes[row, :3], shrink=0.9, label=label)
    torchwave.plot.history(run["losses"], ax=axes[0, 3], ylabel="relative misfit", title="loss")
    torchwave.plot.history(run["errors"], ax=axes[1, 3], log=False, ylabel="‖m − m_true‖ / ‖m_true‖", title="model errors")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ny", type=int, default=40, help="cells in depth (default 40)")
    p.add_argument("--nx", type=int, default=80, help="cells across (default 80)")
    p.add_argument("--nt", type=int, default=400, help="time samples of 1 ms (default 400)")
    p.add_argument("--shots", type=int, default=8, help="shots (default 8)")
    p.add_argument("--batch", type=int, default=4, help="shots per back-propagated batch (default 4)")
    p.add_argument("--freq", type=float, default=25.0, help="Ricker peak frequency in Hz (default 25)")
    p.add_argument("--iterations", type=int, default=20, help="L-BFGS-B iterations (default 20)")
    p.add_argument("--smoothing", type=float, default=4.0, help="starting models' smoothing in cells (default 4)")
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="the figure (PNG)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    run = invert(
        args.ny,
        args.nx,
        args.nt,
        args.shots,
        args.batch,
        args.freq,
        args.iterations,
        args.smoothing,
        progress=not args.no_progress,
    )
    result, errors = run["result"], run["errors"]
    print(f"L-BFGS-B: {result.iterations} iterations, {result.evaluations} evaluations ({result.message})")
    print(f"loss (relative misfit): {run['losses'][0]:.3e} -> {run['losses'][-1]:.3e}")
    for name in ("v", "rho"):
        print(f"relative model error of {name}: {errors[name][0]:.4f} -> {errors[name][-1]:.4f}")
    plot(args.out, run)
    print(f"figure written to {args.out}")
    return run


if __name__ == "__main__":
    main()
