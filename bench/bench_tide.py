"""CPU benchmark: torchwave.maxwelltm against TIDE 0.1.2's maxwelltm.

Both libraries run the same 2D TM problem in one Python interpreter:
relative permittivity rising linearly with depth from 4 to 9, sigma = 1 mS/m,
mu = 1, ``--size`` x ``--size`` cells of 2 cm, a 20-cell CPML on every side,
stencil 4, float32, one 200 MHz Ricker source per shot (row 2, shots spread
along x) and 100 receivers per shot on row 2, ``--nt`` steps of
dt = 0.5 * dx / c_max / sqrt(2) (c_max = c0 / 2). Both libraries' CFL checks
keep that step (no internal sub-step; each worker records the step ratio).

Cases are every combination of ``--shots`` and ``--modes``:

* ``forward``: under ``torch.no_grad()``;
* ``forward+backward``: epsilon and sigma require grad, then
  ``receiver_amplitudes.pow(2).sum().backward()``. Both libraries keep two
  snapshots per step (Ey and the curl of H) in memory, their defaults
  (torchwave storage_mode="device"; TIDE storage_mode="device",
  storage_compression=False), ~4.4 MB per shot per step at 1000² + PML. When
  that would exceed ``--mem-limit-gb`` the case runs fewer steps (the largest
  multiple of 50 that fits) and the table says so.

Each timed run is a fresh subprocess (import, small warm-up, RSS baseline,
one timed run); ``--repeat`` runs per (library, case), alternating which
library goes first, so that load from other work on the machine falls on
both. Reported: the median seconds, Mcells/s = padded cells ((size + 40)^2)
x shots x nt / median seconds (forward+backward: the forward count over the
total time), and peak memory = the increase of ``ru_maxrss`` over the
warmed-up baseline (the largest over the repeats).

Threads: ``torch.set_num_threads(T)``, ``torchwave.set_num_threads(T)``,
TIDE's ``n_threads=T`` and OMP_NUM_THREADS=T, T = ``--threads`` (default 2).

TIDE 0.1.2 exports the functional ``maxwelltm`` as
``tide.maxwell.tm2d.maxwelltm`` (its public ``tide.MaxwellTM`` operator calls
that function); it is called with ``fallback="error"`` so that it runs its
native C backend (libtide_C.so, OpenMP) or fails, never its PyTorch
reference. Argument mapping: it takes the same names (epsilon, sigma, mu,
grid_spacing, dt, source_amplitude [shots, sources, nt], source_location and
receiver_location [shots, n, 2] as (y, x) cell indices, stencil, pml_width)
and returns receiver data as [nt, shots, receivers]; torchwave returns
[shots, receivers, nt], so TIDE's is transposed before comparing.

Agreement check (before timing, ``--check-only`` for it alone): receiver data
and the epsilon gradient of both libraries on two small float64 problems:

* ``interior``: 400² cells, source at the centre, receivers 30 cells above
  it, 400 steps: neither the wave nor the adjoint wave reaches the CPML, so
  this compares the interior scheme, the source injection and the receiver
  sampling;
* ``benchmark geometry``: the timed problem's geometry at 200² and 400
  steps: the two libraries' CPMLs differ (TIDE: kappa stretching up to 5,
  alpha, fourth-power grading, its own sigma_max; torchwave: second power,
  R = 1e-3, no kappa), so their edge reflections differ.

TIDE needs Python >= 3.12 (``pip install tide-gpr==0.1.2``); on an older
Python, or without TIDE, the script stops with a message (with ``--quick``
it prints that it is skipped and exits with status 0, so that ``make bench``
goes on). ``bench/tide_env.sh`` builds a Debian
trixie chroot with Python 3.13, torch and TIDE and runs this script there.

    PYTHONPATH=python python3 bench/bench_tide.py                 # full run
    PYTHONPATH=python python3 bench/bench_tide.py --quick         # smoke test
    PYTHONPATH=python python3 bench/bench_tide.py --nt 200 --shots 1 --repeat 3 --json out.json
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

LIBRARIES = ("torchwave", "tide")
MODES = ("forward", "forward+backward")
DX = 0.02
PML = 20
STENCIL = 4
EPS_MIN, EPS_MAX = 4.0, 9.0
SIGMA = 1e-3
FREQ = 200e6
C0 = 299792458.0
N_RECEIVERS = 100
REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_PREFIX = "BENCH_RESULT "
NEEDS_TIDE = "tide (tide-gpr 0.1.2) is not importable: it needs Python ≥3.12; see docs/benchmarks.md"


# ---------------------------------------------------------------- the problem


def time_step() -> float:
    return 0.5 * DX / (C0 / math.sqrt(EPS_MIN)) / math.sqrt(2)


def ricker(torch, nt: int, dt: float, dtype):
    t = torch.arange(nt, dtype=torch.float64) * dt - 1.5 / FREQ
    a = (math.pi * FREQ * t) ** 2
    return ((1 - 2 * a) * torch.exp(-a)).to(dtype)


def make_problem(torch, size: int, nt: int, n_shots: int, dtype=None, geometry: str = "benchmark"):
    """The models, time step and survey shared by both libraries."""
    dtype = dtype or torch.float32
    y = torch.linspace(0.0, 1.0, size, dtype=torch.float64)
    eps = (EPS_MIN + (EPS_MAX - EPS_MIN) * y)[:, None].expand(size, size).to(dtype).contiguous()
    sigma = torch.full((size, size), SIGMA, dtype=dtype)
    mu = torch.ones(size, size, dtype=dtype)
    dt = time_step()
    amp = ricker(torch, nt, dt, dtype).repeat(n_shots, 1, 1)  # [shots, 1, nt]
    n_rec = min(N_RECEIVERS, size)
    src = torch.zeros(n_shots, 1, 2, dtype=torch.long)
    rec = torch.zeros(n_shots, n_rec, 2, dtype=torch.long)
    if geometry == "benchmark":  # surface survey, as bench/bench_maxwell.py
        src[:, 0, 0] = 2
        src[:, 0, 1] = torch.tensor([(i + 1) * size // (n_shots + 1) for i in range(n_shots)])
        rec[..., 0] = 2
        rec[..., 1] = torch.linspace(0, size - 1, n_rec).round().long()
    elif geometry == "interior":  # everything far from the CPML
        c = size // 2
        src[:, 0, 0] = c
        src[:, 0, 1] = c
        n_rec = min(n_rec, size // 4)
        rec = torch.zeros(n_shots, n_rec, 2, dtype=torch.long)
        rec[..., 0] = c - 30
        rec[..., 1] = c - n_rec // 2 + torch.arange(n_rec)
    else:
        raise ValueError(f"unknown geometry {geometry!r}")
    return dict(
        epsilon=eps,
        sigma=sigma,
        mu=mu,
        grid_spacing=DX,
        dt=dt,
        source_amplitude=amp,
        source_location=src,
        receiver_location=rec,
        stencil=STENCIL,
        pml_width=PML,
    )


def padded_cells(size: int) -> int:
    return (size + 2 * PML) ** 2


def store_bytes_per_step(size: int, itemsize: int = 4) -> int:
    """Both libraries' gradient stores: Ey and curl H, one padded grid each."""
    n = size + 2 * PML + STENCIL
    return 2 * n * n * itemsize


