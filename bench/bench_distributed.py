"""Benchmark: the Dask path of torchwave.distributed against serial torchwave.

One FWI objective evaluation (loss and gradient summed over the shots) of a
``--size`` x ``--size`` model (default 1000 x 1000, dx = 10 m, v rising
linearly with depth from 1500 to 3000 m/s, float32, accuracy 4, PML 20),
``--shots`` shots (default 16: one Ricker source and 100 receivers each)
and ``--nt`` time steps (default 30: few, so that the fixed costs show), is
timed three ways:

* ``serial``: ``torchwave.scalar`` on all shots in this process, then
  ``0.5 * sum((pred - obs)^2)``, ``backward()`` and the gradient as a
  float64 NumPy array (what the distributed path returns), with
  ``torchwave.set_num_threads(C)`` and ``torch.set_num_threads(C)``, C =
  the usable cores;
* ``serial in a worker``: the same function run as one task on the
  one-worker cluster below and timed inside the task: the same compute in
  the same process (allocator settings, thread settings) as the Dask path,
  without it;
* ``dask, 1 worker``: ``ShotObjective.value_and_grad`` on a LocalCluster of
  one worker (one task thread; torchwave and torch use the C cores): the
  same computation in one task, plus the Dask path: the model broadcast,
  the task round trips and the gradient coming back;
* ``dask, W workers``: the same on W = ``--workers`` workers (default 2) of
  one task thread each; the shots are split into W groups and torchwave
  uses C // W threads per worker.

Both clusters run side by side. Each path runs once to warm up (thread
pools, snapshot buffers), then ``--repeat`` rounds (default 7) run the four
paths in turn, so that the load of a shared machine hits all of them alike;
medians are reported. The overhead of the Dask path is ``median(dask, 1
worker) - median(serial in a worker)``. The speed-up is ``median(dask, 1
worker) / median(dask, W workers)``. A second problem with ``nt = 1`` shows
the fixed cost (the model out, its gradient back) when there is little
compute.

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_distributed.py
    PYTHONPATH=python python3 bench/bench_distributed.py --size 300 --nt 20 --repeat 3   # quicker
    PYTHONPATH=python python3 bench/bench_distributed.py --quick   # smoke test
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from _report import parse_args_quick

import torchwave
import torchwave.distributed

DX = 10.0
V_MIN, V_MAX = 1500.0, 3000.0
FREQ = 15.0
PROPAGATOR = dict(accuracy=4, pml_width=20, pml_freq=FREQ, max_vel=V_MAX)


def make_problem(size: int, nt: int, n_shots: int):
    y = torch.linspace(0.0, 1.0, size, dtype=torch.float32)
    v = (V_MIN + (V_MAX - V_MIN) * y)[:, None].expand(size, size).contiguous()
    dt = 0.5 * DX / V_MAX / math.sqrt(2)
    wavelet = torchwave.wavelets.ricker(FREQ, nt, dt, peak_time=1.5 / FREQ, dtype=torch.float32)
    source_amplitudes = wavelet.repeat(n_shots, 1, 1)
    source_locations = torch.zeros(n_shots, 1, 2, dtype=torch.long)
    source_locations[:, 0, 0] = min(20, size - 1)
    source_locations[:, 0, 1] = torch.tensor([(i + 1) * size // (n_shots + 1) for i in range(n_shots)])
    n_rec = min(100, size)
    receiver_locations = torch.zeros(n_shots, n_rec, 2, dtype=torch.long)
    receiver_locations[..., 0] = min(10, size - 1)
    receiver_locations[..., 1] = torch.linspace(0, size - 1, n_rec).round().long()
    with torch.no_grad():  # "observed" data from a slightly slower model
        observed = torchwave.scalar(v * 0.98, DX, dt, source_amplitudes, source_locations, receiver_locations, **PROPAGATOR)[-1]
    return v, dt, source_amplitudes, source_locations, receiver_locations, observed


def serial_loss_and_grad(v, dt, src, src_loc, rec_loc, observed):
    """All shots in one propagation; the gradient as float64 NumPy."""
    m = v.clone().requires_grad_(True)
    pred = torchwave.scalar(m, DX, dt, src, src_loc, rec_loc, **PROPAGATOR)[-1]
    loss = torchwave.distributed.l2_misfit(pred, observed)
    loss.backward()
    return float(loss.detach()), m.grad.double().numpy()


def timed_serial_on_worker(problem) -> float:
    """Runs on a worker: the serial computation, timed there."""
    t0 = time.perf_counter()
    serial_loss_and_grad(*problem)
    return time.perf_counter() - t0


def bench(size: int, nt: int, n_shots: int, workers: int, repeat: int, cores: int) -> dict:
    problem = make_problem(size, nt, n_shots)
    v, dt, src, src_loc, rec_loc, observed = problem
    x = v.double().numpy().ravel()
    torchwave.set_num_threads(cores)
    torch.set_num_threads(cores)
    f_serial, g_serial = serial_loss_and_grad(*problem)

    key_w = f"dask, {workers} workers"
    rows = {"serial": [], "serial in a worker": [], "dask, 1 worker": [], key_w: []}
    agreement = {}
    common = dict(
        model_shape=v.shape,
        grid_spacing=DX,
        dt=dt,
        source_amplitudes=src,
        source_locations=src_loc,
        receiver_locations=rec_loc,
        observed=observed,
        **PROPAGATOR,
    )
    with (
        torchwave.distributed.ShotObjective(n_workers=1, **common) as one,
        torchwave.distributed.ShotObjective(n_workers=workers, **common) as many,
    ):
        on_worker = one.client.scatter(problem, broadcast=True)
        runs = {
            "serial": lambda: serial_loss_and_grad(*problem),
            "serial in a worker": lambda: one.client.submit(timed_serial_on_worker, on_worker, pure=False).result(),
            "dask, 1 worker": lambda: one.value_and_grad(x),
            key_w: lambda: many.value_and_grad(x),
        }
        for run in runs.values():  # warm-up: thread pools, snapshot buffers
            run()
        # Interleaved, so that the load of a shared machine hits every path alike.
        for _ in range(repeat):
            for name, run in runs.items():
                t0 = time.perf_counter()
                out = run()
                rows[name].append(out if name == "serial in a worker" else time.perf_counter() - t0)
        one.client.cancel(on_worker)
        for n, objective in ((1, one), (workers, many)):
            f, g = objective.value_and_grad(x)
            agreement[n] = {
                "loss_rel_diff": abs(f - f_serial) / max(abs(f_serial), 1e-300),
                "grad_rel_diff": float(np.linalg.norm(g - g_serial.ravel()) / max(np.linalg.norm(g_serial), 1e-300)),
                "groups": [len(s) for s in objective.shot_groups],
                "torchwave_threads_per_worker": sorted(set(objective.client.run(torchwave.get_num_threads).values())),
            }
    medians = {k: statistics.median(t) for k, t in rows.items()}
    return {
        "size": size,
        "nt": nt,
        "shots": n_shots,
        "workers": workers,
        "times": rows,
        "medians": medians,
        "overhead_1_worker_s": medians["dask, 1 worker"] - medians["serial in a worker"],
        "overhead_1_worker_vs_main_s": medians["dask, 1 worker"] - medians["serial"],
        "speedup_1_to_w_workers": medians["dask, 1 worker"] / medians[key_w],
        "agreement": agreement,
    }


def report(r: dict) -> None:
    print(f"\n{r['size']}x{r['size']} float32, {r['shots']} shots, nt={r['nt']}, loss+gradient per evaluation")
    print(f"{'path':<18} {'median s':>9} {'min s':>8} {'max s':>8}")
    for k, t in r["times"].items():
        print(f"{k:<18} {statistics.median(t):9.3f} {min(t):8.3f} {max(t):8.3f}")
    print(f"Dask overhead, median(dask, 1 worker) - median(serial in a worker): {r['overhead_1_worker_s'] * 1000:.0f} ms")
    print(f"median(dask, 1 worker) - median(serial in this process): {r['overhead_1_worker_vs_main_s'] * 1000:.0f} ms")
    print(f"speed-up 1 -> {r['workers']} workers: {r['speedup_1_to_w_workers']:.2f}x")
    for n, a in r["agreement"].items():
        print(
            f"  {n} worker(s): groups {a['groups']}, torchwave threads {a['torchwave_threads_per_worker']}, "
            f"loss rel diff {a['loss_rel_diff']:.1e}, gradient rel diff {a['grad_rel_diff']:.1e}"
        )


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--nt", type=int, default=30)
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--no-fixed-cost", action="store_true", help="skip the nt=1 problem")
    p.add_argument("--json", default=None, help="write the results here")
    quick = {"size": 200, "nt": 10, "shots": 4, "repeat": 1, "no_fixed_cost": True}
    args = parse_args_quick(p, quick, argv)
    cores = len(os.sched_getaffinity(0))
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor()
    )
    print(
        f"{cpu}, {cores} usable cores, load average {os.getloadavg()[0]:.2f}, "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}"
    )
    import dask
    import distributed

    print(
        f"torch {torch.__version__}, dask {dask.__version__}, distributed {distributed.__version__}, "
        f"torchwave {torchwave.__version__} (simd {torchwave.simd_enabled()})"
    )
    results = [bench(args.size, args.nt, args.shots, args.workers, args.repeat, cores)]
    report(results[-1])
    if not args.no_fixed_cost:
        results.append(bench(args.size, 1, args.shots, args.workers, args.repeat, cores))
        report(results[-1])
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpu": cpu, "cores": cores, "results": results}, fh, indent=1)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
