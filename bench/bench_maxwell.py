"""CPU benchmark: torchwave.maxwelltm on its own.

The comparison with TIDE is bench/bench_tide.py (TIDE needs Python >= 3.12;
bench/tide_env.sh builds an interpreter for both). This script runs
torchwave alone on the same 2D TM problem: relative permittivity rising
linearly with depth from 4 to 9, sigma = 1 mS/m, mu = 1, ``--size`` x
``--size`` cells of 2 cm, a 20-cell CPML on every side, stencil 4, float32,
one 200 MHz Ricker source per shot and 100 receivers per shot on a line,
``--nt`` steps of dt = 0.5 * dx / c_max / sqrt(2) (no internal sub-step in
torchwave).

Cases: every combination of ``--shots`` and ``--modes`` (``forward`` under
``torch.no_grad()``; ``forward+backward``: epsilon and sigma require grad,
then ``receiver_amplitudes.pow(2).sum().backward()``). Each case
runs in a fresh subprocess so its peak RSS (``ru_maxrss`` increase over a
warmed-up baseline) is its own; the median of ``--repeat`` runs is reported
as seconds and Mcells/s (padded cells x shots x nt / s).

    PYTHONPATH=python python3 bench/bench_maxwell.py --size 1000 --nt 1000 --shots 1 8
    PYTHONPATH=python python3 bench/bench_maxwell.py --quick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def problem(size, nt, shots, torch, dtype):
    import torchwave.wavelets

    pml = 20
    eps = (4 + 5 * torch.linspace(0, 1, size, dtype=torch.float64)[:, None]).expand(size, size).to(dtype).contiguous()
    sigma = torch.full((size, size), 1e-3, dtype=dtype)
    mu = torch.ones(size, size, dtype=dtype)
    dx = 0.02
    c_max = 299792458.0 / 2
    dt = 0.5 * dx / c_max / math.sqrt(2)
    wavelet = torchwave.wavelets.ricker(200e6, nt, dt, dtype=dtype)
    amp = wavelet.reshape(1, 1, -1).repeat(shots, 1, 1)
    src = torch.tensor([[[2, size // 2]]]).repeat(shots, 1, 1)
    src[:, 0, 1] += torch.arange(shots) * (size // (4 * max(shots, 1)))
    rx = torch.linspace(0, size - 1, min(100, size)).long().unique()
    rec = torch.stack([torch.full_like(rx, 2), rx], dim=-1)[None].repeat(shots, 1, 1)
    return dict(
        epsilon=eps,
        sigma=sigma,
        mu=mu,
        grid_spacing=dx,
        dt=dt,
        source_amplitude=amp,
        source_location=src,
        receiver_location=rec,
        stencil=4,
        pml_width=pml,
    ), (size + 2 * pml) ** 2


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    import torchwave

    torchwave.set_num_threads(args.threads)
    fn = torchwave.maxwelltm

    def once(size, nt):
        kw, cells = problem(size, nt, args.shots, torch, torch.float32)
        if args.mode == "forward":
            with torch.no_grad():
                fn(**kw)
        else:
            kw["epsilon"].requires_grad_()
            kw["sigma"].requires_grad_()
            fn(**kw)[-1].pow(2).sum().backward()
        return cells

    once(32, 10)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        cells = once(args.size, args.nt)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = statistics.median(times)
    print(
        json.dumps(
            {
                "seconds": t,
                "mcells": cells * args.shots * args.nt / t / 1e6,
                "peak_mb": (peak - base) / 1024,
                "abs_peak_mb": peak / 1024,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--nt", type=int, default=1000)
    ap.add_argument("--shots", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--modes", nargs="+", default=["forward", "forward+backward"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="a 200-cell, 100-step smoke run")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--lib", default="torchwave", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="forward", help=argparse.SUPPRESS)
    ap.add_argument("--shot", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.shots = args.shot
        worker(args)
        return
    if args.quick:
        args.size, args.nt, args.shots = 200, 100, [1]
    libs = ["torchwave"]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")]))
    print(f"{args.size}x{args.size} + 20-cell CPML, stencil 4, float32, {args.nt} steps, {args.threads} threads")
    print(f"{'library':10} {'mode':17} {'shots':>5} {'s':>8} {'Mcells/s':>9} {'peak MB':>8}")
    for mode in args.modes:
        for shots in args.shots:
            for lib in libs:
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    "--lib",
                    lib,
                    "--mode",
                    mode,
                    "--shot",
                    str(shots),
                    "--size",
                    str(args.size),
                    "--nt",
                    str(args.nt),
                    "--threads",
                    str(args.threads),
                    "--repeat",
                    str(args.repeat),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    print(f"{lib:10} {mode:17} {shots:5} failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{lib:10} {mode:17} {shots:5} {r['seconds']:8.2f} {r['mcells']:9.1f} {r['peak_mb']:8.0f}")


if __name__ == "__main__":
    main()
