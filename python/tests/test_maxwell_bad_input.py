"""Bad input to maxwelltm: a clear Python exception naming the argument,
never a crash, a hang or silent garbage."""

from __future__ import annotations

import math

import pytest
import torch
from maxwell_problems import make_problem, run

import torchwave


@pytest.fixture
def p():
    return make_problem(n_shots=1, n_sources=1, n_receivers=1, nt=5)


def _nan(t):
    t = t.clone()
    t.view(-1)[0] = math.nan
    return t


@pytest.mark.parametrize(
    "edit, exc, match",
    [
        (lambda p: {"epsilon": p["epsilon"] * 0 + 0.5}, ValueError, "epsilon"),
        (lambda p: {"mu": p["mu"] * 0}, ValueError, "mu"),
        (lambda p: {"mu": -p["mu"]}, ValueError, "mu"),
        (lambda p: {"sigma": p["sigma"] - 1}, ValueError, "sigma"),
        (lambda p: {"epsilon": _nan(p["epsilon"])}, ValueError, "epsilon"),
        (lambda p: {"sigma": _nan(p["sigma"])}, ValueError, "sigma"),
        (lambda p: {"source_amplitude": _nan(p["source_amplitude"])}, ValueError, "source_amplitude"),
        (lambda p: {"epsilon": p["epsilon"][0]}, ValueError, "epsilon"),
        (lambda p: {"mu": p["mu"][:, :-1]}, ValueError, "mu"),
        (lambda p: {"sigma": p["sigma"].float()}, TypeError, "sigma"),
        (lambda p: {"epsilon": p["epsilon"].tolist()}, TypeError, "epsilon"),
        (lambda p: {"source_amplitude": p["source_amplitude"][0]}, ValueError, "source_amplitude"),
        (lambda p: {"source_location": p["source_location"].to(torch.int16)}, TypeError, "source_location"),
        (lambda p: {"source_location": p["source_location"] + 100}, ValueError, "source_location"),
        (lambda p: {"receiver_location": -1 - p["receiver_location"]}, ValueError, "receiver_location"),
        (lambda p: {"receiver_location": p["receiver_location"].repeat(1, 2, 1)}, ValueError, "duplicate"),
        (lambda p: {"receiver_location": p["receiver_location"].repeat(2, 1, 1)}, ValueError, "shots"),
        (lambda p: {"source_location": None}, ValueError, "together"),
        (lambda p: {"dt": -1e-11}, ValueError, "dt"),
        (lambda p: {"dt": math.nan}, ValueError, "dt"),
        (lambda p: {"dt": "1e-11"}, TypeError, "dt"),
        (lambda p: {"grid_spacing": 0}, ValueError, "grid_spacing"),
        (lambda p: {"stencil": 3}, ValueError, "stencil"),
        (lambda p: {"pml_width": -1}, ValueError, "pml_width"),
        (lambda p: {"max_vel": 1e6}, ValueError, "max_vel"),
        (lambda p: {"nt": 7}, ValueError, "nt"),
        (lambda p: {"Ey_0": torch.zeros(1, 3, 3, dtype=torch.float64)}, ValueError, "Ey_0"),
        (lambda p: {"m_Hz_x": _nan(torch.zeros(1, 14, 15, dtype=torch.float64))}, ValueError, "m_Hz_x"),
        (lambda p: {"python_backend": "fast"}, ValueError, "python_backend"),
        (lambda p: {"storage_mode": "tape"}, ValueError, "storage_mode"),
        (lambda p: {"storage_strategy": "boundary"}, NotImplementedError, "storage_strategy"),
        (lambda p: {"model_gradient_sampling_interval": 0}, ValueError, "model_gradient_sampling_interval"),
        (lambda p: {"forward_callback": 3}, TypeError, "forward_callback"),
        (lambda p: {"pml_freq": -5.0}, ValueError, "pml_freq"),
    ],
)
def test_rejected_with_named_argument(p, edit, exc, match):
    with pytest.raises(exc, match=match):
        run(p, **edit(p))


def test_wrong_device_is_named(p):
    meta = p["sigma"].to("meta")
    with pytest.raises(ValueError, match="sigma"):
        run(p, sigma=meta)


def test_cuda_needs_python_backend(p, monkeypatch):
    """CUDA tensors without python_backend: NotImplementedError, as for
    scalar. Simulated on the CPU by making the coefficients report a CUDA
    device."""
    import torchwave.maxwell as m

    real = m._prepare

    def fake(*args, **kw):
        setup, ca, cb, cq, src, fields = real(*args, **kw)

        class Cuda(torch.Tensor):
            @property
            def device(self):
                return torch.device("cuda")

        return setup, ca.as_subclass(Cuda), cb, cq, src, fields

    monkeypatch.setattr(m, "_prepare", fake)
    with pytest.raises(NotImplementedError, match="python_backend=True"):
        run(p)


def test_storage_none_gives_a_zero_model_gradient(p):
    """As in Deepwave: nothing stored, so epsilon's gradient is zero."""
    eps = p["epsilon"].clone().requires_grad_()
    run(p, epsilon=eps, storage_mode="none")[-1].square().sum().backward()
    assert eps.grad is not None and torch.count_nonzero(eps.grad) == 0
    out = run(p, storage_mode="none")  # no gradient wanted: runs
    assert torch.isfinite(out[-1]).all()


def test_go_core_rejects_bad_sizes_without_crashing():
    """A malformed call straight into the core comes back as a ValueError."""
    import torchwave.maxwell as m
    from torchwave import _lib

    with pytest.raises(ValueError, match="null pointer"):
        _lib.maxwell_call(False, dtype=1, n_shots=1, ny=8, nx=8, stencil=2, n_steps=1, store_interval=1, rdy=1.0, rdx=1.0)
    with pytest.raises(NotImplementedError, match="dtype"):
        _lib.maxwell_call(False, dtype=5, n_shots=1, ny=8, nx=8, stencil=2, store_interval=1, rdy=1.0, rdx=1.0)
    assert torchwave.maxwelltm is m.maxwelltm