# -------------------------------------------------------------------- worker


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def load_library(name: str, threads: int):
    """(propagate(**kw) -> receivers [shots, receivers, nt], info dict)."""
    import torch

    torch.set_num_threads(threads)
    if name == "torchwave":
        import torchwave
        from torchwave import _common

        torchwave.set_num_threads(threads)
        info = {"version": torchwave.__version__, "simd": torchwave.simd_enabled(), "lib_threads": torchwave.get_num_threads()}

        def propagate(**kw):
            return torchwave.maxwelltm(**kw)[-1]

        def step_ratio(kw):
            vmax = C0 / math.sqrt(float((kw["epsilon"] * kw["mu"]).min()))
            return _common.cfl_step_ratio((DX, DX), kw["dt"], vmax)
    else:
        import importlib.metadata

        try:
            import tide
            from tide.maxwell.tm2d import maxwelltm
        except (ImportError, SyntaxError) as e:
            raise SystemExit(f"{NEEDS_TIDE} ({type(e).__name__}: {e})") from None
        info = {"version": importlib.metadata.version("tide-gpr"), "lib_threads": threads}

        def propagate(**kw):
            # fallback="error": the native C backend or an error, never the
            # PyTorch reference. Receiver data [nt, shots, receivers] ->
            # torchwave's [shots, receivers, nt].
            return maxwelltm(**kw, n_threads=threads, fallback="error")[-1].permute(1, 2, 0)

        def step_ratio(kw):
            vmax = C0 / math.sqrt(float((kw["epsilon"] * kw["mu"]).min()))
            return tide.cfl_condition([DX, DX], kw["dt"], vmax)[1]

    return propagate, step_ratio, info


