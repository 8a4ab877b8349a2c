"""Per-call overhead on a small grid: torchwave.scalar against Deepwave 0.0.27.

64 x 64 cells, PML 10 (or --pml), 100 steps, float32, one shot, one source
and 64 receivers, two threads: the grid is so small that Python set-up,
argument checks and autograd bookkeeping are a large share of a call. Each
library runs in its own subprocess (``--library``); the parent alternates
them ``--rounds`` times and prints per-library medians of the per-round
medians and the ratio Deepwave time / torchwave time (> 1: torchwave faster).

    PYTHONPATH=python python3 bench/bench_overhead.py [--rounds 5] [--calls 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def worker(library: str, calls: int, pml: int, size: int, nt: int) -> dict:
    import torch

    torch.set_num_threads(2)
    if library == "torchwave":
        import torchwave as lib

        lib.set_num_threads(2)
    else:
        import deepwave as lib
    v = torch.linspace(1500, 2500, size)[:, None].expand(size, size).contiguous()
    dt = 0.001
    src = lib.wavelets.ricker(15.0, nt, dt, 1.5 / 15.0)[None, None]
    sl = torch.tensor([[[2, size // 2]]])
    rl = torch.stack([torch.full((size,), 2), torch.arange(size)], -1)[None]
    out = {}
    for mode in ("forward", "forward+backward"):
        times = []
        for i in range(calls + 3):
            m = v.clone().requires_grad_(mode != "forward")
            t0 = time.perf_counter()
            if mode == "forward":
                with torch.no_grad():
                    lib.scalar(m, 10.0, dt, src, sl, rl, pml_width=pml, pml_freq=15.0, max_vel=2500.0)
            else:
                rec = lib.scalar(m, 10.0, dt, src, sl, rl, pml_width=pml, pml_freq=15.0, max_vel=2500.0)[-1]
                rec.square().sum().backward()
            if i >= 3:
                times.append(time.perf_counter() - t0)
        out[mode] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", choices=["torchwave", "deepwave"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--pml", type=int, default=10)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--nt", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="one round of 5 calls")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.calls = 1, 5
    if args.library:
        print(json.dumps(worker(args.library, args.calls, args.pml, args.size, args.nt)))
        return
    libraries = ["torchwave"]
    try:
        import deepwave  # noqa: F401

        libraries.append("deepwave")
    except ImportError:
        print("deepwave is not installed (pip install deepwave==0.0.27): torchwave only")
    results = {lib: {"forward": [], "forward+backward": []} for lib in libraries}
    for _ in range(args.rounds):
        for lib in libraries:
            cmd = [
                sys.executable,
                __file__,
                "--library",
                lib,
                "--calls",
                str(args.calls),
                "--pml",
                str(args.pml),
                "--size",
                str(args.size),
                "--nt",
                str(args.nt),
            ]
            got = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            for mode, t in got.items():
                results[lib][mode].append(t)
    print(
        f"{args.size}x{args.size}, PML {args.pml}, {args.nt} steps, float32, 1 shot, {args.rounds} rounds of {args.calls} calls"
    )
    for mode in ("forward", "forward+backward"):
        line = f"{mode:17s}"
        med = {lib: statistics.median(results[lib][mode]) for lib in libraries}
        for lib in libraries:
            line += f"  {lib} {1e3 * med[lib]:7.2f} ms"
        if "deepwave" in med:
            line += f"  ratio {med['deepwave'] / med['torchwave']:.2f}"
        print(line)


if __name__ == "__main__":
    main()
