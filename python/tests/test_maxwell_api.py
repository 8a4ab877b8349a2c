"""The public API of maxwelltm: the GPR scenario S0 (seed 000) through
autograd, the nn.Module, float32, per-shot models, CFL sub-stepping, the
python_backend variants and the output layout."""

from __future__ import annotations

import pytest
import torch
from conftest import assert_close
from maxwell_problems import make_problem, run

import torchwave
from torchwave.wavelets import ricker


def _s0(n_shots=8):
    """Seed 000's set-up: 32×32 cells of 2 cm, Δt = 40 ps, 200 steps, an
    80 MHz Ricker, pml_width 8, float32, paired sources and receivers."""
    ny = nx = 32
    nt, dt = 200, 4e-11
    wavelet = ricker(80e6, nt, dt, dtype=torch.float32)
    amp = wavelet.reshape(1, 1, -1).repeat(n_shots, 1, 1)
    src = torch.stack([torch.full((n_shots,), 4), torch.arange(n_shots) + 8], dim=-1)[:, None]
    rec = torch.stack([torch.full((n_shots,), 4), torch.arange(n_shots) + 12], dim=-1)[:, None]
    eps = torch.full((ny, nx), 4.0)
    return dict(
        epsilon=eps,
        sigma=torch.zeros_like(eps),
        mu=torch.ones_like(eps),
        grid_spacing=0.02,
        dt=dt,
        source_amplitude=amp,
        source_location=src,
        receiver_location=rec,
        pml_width=8,
    )


def test_s0_scenario_gradient_in_float32():
    """The S0 pattern: observed data from the true model, a loss in a
    perturbed one, batches of 2 shots accumulating ∂loss/∂epsilon; the
    batched gradient equals the all-shots one, and matches the reference."""
    kw = _s0()
    with torch.no_grad():
        observed = torchwave.maxwelltm(**kw)[-1]
    assert observed.shape == (8, 1, 200) and observed.dtype == torch.float32
    assert float(observed.abs().max()) > 0
    eps0 = kw["epsilon"].clone()
    eps0[12:20, 10:22] = 5.0
    eps = eps0.clone().requires_grad_()
    for b in range(0, 8, 2):
        batch = dict(
            kw,
            source_amplitude=kw["source_amplitude"][b : b + 2],
            source_location=kw["source_location"][b : b + 2],
            receiver_location=kw["receiver_location"][b : b + 2],
        )
        pred = torchwave.maxwelltm(**dict(batch, epsilon=eps))[-1]
        ((pred - observed[b : b + 2]) ** 2).sum().backward()
    batched = eps.grad.clone()
    eps.grad = None
    pred = torchwave.maxwelltm(**dict(kw, epsilon=eps))[-1]
    ((pred - observed) ** 2).sum().backward()
    assert torch.isfinite(batched).all() and float(batched.abs().max()) > 0
    assert_close(batched, eps.grad, 1e-5, "batched vs all shots")
    ref = eps0.clone().double().requires_grad_()
    kw64 = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in kw.items()}
    pred = torchwave.maxwelltm(**dict(kw64, epsilon=ref), python_backend=True)[-1]
    ((pred - observed.double()) ** 2).sum().backward()
    assert_close(eps.grad, ref.grad, 1e-3, "float32 Go vs float64 reference")


def test_output_layout_and_shapes():
    p = make_problem(ny=9, nx=10, nt=7, n_shots=3, n_sources=1, n_receivers=4, pml_width=[1, 2, 3, 0])
    out = run(p)
    assert len(out) == 8
    for f in out[:7]:
        assert f.shape == (3, 9 + 3, 10 + 3)
    assert out[-1].shape == (3, 4, 7)


def test_module_matches_function():
    p = make_problem(nt=8)
    module = torchwave.MaxwellTM(p["epsilon"], p["sigma"], p["mu"], p["grid_spacing"], epsilon_requires_grad=True)
    assert module.epsilon.requires_grad and not module.sigma.requires_grad
    rest = {
        k: v
        for k, v in p.items()
        if k not in ("epsilon", "sigma", "mu", "grid_spacing", "dt", "source_amplitude", "source_location", "receiver_location")
    }
    out = module(p["dt"], p["source_amplitude"], p["source_location"], p["receiver_location"], **rest)
    assert_close(out[-1], run(p)[-1], 0, "receivers")
    out[-1].sum().backward()
    assert module.epsilon.grad is not None


def test_cfl_substepping_matches_fine_dt():
    """dt above the stable step is subdivided: the result approximates the
    same run at a third of dt with the wavelet sampled finely (the gap is
    the band-limited resampling of a finite record)."""
    p = make_problem(nt=40, n_shots=1, n_sources=1, n_receivers=1, dt_fraction=2.5)
    t = torch.arange(40, dtype=torch.float64)
    p["source_amplitude"] = torch.exp(-(((t - 15) / 5) ** 2)).reshape(1, 1, -1)
    coarse = run(p)[-1]
    t3 = torch.arange(120, dtype=torch.float64) / 3
    fine = run(p, dt=p["dt"] / 3, source_amplitude=torch.exp(-(((t3 - 15) / 5) ** 2)).reshape(1, 1, -1))[-1]
    assert_close(coarse, fine[..., ::3], 0.02, "substepped")  # measured 7.7e-3


@pytest.mark.parametrize("kind", [True, "jit"])
def test_python_backends_agree(kind):
    p = make_problem(nt=6, stencil=4)
    assert_close(run(p, python_backend=kind)[-1], run(p)[-1], 1e-12, str(kind))


def test_ignored_locations():
    p = make_problem(nt=6, n_shots=2, n_sources=2, n_receivers=2)
    src = p["source_location"].clone()
    src[1, 1] = torchwave.IGNORE_LOCATION
    rec = p["receiver_location"].clone()
    rec[0, 0] = torchwave.IGNORE_LOCATION
    out = run(p, source_location=src, receiver_location=rec)[-1]
    ref = run(p, source_location=src, receiver_location=rec, python_backend=True)[-1]
    assert float(out[0, 0].abs().max()) == 0
    assert_close(out, ref, 1e-12, "ignored")
