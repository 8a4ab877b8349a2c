"""storage_strategy="boundary": the backward pass rebuilds the forward
wavefield from strips next to and in the PML, and must give the gradients
of storage_strategy="full" up to round-off."""

from __future__ import annotations

import importlib
import math

import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, make_problem, rel_err, run

import torchwave

scalar_module = importlib.import_module("torchwave.scalar")  # the module, not the function

pytestmark = FAIL_ON_PML_FREQ_DEFAULT


def _gradients(problem, initial=False, **storage):
    """Gradients of a loss on the data and the final wavefield with respect
    to v, the source amplitudes and (with ``initial``) two initial fields."""
    v = problem["v"].clone().requires_grad_(True)
    a = problem["source_amplitudes"].clone().requires_grad_(True)
    inputs = [v, a]
    kw = {}
    if initial:
        widths = problem["pml_width"]
        n_shots = a.shape[0]
        ny, nx = problem["v"].shape[-2:]
        shape = (n_shots, ny + widths[0] + widths[1], nx + widths[2] + widths[3])
        gen = torch.Generator().manual_seed(3)
        for name in ("wavefield_0", "wavefield_m1"):
            kw[name] = torch.randn(shape, generator=gen, dtype=v.dtype).requires_grad_(True)
            inputs.append(kw[name])
    out = run(problem, v=v, source_amplitudes=a, **kw, **storage)
    loss = out[-1].square().sum() + out[0].square().sum() + (out[1] * out[0]).sum()
    return torch.autograd.grad(loss, inputs)


