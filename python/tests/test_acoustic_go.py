"""torchwave.acoustic through the Go core (python_backend=False, the
default) against the pure-PyTorch reference, its storage plans against
storage_mode="device", and reciprocity.

Measured: Go against the reference, every output and the gradients of v,
rho, the sources and the initial fields, 1D/2D/3D: float64 ≤ 3e-15
relative (the forward bit for bit), float32 ≤ 1.3e-6. Reciprocity between
a pressure source and a velocity receiver and the swapped pair holds to
5e-16, one step apart (a velocity is recorded half a step before the
pressure)."""

from __future__ import annotations

import os

import pytest
import torch
from test_acoustic import AXES, _grads, _max_rel, _problem

import torchwave

F64 = torch.float64


def _run(ndim, dtype=F64, n_shots=2, per_shot=False, **options):
    v, rho, kw, pml = _problem(ndim, requires_grad=True, dtype=dtype, n_shots=n_shots)
    if per_shot:
        v = (v.detach() * torch.tensor([1.0, 0.9], dtype=dtype).reshape(2, *[1] * ndim)).requires_grad_()
    inputs = [v, rho] + [t for t in kw.values() if t.requires_grad]
    dt = 0.001 if ndim < 3 else 0.003  # 3D: the CFL rule subdivides the step
    out = torchwave.acoustic(v, rho, 5.0, dt, accuracy=4, pml_width=pml, pml_freq=25, **kw, **options)
    return [o.detach() for o in out], _grads(out, inputs)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_go_matches_reference(ndim, dtype, tol):
    go_out, go_grads = _run(ndim, dtype)
    ref_out, ref_grads = _run(ndim, dtype, python_backend=True)
    for a, b in zip(go_out, ref_out):
        assert a.shape == b.shape
        if b.numel():
            assert _max_rel(a, b) < tol
    assert len(go_grads) == len(ref_grads) == 2 + (ndim + 1) + 3 * ndim + 1  # v, rho, sources, initial fields
    for a, b in zip(go_grads, ref_grads):
        assert _max_rel(a, b) < tol


@pytest.mark.parametrize("ndim", [2, 3])
def test_go_per_shot_models(ndim):
    go_out, go_grads = _run(ndim, per_shot=True)
    ref_out, ref_grads = _run(ndim, python_backend=True, per_shot=True)
    for a, b in zip(go_out + list(go_grads), ref_out + list(ref_grads)):
        if b.numel():
            assert _max_rel(a, b) < 1e-12


@pytest.mark.parametrize("ndim", [1, 3])
def test_sampling_interval_with_staged_storage(ndim, tmp_path):
    """With a sampling interval of 3, the stored and the recomputed
    histories give the same sampled gradient (segments start mid-interval);
    it differs from the exact one (the reference's)."""
    want_out, want_grads = _run(ndim, model_gradient_sampling_interval=3)
    for storage in (dict(storage_mode="disk"), dict(storage_strategy="checkpoint")):
        out, grads = _run(ndim, model_gradient_sampling_interval=3, storage_path=str(tmp_path), **storage)
        for a, b in zip(out + list(grads), want_out + list(want_grads)):
            assert torch.equal(a, b)
    _, exact = _run(ndim)
    assert _max_rel(want_grads[0], exact[0]) > 1e-3
    for a, b in zip(want_grads[2:], exact[2:]):
        assert _max_rel(a, b) < 1e-12


@pytest.fixture(scope="module", params=[1, 2, 3])
def device_run(request):
    return request.param, _run(request.param)


EXACT = [
    dict(storage_mode="cpu"),
    dict(storage_mode="disk"),
    dict(storage_strategy="checkpoint"),
    dict(storage_strategy="checkpoint", storage_mode="disk"),
]


@pytest.mark.parametrize("storage", EXACT, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
def test_storage_matches_device(device_run, storage, tmp_path):
    ndim, (want_out, want_grads) = device_run
    out, grads = _run(ndim, storage_path=str(tmp_path), **storage)
    for a, b in zip(out + list(grads), want_out + list(want_grads)):
        assert torch.equal(a, b)  # the same arithmetic, bit for bit
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compression,bound", [("bf16", 5e-3), ("int8", 1e-2)])
def test_compressed_storage(device_run, compression, bound):
    ndim, (want_out, want_grads) = device_run
    out, grads = _run(ndim, storage_compression=compression)
    for a, b in zip(out, want_out):
        assert torch.equal(a, b)
    for a, b in zip(grads[:2], want_grads[:2]):  # v and rho: from the lossy history
        assert 0 < _max_rel(a, b) < bound
    for a, b in zip(grads[2:], want_grads[2:]):  # sources, initial fields: not
        assert torch.equal(a, b)


def test_storage_none(device_run):
    ndim, (want_out, want_grads) = device_run
    out, grads = _run(ndim, storage_mode="none")
    for a, b in zip(out, want_out):
        assert torch.equal(a, b)
    assert all(float(g.abs().max()) == 0 for g in grads[:2])  # as Deepwave: no history, zero model gradients
    for a, b in zip(grads[2:], want_grads[2:]):
        assert _max_rel(a, b) < 1e-12


@pytest.mark.parametrize("python_backend", [False, True], ids=["go", "reference"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_reciprocity_pressure_and_velocity(ndim, python_backend):
    """A pressure source at A recorded by a velocity receiver at B equals
    minus the pressure at A from a force on that velocity at B, one step
    later (the velocity record is half a step behind); and pressure to
    pressure is symmetric."""
    shape = {1: (40,), 2: (30, 32), 3: (14, 15, 16)}[ndim]
    gen = torch.Generator().manual_seed(0)
    v = 1500 + 500 * torch.rand(shape, generator=gen, dtype=F64)
    rho = 1000 + 1000 * torch.rand(shape, generator=gen, dtype=F64)
    w = torch.randn(1, 1, 60, generator=gen, dtype=F64)
    a, b = torch.tensor([[[s // 2 - 3 for s in shape]]]), torch.tensor([[[s // 2 + 2 for s in shape]]])
    kw = dict(pml_width=4, accuracy=4, python_backend=python_backend)

    def run(**survey):
        return torchwave.acoustic(v, rho, 5.0, 0.0005, **survey, **kw)

    for i, x in enumerate(AXES[ndim]):
        v_from_p = run(source_amplitudes_p=w, source_locations_p=a, **{f"receiver_locations_{x}": b})[-ndim + i]
        p_from_v = run(**{f"source_amplitudes_{x}": w, f"source_locations_{x}": b}, receiver_locations_p=a)[-ndim - 1]
        assert float((v_from_p[..., 1:] + p_from_v[..., :-1]).norm() / p_from_v.norm()) < 1e-12
    ab = run(source_amplitudes_p=w, source_locations_p=a, receiver_locations_p=b)[-ndim - 1]
    ba = run(source_amplitudes_p=w, source_locations_p=b, receiver_locations_p=a)[-ndim - 1]
    assert _max_rel(ab, ba) < 1e-12