def run_case(torch, propagate, kw: dict, backward: bool):
    """One propagation; returns (receivers, epsilon gradient or None)."""
    if backward:
        kw = dict(
            kw, epsilon=kw["epsilon"].detach().clone().requires_grad_(), sigma=kw["sigma"].detach().clone().requires_grad_()
        )
        out = propagate(**kw)
        out.pow(2).sum().backward()
        return out.detach(), kw["epsilon"].grad
    with torch.no_grad():
        return propagate(**kw), None


def worker(spec: dict) -> dict:
    """Times one run of one (library, case) in this process."""
    import torch

    propagate, step_ratio, info = load_library(spec["library"], spec["threads"])
    info["torch"] = torch.__version__
    backward = spec["mode"] == "forward+backward"
    size, nt, shots = spec["size"], spec["nt"], spec["shots"]
    kw = make_problem(torch, size, nt, shots)
    info["step_ratio"] = step_ratio(kw)
    # Warm up (loads kernels, starts thread pools) before the RSS baseline.
    run_case(torch, propagate, make_problem(torch, min(size, 64), min(nt, 8), shots), backward)
    baseline = _maxrss_mib()
    start = time.perf_counter()
    rec, _ = run_case(torch, propagate, kw, backward)
    seconds = time.perf_counter() - start
    peak = _maxrss_mib()
    if spec.get("save"):
        torch.save({"receivers": rec}, spec["save"])
    return {
        **info,
        "seconds": seconds,
        "rss_baseline_mib": baseline,
        "rss_peak_mib": peak,
        "rss_increase_mib": peak - baseline,
        "loadavg": os.getloadavg()[0],
    }


