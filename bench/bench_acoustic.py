"""CPU benchmark: torchwave.acoustic against Deepwave 0.0.27's deepwave.acoustic.

Both libraries run the same variable-density acoustic problem in one
process, back to back: a model of ``--size-2d``² (2D) or ``--size-3d``³ (3D)
cells with dx = 10 m, v rising linearly with depth from 1500 to 3000 m/s and
rho from 1000 to 2500 kg/m³, a 20-cell PML on every side, float32, one
pressure Ricker source (15 Hz) per shot 20 cells deep and pressure
receivers 10 cells deep (a line of 100 in 2D, a 10 x 10 grid in 3D),
``--nt-2d`` / ``--nt-3d`` time steps. dt = 0.5 * dx / vmax / sqrt(ndim) is
below both libraries' CFL limit, so neither subdivides the time step; the
worker checks this and records the step ratio.

Cases are every combination of ``--dims``, ``--accuracy``, ``--shots`` and
``--modes`` (``forward`` under ``torch.no_grad()``; ``forward+backward``: the
models named by ``--grad`` require gradients, forward, then
``receiver_amplitudes_p.pow(2).sum().backward()``).

Each case runs in a fresh subprocess that imports both libraries, warms both
up on a small problem, then runs ``--repeat`` rounds, each timing one run of
each library, the order alternating from round to round, so that load from
other processes affects both alike; the medians are reported, and their
ratio. Peak memory is measured per run: the kernel's resident-set
high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs`` before
each run, so it sees the C and Go allocations that tracemalloc does not)
less the resident set before the run; the largest over the rounds is
reported.

Throughput is Mcells/s = padded cells per shot x shots x nt / seconds, the
padded grid being the model plus the PML. For ``forward+backward`` the same
forward cell count is divided by the total time.

Threads: ``torch.set_num_threads(T)`` and ``torchwave.set_num_threads(T)``
with T = ``--threads`` (default 2), and OMP_NUM_THREADS=T. Deepwave on CPU
parallelises over shots only.

The receiver data (and the gradient) of the two libraries are compared on
every case; a difference is reported, never a failure.

Run from the repository root after ``make build``::

    PYTHONPATH=python python3 bench/bench_acoustic.py             # the full problems
    PYTHONPATH=python python3 bench/bench_acoustic.py --quick     # smoke test
    PYTHONPATH=python python3 bench/bench_acoustic.py --dims 2 --shots 1 --json out.json

Needs ``pip install deepwave==0.0.27``. Deepwave's forward+backward stores
every step of every model's wavefield: with ``--grad v`` about 2.2 GB per
shot in 2D (1040² x 500 steps) and 5.5 GB per shot in 3D (240³ x 100 steps).
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
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _report import fmt, parse_args_quick, parse_list, rel_diff  # noqa: E402
from bench_scalar import _torchwave_source_hash, machine_info  # noqa: E402

LIBRARIES = ("torchwave", "deepwave")
MODES = ("forward", "forward+backward")
DX = 10.0
PML = 20
V_MIN, V_MAX = 1500.0, 3000.0
RHO_MIN, RHO_MAX = 1000.0, 2500.0
FREQ = 15.0
REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "


# ---------------------------------------------------------------- the problem


def make_problem(torch, ndim: int, size: int, nt: int, n_shots: int):
    """The models, time step and survey shared by both libraries."""
    shape = (size,) * ndim
    depth = torch.linspace(0.0, 1.0, size, dtype=torch.float32).reshape((size,) + (1,) * (ndim - 1))
    v = (V_MIN + (V_MAX - V_MIN) * depth).expand(shape).contiguous()
    rho = (RHO_MIN + (RHO_MAX - RHO_MIN) * depth).expand(shape).contiguous()
    dt = 0.5 * DX / V_MAX / math.sqrt(ndim)
    t = torch.arange(nt, dtype=torch.float64) * dt - 1.5 / FREQ
    a = (math.pi * FREQ * t) ** 2
    wavelet = ((1 - 2 * a) * torch.exp(-a)).to(torch.float32)
    source_amplitudes = wavelet.repeat(n_shots, 1, 1)  # [shots, 1, nt]
    src_depth, rec_depth = min(20, size - 1), min(10, size - 1)
    source_locations = torch.zeros(n_shots, 1, ndim, dtype=torch.long)
    source_locations[:, 0, 0] = src_depth
    source_locations[:, 0, 1:] = size // 2
    source_locations[:, 0, -1] = torch.tensor([(i + 1) * size // (n_shots + 1) for i in range(n_shots)])
    if ndim == 2:
        line = torch.linspace(0, size - 1, min(100, size)).round().long()
        receiver_locations = torch.stack([torch.full_like(line, rec_depth), line], -1)
    else:
        line = torch.linspace(0, size - 1, min(10, size)).round().long()
        gy, gx = torch.meshgrid(line, line, indexing="ij")
        receiver_locations = torch.stack([torch.full_like(gy, rec_depth), gy, gx], -1).reshape(-1, 3)
    receiver_locations = receiver_locations.repeat(n_shots, 1, 1)
    return v, rho, dt, source_amplitudes, source_locations, receiver_locations


def padded_cells(ndim: int, size: int) -> int:
    return (size + 2 * PML) ** ndim


# ------------------------------------------------------------------- memory


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Resets VmHWM to the current resident set (Linux 4.0 and later)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -------------------------------------------------------------------- worker


def worker(spec: dict) -> dict:
    """Times both libraries on one case in this process, interleaved."""
    import importlib.metadata

    import deepwave
    import torch

    import torchwave
    from torchwave import _common

    threads = spec["threads"]
    torch.set_num_threads(threads)
    torchwave.set_num_threads(threads)
    libs = {"torchwave": torchwave, "deepwave": deepwave}
    info = {
        "torch": torch.__version__,
        "torchwave": {
            "version": torchwave.__version__,
            "simd": torchwave.simd_enabled(),
            "lib_threads": torchwave.get_num_threads(),
            "source_hash": _torchwave_source_hash(),
        },
        "deepwave": {"version": importlib.metadata.version("deepwave"), "lib_threads": min(spec["shots"], threads)},
    }
    ndim, size, nt, shots, acc = spec["ndim"], spec["size"], spec["nt"], spec["shots"], spec["accuracy"]
    backward = spec["mode"] == "forward+backward"
    grad = set(spec["grad"]) if backward else set()
    v0, rho0, dt, amps, src, rec = make_problem(torch, ndim, size, nt, shots)
    info["step_ratio"] = {
        "torchwave": _common.cfl_step_ratio([DX] * ndim, dt, V_MAX),
        "deepwave": deepwave.common.cfl_condition_n([DX] * ndim, dt, V_MAX)[1],
    }

    def run_once(lib, v, rho, dt, amps, src, rec):
        kw = {
            "source_amplitudes_p": amps,
            "source_locations_p": src,
            "receiver_locations_p": rec,
            "accuracy": acc,
            "pml_width": PML,
            "pml_freq": FREQ,
        }
        if backward:
            v.grad = rho.grad = None
            out = lib.acoustic(v, rho, DX, dt, **kw)
            receivers = out[-(ndim + 1)]
            receivers.pow(2).sum().backward()
            return receivers.detach(), [m.grad for m in (v, rho) if m.grad is not None]
        with torch.no_grad():
            return lib.acoustic(v, rho, DX, dt, **kw)[-(ndim + 1)], []

    names = spec["libraries"]
    # Warm up on a small problem (loads kernels, starts thread pools).
    v_s, rho_s, *small = make_problem(torch, ndim, min(size, 16), min(nt, 4), shots)
    for name in names:
        run_once(libs[name], v_s.requires_grad_("v" in grad), rho_s.requires_grad_("rho" in grad), *small)
    del v_s, rho_s, small
    v = v0.clone().requires_grad_("v" in grad)
    rho = rho0.clone().requires_grad_("rho" in grad)

    times = {name: [] for name in names}
    memory = {name: [] for name in names}
    outputs = {}
    for r in range(spec["repeat"]):
        for name in names if r % 2 == 0 else names[::-1]:
            before = _status_kib("VmRSS")
            tracked = _reset_peak() and before is not None
            start = time.perf_counter()
            out = run_once(libs[name], v, rho, dt, amps, src, rec)
            times[name].append(time.perf_counter() - start)
            peak = _status_kib("VmHWM")
            if tracked and peak is not None:
                memory[name].append((peak - before) / 1024.0)
            if name not in outputs:
                outputs[name] = out
            del out
    result = {"info": info}
    cells = padded_cells(ndim, size) * shots * nt
    for name in names:
        median = statistics.median(times[name])
        result[name] = {
            "times_s": times[name],
            "median_s": median,
            "mcells_per_s": cells / median / 1e6,
            "peak_increase_mib": max(memory[name]) if memory[name] else None,
        }
    if len(outputs) == 2:
        a, b = outputs["torchwave"], outputs["deepwave"]
        result["receiver_rel_diff"] = rel_diff(a[0], b[0])
        if a[1] and b[1]:
            result["grad_rel_diff"] = max(rel_diff(x, y) or 0.0 for x, y in zip(a[1], b[1]))
    return result


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", default="2,3", help="comma-separated dimensions (default 2,3)")
    p.add_argument("--size-2d", type=int, default=1000, help="2D model cells per side (default 1000)")
    p.add_argument("--nt-2d", type=int, default=500, help="2D time steps (default 500)")
    p.add_argument("--size-3d", type=int, default=200, help="3D model cells per side (default 200)")
    p.add_argument("--nt-3d", type=int, default=100, help="3D time steps (default 100)")
    p.add_argument("--shots", default="1,4", help="comma-separated shot counts (default 1,4)")
    p.add_argument("--accuracy", default="4,8", help="comma-separated orders (default 4,8)")
    p.add_argument("--modes", default=",".join(MODES), help="forward and/or forward+backward")
    p.add_argument("--grad", default="v", help="models that require gradients in forward+backward: v and/or rho")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds per case, medians reported (default 3)")
    p.add_argument("--threads", type=int, default=2, help="torch and torchwave threads (default 2)")
    p.add_argument("--libraries", default=",".join(LIBRARIES), help="torchwave and/or deepwave")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    quick = {"size_2d": 96, "nt_2d": 40, "size_3d": 32, "nt_3d": 16, "shots": "1,2", "accuracy": "4,8", "repeat": 1}
    args = parse_args_quick(p, quick, argv)

    if args.worker:
        result = worker(json.loads(args.worker))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    dims = parse_list(args.dims, int, "dims")
    shots_list = parse_list(args.shots, int, "shots")
    accuracies = parse_list(args.accuracy, int, "accuracy")
    modes = parse_list(args.modes, str.strip, "modes")
    libraries = parse_list(args.libraries, str.strip, "libraries")
    grad = parse_list(args.grad, str.strip, "grad")
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"--modes: unknown mode {m!r}; choose from {', '.join(MODES)}")
    for lib in libraries:
        if lib not in LIBRARIES:
            raise SystemExit(f"--libraries: unknown library {lib!r}; choose from {', '.join(LIBRARIES)}")
    if not set(grad) <= {"v", "rho"} or not grad:
        raise SystemExit("--grad: choose v and/or rho")
    if not set(dims) <= {2, 3}:
        raise SystemExit("--dims: choose 2 and/or 3")
    if min([args.size_2d, args.nt_2d, args.size_3d, args.nt_3d, args.repeat, args.threads, *shots_list]) < 1:
        raise SystemExit("sizes, step counts, --repeat, --threads and --shots must be positive")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if importlib.util.find_spec("torchwave") is None:  # not installed: use this checkout
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))

    machine = machine_info()
    problems = {2: (args.size_2d, args.nt_2d), 3: (args.size_3d, args.nt_3d)}
    print(f"machine : {machine['cpu']}, nproc {machine['nproc']}")
    print(f"date    : {machine['date']}, load average (1 min) {machine['loadavg_start']:.2f}")
    for ndim in dims:
        size, nt = problems[ndim]
        print(
            f"{ndim}D      : {size}^{ndim} model + PML {PML} = {size + 2 * PML}^{ndim} padded cells, nt {nt}, dx {DX:g} m, "
            f"v {V_MIN:g}-{V_MAX:g} m/s and rho {RHO_MIN:g}-{RHO_MAX:g} kg/m^3 (linear in depth), float32, "
            f"{FREQ:g} Hz Ricker pressure source"
        )
    print(
        f"method  : {args.repeat} interleaved round(s) per case in one process, medians; {args.threads} thread(s); "
        f"forward+backward differentiates {', '.join(grad)}"
    )
    print("Mcells/s = padded cells x shots x nt / seconds (forward+backward: same count / total time)")
    print()

    results = []
    for ndim in dims:
        size, nt = problems[ndim]
        for acc in accuracies:
            for mode in modes:
                for shots in shots_list:
                    spec = {
                        "ndim": ndim,
                        "size": size,
                        "nt": nt,
                        "shots": shots,
                        "accuracy": acc,
                        "mode": mode,
                        "grad": grad,
                        "repeat": args.repeat,
                        "threads": args.threads,
                        "libraries": libraries,
                    }
                    label = f"{ndim}D acc {acc}, {shots} shot{'s' if shots > 1 else ''}, {mode}"
                    print(f"  running {label} ...", end="", flush=True)
                    r = run_worker(spec, env)
                    if "error" in r:
                        print(" failed: " + r["error"], flush=True)
                    else:
                        print(" " + ", ".join(f"{lib} {r[lib]['median_s']:.3f} s" for lib in libraries), flush=True)
                    results.append({"case": label, **spec, **r})

    def get(row, lib, key):
        return row.get(lib, {}).get(key)

    machine["loadavg_end"] = os.getloadavg()[0]
    info = next((r["info"] for r in results if "info" in r), {})
    tw, dw = info.get("torchwave", {}), info.get("deepwave", {})
    print()
    print(
        f"torch {machine['torch']}, torchwave {tw.get('version', '?')} (simd_enabled: {tw.get('simd', '?')}, "
        f"{tw.get('lib_threads', '?')} threads, Go source hash {tw.get('source_hash', '?')}), "
        f"deepwave {dw.get('version', '?')}"
    )
    print(
        f"load average (1 min) at start {machine['loadavg_start']:.2f}, at end {machine['loadavg_end']:.2f} "
        f"on {machine['nproc']} CPUs"
    )
    ratios = {x for r in results for x in r.get("info", {}).get("step_ratio", {}).values()}
    print(
        f"CFL step ratio: {', '.join(map(str, sorted(ratios))) or '?'}"
        + ("" if ratios <= {1} else "  (WARNING: time step subdivided)")
    )
    print()
    header = (
        f"{'case':<40} {'tw s':>8} {'dw s':>8} {'tw Mc/s':>8} {'dw Mc/s':>8} {'tw/dw':>6} "
        f"{'tw MiB':>8} {'dw MiB':>8} {'rec diff':>9} {'grad diff':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        twc, dwc = get(r, "torchwave", "mcells_per_s"), get(r, "deepwave", "mcells_per_s")
        r["ratio"] = twc / dwc if twc and dwc else None
        print(
            f"{r['case']:<40} {fmt(get(r, 'torchwave', 'median_s'), '8.3f')} {fmt(get(r, 'deepwave', 'median_s'), '8.3f')} "
            f"{fmt(twc, '8.1f')} {fmt(dwc, '8.1f')} {fmt(r['ratio'], '6.2f')} "
            f"{fmt(get(r, 'torchwave', 'peak_increase_mib'), '8.0f')} {fmt(get(r, 'deepwave', 'peak_increase_mib'), '8.0f')} "
            f"{fmt(r.get('receiver_rel_diff'), '9.1e')} {fmt(r.get('grad_rel_diff'), '9.1e')}"
        )
    print()
    print("MiB: the run's resident-set high-water mark less the resident set before it (largest over the rounds)")
    print("diff: relative L2 difference of torchwave's receiver data (and gradient) from Deepwave's")

    if args.json:
        payload = {
            "machine": machine,
            "torchwave": tw,
            "deepwave": dw,
            "config": {
                "dims": dims,
                "problems": {str(d): {"size": problems[d][0], "nt": problems[d][1]} for d in dims},
                "pml": PML,
                "dx": DX,
                "shots": shots_list,
                "accuracy": accuracies,
                "modes": modes,
                "grad": grad,
                "repeat": args.repeat,
                "threads": args.threads,
                "dtype": "float32",
                "mcells_definition": "padded cells x shots x nt / median seconds",
            },
            "results": results,
        }
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
