"""CPU benchmark: torchwave.scalar_born against Deepwave 0.0.27's
deepwave.scalar_born, in one process.

Both run the same Born problem: a smooth background (v rising with depth
from 1500 to 3000 m/s) of ``--size``² cells, dx = 10 m, a 20-cell PML,
float32, accuracy 4, one 15 Hz Ricker source and 100 scattered receivers
per shot, ``--nt`` steps (dt below both CFL limits, so neither subdivides),
and a scattering potential of random reflectors away from the model's edges
(where the two libraries' PML padding of scatter would differ).

Cases, for each shot count in ``--shots``:

* ``forward``: under ``torch.no_grad()``;
* ``backward scatter``: forward and backward with only scatter requiring a
  gradient (the LSRTM case);
* ``backward v+scatter``: both v and scatter requiring gradients.

The libraries alternate run by run (so drift on a shared machine hits both)
and the median of ``--repeat`` runs is reported with the ratio
Deepwave time / torchwave time (above 1: torchwave is faster). Outputs and
gradients are compared once per case.

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_born.py [--size 400] [--nt 300] [--shots 1 4] [--repeat 5]
    PYTHONPATH=python python3 bench/bench_born.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch
from _report import parse_args_quick

import torchwave

try:
    import deepwave
except ImportError as exc:  # pragma: no cover - a benchmark prerequisite
    raise SystemExit("bench_born.py needs deepwave: pip install deepwave==0.0.27") from exc

DX, PML, FREQ, N_RECEIVERS = 10.0, 20, 15.0, 100


def problem(size: int, nt: int, shots: int):
    v = torch.linspace(1500.0, 3000.0, size)[:, None].expand(size, size).contiguous()
    gen = torch.Generator().manual_seed(0)
    scatter = torch.zeros(size, size)
    inner = (slice(4, size - 4),) * 2
    scatter[inner] = 50 * torch.randn(scatter[inner].shape, generator=gen)
    dt = 0.5 * DX / 3000.0 / 2**0.5
    wavelet = deepwave.wavelets.ricker(FREQ, nt, dt, 1.5 / FREQ)
    amp = wavelet[None, None].expand(shots, 1, nt).contiguous()
    sx = torch.linspace(size // 10, size - size // 10, shots).long()
    src = torch.stack([torch.full_like(sx, 2), sx], dim=1)[:, None]
    rx = torch.linspace(0, size - 1, N_RECEIVERS).long()
    rec = torch.stack([torch.full_like(rx, 2), rx], dim=1)[None].expand(shots, -1, -1).contiguous()
    return v, scatter, dt, amp, src, rec


def run_once(library: str, case: str, args):
    v, scatter, dt, amp, src, rec = args
    v = v.clone().requires_grad_(case == "backward v+scatter")
    scatter = scatter.clone().requires_grad_(case != "forward")
    born = torchwave.scalar_born if library == "torchwave" else deepwave.scalar_born
    start = time.perf_counter()
    with torch.set_grad_enabled(case != "forward"):
        out = born(v, scatter, DX, dt, amp, src, rec, pml_width=PML, pml_freq=FREQ, accuracy=4)
        if case != "forward":
            out[-1].square().sum().backward()
    elapsed = time.perf_counter() - start
    grads = [t.grad for t in (v, scatter) if t.grad is not None]
    return elapsed, out[-1].detach(), grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--nt", type=int, default=300)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parse_args_quick(parser, {"size": 100, "nt": 100, "shots": [1, 2], "repeat": 1})
    torch.set_num_threads(args.threads)
    torchwave.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    print(f"# scalar_born, {args.size}² + PML {PML}, nt {args.nt}, float32, accuracy 4, {args.threads} threads")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"deepwave {deepwave._version.__version__}, torchwave {torchwave.__version__}, {datetime.date.today()}"
    )
    print(f"{'case':<22}{'shots':>6}{'torchwave s':>13}{'deepwave s':>12}{'ratio':>8}{'max rel diff':>14}")
    for shots in args.shots:
        data = problem(args.size, args.nt, shots)
        for case in ("forward", "backward scatter", "backward v+scatter"):
            times = {"torchwave": [], "deepwave": []}
            results = {}
            run_once("torchwave", case, problem(128, 10, shots))  # warm-up
            run_once("deepwave", case, problem(128, 10, shots))
            for _ in range(args.repeat):
                for library in ("torchwave", "deepwave"):
                    t, out, grads = run_once(library, case, data)
                    times[library].append(t)
                    results[library] = [out, *grads]
            # Gradients are compared inside the edge cells: torchwave extends
            # scatter into the PML as it does v (so its edge cells collect the
            # PML's part of the gradient), Deepwave pads scatter with zeros.
            diff = max(
                float((a - b)[..., 1:-1, 1:-1].norm() / b[..., 1:-1, 1:-1].norm())
                if a.ndim == 2
                else float((a - b).norm() / b.norm())
                for a, b in zip(results["torchwave"], results["deepwave"])
            )
            tw, dw = statistics.median(times["torchwave"]), statistics.median(times["deepwave"])
            print(f"{case:<22}{shots:>6}{tw:>13.3f}{dw:>12.3f}{dw / tw:>8.2f}{diff:>14.2e}")


if __name__ == "__main__":
    main()
