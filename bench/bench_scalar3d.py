"""CPU benchmark: 3D torchwave.scalar against Deepwave 0.0.27's deepwave.scalar.

Both libraries run the same 3D constant-density acoustic problem: a smooth
model (v rises linearly with depth from 1500 to 3000 m/s) of ``--size``³
cells with dx = 10 m, a 20-cell PML on every side, float32, one Ricker
source (15 Hz) per shot 20 cells deep and a 10 x 10 grid of receivers per
shot 10 cells deep, ``--nt`` time steps. dt = 0.5 * dx / vmax / sqrt(3) is
below both libraries' CFL limit (Courant number 0.6), so neither subdivides
the time step; each worker checks this and records the step ratio.

Cases are every combination of ``--accuracy``, ``--shots`` and ``--modes``
(``forward`` under ``torch.no_grad()``; ``forward+backward``:
``v.requires_grad_()``, forward, ``receiver_amplitudes.pow(2).sum().backward()``),
for each library; then, torchwave only, forward+backward of one shot at the
first accuracy with ``storage_strategy="full"`` (every step stored) against
``"boundary"`` (the wavefield in and next to the PML stored, the rest rebuilt
backwards in time).

Each (library, case) runs in a fresh subprocess so that its peak RSS is its
own: a worker imports torch and the library, runs a tiny warm-up, records the
RSS high-water mark (``ru_maxrss``, which sees the C and Go allocations that
tracemalloc does not) as its baseline, then times ``--repeat`` runs (the
median is reported). Peak memory is the increase of ``ru_maxrss`` over that
baseline, and its absolute value.

Throughput is Mcells/s = padded cells per shot x shots x nt / seconds, the
padded grid being the model plus the PML ((size + 40)³, 240³ by default).
For ``forward+backward`` the same forward cell count is divided by the total
time.

Threads: ``torch.set_num_threads(T)`` and ``torchwave.set_num_threads(T)``
with T = ``--threads`` (default 2), and OMP_NUM_THREADS=T. Deepwave on CPU
parallelises over shots only (min(shots, T) OpenMP threads).

The receiver data (and the gradient) of the two libraries are compared on the
first case of each (accuracy, mode); a difference is reported, never a
failure.

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_scalar3d.py            # 200³, nt 100
    PYTHONPATH=python python3 bench/bench_scalar3d.py --quick    # 48³, nt 20: smoke test
    PYTHONPATH=python python3 bench/bench_scalar3d.py --libraries deepwave --json out.json

Needs ``pip install deepwave==0.0.27``. The full run needs about 6 GiB per
shot for Deepwave's forward+backward (every step of the padded wavefield).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _report import fmt, parse_list, rel_diff  # noqa: E402
from bench_scalar import _maxrss_mib, _torchwave_source_hash, machine_info  # noqa: E402

LIBRARIES = ("torchwave", "deepwave")
MODES = ("forward", "forward+backward")
STRATEGIES = ("full", "boundary")
DX = 10.0
PML = 20
V_MIN, V_MAX = 1500.0, 3000.0
FREQ = 15.0
N_REC_SIDE = 10  # receivers per shot: N_REC_SIDE x N_REC_SIDE on a surface grid
REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "


# ---------------------------------------------------------------- the problem


def make_problem(torch, size: int, nt: int, n_shots: int):
    """The model, time step and survey shared by both libraries."""
    z = torch.linspace(0.0, 1.0, size, dtype=torch.float32)
    v = (V_MIN + (V_MAX - V_MIN) * z)[:, None, None].expand(size, size, size).contiguous()
    dt = 0.5 * DX / V_MAX / math.sqrt(3)
    t = torch.arange(nt, dtype=torch.float64) * dt - 1.5 / FREQ
    a = (math.pi * FREQ * t) ** 2
    wavelet = ((1 - 2 * a) * torch.exp(-a)).to(torch.float32)
    source_amplitudes = wavelet.repeat(n_shots, 1, 1)  # [shots, 1, nt]
    src_depth, rec_depth = min(20, size - 1), min(10, size - 1)
    source_locations = torch.zeros(n_shots, 1, 3, dtype=torch.long)
    source_locations[:, 0, 0] = src_depth
    source_locations[:, 0, 1] = size // 2
    source_locations[:, 0, 2] = torch.tensor([(i + 1) * size // (n_shots + 1) for i in range(n_shots)], dtype=torch.long)
    side = min(N_REC_SIDE, size)
    line = torch.linspace(0, size - 1, side).round().long()
    grid_y, grid_x = torch.meshgrid(line, line, indexing="ij")
    receiver_locations = torch.zeros(n_shots, side * side, 3, dtype=torch.long)
    receiver_locations[..., 0] = rec_depth
    receiver_locations[..., 1] = grid_y.reshape(-1)
    receiver_locations[..., 2] = grid_x.reshape(-1)
    return v, dt, source_amplitudes, source_locations, receiver_locations


def padded_cells(size: int) -> int:
    return (size + 2 * PML) ** 3


# -------------------------------------------------------------------- worker


def worker(spec: dict) -> dict:
    """Times one (library, case) in this process; returns a JSON-able dict."""
    import torch

    threads = spec["threads"]
    torch.set_num_threads(threads)
    info = {"torch": torch.__version__}
    extra = {}
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
        if spec.get("strategy"):
            extra["storage_strategy"] = spec["strategy"]

        def step_ratio(dt, vmax):
            return _common.cfl_step_ratio([DX] * 3, dt, vmax)
    else:
        import importlib.metadata

        import deepwave as lib

        info.update(version=importlib.metadata.version("deepwave"), lib_threads=min(spec["shots"], threads))

        def step_ratio(dt, vmax):
            return lib.common.cfl_condition_n([DX] * 3, dt, vmax)[1]

    size, nt, shots, acc = spec["size"], spec["nt"], spec["shots"], spec["accuracy"]
    backward = spec["mode"] == "forward+backward"
    v0, dt, amps, src_loc, rec_loc = make_problem(torch, size, nt, shots)
    info["step_ratio"] = step_ratio(dt, float(v0.max()))

    def run_once(v, dt, amps, src, rec):
        args = (v, DX, dt, amps, src, rec)
        kw = {"accuracy": acc, "pml_width": PML, "pml_freq": FREQ, **extra}
        if backward:
            v.grad = None
            out = lib.scalar(*args, **kw)
            out[-1].pow(2).sum().backward()
            return out[-1].detach(), v.grad
        with torch.no_grad():
            return lib.scalar(*args, **kw)[-1], None

    # Warm up on a small problem (loads kernels, starts thread pools) before
    # taking the memory baseline.
    v_small, *small = make_problem(torch, min(size, 16), min(nt, 4), shots)
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


def run_worker(spec: dict, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], env=env, capture_output=True, check=False, text=True
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit status {proc.returncode}: " + " | ".join(tail)}


def _run(spec: dict, env: dict, label: str) -> dict:
    print(f"  running {label} ...", end="", flush=True)
    r = run_worker(spec, env)
    print(" failed: " + r["error"] if "error" in r else f" {r['median_s']:.3f} s", flush=True)
    return r


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None, help="model cells per side (default 200)")
    p.add_argument("--nt", type=int, default=None, help="time steps (default 100)")
    p.add_argument("--shots", default=None, help="comma-separated shot counts (default 1,2)")
    p.add_argument("--accuracy", default=None, help="comma-separated orders (default 8,4)")
    p.add_argument("--modes", default=",".join(MODES), help="forward and/or forward+backward")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per case, median reported (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch and torchwave threads (default 2)")
    p.add_argument("--libraries", default=",".join(LIBRARIES), help="torchwave and/or deepwave")
    p.add_argument("--no-storage", action="store_true", help="skip the storage_strategy full/boundary comparison")
    p.add_argument("--quick", action="store_true", help="smoke run (size 48, nt 20, shots 1,2, accuracy 8, repeat 1)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        result = worker(json.loads(args.worker))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    quick = {"size": 48, "nt": 20, "shots": "1,2", "accuracy": "8", "repeat": 1}
    full = {"size": 200, "nt": 100, "shots": "1,2", "accuracy": "8,4", "repeat": 3}
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
        f"problem : {args.size}³ model + PML {PML} = {n_pad}³ padded cells, dx {DX:g} m, v {V_MIN:g}-{V_MAX:g} m/s "
        f"(linear in depth), float32, nt {args.nt}, {FREQ:g} Hz Ricker, 1 source and "
        f"{N_REC_SIDE}x{N_REC_SIDE} receivers per shot"
    )
    print(
        f"method  : {args.repeat} timed run(s) per case, median; fresh subprocess per (library, case); {args.threads} thread(s)"
    )
    print("Mcells/s = padded cells x shots x nt / seconds (forward+backward: same count / total time)")
    print()

    base = {"size": args.size, "nt": args.nt, "repeat": args.repeat, "threads": args.threads}
    cases = [(acc, shots, mode) for acc in accuracies for mode in modes for shots in shots_list]
    results = []
    storage = []
    with tempfile.TemporaryDirectory(prefix="bench_scalar3d_") as tmp:
        checked = set()
        for acc, shots, mode in cases:
            save = (acc, mode) not in checked and all(lib in libraries for lib in LIBRARIES)
            row = {"accuracy": acc, "shots": shots, "mode": mode}
            for lib in libraries:
                spec = {**base, "library": lib, "shots": shots, "accuracy": acc, "mode": mode}
                spec["save"] = str(pathlib.Path(tmp) / f"{lib}.pt") if save else None
                row[lib] = _run(spec, env, f"{lib:9s} acc {acc} shots {shots} {mode}")
            if save and not any("error" in row[lib] for lib in LIBRARIES):
                import torch

                a = torch.load(pathlib.Path(tmp) / "torchwave.pt")
                b = torch.load(pathlib.Path(tmp) / "deepwave.pt")
                row["receiver_rel_diff"] = rel_diff(a["receivers"], b["receivers"])
                if a["grad"] is not None and b["grad"] is not None:
                    row["grad_rel_diff"] = rel_diff(a["grad"], b["grad"])
                checked.add((acc, mode))
            results.append(row)
        if "torchwave" in libraries and not args.no_storage:
            for strategy in STRATEGIES:
                spec = {**base, "library": "torchwave", "shots": 1, "accuracy": accuracies[0], "mode": "forward+backward"}
                spec["strategy"] = strategy
                r = _run(spec, env, f"torchwave acc {accuracies[0]} shots 1 forward+backward storage_strategy={strategy}")
                storage.append({"strategy": strategy, **r})

    def get(row, lib, key):
        return row.get(lib, {}).get(key)

    machine["loadavg_end"] = os.getloadavg()[0]
    tw_info = next((r["torchwave"] for r in results if "version" in r.get("torchwave", {})), {})
    dw_info = next((r["deepwave"] for r in results if "version" in r.get("deepwave", {})), {})
    print()
    print(
        f"torch {machine['torch']}, torchwave {tw_info.get('version', '?')} "
        f"(simd_enabled: {tw_info.get('simd', '?')}, {tw_info.get('lib_threads', '?')} threads, "
        f"Go source hash {tw_info.get('source_hash', '?')}), deepwave {dw_info.get('version', '?')}"
    )
    print(
        f"load average (1 min) at start {machine['loadavg_start']:.2f}, at end {machine['loadavg_end']:.2f} on {machine['nproc']} CPUs"
    )
    ratios = {get(r, lib, "step_ratio") for r in results for lib in LIBRARIES} - {None}
    print(
        f"CFL step ratio: {', '.join(map(str, sorted(ratios))) or '?'}"
        + ("" if ratios <= {1} else "  (WARNING: time step subdivided)")
    )
    print()
    header = (
        f"{'case':<34} {'tw s':>8} {'dw s':>8} {'tw Mc/s':>8} {'dw Mc/s':>8} {'tw/dw':>6}   "
        f"{'tw peak MiB (+incr / abs)':>26} {'dw peak MiB (+incr / abs)':>26}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        case = f"acc {r['accuracy']}, {r['shots']} shot{'s' if r['shots'] > 1 else ''}, {r['mode']}"
        tw, dw = get(r, "torchwave", "mcells_per_s"), get(r, "deepwave", "mcells_per_s")
        r["ratio"] = tw / dw if tw and dw else None
        mem = [f"{fmt(get(r, lib, 'rss_increase_mib'), '.0f')} / {fmt(get(r, lib, 'rss_peak_mib'), '.0f')}" for lib in LIBRARIES]
        print(
            f"{case:<34} {fmt(get(r, 'torchwave', 'median_s'), '8.3f')} {fmt(get(r, 'deepwave', 'median_s'), '8.3f')} "
            f"{fmt(tw, '8.1f')} {fmt(dw, '8.1f')} {fmt(r['ratio'], '6.2f')}   {mem[0]:>26} {mem[1]:>26}"
        )
    print()
    checks = [
        f"acc {r['accuracy']} {r['mode']}: receivers {fmt(r['receiver_rel_diff'], '.2e')}"
        + (f", grad {fmt(r['grad_rel_diff'], '.2e')}" if "grad_rel_diff" in r else "")
        for r in results
        if "receiver_rel_diff" in r
    ]
    print(
        "torchwave vs Deepwave, relative L2 difference (first case per accuracy/mode): " + ("; ".join(checks) or "not computed")
    )
    if storage:
        print()
        print(f"torchwave forward+backward, 1 shot, acc {accuracies[0]}: storage_strategy")
        full_row = storage[0]
        for s in storage:
            speed = full_row.get("median_s") / s["median_s"] if "median_s" in s and "median_s" in full_row else None
            mem = s.get("rss_increase_mib")
            share = mem / full_row["rss_increase_mib"] if mem is not None and full_row.get("rss_increase_mib") else None
            print(
                f"  {s['strategy']:<9} {fmt(s.get('median_s'), '8.3f')} s (x{fmt(speed, '.2f')} of full's speed), "
                f"peak +{fmt(mem, '.0f')} MiB ({fmt(share, '.2f')} of full's), abs {fmt(s.get('rss_peak_mib'), '.0f')} MiB"
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
                "receivers_per_shot": N_REC_SIDE**2,
                "dtype": "float32",
                "mcells_definition": "padded cells x shots x nt / median seconds",
            },
            "results": results,
            "storage": storage,
        }
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    failed = any("error" in r.get(lib, {}) for r in results for lib in libraries) or any("error" in s for s in storage)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
