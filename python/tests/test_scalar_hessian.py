"""Second derivatives of `scalar` through the Go core (served by Born
modelling): gradgradcheck, Hessian-vector products against finite
differences of the gradient and against the PyTorch reference's double
backward, and the cases it refuses."""

from __future__ import annotations

import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, assert_close, make_problem

import torchwave

pytestmark = FAIL_ON_PML_FREQ_DEFAULT

V_SCALE = 1000.0


def _tiny(seed=0, **kw):
    p = make_problem(ny=7, nx=8, nt=12, n_shots=2, n_sources=2, n_receivers=2, pml_width=2, seed=seed, **kw)
    p["max_vel"] = 1.1 * float(p["v"].max())
    return p


def _misfit_gradient(p, v, create_graph, backend=False):
    """∂/∂v of 0.5·||receivers − observed||² with a fixed observed set."""
    observed = 0.9 * torchwave.scalar(**dict(p, python_backend=backend))[-1].detach()
    pred = torchwave.scalar(**dict(p, v=v, python_backend=backend))[-1]
    loss = 0.5 * (pred - observed).square().sum()
    (g,) = torch.autograd.grad(loss, v, create_graph=create_graph)
    return g


@pytest.mark.parametrize("dt_fraction", [0.9, 1.5])
def test_gradgradcheck_v_and_sources(dt_fraction):
    p = _tiny(dt_fraction=dt_fraction)
    inputs = ((p["v"] / V_SCALE).requires_grad_(), p["source_amplitudes"].clone().requires_grad_())

    def f(v, amps):
        return torchwave.scalar(**dict(p, v=v * V_SCALE, source_amplitudes=amps))[-1]

    assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=dt_fraction > 1)


def test_hessian_vector_product_matches_reference_and_finite_differences():
    p = _tiny(seed=4)
    w = torch.randn(p["v"].shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    products = []
    for backend in (False, "eager"):
        v = p["v"].clone().requires_grad_()
        g = _misfit_gradient(p, v, True, backend)
        (hv,) = torch.autograd.grad((g * w).sum(), v)
        products.append(hv)
    assert_close(products[0], products[1], 1e-10, "Go vs reference Hessian-vector product")
    eps = 1e-3
    plus = _misfit_gradient(p, (p["v"] + eps * w).requires_grad_(), False)
    minus = _misfit_gradient(p, (p["v"] - eps * w).requires_grad_(), False)
    assert_close(products[0], (plus - minus) / (2 * eps), 1e-6, "finite-difference Hessian-vector product")


def test_first_derivative_unchanged_under_create_graph():
    p = _tiny(seed=6)
    v = p["v"].clone().requires_grad_()
    g_plain = _misfit_gradient(p, v, False)
    g_graph = _misfit_gradient(p, v, True)
    assert_close(g_graph.detach(), g_plain, 1e-13, "gradient with create_graph")


def test_initial_field_gradients_twice_through_the_reference():
    """Gradients of initial wavefields under create_graph=True, which one
    Born run does not serve, run their double backward through the
    reference implementation: the same numbers as python_backend=True."""
    p = _tiny(seed=8)
    gen = torch.Generator().manual_seed(9)
    w = torch.randn(p["v"].shape, generator=gen, dtype=torch.float64)
    u0_value = 1e-3 * torch.randn(2, 7 + 4 + 4, 8 + 4 + 4, generator=gen, dtype=torch.float64)
    products = []
    for backend in (False, "eager"):
        v = p["v"].clone().requires_grad_()
        u0 = u0_value.clone().requires_grad_()
        out = torchwave.scalar(**dict(p, v=v, python_backend=backend, pml_width=4, wavefield_0=u0))
        g_v, g_u0 = torch.autograd.grad(out[-1].square().sum(), [v, u0], create_graph=True)
        products.append(torch.autograd.grad((g_v * w).sum() + g_u0.square().sum(), [v, u0]))
    for a, b in zip(*products):
        assert float(b.abs().max()) > 0
        assert_close(a, b, 1e-10, "Go vs reference second derivative with an initial wavefield")


@pytest.mark.parametrize("interval, dt_fraction", [(2, 0.9), (3, 1.5)])
def test_gradgradcheck_of_a_sampled_gradient(interval, dt_fraction):
    """A gradient sampled every k steps is a different function of v than
    the exact one; its own derivative (Born coupled on the sampled steps)
    must match finite differences of it."""
    p = _tiny(seed=12, dt_fraction=dt_fraction)
    inputs = ((p["v"] / V_SCALE).requires_grad_(), p["source_amplitudes"].clone().requires_grad_())

    def f(v, amps):
        return torchwave.scalar(**dict(p, v=v * V_SCALE, source_amplitudes=amps, model_gradient_sampling_interval=interval))[-1]

    assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=dt_fraction > 1)


