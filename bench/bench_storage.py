"""CPU benchmark of torchwave.scalar's wavefield-history options.

One forward+backward of the problem of bench_scalar.py (a smooth model,
PML 20, float32, one Ricker source and 100 receivers per shot) for every
storage option: the history in memory ("device"), on disk, compressed to
bf16 or int8, recomputed from checkpoints, and rebuilt backwards in time
from boundary strips. Each option runs in a fresh
subprocess; peak memory is the increase of the RSS high-water mark over a
baseline taken after a warm-up, time the median of ``--repeat`` runs. The
gradient of each option is compared with the "device" one.

    PYTHONPATH=python python3 bench/bench_storage.py [--size 600] [--nt 800] [--shots 1]
    PYTHONPATH=python python3 bench/bench_storage.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _report import parse_args_quick  # noqa: E402
from bench_scalar import REPO, RESULT_PREFIX, _maxrss_mib, make_problem, padded_cells  # noqa: E402

OPTIONS = {
    "device": {},
    "disk": {"storage_mode": "disk"},
    "bf16": {"storage_compression": "bf16"},
    "int8": {"storage_compression": "int8"},
    "checkpoint": {"storage_strategy": "checkpoint"},
    "boundary": {"storage_strategy": "boundary"},
}


def worker(spec: dict) -> dict:
    import torch

    import torchwave

    torch.set_num_threads(spec["threads"])
    torchwave.set_num_threads(spec["threads"])
    options = dict(OPTIONS[spec["option"]])
    if options.get("storage_mode") == "disk":
        options["storage_path"] = spec["tmp"]
    v0, dt, amplitudes, sources, receivers = make_problem(torch, spec["size"], spec["nt"], spec["shots"])

    def run(nt=None):
        v = v0.clone().requires_grad_(True)
        out = torchwave.scalar(v, 10.0, dt, amplitudes[..., :nt], sources, receivers, accuracy=8, pml_width=20, **options)
        out[-1].square().sum().backward()
        return v.grad

    run(nt=4)
    base = _maxrss_mib()
    times = []
    for _ in range(spec["repeat"]):
        t0 = time.perf_counter()
        grad = run()
        times.append(time.perf_counter() - t0)
    path = pathlib.Path(spec["tmp"]) / f"grad-{spec['option']}.pt"
    torch.save(grad, path)
    return {"seconds": statistics.median(times), "peak_mib": _maxrss_mib() - base, "grad": str(path)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=600)
    p.add_argument("--nt", type=int, default=800)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--options", default=",".join(OPTIONS))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = parse_args_quick(p, {"size": 100, "nt": 100, "repeat": 1}, argv)
    if args.worker:
        print(RESULT_PREFIX + json.dumps(worker(json.loads(args.worker))))
        return 0

    import torch

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))
    cells = padded_cells(args.size) * args.shots * args.nt
    print(
        f"scalar forward+backward, {args.size}² + PML 20, {args.nt} steps, {args.shots} shot(s), accuracy 8, "
        f"float32, {args.threads} threads"
    )
    print(f"{'option':>11} {'seconds':>8} {'Mcells/s':>9} {'peak MiB':>9} {'vs device':>10} {'grad error':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for option in args.options.split(","):
            spec = dict(
                option=option, size=args.size, nt=args.nt, shots=args.shots, threads=args.threads, repeat=args.repeat, tmp=tmp
            )
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(spec)], env=env, capture_output=True, text=True, check=False
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
            if proc.returncode or not lines:
                print(f"{option:>11} failed: {proc.stderr.strip()[-500:]}")
                continue
            r = results[option] = json.loads(lines[-1][len(RESULT_PREFIX) :])
            grad = torch.load(r["grad"])
            ref = torch.load(results["device"]["grad"]) if "device" in results else grad
            error = float((grad - ref).norm() / ref.norm())
            memory_ratio = results["device"]["peak_mib"] / max(r["peak_mib"], 1e-9) if "device" in results else 1.0
            print(
                f"{option:>11} {r['seconds']:8.2f} {cells / r['seconds'] / 1e6:9.0f} {r['peak_mib']:9.0f} "
                f"{memory_ratio:9.1f}x {error:11.2e}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
