"""Gradients of maxwelltm: finite-difference checks in float64 (epsilon,
sigma, mu, sources, initial fields), the adjoint dot-product test, and
agreement of the Go core with the pure-PyTorch reference."""

from __future__ import annotations

import pytest
import torch
from conftest import assert_close, tol_for
from maxwell_problems import FIELDS, make_problem, random_fields, run

import torchwave


def _weights(outputs, seed=3):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in outputs]


def _directional(problem, weights, names, seed=5):
    """A function of one scalar per named input, t ↦ ⟨weights, outputs⟩ at
    inputs x + t·d with random directions d, normalised to order one.
    gradcheck on it compares the directional derivatives ⟨∇f, d⟩ from the
    adjoint with central differences: every output (seven fields and the
    receivers) enters, and it costs two propagations per input."""
    gen = torch.Generator().manual_seed(seed)
    base = {n: problem[n] for n in names}
    dirs = {
        n: torch.randn(base[n].shape, generator=gen, dtype=torch.float64).to(base[n].dtype) * base[n].abs().mean() for n in names
    }
    scale = []

    def f(*ts):
        kw = dict(problem)
        kw.update({n: base[n] + t * dirs[n] for n, t in zip(names, ts)})
        out = torchwave.maxwelltm(**kw)
        value = sum((w * o).sum() for w, o in zip(weights, out))
        if not scale:
            scale.append(abs(float(value.detach())))
        return value / scale[0]

    return f


def _check(f, n):
    ts = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in range(n)]
    f(*ts)  # fixes the normalisation
    assert torch.autograd.gradcheck(f, ts, eps=1e-6, atol=1e-9, rtol=1e-6)


@pytest.mark.parametrize("stencil", [2, 4, 8])
def test_gradcheck_model(stencil):
    """epsilon, sigma and mu (float64), with random initial fields so the
    CPML memory fields are live from step 0. Sigma is scaled to about
    0.5 S/m (σΔt/2ε ≈ 0.2) so its effect is well resolved."""
    p = make_problem(stencil=stencil, nt=10, pml_width=[2, 1, 0, 2])
    p.update(random_fields(p, scale=1e-3))
    p["sigma"] = p["sigma"] * 200
    names = ["epsilon", "sigma", "mu"]
    _check(_directional(p, _weights(run(p)), names), len(names))


def test_gradcheck_sources_and_fields():
    """Source amplitudes and the seven initial fields, with CFL
    sub-stepping (dt 1.7 times the stable step) and a per-shot model."""
    p = make_problem(stencil=6, nt=6, dt_fraction=1.7, per_shot_model=True, pml_width=2)
    p.update(random_fields(p, scale=1e-2))
    names = ["source_amplitude", *FIELDS]
    _check(_directional(p, _weights(run(p)), names), len(names))


def test_gradient_sampling_interval():
    """model_gradient_sampling_interval=1 is the exact gradient; 2 samples
    every other step and stays close for a smooth wavelet."""
    p = make_problem(nt=40, stencil=4)
    t = torch.arange(40, dtype=torch.float64)
    p["source_amplitude"] = torch.exp(-(((t - 12) / 5) ** 2)).expand(2, 2, 40).clone()
    grads = []
    for k in (1, 2):
        eps = p["epsilon"].clone().requires_grad_()
        run(p, epsilon=eps, model_gradient_sampling_interval=k)[-1].square().sum().backward()
        grads.append(eps.grad)
    rel = float((grads[0] - grads[1]).norm() / grads[0].norm())
    assert rel < 0.2, rel


def test_adjoint_dot_product():
    """⟨F x, y⟩ = ⟨x, Fᵀ y⟩ for the linear map from (sources, initial
    fields) to (final fields, receivers), through the Python wrapper (so
    the padding, masks and buffer swaps are covered too)."""
    p = make_problem(stencil=4, nt=11, pml_width=[2, 3, 1, 2])
    fields = random_fields(p)
    names = ["source_amplitude", *FIELDS]
    xs = [p["source_amplitude"]] + [fields[n] for n in FIELDS]
    xs = [x.clone().requires_grad_() for x in xs]
    out = run(p, **dict(zip(names, xs)))
    ys = _weights(out, seed=9)
    lhs = sum(float((o.detach() * y).sum()) for o, y in zip(out, ys))
    grads = torch.autograd.grad(out, xs, ys)
    # F is linear, so ⟨x, Fᵀy⟩ with x the inputs must equal ⟨Fx, y⟩.
    rhs = sum(float((x.detach() * g).sum()) for x, g in zip(xs, grads))
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs), (lhs, rhs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("stencil", [2, 4, 6, 8])
def test_go_matches_reference(dtype, stencil):
    """Every output and every gradient of the Go core equals the PyTorch
    reference's to round-off; per-shot model for stencil 6."""
    p = make_problem(stencil=stencil, dtype=dtype, nt=15, per_shot_model=stencil == 6)
    p.update(random_fields(p, scale=1e-2))
    results = []
    for backend in (False, True):
        leaves = {k: p[k].clone().requires_grad_() for k in ("epsilon", "sigma", "mu", "source_amplitude", "Ey_0", "m_Hz_x")}
        out = run(p, python_backend=backend, **leaves)
        weights = _weights(out)
        loss = sum((w * o).sum() for w, o in zip(weights, out))
        loss.backward()
        results.append((out, {k: v.grad for k, v in leaves.items()}))
    (go_out, go_grad), (ref_out, ref_grad) = results
    tol = tol_for(dtype)
    for name, a, b in zip([*FIELDS, "receivers"], go_out, ref_out):
        assert_close(a, b, tol, name)
    for k in go_grad:
        assert_close(go_grad[k], ref_grad[k], 10 * tol, f"grad {k}")


def test_chunked_callbacks_do_not_change_results():
    """Callbacks split the run into chunks (odd lengths swap the backward
    buffers); results and gradients must not change."""
    p = make_problem(nt=13, stencil=4)
    seen = {"f": [], "b": []}
    grads = []
    for callbacks in (False, True):
        eps = p["epsilon"].clone().requires_grad_()
        kw = {}
        if callbacks:
            kw = dict(
                forward_callback=lambda s: seen["f"].append(s.step),
                backward_callback=lambda s: seen["b"].append(s.step),
                callback_frequency=3,
            )
        out = run(p, epsilon=eps, **kw)
        out[-1].square().sum().backward()
        grads.append((out[-1].detach(), eps.grad))
    assert seen["f"] == [0, 3, 6, 9, 12] and seen["b"] == [12, 9, 6, 3, 0]
    assert_close(grads[1][0], grads[0][0], 1e-14, "receivers")
    assert_close(grads[1][1], grads[0][1], 1e-14, "epsilon gradient")