def test_second_derivative_of_a_sampled_gradient_by_differences():
    """g_k(v) = J_k(v)ᵀr for a fixed cotangent r, the gradient sampled
    every k steps, is not the gradient of anything: its Jacobian is not
    symmetric, and autograd's product is the transposed one,
    <(∂g_k/∂v)ᵀ w1, w2> = <w1, (∂g_k/∂v) w2>, the right side from central
    differences of g_k. (With a cotangent that depends on v, as a misfit's
    does, the chain runs through J_kᵀ again: the sampled gradient is an
    approximation by design.)"""
    p = dict(_tiny(seed=14), model_gradient_sampling_interval=2)
    gen = torch.Generator().manual_seed(15)
    w1, w2 = (torch.randn(p["v"].shape, generator=gen, dtype=torch.float64) for _ in range(2))
    r = torch.randn(torchwave.scalar(**p)[-1].shape, generator=gen, dtype=torch.float64)

    def gradient(v, create_graph, interval=2):
        rec = torchwave.scalar(**dict(p, v=v, model_gradient_sampling_interval=interval))[-1]
        return torch.autograd.grad((rec * r).sum(), v, create_graph=create_graph)[0]

    v = p["v"].clone().requires_grad_()
    (hv,) = torch.autograd.grad((gradient(v, True) * w1).sum(), v)
    eps = 1e-2
    plus = gradient((p["v"] + eps * w2).requires_grad_(), False)
    minus = gradient((p["v"] - eps * w2).requires_grad_(), False)
    lhs, rhs = float((hv * w2).sum()), float((w1 * (plus - minus)).sum()) / (2 * eps)
    assert abs(lhs - rhs) <= 1e-6 * abs(rhs), (lhs, rhs)
    exact = gradient(p["v"].clone().requires_grad_(), False, interval=1)
    assert float((plus + minus - 2 * exact).abs().max()) > 1e-3 * float(exact.abs().max())  # sampling matters


def test_refuses_a_sampled_gradient_twice_with_initial_fields():
    p = _tiny(seed=8)
    v = p["v"].clone().requires_grad_()
    u0 = torch.zeros(2, 7 + 4, 8 + 4, dtype=torch.float64, requires_grad=True)
    out = torchwave.scalar(**dict(p, v=v, wavefield_0=u0, model_gradient_sampling_interval=2))
    with pytest.raises(NotImplementedError, match="model_gradient_sampling_interval"):
        torch.autograd.grad(out[-1].square().sum(), [v, u0], create_graph=True)


def test_hessian_vector_product_of_a_final_wavefield_loss():
    """A loss on the final wavefields as well as the receivers: the Go
    core's double backward equals the reference's, and gradgradcheck holds."""
    p = _tiny(seed=10)
    gen = torch.Generator().manual_seed(11)
    w = torch.randn(p["v"].shape, generator=gen, dtype=torch.float64)
    weights = None
    products = []
    for backend in (False, "eager"):
        v = p["v"].clone().requires_grad_()
        out = torchwave.scalar(**dict(p, v=v, python_backend=backend))
        if weights is None:
            weights = [torch.randn(out[k].shape, generator=gen, dtype=torch.float64) for k in (0, 1, 3)]
        loss = out[-1].square().sum() + sum((out[k] * wk).sum() for k, wk in zip((0, 1, 3), weights))
        loss = loss + out[0].square().sum()
        (g,) = torch.autograd.grad(loss, v, create_graph=True)
        (hv,) = torch.autograd.grad((g * w).sum(), v)
        products.append(hv)
    assert float(products[1].abs().max()) > 0
    assert_close(products[0], products[1], 1e-10, "Go vs reference Hessian-vector product, final-field loss")

    amps = p["source_amplitudes"].clone().requires_grad_()

    def f(v, a):
        out = torchwave.scalar(**dict(p, v=v * V_SCALE, source_amplitudes=a))
        return out[0], out[2], out[-1]

    assert torch.autograd.gradgradcheck(f, ((p["v"] / V_SCALE).requires_grad_(), amps), eps=1e-6, atol=1e-7, rtol=1e-5)
