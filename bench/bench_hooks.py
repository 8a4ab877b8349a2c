"""What an imaging-condition hook costs: Scalar's gradient through autograd
against the same gradient from a registered imaging condition.

The problem is scenario S1: a two-layer model (1500 over 2500 m/s) of
``--ny`` x ``--nx`` cells (default 96 x 128) of 10 m, a 20-cell PML,
accuracy 4, float32, ``--nt`` steps of 2 ms (default 600; dt is below the
CFL limit at the starting 1500 m/s, so the internal steps are the user's),
one 10 Hz Ricker source and 64 receivers near the surface. Each case is
forward + ``loss.backward()`` of ``0.5 ||pred - observed||²``:

* ``autograd``: no hook (the stored-snapshot gradient of the Go core);
* ``hook, zeros``: a gradient-mode hook that returns zeros: the cost of
  running single-step chunks and handing the fields to Python;
* ``hook, standard``: ``torchwave.hooks.standard_imaging_condition``;
* ``imaging, xcorr``: ``Scalar.imaging(..., observed=...)`` with a
  zero-lag cross-correlation.

Every case runs once to warm up, then ``--repeat`` rounds (default 7) run
each case in turn; the median of each is reported with its ratio to
``autograd``. Threads: torch and
torchwave both get ``--threads`` (default 2).

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_hooks.py
    PYTHONPATH=python python3 bench/bench_hooks.py --nt 200 --repeat 3   # quicker
    PYTHONPATH=python python3 bench/bench_hooks.py --quick   # smoke test
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
from torchwave.hooks import standard_imaging_condition


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ny", type=int, default=96)
    ap.add_argument("--nx", type=int, default=128)
    ap.add_argument("--nt", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = parse_args_quick(ap, {"nt": 100, "repeat": 1})
    torch.set_num_threads(args.threads)
    torchwave.set_num_threads(args.threads)

    ny, nx, nt, dt, dh = args.ny, args.nx, args.nt, 0.002, 10.0
    dtype = torch.float32
    v_true = torch.full((ny, nx), 1500.0, dtype=dtype)
    v_true[ny // 2 :] = 2500.0
    wavelet = torchwave.wavelets.ricker(10.0, nt, dt, peak_time=0.12, dtype=dtype)
    rec_x = torch.linspace(0, nx - 1, 64).long()
    survey = (
        dt,
        wavelet.reshape(1, 1, nt),
        torch.tensor([[[2, nx // 2]]]),
        torch.stack([torch.full_like(rec_x, 4), rec_x], dim=-1)[None],
    )
    options = dict(pml_freq=10.0)
    with torch.no_grad():
        observed = torchwave.scalar(v_true, dh, *survey, **options)[-1]
    prop = torchwave.Scalar(torch.full((ny, nx), 1500.0, dtype=dtype), dh, v_requires_grad=True)

    def gradient():
        prop.v.grad = None
        pred = prop(*survey, **options)[-1]
        (0.5 * (pred - observed).pow(2).sum()).backward()

    def with_hook(fn):
        def case():
            prop.register_gradient("v", fn)
            try:
                gradient()
            finally:
                prop.clear_gradients()

        return case

    def imaging():
        prop.register_gradient("v", lambda f, a, m, dt, dh: f["wavefield"] * a["wavefield"], mode="imaging")
        try:
            prop.imaging(*survey, observed=observed, **options)
        finally:
            prop.clear_gradients()

    cases = [
        ("autograd", gradient),
        ("hook, zeros", with_hook(lambda f, a, m, dt, dh: torch.zeros_like(m[0]))),
        ("hook, standard", with_hook(standard_imaging_condition)),
        ("imaging, xcorr", imaging),
    ]
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), platform.processor())
    pml = 20 + 2  # PML and the accuracy-4 halo on each side
    print(
        f"{datetime.date.today()}, {cpu}, {os.cpu_count()} logical CPUs, {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"S1: {ny} x {nx} model ({ny + 2 * pml} x {nx + 2 * pml} padded), {nt} steps, float32, "
        f"torch {torch.__version__}, torchwave {torchwave.__version__}"
    )
    kept = nt * ny * nx * 4 / 2**20
    print(f"a hook on 'wavefield' keeps {nt} x {ny} x {nx} float32 forward fields: {kept:.1f} MiB")
    for _, case in cases:
        case()  # warm-up
    # Rounds of every case in turn, so that a burst of load from elsewhere
    # on a shared machine falls on all of them alike.
    times = {name: [] for name, _ in cases}
    for _ in range(args.repeat):
        for name, case in cases:
            t0 = time.perf_counter()
            case()
            times[name].append(time.perf_counter() - t0)
    print(f"{'case':16} {'median s':>9} {'ratio':>6}   runs")
    base = statistics.median(times["autograd"])
    for name, runs in times.items():
        t = statistics.median(runs)
        print(f"{name:16} {t:9.3f} {t / base:6.2f}   " + " ".join(f"{x:.3f}" for x in runs))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
