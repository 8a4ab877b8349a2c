"""CPU benchmark: torchwave.scalar against Deepwave 0.0.27's deepwave.scalar.

Both libraries run the same 2D constant-density acoustic problem: a smooth
model (v rises linearly with depth from 1500 to 3000 m/s) of ``--size`` x
``--size`` cells with dx = 10 m, a 20-cell PML on every side, float32, one
Ricker source (15 Hz) per shot and 100 receivers per shot on a line, ``--nt``
time steps. dt = 0.5 * dx / vmax / sqrt(2) is below both libraries' CFL limit
(Courant number 0.6), so neither subdivides the time step; each worker checks
this and records the step ratio.

Cases are every combination of ``--accuracy`` (spatial order), ``--shots`` and
``--modes``:

* ``forward``: the forward propagation under ``torch.no_grad()``;
* ``forward+backward``: ``v.requires_grad_()``, forward, then
  ``receiver_amplitudes.pow(2).sum().backward()``.

Each (library, case) runs in a fresh subprocess so that its peak RSS is its
own. A worker imports torch and the library, builds the model, runs a tiny
warm-up, records the RSS high-water mark (``ru_maxrss``) as its baseline, then
times ``--repeat`` runs (the median is reported). Peak memory is reported as
the increase of ``ru_maxrss`` over that baseline, and as the absolute value.

Throughput is Mcells/s = padded cells per shot x shots x nt / seconds, where
the padded grid is the model plus the PML ((size + 40)^2, 1040 x 1040 by
default; the few finite-difference halo cells are not counted). For
``forward+backward`` the same forward cell count is divided by the total
forward+backward time.

Threads: ``torch.set_num_threads(T)`` and ``torchwave.set_num_threads(T)``
with T = ``--threads`` (default 2), and OMP_NUM_THREADS=T. Deepwave on CPU
parallelises over shots only (min(shots, T) OpenMP threads); torchwave
parallelises within a shot too.

The receiver data (and, for forward+backward, the gradient) of the two
libraries are compared on the first case of each accuracy; they are close but
not identical because the PML profiles differ slightly. A difference is
reported, never a failure.

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_scalar.py                  # full run
    PYTHONPATH=python python3 bench/bench_scalar.py --nt 100 --repeat 1
    PYTHONPATH=python python3 bench/bench_scalar.py --quick          # smoke test
    PYTHONPATH=python python3 bench/bench_scalar.py --json out.json

(``make bench`` runs the full default configuration.) If ``torchwave`` is not
importable, the workers get this checkout's ``python/`` directory on their
PYTHONPATH. Needs ``pip install deepwave==0.0.27``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from _report import fmt, parse_list, rel_diff

LIBRARIES = ("torchwave", "deepwave")
MODES = ("forward", "forward+backward")
DX = 10.0
PML = 20
V_MIN, V_MAX = 1500.0, 3000.0
FREQ = 15.0
N_RECEIVERS = 100
REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "


# ---------------------------------------------------------------- the problem


def make_problem(torch, size: int, nt: int, n_shots: int):
    """The model, time step and survey shared by both libraries."""
    y = torch.linspace(0.0, 1.0, size, dtype=torch.float32)
    v = (V_MIN + (V_MAX - V_MIN) * y)[:, None].expand(size, size).contiguous()
    dt = 0.5 * DX / V_MAX / math.sqrt(2)
    t = torch.arange(nt, dtype=torch.float64) * dt - 1.5 / FREQ
    a = (math.pi * FREQ * t) ** 2
    wavelet = ((1 - 2 * a) * torch.exp(-a)).to(torch.float32)
    source_amplitudes = wavelet.repeat(n_shots, 1, 1)  # [shots, 1, nt]
    src_depth, rec_depth = min(20, size - 1), min(10, size - 1)
    source_locations = torch.zeros(n_shots, 1, 2, dtype=torch.long)
    source_locations[:, 0, 0] = src_depth
    source_locations[:, 0, 1] = torch.tensor([(i + 1) * size // (n_shots + 1) for i in range(n_shots)], dtype=torch.long)
    n_rec = min(N_RECEIVERS, size)
    receiver_locations = torch.zeros(n_shots, n_rec, 2, dtype=torch.long)
    receiver_locations[..., 0] = rec_depth
    receiver_locations[..., 1] = torch.linspace(0, size - 1, n_rec).round().long()
    return v, dt, source_amplitudes, source_locations, receiver_locations


def padded_cells(size: int) -> int:
    return (size + 2 * PML) ** 2


# -------------------------------------------------------------------- worker


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _torchwave_source_hash() -> str | None:
    """The Go-source digest stamped into the loaded libtorchwave (provenance)."""
    import ctypes

    from torchwave import _lib

    try:
        buf = ctypes.create_string_buffer(64)
        _lib._lib.tw_source_hash(buf, len(buf))
    except (AttributeError, OSError):
        return None
    return buf.value.decode()


def worker(spec: dict) -> dict:
    """Times one (library, case) in this process; returns a JSON-able dict."""
    import torch

    threads = spec["threads"]
    torch.set_num_threads(threads)
    info = {"torch": torch.__version__}
    if spec["library"] == "torchwave":
        import torchwave as lib
        from torchwave import _common

        lib.set_num_threads(threads)
        info.update(
            version=lib.__version__,
            simd=lib.simd_enabled(),
            lib_threads=lib.get_num_threads(),
            path=str(pathlib.Path(lib.__file__).parent),
            source_hash=_torchwave_source_hash(),
        )

        def step_ratio(dt, vmax):
            return _common.cfl_step_ratio((DX, DX), dt, vmax)
    else:
        import importlib.metadata

        import deepwave as lib

        info.update(version=importlib.metadata.version("deepwave"), lib_threads=min(spec["shots"], threads))

        def step_ratio(dt, vmax):
            return lib.common.cfl_condition(DX, DX, dt, vmax)[1]

    size, nt, shots, acc = spec["size"], spec["nt"], spec["shots"], spec["accuracy"]
    backward = spec["mode"] == "forward+backward"
    v0, dt, amps, src_loc, rec_loc = make_problem(torch, size, nt, shots)
    info["step_ratio"] = step_ratio(dt, float(v0.max()))

    def run_once(v, dt, amps, src, rec):
        args = (v, DX, dt, amps, src, rec)
        kw = {"accuracy": acc, "pml_width": PML}
        if backward:
            v.grad = None
            out = lib.scalar(*args, **kw)
            out[-1].pow(2).sum().backward()
            return out[-1].detach(), v.grad
        with torch.no_grad():
            return lib.scalar(*args, **kw)[-1], None

    # Warm up on a small problem (loads kernels, starts thread pools) before
    # taking the memory baseline.
    v_small, *small = make_problem(torch, min(size, 64), min(nt, 8), shots)
    run_once(v_small.requires_grad_(backward), *small)
    del v_small, small
    v = v0.clone().requires_grad_(backward)

    baseline = _maxrss_mib()
    times = []
    receivers = grad = None
    for i in range(spec["repeat"]):
        start = time.perf_counter()
        rec, g = run_once(v, dt, amps, src_loc, rec_loc)
        times.append(time.perf_counter() - start)
        if i == 0:
            receivers, grad = rec, g
        del rec, g
    peak = _maxrss_mib()
    if spec.get("save"):
        torch.save({"receivers": receivers, "grad": grad}, spec["save"])
    median = statistics.median(times)
    return {
        **info,
        "times_s": times,
        "median_s": median,
        "mcells_per_s": padded_cells(size) * shots * nt / median / 1e6,
        "rss_baseline_mib": baseline,
        "rss_peak_mib": peak,
        "rss_increase_mib": peak - baseline,
    }


# -------------------------------------------------------------------- driver


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def run_worker(spec: dict, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        env=env,
        capture_output=True,
        check=False,
        text=True,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit status {proc.returncode}: " + " | ".join(tail)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None, help="model cells per side (default 1000)")
    p.add_argument("--nt", type=int, default=None, help="time steps (default 500)")
    p.add_argument("--shots", default=None, help="comma-separated shot counts (default 1,4)")
    p.add_argument("--accuracy", default=None, help="comma-separated orders (default 8,4)")
    p.add_argument("--modes", default=",".join(MODES), help="forward and/or forward+backward")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per case, median reported (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch and torchwave threads (default 2)")
    p.add_argument("--libraries", default=",".join(LIBRARIES), help="torchwave and/or deepwave")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (size 100, nt 200, shots 1,2, accuracy 8, repeat 1)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        result = worker(json.loads(args.worker))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    quick = {"size": 100, "nt": 200, "shots": "1,2", "accuracy": "8", "repeat": 1}
    full = {"size": 1000, "nt": 500, "shots": "1,4", "accuracy": "8,4", "repeat": 3}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    shots_list = parse_list(args.shots, int, "shots")
    accuracies = parse_list(args.accuracy, int, "accuracy")
    modes = parse_list(args.modes, str.strip, "modes")
    libraries = parse_list(args.libraries, str.strip, "libraries")
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"--modes: unknown mode {m!r}; choose from {', '.join(MODES)}")
    for lib in libraries:
        if lib not in LIBRARIES:
            raise SystemExit(f"--libraries: unknown library {lib!r}; choose from {', '.join(LIBRARIES)}")
    if min([args.size, args.nt, args.repeat, args.threads, *shots_list]) < 1:
        raise SystemExit("--size, --nt, --repeat, --threads and --shots must be positive")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if importlib.util.find_spec("torchwave") is None:  # not installed: use this checkout
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))

    machine = machine_info()
    n_pad = args.size + 2 * PML
    print(f"machine : {machine['cpu']}, nproc {machine['nproc']}")
    print(f"date    : {machine['date']}, load average (1 min) {machine['loadavg_start']:.2f}")
    print(
        f"problem : {args.size}x{args.size} model + PML {PML} = {n_pad}x{n_pad} padded cells, "
        f"dx {DX:g} m, v {V_MIN:g}-{V_MAX:g} m/s (linear in depth), float32, nt {args.nt}, "
        f"{FREQ:g} Hz Ricker, 1 source and {N_RECEIVERS} receivers per shot"
    )
    print(
        f"method  : {args.repeat} timed run(s) per case, median; fresh subprocess per (library, case); {args.threads} thread(s)"
    )
    print("Mcells/s = padded cells x shots x nt / seconds (forward+backward: same count / total time)")
    print()

    cases = [(acc, shots, mode) for acc in accuracies for mode in modes for shots in shots_list]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_scalar_") as tmp:
        checked = set()  # (accuracy, mode) pairs whose outputs were compared
        for acc, shots, mode in cases:
            save = (acc, mode) not in checked and all(lib in libraries for lib in LIBRARIES)
            row = {"accuracy": acc, "shots": shots, "mode": mode}
            for lib in libraries:
                spec = {
                    "library": lib,
                    "size": args.size,
                    "nt": args.nt,
                    "shots": shots,
                    "accuracy": acc,
                    "mode": mode,
                    "repeat": args.repeat,
                    "threads": args.threads,
                    "save": str(pathlib.Path(tmp) / f"{lib}.pt") if save else None,
                }
                print(f"  running {lib:9s} acc {acc} shots {shots} {mode} ...", end="", flush=True)
                r = run_worker(spec, env)
                print(" failed: " + r["error"] if "error" in r else f" {r['median_s']:.3f} s", flush=True)
                row[lib] = r
            if save and not any("error" in row[lib] for lib in LIBRARIES):
                import torch

                a = torch.load(pathlib.Path(tmp) / "torchwave.pt")
                b = torch.load(pathlib.Path(tmp) / "deepwave.pt")
                row["receiver_rel_diff"] = rel_diff(a["receivers"], b["receivers"])
                if a["grad"] is not None and b["grad"] is not None:
                    row["grad_rel_diff"] = rel_diff(a["grad"], b["grad"])
                checked.add((acc, mode))
            results.append(row)

    def get(row, lib, key):
        return row.get(lib, {}).get(key)

    machine["loadavg_end"] = os.getloadavg()[0]
    tw_info = next((r["torchwave"] for r in results if "version" in r.get("torchwave", {})), {})
    dw_info = next((r["deepwave"] for r in results if "version" in r.get("deepwave", {})), {})
    print()
    print(
        f"torch {machine['torch']}, torchwave {tw_info.get('version', '?')} "
        f"(simd_enabled: {tw_info.get('simd', '?')}, {tw_info.get('lib_threads', '?')} threads, "
        f"Go source hash {tw_info.get('source_hash', '?')}, {tw_info.get('path', '?')}), "
        f"deepwave {dw_info.get('version', '?')}"
    )
    print(
        f"load average (1 min) at start {machine['loadavg_start']:.2f}, at end {machine['loadavg_end']:.2f} "
        f"on {machine['nproc']} CPUs (other load skews timings)"
    )
    ratios = {get(r, lib, "step_ratio") for r in results for lib in LIBRARIES} - {None}
    print(
        f"CFL step ratio in both libraries: {', '.join(map(str, sorted(ratios))) or '?'}"
        + ("" if ratios <= {1} else "  (WARNING: time step subdivided)")
    )
    print()
    header = (
        f"{'case':<34} {'torchwave':>10} {'Deepwave':>10} {'ratio':>7}   "
        f"{'tw peak MiB (+incr / abs)':>26} {'dw peak MiB (+incr / abs)':>26}"
    )
    print(f"{'':<34} {'Mcells/s':>10} {'Mcells/s':>10} {'tw/dw':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        case = f"acc {r['accuracy']}, {r['shots']} shot{'s' if r['shots'] > 1 else ''}, {r['mode']}"
        tw, dw = get(r, "torchwave", "mcells_per_s"), get(r, "deepwave", "mcells_per_s")
        r["ratio"] = tw / dw if tw and dw else None
        mem = [f"{fmt(get(r, lib, 'rss_increase_mib'), '.0f')} / {fmt(get(r, lib, 'rss_peak_mib'), '.0f')}" for lib in LIBRARIES]
        print(f"{case:<34} {fmt(tw, '10.1f')} {fmt(dw, '10.1f')} {fmt(r['ratio'], '7.2f')}   {mem[0]:>26} {mem[1]:>26}")
    print()
    checks = [
        f"acc {r['accuracy']} {r['mode']}: receivers {fmt(r['receiver_rel_diff'], '.2e')}"
        + (f", grad {fmt(r['grad_rel_diff'], '.2e')}" if "grad_rel_diff" in r else "")
        for r in results
        if "receiver_rel_diff" in r
    ]
    print(
        "torchwave vs Deepwave, relative L2 difference (first case per accuracy/mode; PML profiles differ "
        "slightly, not a failure): " + ("; ".join(checks) or "not computed")
    )

    if args.json:
        payload = {
            "machine": machine,
            "torchwave": {k: tw_info.get(k) for k in ("version", "simd", "lib_threads", "source_hash", "path")},
            "deepwave": {"version": dw_info.get("version")},
            "config": {
                "size": args.size,
                "padded": n_pad,
                "pml": PML,
                "dx": DX,
                "nt": args.nt,
                "shots": shots_list,
                "accuracy": accuracies,
                "modes": modes,
                "repeat": args.repeat,
                "threads": args.threads,
                "v_min": V_MIN,
                "v_max": V_MAX,
                "freq": FREQ,
                "receivers_per_shot": N_RECEIVERS,
                "dtype": "float32",
                "mcells_definition": "padded cells x shots x nt / median seconds",
            },
            "results": results,
        }
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    failed = any("error" in r.get(lib, {}) for r in results for lib in libraries)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