def check(spec: dict) -> dict:
    """Both libraries on small float64 problems; relative L2 differences."""
    import torch

    threads = spec["threads"]
    libs = {name: load_library(name, threads)[0] for name in LIBRARIES}
    out = {}
    for name, geometry, size, nt in (("interior", "interior", 400, 400), ("benchmark geometry", "benchmark", 200, 400)):
        kw = make_problem(torch, size, nt, 2, dtype=torch.float64, geometry=geometry)
        res = {name: run_case(torch, fn, kw, True) for name, fn in libs.items()}
        (rt, gt), (rd, gd) = res["torchwave"], res["tide"]
        # Best scale factor a minimising ||a*tw - tide||: 1 if the source
        # conventions agree.
        scale = float((rt.double() * rd.double()).sum() / rt.double().pow(2).sum())
        # Shift in samples that best aligns the traces (0: same sampling time).
        lags = {s: float((torch.roll(rt, s, -1) - rd)[..., 5:-5].norm()) for s in (-1, 0, 1)}
        out[name] = {
            "size": size,
            "nt": nt,
            "shots": 2,
            "receivers": rel_diff(rt, rd),
            "grad_epsilon": rel_diff(gt, gd),
            "best_scale": scale,
            "best_lag": min(lags, key=lags.get),
            "max_abs_receiver": float(rd.abs().max()),
        }
    return out


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
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            mem_gb = int(f.readline().split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    import torch

    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "mem_gib": mem_gb,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "loadavg_start": os.getloadavg()[0],
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def run_sub(arg: str, payload: dict, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, arg, json.dumps(payload)], env=env, capture_output=True, check=False, text=True
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit status {proc.returncode}: " + " | ".join(tail)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None, help="model cells per side (default 1000)")
    p.add_argument("--nt", type=int, default=None, help="time steps (default 1000)")
    p.add_argument("--shots", default=None, help="comma-separated shot counts (default 1,8)")
    p.add_argument("--modes", default=",".join(MODES), help="forward and/or forward+backward")
    p.add_argument("--repeat", type=int, default=None, help="timed runs per (library, case) (default 3)")
    p.add_argument("--threads", type=int, default=2, help="threads for both libraries (default 2)")
    p.add_argument(
        "--mem-limit-gb",
        type=float,
        default=None,
        help="cap on the gradient stores of one run; fewer steps beyond it (default 60%% of RAM)",
    )
    p.add_argument("--no-check", action="store_true", help="skip the agreement check")
    p.add_argument("--check-only", action="store_true", help="only the agreement check")
    p.add_argument("--quick", action="store_true", help="smoke run (size 200, nt 100, shots 1,2, repeat 1)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--check-worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker or args.check_worker:
        result = worker(json.loads(args.worker)) if args.worker else check(json.loads(args.check_worker))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    if importlib.util.find_spec("tide") is None or sys.version_info < (3, 12):
        if args.quick:  # a smoke run skips what it cannot run
            print(f"skipped: {NEEDS_TIDE}")
            return 0
        raise SystemExit(NEEDS_TIDE)
    quick = {"size": 200, "nt": 100, "shots": "1,2", "repeat": 1}
    full = {"size": 1000, "nt": 1000, "shots": "1,8", "repeat": 3}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    shots_list = parse_list(args.shots, int, "shots")
    modes = parse_list(args.modes, str.strip, "modes")
    for m in modes:
        if m not in MODES:
            raise SystemExit(f"--modes: unknown mode {m!r}; choose from {', '.join(MODES)}")
    if min([args.size, args.nt, args.repeat, args.threads, *shots_list]) < 1:
        raise SystemExit("--size, --nt, --repeat, --threads and --shots must be positive")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if importlib.util.find_spec("torchwave") is None:  # not installed: use this checkout
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))

    machine = machine_info()
    mem_limit = args.mem_limit_gb if args.mem_limit_gb is not None else 0.6 * (machine["mem_gib"] or 16)
    n_pad = args.size + 2 * PML
    print(f"machine : {machine['cpu']}, nproc {machine['nproc']}, {fmt(machine['mem_gib'], '.1f')} GiB")
    print(f"date    : {machine['date']}, load average (1 min) {machine['loadavg_start']:.2f}")
    print(f"python  : {machine['python']}, torch {machine['torch']}")
    print(
        f"problem : {args.size}x{args.size} + CPML {PML} = {n_pad}x{n_pad} padded cells, dx {DX} m, "
        f"eps_r {EPS_MIN:g}-{EPS_MAX:g} (linear in depth), sigma {SIGMA:g} S/m, stencil {STENCIL}, float32, "
        f"dt {time_step():.4g} s, {FREQ / 1e6:g} MHz Ricker, 1 source and {N_RECEIVERS} receivers per shot"
    )
    print(
        f"method  : {args.repeat} run(s) per (library, case), each in a fresh subprocess, libraries "
        f"alternated, median; {args.threads} thread(s)"
    )
    print()

    checks = None
    if not args.no_check or args.check_only:
        print("agreement check (float64, 2 shots, forward+backward) ...", flush=True)
        checks = run_sub("--check-worker", {"threads": args.threads}, env)
        if "error" in checks:
            print("  failed: " + checks["error"])
        else:
            for name, c in checks.items():
                print(
                    f"  {name:18s} {c['size']}², {c['nt']} steps: receivers rel. L2 {c['receivers']:.2e}, "
                    f"eps gradient rel. L2 {fmt(c['grad_epsilon'], '.2e')}, best scale tide/torchwave "
                    f"{c['best_scale']:.6f}, best lag {c['best_lag']}"
                )
        print()
        if args.check_only:
            return 1 if "error" in checks else 0

    cases = []
    for mode in modes:
        for shots in shots_list:
            nt = args.nt
            if mode == "forward+backward":
                fit = int(mem_limit * 2**30 / (store_bytes_per_step(args.size) * shots)) // 50 * 50
                nt = max(1, min(nt, fit))
            cases.append((mode, shots, nt))

    results = []
    with tempfile.TemporaryDirectory(prefix="bench_tide_") as tmp:
        for mode, shots, nt in cases:
            note = (
                ""
                if nt == args.nt
                else f" (nt {nt}: {args.nt} steps need "
                f"{store_bytes_per_step(args.size) * shots * args.nt / 2**30:.1f} GiB of stores)"
            )
            row = {"mode": mode, "shots": shots, "nt": nt, "runs": {lib: [] for lib in LIBRARIES}}
            for rep in range(args.repeat):
                order = LIBRARIES if rep % 2 == 0 else LIBRARIES[::-1]
                for lib in order:
                    spec = {
                        "library": lib,
                        "size": args.size,
                        "nt": nt,
                        "shots": shots,
                        "mode": mode,
                        "threads": args.threads,
                        "save": str(pathlib.Path(tmp) / f"{lib}.pt") if rep == 0 else None,
                    }
                    print(f"  {mode:16s} {shots} shot(s) nt {nt}{note} run {rep + 1}: {lib:9s} ...", end="", flush=True)
                    note = ""
                    r = run_sub("--worker", spec, env)
                    print(
                        " failed: " + r["error"]
                        if "error" in r
                        else f" {r['seconds']:.2f} s, +{r['rss_increase_mib']:.0f} MiB, load {r['loadavg']:.2f}",
                        flush=True,
                    )
                    row["runs"][lib].append(r)
                if rep == 0 and all((pathlib.Path(tmp) / f"{lib}.pt").exists() for lib in LIBRARIES):
                    import torch

                    a = torch.load(pathlib.Path(tmp) / "torchwave.pt")["receivers"]
                    b = torch.load(pathlib.Path(tmp) / "tide.pt")["receivers"]
                    row["receiver_rel_diff"] = rel_diff(a, b)
                    for lib in LIBRARIES:
                        (pathlib.Path(tmp) / f"{lib}.pt").unlink()
            for lib in LIBRARIES:
                ok = [r for r in row["runs"][lib] if "error" not in r]
                if ok:
                    med = statistics.median(r["seconds"] for r in ok)
                    row[lib] = {
                        "median_s": med,
                        "mcells_per_s": padded_cells(args.size) * shots * nt / med / 1e6,
                        "rss_increase_mib": max(r["rss_increase_mib"] for r in ok),
                        "times_s": [r["seconds"] for r in ok],
                        "step_ratio": ok[0]["step_ratio"],
                        "version": ok[0]["version"],
                    }
            results.append(row)

    machine["loadavg_end"] = os.getloadavg()[0]
    print()
    versions = {lib: next((r[lib]["version"] for r in results if lib in r), "?") for lib in LIBRARIES}
    ratios = {r[lib]["step_ratio"] for r in results for lib in LIBRARIES if lib in r}
    print(
        f"torchwave {versions['torchwave']}, tide-gpr {versions['tide']}, torch {machine['torch']}, "
        f"Python {machine['python']}; CFL step ratio {', '.join(map(str, sorted(ratios))) or '?'}"
    )
    print(
        f"load average (1 min) at start {machine['loadavg_start']:.2f}, at end {machine['loadavg_end']:.2f} "
        f"on {machine['nproc']} CPUs"
    )
    print()
    header = (
        f"{'case':<34} {'tw s':>8} {'TIDE s':>8} {'tw Mc/s':>8} {'TIDE Mc/s':>9} {'tw/TIDE':>8} "
        f"{'tw +MiB':>8} {'TIDE +MiB':>9} {'rec diff':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        case = f"{r['mode']}, {r['shots']} shot{'s' if r['shots'] > 1 else ''}, nt {r['nt']}"
        tw, td = r.get("torchwave", {}), r.get("tide", {})
        r["ratio"] = tw["mcells_per_s"] / td["mcells_per_s"] if tw and td else None
        print(
            f"{case:<34} {fmt(tw.get('median_s'), '8.2f')} {fmt(td.get('median_s'), '8.2f')} "
            f"{fmt(tw.get('mcells_per_s'), '8.1f')} {fmt(td.get('mcells_per_s'), '9.1f')} "
            f"{fmt(r['ratio'], '8.2f')} {fmt(tw.get('rss_increase_mib'), '8.0f')} "
            f"{fmt(td.get('rss_increase_mib'), '9.0f')} {fmt(r.get('receiver_rel_diff'), '9.2e')}"
        )
    print()
    print(
        "Mcells/s = padded cells x shots x nt / median s; +MiB = peak RSS increase over the warmed-up "
        "baseline (max over runs); rec diff = relative L2 of torchwave vs TIDE receivers (CPMLs differ)"
    )

    if args.json:
        payload = {
            "machine": machine,
            "versions": versions,
            "checks": checks,
            "config": {
                "size": args.size,
                "padded": n_pad,
                "pml": PML,
                "dx": DX,
                "nt": args.nt,
                "shots": shots_list,
                "modes": modes,
                "repeat": args.repeat,
                "threads": args.threads,
                "stencil": STENCIL,
                "dtype": "float32",
                "mem_limit_gb": mem_limit,
                "mcells_definition": "padded cells x shots x nt / median seconds",
            },
            "results": results,
        }
        pathlib.Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    failed = any("error" in x for r in results for lib in LIBRARIES for x in r["runs"][lib])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
