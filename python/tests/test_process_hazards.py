"""The process hazards a user can meet: a forked child (where the Go core
would hang) fails fast with a message saying what to do, and a disk that
is full or cannot be written under storage_mode="disk" gives an error
naming the storage options and leaves no files behind."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys

import pytest
import torch
from conftest import make_problem, run

from torchwave import _storage

FORK_CHILD = r"""
import os, sys, torch, torchwave

def call(name):
    v = torch.full((12, 12), 1500.0)
    src = torch.zeros(1, 1, 20)
    loc = torch.tensor([[[6, 6]]])
    if name == "scalar":
        return torchwave.scalar(v, 5.0, 0.001, source_amplitudes=src, source_locations=loc,
                                receiver_locations=loc, pml_width=2)
    if name == "acoustic":
        return torchwave.acoustic(v, torch.full_like(v, 1000.0), 5.0, 0.001, source_amplitudes_p=src,
                                  source_locations_p=loc, receiver_locations_p=loc, pml_width=2)
    return torchwave.maxwelltm(torch.ones_like(v), torch.zeros_like(v), torch.ones_like(v), 0.05, 1e-10, source_amplitude=src,
                               source_location=loc, receiver_location=loc, pml_width=2)

for name in ("scalar", "acoustic", "maxwelltm"):
    call(name)  # the Go core is loaded and its threads are running
pid = os.fork()
if pid == 0:
    failures = 0
    for name in ("scalar", "acoustic", "maxwelltm"):
        try:
            call(name)
        except RuntimeError as e:
            ok = "forked child" in str(e) and "spawn" in str(e)
            print(name, "raised" if ok else f"raised another message: {e}", flush=True)
            failures += not ok
        else:
            print(name, "ran", flush=True)
            failures += 1
    os._exit(failures)
_, status = os.waitpid(pid, 0)
call("scalar")  # the parent is unaffected
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
"""


def test_forked_child_fails_fast_with_a_clear_message():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # A hang (the hazard) shows as a timeout, not as a stuck test run.
    done = subprocess.run([sys.executable, "-c", FORK_CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["scalar raised", "acoustic raised", "maxwelltm raised", "child exit 0"], done.stdout


@pytest.fixture(scope="module")
def problem():
    return make_problem(ny=14, nx=16, nt=41, n_shots=1, n_sources=1, n_receivers=2, seed=5)


def _forward_with_gradient(problem, path):
    v = problem["v"].clone().requires_grad_(True)
    return run(problem, v=v, storage_mode="disk", storage_path=str(path))


def test_storage_path_that_cannot_be_a_directory(problem, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"storage_mode='disk' could not make its snapshot directory") as info:
        _forward_with_gradient(problem, blocker / "history")
    assert "storage_path=" in str(info.value) and "a-file" in str(info.value)
    assert os.listdir(tmp_path) == ["a-file"]


def test_full_disk_raises_and_removes_its_files(problem, tmp_path, monkeypatch):
    def no_space(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_storage.os, "pwrite", no_space)
    with pytest.raises(OSError, match=r"could not write .* bytes of snapshots") as info:
        _forward_with_gradient(problem, tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert "No space left on device" in str(info.value) and str(tmp_path) in str(info.value)
    del info
    gc.collect()
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    out = _forward_with_gradient(problem, tmp_path)  # the next call works
    out[-1].square().sum().backward()
    assert os.listdir(tmp_path) == []
    assert torch.isfinite(out[-1]).all()
