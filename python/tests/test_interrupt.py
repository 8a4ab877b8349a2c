"""Ctrl-C during a long propagation: SIGINT raises KeyboardInterrupt within
a second, in the forward and the backward pass, leaving no snapshot files,
threads or memory behind, and the process computes on.

The propagations run in a child process, which the test interrupts with
SIGINT as a terminal would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import propagator_problems as problems
import pytest
import torch

from torchwave import _driver as driver

CHILD = r"""
import gc, os, sys, tempfile, time
import torch
import torchwave

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

def threads():
    return len(os.listdir("/proc/self/task"))

def problem(n, nt):
    v = torch.full((n, n), 1500.0)
    src = torchwave.wavelets.ricker(25.0, nt, 0.001, 0.04).reshape(1, 1, -1).float()
    return dict(v=v, grid_spacing=5.0, dt=0.001, source_amplitudes=src, pml_freq=25.0,
                source_locations=torch.tensor([[[n // 2, n // 2]]]),
                receiver_locations=torch.tensor([[[n // 2, n // 2 + 5]]]))

def interrupted(what, fn):
    print("go", what, flush=True)
    try:
        fn()
    except KeyboardInterrupt:
        print("interrupted", what, time.time(), flush=True)
    else:
        print("finished", what, flush=True)

storage = tempfile.mkdtemp()
small = problem(60, 200)
expected = torchwave.scalar(**small)[-1]
def rounds():
    interrupted("forward", lambda: torchwave.scalar(**problem(1000, 20000)))

    def forward_disk():
        p = problem(700, 20000)
        p["v"].requires_grad_()
        torchwave.scalar(**p, model_gradient_sampling_interval=250, storage_mode="disk", storage_path=storage)
    interrupted("forward-disk", forward_disk)
    print("files", len(os.listdir(storage)), flush=True)

    p = problem(700, 1500)
    p["v"].requires_grad_()
    out = torchwave.scalar(**p, model_gradient_sampling_interval=250, storage_mode="disk", storage_path=storage)
    print("files-kept", len(os.listdir(storage)), flush=True)
    interrupted("backward", lambda: out[-1].square().sum().backward())
    del out, p
    gc.collect()
    print("files", len(os.listdir(storage)), flush=True)

# The first round may grow the Go runtime's threads and the allocator's
# pools to what the calls need; the second must not grow them further.
rounds()
torchwave.empty_cache(); gc.collect()
base_rss, base_threads = rss_mb(), threads()
rounds()
torchwave.empty_cache(); gc.collect()
print("rss", base_rss, rss_mb(), flush=True)
print("threads", base_threads, threads(), flush=True)
again = torchwave.scalar(**small)[-1]
print("again", bool(torch.equal(again, expected)), flush=True)
"""


def test_sigint_interrupts_forward_and_backward_within_a_second(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, latency, sent = [], [], 0.0
    try:
        for line in child.stdout:
            words = line.split()
            lines.append(words)
            if words[0] == "go":
                time.sleep(0.3)  # well inside the call
                sent = time.time()
                child.send_signal(signal.SIGINT)
            elif words[0] == "interrupted":
                latency.append((words[1], float(words[2]) - sent))
        child.wait(60)
    finally:
        child.kill()
    assert child.returncode == 0, child.stderr.read()
    got = {}
    for words in lines:
        got.setdefault(words[0], []).append(words[1:])
    assert [what for what, _ in latency] == ["forward", "forward-disk", "backward"] * 2, lines
    assert max(t for _, t in latency) < 1.0, latency
    assert got["files-kept"] == [["1"]] * 2  # the history's directory, while its graph lives
    assert got["files"] == [["0"]] * 4, "snapshot files left behind"
    (base, now), (t0, t1) = [map(float, v) for v in got["rss"]][0], [map(int, v) for v in got["threads"]][0]
    assert now < base * 1.05 + 20, f"RSS grew from {base:.0f} MB to {now:.0f} MB"
    assert t1 <= t0, f"threads grew from {t0} to {t1}"
    assert got["again"] == [["True"]]


def _run(kind, ndim, **options):
    fn, kw = problems.problem(kind, ndim, nt=13, shots=2)
    inputs = [kw[name].requires_grad_() for name in problems.models(kind)]
    amplitudes = kw[problems.survey(kind)[0]].requires_grad_()
    out = fn(**kw, **options)
    grads = torch.autograd.grad(problems.model_loss(kind, out), [*inputs, amplitudes])
    return [o.detach() for o in out], grads


# Every history plan, on one propagator each, and every propagator.
CHUNKED = [
    ("scalar", 2, {}),
    ("scalar", 2, dict(storage_strategy="checkpoint", model_gradient_sampling_interval=2)),
    ("scalar", 2, dict(storage_strategy="boundary")),
    ("scalar", 2, dict(storage_mode="disk", storage_compression="int8", model_gradient_sampling_interval=3)),
    ("scalar", 1, {}),
    ("scalar", 3, dict(storage_mode="cpu", storage_compression="bf16")),
    ("scalar_born", 2, dict(model_gradient_sampling_interval=2)),
    ("scalar_born", 3, {}),
    ("maxwelltm", 2, {}),
    ("maxwelltm", 2, dict(storage_strategy="checkpoint", storage_mode="disk")),
    ("acoustic", 2, {}),
    ("acoustic", 3, dict(storage_strategy="checkpoint")),
]


@pytest.mark.parametrize(
    "kind, ndim, options", CHUNKED, ids=[f"{k}{n}d-{'-'.join(map(str, o.values())) or 'full'}" for k, n, o in CHUNKED]
)
def test_results_do_not_depend_on_the_calls_the_steps_are_cut_into(monkeypatch, tmp_path, kind, ndim, options):
    options = dict(options, storage_path=tmp_path) if options.get("storage_mode") == "disk" else options
    with monkeypatch.context() as m:
        m.setattr(driver.Pacer, "size", lambda self: 1 << 40)  # every run of steps in one call
        whole = _run(kind, ndim, **options)
    with monkeypatch.context() as m:
        m.setattr(driver, "CALL_SECONDS", 0.0)  # one step per call
        single = _run(kind, ndim, **options)
    for a, b in zip(whole[0] + list(whole[1]), single[0] + list(single[1])):
        assert torch.equal(a, b)
    assert not list(tmp_path.iterdir())


def test_pacer_sizes_calls_from_the_measured_step_time(monkeypatch):
    pacer = driver.Pacer()
    now = [0.0]
    monkeypatch.setattr(driver.time, "perf_counter", lambda: now[0])
    step = 2.0**-10  # seconds per step, exact in binary
    monkeypatch.setattr(driver, "CALL_SECONDS", 96 * step)
    sizes = []
    for start, n in pacer.split(0, 2000):
        sizes.append((start, n))
        now[0] += n * step
    assert sizes[:4] == [(0, 1), (1, 4), (5, 16), (21, 64)]
    assert {n for _, n in sizes[4:-1]} == {96}
    assert sum(n for _, n in sizes) == 2000 and sizes[-1][0] + sizes[-1][1] == 2000
    backward = [s for s in driver.Pacer().split(10, 7, reverse=True)]
    assert backward == [(16, 1), (12, 4), (10, 2)]
