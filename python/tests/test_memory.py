"""Memory the propagators take from the OS for their working fields."""

import sys

import pytest
import torch

from torchwave import _common as common


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_zeros_is_zero_filled(dtype):
    t = common.zeros((3, 5, 7), dtype)
    assert t.shape == (3, 5, 7) and t.dtype == dtype and t.is_contiguous()
    assert torch.count_nonzero(t) == 0
    t[1, 2, 3] = 4  # writable, and owned by the tensor
    assert t.sum() == 4


def _resident_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_zeros_pages_are_taken_on_first_write():
    # The PML memory fields are written only near the PML; their other
    # pages must not be resident.
    # torch.zeros would make all 256 MiB resident. (How many pages a write
    # then adds is not checked: the kernel's resident counts can lag by
    # many pages, so that figure is not reliable within a test.)
    before = _resident_mib()
    t = common.zeros((64, 1024, 1024), torch.float32)  # 256 MiB
    untouched = _resident_mib() - before
    assert untouched < 32, f"{untouched:.0f} MiB resident before any write"
    t[:4] = 1.0
    assert t[:4].sum() == 4 * 1024 * 1024 and t[4:].abs().sum() == 0
