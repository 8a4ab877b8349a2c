"""Overhead of torchwave's L-BFGS-B per iteration against scipy's.

A cheap separable quadratic with 10^6 variables (condition number 10^4, so
neither optimiser converges within the iterations timed) isolates the cost
of the optimisers themselves: the time spent inside the objective is
measured and subtracted. Both see the same objective through their own
Python front ends (torchwave: lbfgs_minimize; scipy: minimize(jac=True,
method="L-BFGS-B")). Prints the median over repeats of ms per iteration.

    PYTHONPATH=python python3 bench/bench_optim.py [--n 1000000] [--iters 20] [--repeats 5]
    PYTHONPATH=python python3 bench/bench_optim.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.optimize as so
from _report import parse_args_quick

from torchwave.optim import LBFGSOptions, lbfgs_minimize


def make_objective(n: int):
    rng = np.random.default_rng(0)
    h = np.geomspace(1.0, 1e4, n)
    rng.shuffle(h)
    b = rng.standard_normal(n) * h
    spent = [0.0]

    def objective(x, grad_out):
        t = time.perf_counter()
        np.multiply(h, x, out=grad_out)
        f = 0.5 * float(grad_out @ x) - float(b @ x)
        grad_out -= b
        spent[0] += time.perf_counter() - t
        return f

    return objective, spent


def run(which: str, n: int, iters: int, bounded: bool) -> float:
    objective, spent = make_objective(n)
    x0 = np.zeros(n)
    lo, hi = (-0.5, 0.5) if bounded else (None, None)
    t = time.perf_counter()
    if which == "torchwave":
        r = lbfgs_minimize(objective, x0, lower_bounds=lo, upper_bounds=hi, options=LBFGSOptions(max_iter=iters, gtol=0, ftol=0))
        nit = r.iterations
    else:
        bounds = None if not bounded else so.Bounds(np.full(n, lo), np.full(n, hi))

        def fun(x):  # scipy needs a new gradient array per call
            g = np.empty_like(x)
            return objective(x, g), g

        r = so.minimize(
            fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": iters, "gtol": 0, "ftol": 0},
        )  # fmt: skip
        nit = r.nit
    wall = time.perf_counter() - t
    return (wall - spent[0]) / nit * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    a = parse_args_quick(p, {"n": 100_000, "iters": 10, "repeats": 1})
    print(f"n = {a.n}, {a.iters} iterations per run, {a.repeats} runs; {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, scipy {scipy.__version__}")  # fmt: skip
    for bounded in (False, True):
        times = {"torchwave": [], "scipy": []}
        for _ in range(a.repeats):
            for which in times:  # alternate, so drifts in machine load hit both
                times[which].append(run(which, a.n, a.iters, bounded))
        med = {k: statistics.median(v) for k, v in times.items()}
        label = "box [-0.5, 0.5]" if bounded else "unbounded"
        print(
            f"{label:16s} overhead ms/iteration, median: torchwave {med['torchwave']:.1f}  scipy {med['scipy']:.1f}  "
            f"(ratio {med['scipy'] / med['torchwave']:.2f}x; all runs torchwave "
            f"{[round(v, 1) for v in times['torchwave']]}, scipy {[round(v, 1) for v in times['scipy']]})"
        )


if __name__ == "__main__":
    main()
