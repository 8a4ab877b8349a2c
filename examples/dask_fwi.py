"""Full-waveform inversion of the circle model with scipy's L-BFGS-B on a
Dask cluster (scenario S4).

The set-up of Devito's "FWI with Devito and Dask" tutorial: a 101 x 101 grid
of 10 m cells, a 2500 m/s background with a 3000 m/s circle in the middle,
5 shots of a 10 Hz Ricker wavelet down a borehole 30 m from the left edge,
101 receivers down a borehole 20 m from the right edge, 1 s of data, and
scipy's L-BFGS-B with box bounds (2000-3500 m/s) starting from the
background. The misfit 0.5 * sum((pred - obs)^2) and its gradient are summed
over the shots on a Dask LocalCluster by
:class:`torchwave.distributed.ShotObjective`: the observed data go to the
workers once, the model is broadcast to them once per evaluation, and no
file is written. The relative model error ||v - v_true|| / ||v_true|| is
printed after every iteration.

Run it from the repository root::

    PYTHONPATH=python python3 examples/dask_fwi.py [--iterations N] [--workers N] [--out PNG]
    PYTHONPATH=python python3 examples/dask_fwi.py --scheduler tcp://host:8786   # an existing cluster

It writes a figure with the true, initial and inverted models, the
percentage error of the inverted model and the model error per iteration
(default ``examples/out/dask_fwi.png``).
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
import scipy.optimize  # noqa: E402
import torch  # noqa: E402

import torchwave  # noqa: E402
import torchwave.distributed  # noqa: E402

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent / "out" / "dask_fwi.png"
V_BACKGROUND, V_CIRCLE = 2500.0, 3000.0  # m/s
V_MIN, V_MAX = 2000.0, 3500.0  # box bounds of the inversion, m/s


def circle_model(n: int, radius: float) -> torch.Tensor:
    """The background with a faster circle of `radius` cells in the middle."""
    c = (n - 1) / 2
    y = torch.arange(n, dtype=torch.float64)[:, None] - c
    x = torch.arange(n, dtype=torch.float64)[None, :] - c
    v = torch.full((n, n), V_BACKGROUND, dtype=torch.float64)
    return torch.where(y**2 + x**2 <= radius**2, torch.full_like(v, V_CIRCLE), v)


def crosswell_survey(n: int, dx: float, shots: int):
    """Sources down a borehole 30 m from the left edge, receivers (one per
    cell) down a borehole 20 m from the right edge."""
    source_x = round(30.0 / dx)
    receiver_x = n - 1 - round(20.0 / dx)
    source_locations = torch.zeros(shots, 1, 2, dtype=torch.long)
    source_locations[:, 0, 0] = torch.linspace(0, n - 1, shots).round().long()
    source_locations[:, 0, 1] = source_x
    receiver_locations = torch.zeros(shots, n, 2, dtype=torch.long)
    receiver_locations[..., 0] = torch.arange(n)
    receiver_locations[..., 1] = receiver_x
    return source_locations, receiver_locations


def relative_error(v: np.ndarray, v_true: np.ndarray) -> float:
    return float(np.linalg.norm(v - v_true) / np.linalg.norm(v_true))


def plot(path, v_true, v_init, v_inv, errors, dx, source_locations, receiver_locations):
    fig, axes = plt.subplots(1, 5, figsize=(21, 4.2), layout="constrained")
    scale = {"vmin": V_BACKGROUND - 100, "vmax": V_CIRCLE + 100, "colorbar": False}
    survey = {"sources": source_locations[:, 0], "receivers": receiver_locations[0, ::4]}
    torchwave.plot.model(v_true, dx, ax=axes[0], title="True model", **scale, **survey)
    axes[0].legend(loc="lower center", fontsize=7)
    torchwave.plot.model(v_init, dx, ax=axes[1], title="Initial model", **scale)
    torchwave.plot.model(v_inv, dx, ax=axes[2], title="Inverted model", **scale)
    fig.colorbar(axes[0].images[-1], ax=axes[:3], label="wavespeed (m/s)", shrink=0.9)
    error = 100 * np.abs(v_inv - v_true) / v_true
    torchwave.plot.model(error, dx, ax=axes[3], title="Inverted model: error (%)", cmap="hot", vmin=0, vmax=15, label=None)
    torchwave.plot.history(
        100 * np.asarray(errors), ax=axes[4], log=False, xlabel="L-BFGS-B iteration", ylabel="relative model error (%)"
    )
    axes[4].set_title("||v - v_true|| / ||v_true||")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run(
    n: int = 101,
    dx: float = 10.0,
    radius: float = 15.0,
    nt: int = 1000,
    dt: float = 0.001,
    freq: float = 10.0,
    shots: int = 5,
    iterations: int = 20,
    workers: int = 2,
    scheduler: Optional[str] = None,
    pml_width: int = 20,
    first_step: float = 50.0,
    out: Optional[str | pathlib.Path] = DEFAULT_OUT,
    verbose: bool = True,
) -> dict:
    """Runs the inversion; returns the model error per iteration (index 0:
    the initial model), the misfits relative to the initial one, the
    inverted model, the number of objective evaluations, the run time and
    the figure's path. ``first_step`` is the largest change, in m/s, of
    L-BFGS-B's first trial step."""
    start = time.perf_counter()
    v_true = circle_model(n, radius)
    v_init = torch.full_like(v_true, V_BACKGROUND)
    source_locations, receiver_locations = crosswell_survey(n, dx, shots)
    wavelet = torchwave.wavelets.ricker(freq, nt, dt, peak_time=1.0 / freq, dtype=torch.float32)
    source_amplitudes = wavelet.repeat(shots, 1, 1)
    propagator = dict(accuracy=4, pml_width=pml_width, pml_freq=freq, max_vel=V_MAX)
    with torch.no_grad():  # synthetic "field" data from the true model
        observed = torchwave.scalar(
            v_true.float(), dx, dt, source_amplitudes, source_locations, receiver_locations, **propagator
        )[-1]

    v_true_np, x0 = v_true.numpy(), v_init.numpy().ravel().copy()
    with torchwave.distributed.ShotObjective(
        v_true.shape,
        dx,
        dt,
        source_amplitudes,
        source_locations,
        receiver_locations,
        observed,
        client=scheduler,
        n_workers=workers,
        **propagator,
    ) as objective:
        # With bounds on every variable, L-BFGS-B's first trial step is the
        # raw negative gradient: scale the misfit so that this step changes
        # the model by at most `first_step` m/s.
        f0, g0 = objective.value_and_grad(x0)
        scale = float(np.abs(g0).max()) / first_step
        losses = []

        def fun(x):
            f, g = objective.value_and_grad(x)
            losses.append(f / f0)
            return f / scale, g / scale

        errors = [relative_error(x0.reshape(v_true.shape), v_true_np)]
        if verbose:
            print(f"iteration  0: model error {100 * errors[0]:.3f}%")

        def callback(xk):
            errors.append(relative_error(xk.reshape(v_true.shape), v_true_np))
            if verbose:
                print(
                    f"iteration {len(errors) - 1:2d}: model error {100 * errors[-1]:.3f}%, misfit {losses[-1]:.4g} of the initial"
                )

        result = scipy.optimize.minimize(
            fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(V_MIN, V_MAX)] * x0.size,
            callback=callback,
            options={"maxiter": iterations},
        )
        evaluations = objective.n_evaluations
    v_inv = result.x.reshape(v_true.shape)
    seconds = time.perf_counter() - start
    path = None
    if out is not None:
        path = plot(out, v_true_np, v_init.numpy(), v_inv, errors, dx, source_locations, receiver_locations)
    return {
        "errors": errors,
        "losses": losses,
        "v_inverted": v_inv,
        "evaluations": evaluations,
        "message": result.message,
        "seconds": seconds,
        "out": path,
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=20, help="L-BFGS-B iterations at most (default 20)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler instead of a LocalCluster")
    p.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="PNG to write (default %(default)s)")
    p.add_argument("--n", type=int, default=101, help="grid cells per side (default 101)")
    p.add_argument("--dx", type=float, default=10.0, help="cell size in metres (default 10)")
    p.add_argument("--radius", type=float, default=15.0, help="circle radius in cells (default 15)")
    p.add_argument("--nt", type=int, default=1000, help="time samples (default 1000)")
    p.add_argument("--dt", type=float, default=0.001, help="sample interval in seconds (default 0.001)")
    p.add_argument("--freq", type=float, default=10.0, help="Ricker peak frequency in Hz (default 10)")
    p.add_argument("--shots", type=int, default=5, help="shots (default 5)")
    p.add_argument("--pml", type=int, default=20, help="PML width in cells (default 20)")
    args = p.parse_args(argv)
    where = args.scheduler or f"a LocalCluster of {args.workers} workers"
    print(
        f"FWI of the circle model: {args.n}x{args.n} cells of {args.dx:g} m, {args.shots} shots, "
        f"{args.nt} samples of {1000 * args.dt:g} ms, {args.freq:g} Hz, L-BFGS-B on {where}"
    )
    result = run(
        n=args.n,
        dx=args.dx,
        radius=args.radius,
        nt=args.nt,
        dt=args.dt,
        freq=args.freq,
        shots=args.shots,
        iterations=args.iterations,
        workers=args.workers,
        scheduler=args.scheduler,
        pml_width=args.pml,
        out=args.out,
    )
    e = result["errors"]
    print(
        f"relative model error: {100 * e[0]:.3f}% -> {100 * e[-1]:.3f}% after {len(e) - 1} iterations "
        f"({result['evaluations']} evaluations; {result['message']})"
    )
    print(f"wrote {result['out']} ({result['seconds']:.1f} s)")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