CASES = {
    "acc2-per-edge": dict(accuracy=2, pml_width=[3, 0, 2, 5]),
    "acc4-reflecting-top": dict(accuracy=4, pml_width=[0, 4, 4, 4]),
    "acc8-per-shot-model": dict(accuracy=8, pml_width=[2, 6, 5, 0], per_shot_model=True),
    "acc4-step-ratio": dict(accuracy=4, pml_width=[3, 3, 0, 2], dt_fraction=2.5),
    "acc8-no-pml": dict(accuracy=8, pml_width=0),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_boundary_matches_full(case):
    """float64: the rebuilt field carries round-off only (measured ≤ 2e-15
    relative on these problems), and the adjoint does not depend on it, so
    the source and initial-field gradients are the same bit for bit."""
    width = case["pml_width"]
    case = dict(case, pml_width=width if isinstance(width, list) else [width] * 4)
    problem = make_problem(ny=18, nx=20, nt=37, n_shots=2, n_sources=2, n_receivers=3, seed=5, **case)
    initial = "per_shot_model" in case  # initial fields fix the region; survey_pad is off there anyway
    full = _gradients(problem, initial)
    got = _gradients(problem, initial, storage_strategy="boundary")
    assert 0 <= rel_err(got[0], full[0]) < 1e-12
    for x, y in zip(got[1:], full[1:]):
        assert rel_err(x, y) == 0.0


@pytest.mark.parametrize("interval", [1, 3])
def test_sampling_interval_and_callbacks(interval):
    """model_gradient_sampling_interval > 1 uses the rebuilt field on the
    sampled steps only; callbacks split the passes into chunks."""
    problem = make_problem(ny=16, nx=18, nt=41, n_shots=2, n_sources=1, n_receivers=3, seed=8, pml_width=[3, 2, 0, 4])
    full = _gradients(problem, model_gradient_sampling_interval=interval)
    seen = []
    got = _gradients(
        problem,
        model_gradient_sampling_interval=interval,
        storage_strategy="boundary",
        forward_callback=lambda s: seen.append(s.step),
        backward_callback=lambda s: seen.append(-s.step),
        callback_frequency=7,
    )
    assert rel_err(got[0], full[0]) < 1e-12 and rel_err(got[1], full[1]) == 0.0
    assert seen[:6] == [0, 7, 14, 21, 28, 35] and seen[-1] == 0


def test_retain_graph_rebuilds_twice():
    problem = make_problem(ny=14, nx=16, nt=23, n_shots=1, seed=2)
    v = problem["v"].clone().requires_grad_(True)
    loss = run(problem, v=v, storage_strategy="boundary")[-1].square().sum()
    (first,) = torch.autograd.grad(loss, v, retain_graph=True)
    (second,) = torch.autograd.grad(loss, v)
    assert torch.equal(first, second)


def test_float32_error_is_bounded():
    """float32, 200² + PML 20, 1000 steps, accuracy 8, a Ricker source:
    the rebuilt field's round-off gives a model gradient within 1.4e-6 of
    the full history's (relative 2-norm, measured); 1e-5 leaves room for
    other CPUs' rounding."""
    size, nt, f0, dx = 200, 1000, 25.0, 10.0
    v = torch.linspace(1500.0, 2500.0, size)[:, None].expand(size, size).contiguous()
    dt = 0.5 * dx / 2500.0 / math.sqrt(2)
    amplitudes = torchwave.wavelets.ricker(f0, nt, dt, 1.5 / f0).reshape(1, 1, nt)
    sources = torch.tensor([[[20, size // 2]]])
    receivers = torch.stack([torch.full((size,), 10), torch.arange(size)], dim=-1)[None]
    grads = []
    for strategy in ("full", "boundary"):
        v_ = v.clone().requires_grad_(True)
        out = torchwave.scalar(
            v_,
            dx,
            dt,
            amplitudes,
            sources,
            receivers,
            accuracy=8,
            pml_width=20,
            pml_freq=f0,
            storage_strategy=strategy,
        )
        grads.append(torch.autograd.grad(out[-1].square().sum(), v_)[0])
    assert 0 < rel_err(grads[1], grads[0]) < 1e-5


def test_strips_are_small(monkeypatch):
    """1000² cells with PML 20 (accuracy 8): the strips of a step are at
    least 10× smaller than a snapshot of "full" (11.2× over 1000 steps
    here)."""
    plans = []
    make_plan = scalar_module._history

    def spy(*args):
        plans.append(make_plan(*args))
        return plans[-1]

    monkeypatch.setattr(scalar_module, "_history", spy)
    size, nt = 1000, 2
    v = torch.full((size, size), 2000.0, requires_grad=True)
    out = torchwave.scalar(
        v,
        10.0,
        1e-3,
        torch.zeros(1, 1, nt),
        torch.tensor([[[500, 500]]]),
        torch.tensor([[[10, 10]]]),
        accuracy=8,
        pml_width=20,
        pml_freq=25.0,
        storage_strategy="boundary",
    )
    (plan,) = plans
    assert plan.shape[0] == nt + 2
    padded = (size + 2 * 20 + 8) ** 2  # the grid a snapshot covers: model, PML and halo
    steps = 1000
    full_bytes = steps * padded * 4
    strip_bytes = plan.nbytes() // (nt + 2) * (steps + 2)
    assert full_bytes / strip_bytes >= 10
    del out


def test_boundary_options_are_checked(tmp_path):
    problem = make_problem(ny=14, nx=16, nt=5, n_shots=1, seed=1)
    v = problem["v"].clone().requires_grad_(True)
    for bad in (
        dict(storage_compression="bf16"),
        dict(storage_compression="int8"),
        dict(storage_mode="disk", storage_path=str(tmp_path)),
    ):
        with pytest.raises(ValueError, match="boundary"):
            run(problem, v=v, storage_strategy="boundary", **bad)
    with pytest.raises(ValueError, match="python_backend"):
        run(problem, v=v, storage_strategy="boundary", python_backend=True)
    # storage_mode="none" stores nothing: a zero gradient, as in Deepwave.
    run(problem, v=v, storage_strategy="boundary", storage_mode="none")[-1].square().sum().backward()
    assert torch.count_nonzero(v.grad) == 0
    v.grad = None
    # Without a model gradient nothing is stored, and the data are the same.
    assert torch.equal(run(problem, storage_strategy="boundary")[-1], run(problem)[-1])


def test_boundary_with_double_backward_and_hooks():
    """Boundary saving composes with a Hessian-vector product and with a
    gradient-mode imaging hook: both give the "full" strategy's result."""
    p = make_problem(ny=9, nx=10, nt=12, n_shots=2, n_sources=1, n_receivers=2, pml_width=2, seed=0)
    p["max_vel"] = 1.1 * float(p["v"].max())
    w = torch.randn(p["v"].shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    results = []
    for strategy in ("full", "boundary"):
        v = p["v"].clone().requires_grad_()
        out = torchwave.scalar(**dict(p, v=v, storage_strategy=strategy))[-1]
        (g,) = torch.autograd.grad(0.5 * out.square().sum(), v, create_graph=True)
        (hv,) = torch.autograd.grad((g * w).sum(), v)
        prop = torchwave.Scalar(p["v"].clone(), p["grid_spacing"], v_requires_grad=True)
        prop.register_gradient("v", torchwave.hooks.standard_imaging_condition)
        prop(
            p["dt"],
            p["source_amplitudes"],
            p["source_locations"],
            p["receiver_locations"],
            pml_width=2,
            pml_freq=25.0,
            max_vel=p["max_vel"],
            storage_strategy=strategy,
        )[-1].square().sum().backward()
        results.append((g.detach(), hv, prop.v.grad))
    for a, b in zip(*results):
        assert float((a - b).norm()) <= 1e-12 * float(b.norm())
