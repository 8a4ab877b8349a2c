"""Imaging-condition hooks (torchwave.hooks) on Scalar and MaxwellTM.

Scenario S1 (a two-layer acoustic model, 96 x 128 cells, 600 steps) checks
the registered standard imaging condition against autograd's gradient and
the imaging mode; tiny float64 problems check that the adjoint a hook
receives is ∂loss/∂field exactly, that the Go core and the pure-PyTorch
path agree, and the argument checks.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, assert_close, make_problem
from maxwell_problems import make_problem as make_maxwell_problem

import torchwave
from torchwave import hooks
from torchwave.maxwell import FIELD_NAMES
from torchwave.wavelets import ricker

pytestmark = FAIL_ON_PML_FREQ_DEFAULT


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().flatten(), b.detach().double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


def xcorr(forward, adjoint, models, dt, dh):
    """Zero-lag cross-correlation of the forward and adjoint wavefields."""
    return forward["wavefield"] * adjoint["wavefield"]


# Scenario S1 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def s1():
    """The two-layer problem: 1500 m/s over 2500 m/s from row 48, dh 10 m,
    dt 2 ms, 600 steps, a 10 Hz Ricker at (2, 64), 64 receivers at depth 4;
    observed data from the true model, autograd's gradient at v = 1500."""
    dtype = torch.float32
    ny, nx, nt, dt = 96, 128, 600, 0.002
    v_true = torch.full((ny, nx), 1500.0, dtype=dtype)
    v_true[ny // 2 :] = 2500.0
    wavelet = ricker(10.0, nt, dt, peak_time=0.12).to(dtype)
    rec_x = torch.linspace(0, nx - 1, 64).long()
    args = (
        dt,
        wavelet.reshape(1, 1, nt),
        torch.tensor([[[2, nx // 2]]]),
        torch.stack([torch.full_like(rec_x, 4), rec_x], dim=-1)[None],
    )
    kwargs = dict(pml_freq=10.0)
    with torch.no_grad():
        observed = torchwave.scalar(v_true, 10.0, *args, **kwargs)[-1]
    prop = torchwave.Scalar(torch.full((ny, nx), 1500.0, dtype=dtype), 10.0, v_requires_grad=True)

    def gradient():
        prop.v.grad = None
        pred = prop(*args, **kwargs)[-1]
        (0.5 * (pred - observed).pow(2).sum()).backward()
        return prop.v.grad.clone()

    return dict(prop=prop, args=args, kwargs=kwargs, observed=observed, gradient=gradient, plain=gradient())


def test_s1_standard_condition_matches_autograd(s1):
    prop = s1["prop"]
    prop.register_gradient("v", hooks.standard_imaging_condition)
    try:
        registered = s1["gradient"]()
    finally:
        prop.clear_gradients()
    plain = s1["plain"]
    # Autograd's gradient also holds, on the model's edge cells, the PML
    # strips (the model is extended into the PML by its edge values) and,
    # at the source cell, the v²dt² scaling of the source: neither is in
    # the model region a hook sees. Compare the rest.
    inner = torch.zeros_like(plain, dtype=torch.bool)
    inner[2:-2, 2:-2] = True
    inner[2, 64] = False
    c_inner = cosine(registered[inner], plain[inner])
    c_all = cosine(registered, plain)
    print(
        f"\nS1 cosine(standard condition, autograd): {c_inner:.4f} without the edge cells and the "
        f"source cell, {c_all:.4f} over the whole model"
    )
    assert c_inner >= 0.99
    assert c_all > 0.8
    assert registered.shape == plain.shape and bool(torch.isfinite(registered).all())


def test_s1_cross_correlation_imaging_leaves_grad_alone(s1):
    prop = s1["prop"]
    prop.v.grad = None
    prop.register_gradient("v", xcorr, mode="imaging")
    try:
        images = prop.imaging(*s1["args"], observed=s1["observed"], **s1["kwargs"])
    finally:
        prop.clear_gradients()
    assert list(images) == ["v"]
    image = images["v"]
    assert image.shape == (96, 128) and image.dtype == torch.float32
    assert bool(torch.isfinite(image).all()) and float(image.abs().max()) > 0
    assert prop.v.grad is None


def test_s1_adjoint_source_priority(s1):
    prop = s1["prop"]
    args, kwargs, observed = s1["args"], s1["kwargs"], s1["observed"]
    prop.v.grad = None
    prop.register_gradient("v", xcorr, mode="imaging")
    try:
        with torch.no_grad():
            pred = prop(*args, **kwargs)[-1]
        other = torch.roll(pred, 7, dims=-1)
        by_observed = prop.imaging(*args, observed=observed, **kwargs)["v"]
        by_residual = prop.imaging(*args, adjoint_source=pred - observed, **kwargs)["v"]
        by_default = prop.imaging(*args, **kwargs)["v"]
        by_pred = prop.imaging(*args, adjoint_source=pred, **kwargs)["v"]
        explicit = prop.imaging(*args, observed=observed, adjoint_source=other, **kwargs)["v"]
        only_other = prop.imaging(*args, adjoint_source=other, **kwargs)["v"]
    finally:
        prop.clear_gradients()
    assert_close(by_residual, by_observed, 1e-6, "adjoint_source=pred-obs vs observed=obs")
    assert_close(by_pred, by_default, 1e-6, "adjoint_source=pred vs no argument")
    assert torch.equal(explicit, only_other), "adjoint_source must win over observed"
    assert cosine(explicit, by_observed) < 0.99
    assert prop.v.grad is None


def test_s1_clear_gradients_restores_autograd(s1):
    prop = s1["prop"]
    prop.register_gradient("v", xcorr)
    hooked = s1["gradient"]()
    prop.clear_gradients()
    assert not torch.equal(hooked, s1["plain"])
    assert torch.equal(s1["gradient"](), s1["plain"])


# The adjoint is ∂loss/∂field, and both paths agree ---------------------------


class Recorder:
    """A hook that keeps every (forward, adjoint) it is given, by call."""

    def __init__(self):
        self.calls = []

    def __call__(self, forward, adjoint, models, dt, dh):
        self.calls.append(({k: f.clone() for k, f in forward.items()}, {k: a.clone() for k, a in adjoint.items()}))
        self.dt, self.dh, self.models = dt, dh, models
        return forward[next(iter(forward))] * adjoint[next(iter(adjoint))]

    def by_step(self, which: int, name: str) -> torch.Tensor:
        """[nt_internal, ...]; the calls come from the last step to the first."""
        return torch.stack([c[which][name] for c in self.calls[::-1]])


def _scalar_module(problem, v_requires_grad=True):
    return torchwave.Scalar(problem["v"].clone(), problem["grid_spacing"], v_requires_grad=v_requires_grad)


def _scalar_call(problem):
    kw = {k: val for k, val in problem.items() if k not in ("v", "grid_spacing", "dt")}
    src, sloc, rloc = kw.pop("source_amplitudes"), kw.pop("source_locations"), kw.pop("receiver_locations")
    return (problem["dt"], src, sloc, rloc), kw


@pytest.mark.parametrize("dt_fraction", [0.9, 1.6])
def test_scalar_adjoint_is_autograd_gradient_of_each_step(dt_fraction):
    problem = make_problem(ny=12, nx=14, nt=10, n_shots=2, dt_fraction=dt_fraction, pml_width=[2, 3, 0, 2], seed=3)
    args, kw = _scalar_call(problem)
    pad = kw["pml_width"]
    weights = torch.randn(2, 3, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    # Autograd on the pure-PyTorch propagation: keep every u_t as the
    # forward callback sees it and ask for its gradient.
    states = []

    def keep(state):
        u = state.get_wavefield("wavefield_0", view="full")
        u.retain_grad()
        states.append(u)

    v = problem["v"].clone().requires_grad_()
    wavefield_0 = torch.zeros(2, 12 + 5, 14 + 2, dtype=torch.float64, requires_grad=True)
    out = torchwave.scalar(
        v,
        problem["grid_spacing"],
        *args,
        **kw,
        wavefield_0=wavefield_0,
        python_backend=True,
        forward_callback=keep,
    )
    (out[-1] * weights).sum().backward()
    h = 2  # accuracy 4

    def region(x):
        return x[:, h + pad[0] : x.shape[1] - h - pad[1], h + pad[2] : x.shape[2] - h - pad[3]]

    true_fwd = torch.stack([region(u.detach()) for u in states])
    true_adj = torch.stack([region(u.grad) for u in states])

    for python_backend in (False, True):
        prop = _scalar_module(problem)
        rec = Recorder()
        prop.register_gradient("v", rec, mode="imaging")
        initial = torch.zeros(2, 12 + 5, 14 + 2, dtype=torch.float64)
        prop.imaging(*args, **kw, wavefield_0=initial, python_backend=python_backend, adjoint_source=weights)
        step_ratio = math.ceil(dt_fraction)
        assert len(rec.calls) == 10 * step_ratio
        assert rec.dt == pytest.approx(problem["dt"] / step_ratio)
        assert rec.dh == tuple(problem["grid_spacing"])
        assert torch.equal(rec.models[0], problem["v"])
        # The callback runs at the start of every user step.
        forward, adjoint = rec.by_step(0, "wavefield")[::step_ratio], rec.by_step(1, "wavefield")[::step_ratio]
        assert_close(forward, true_fwd, 1e-14, f"forward field, python_backend={python_backend}")
        err = float((adjoint - true_adj).abs().max() / true_adj.abs().max())
        assert err < 1e-10, f"adjoint field, python_backend={python_backend}: {err:.2e}"


@pytest.mark.parametrize("per_shot_model", [False, True])
def test_scalar_go_and_python_backend_agree(per_shot_model):
    problem = make_problem(ny=12, nx=13, nt=12, n_shots=2, per_shot_model=per_shot_model, seed=5)
    args, kw = _scalar_call(problem)
    std = functools.partial(hooks.standard_imaging_condition, accuracy=kw["accuracy"])
    results = []
    for python_backend in (False, True):
        prop = _scalar_module(problem)
        src = args[1].clone().requires_grad_()
        prop.register_gradient("v", std)
        out = prop(args[0], src, *args[2:], **kw, python_backend=python_backend)
        out[-1].pow(2).sum().backward()
        prop.register_gradient("v", xcorr, mode="imaging")
        image = prop.imaging(*args, **kw, python_backend=python_backend)["v"]
        results.append((prop.v.grad, src.grad, image))
    (g_go, s_go, i_go), (g_py, s_py, i_py) = results
    assert g_go.shape == problem["v"].shape
    assert_close(g_go, g_py, 1e-12, "gradient-mode image")
    assert_close(s_go, s_py, 1e-12, "source gradient")
    assert_close(i_go, i_py, 1e-12, "imaging-mode image")


def test_scalar_sources_keep_their_gradient():
    problem = make_problem(ny=10, nx=11, nt=10, seed=2)
    args, kw = _scalar_call(problem)
    grads = []
    for register in (False, True):
        prop = _scalar_module(problem)
        if register:
            prop.register_gradient("v", xcorr)
        src = args[1].clone().requires_grad_()
        prop(args[0], src, *args[2:], **kw)[-1].pow(2).sum().backward()
        grads.append((prop.v.grad, src.grad))
    assert not torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])


def test_scalar_several_fields_and_survey_pad():
    problem = make_problem(ny=14, nx=16, nt=8, n_shots=1, n_sources=1, n_receivers=2, seed=4)
    problem["source_locations"] = torch.tensor([[[5, 6]]])
    problem["receiver_locations"] = torch.tensor([[[4, 4], [7, 9]]])
    args, kw = _scalar_call(problem)
    seen = []

    def fn(forward, adjoint, models, dt, dh):
        seen.append((sorted(forward), sorted(adjoint), tuple(forward["psix"].shape), tuple(models[0].shape)))
        return forward["wavefield"] * adjoint["wavefield"] + forward["psix"] * adjoint["psix"]

    images = []
    for python_backend in (False, True):
        prop = _scalar_module(problem)
        prop.register_gradient("v", fn, imaging_type=["wavefield", "psix"])
        prop(*args, **kw, survey_pad=2, python_backend=python_backend)[-1].pow(2).sum().backward()
        images.append(prop.v.grad)
    # survey_pad=2 simulates rows 2..9 and columns 2..11 of the model.
    assert seen[0] == (["psix", "wavefield"], ["psix", "wavefield"], (1, 8, 10), (8, 10))
    image = images[0]
    assert image.shape == (14, 16)
    assert float(image[2:10, 2:12].abs().max()) > 0
    outside = torch.ones_like(image, dtype=torch.bool)
    outside[2:10, 2:12] = False
    assert float(image[outside].abs().max()) == 0
    assert_close(images[0], images[1], 1e-12, "Go vs python_backend")


@pytest.mark.parametrize("python_backend", [False, True])
def test_register_again_replaces_and_retained_graph(python_backend):
    problem = make_problem(ny=10, nx=10, nt=8, seed=6)
    args, kw = _scalar_call(problem)
    prop = _scalar_module(problem)
    prop.register_gradient("v", lambda f, a, m, dt, dh: torch.ones_like(m[0]))
    prop.register_gradient("v", lambda f, a, m, dt, dh: 2 * torch.ones_like(m[0]))
    out = prop(*args, **kw, python_backend=python_backend)[-1].pow(2).sum()
    out.backward(retain_graph=True)
    steps = 8  # internal steps: dt is below the CFL limit
    assert torch.equal(prop.v.grad, torch.full_like(prop.v, 2.0 * steps))
    out.backward()  # a second pass adds the same image again
    assert torch.equal(prop.v.grad, torch.full_like(prop.v, 4.0 * steps))


def test_inactive_without_grad():
    problem = make_problem(ny=10, nx=10, nt=8, seed=6)
    args, kw = _scalar_call(problem)
    prop = _scalar_module(problem, v_requires_grad=False)
    calls = []
    prop.register_gradient("v", lambda f, a, m, dt, dh: calls.append(1) or torch.zeros_like(m[0]))
    src = args[1].clone().requires_grad_()
    prop(args[0], src, *args[2:], **kw)[-1].pow(2).sum().backward()
    assert calls == [] and prop.v.grad is None and src.grad is not None


# MaxwellTM ----------------------------------------------------------------


def _maxwell(problem, **flags):
    return torchwave.MaxwellTM(
        problem["epsilon"].clone(),
        problem["sigma"].clone(),
        problem["mu"].clone(),
        problem["grid_spacing"],
        **flags,
    )


def _maxwell_call(problem):
    args = (problem["dt"], problem["source_amplitude"], problem["source_location"], problem["receiver_location"])
    return args, dict(stencil=problem["stencil"], pml_width=problem["pml_width"], max_vel=problem["max_vel"])


def epsilon_condition(forward, adjoint, models, dt, dh):
    return forward["Ey"] * adjoint["Ey"] + forward["Hx"] * adjoint["Hx"] - forward["Hz"] * adjoint["Hz"]


def test_maxwell_epsilon_hook_sigma_plain():
    problem = make_maxwell_problem(nt=14, seed=1)
    args, kw = _maxwell_call(problem)
    plain = _maxwell(problem, epsilon_requires_grad=True, sigma_requires_grad=True)
    pred = plain(*args, **kw)[-1]
    pred.pow(2).sum().backward()
    results = []
    for python_backend in (False, True):
        prop = _maxwell(problem, epsilon_requires_grad=True, sigma_requires_grad=True)
        prop.register_gradient("epsilon", epsilon_condition, imaging_type=["Ey", "Hx", "Hz"])
        prop(*args, **kw, python_backend=python_backend)[-1].pow(2).sum().backward()
        assert_close(prop.sigma.grad, plain.sigma.grad, 1e-12, "sigma keeps autograd's gradient")
        assert prop.epsilon.grad.shape == prop.epsilon.shape
        assert not torch.allclose(prop.epsilon.grad, plain.epsilon.grad)
        # The same formula in imaging mode from the same adjoint source.
        prop.register_gradient("epsilon", epsilon_condition, mode="imaging", imaging_type=["Ey", "Hx", "Hz"])
        image = prop.imaging(*args, **kw, python_backend=python_backend, adjoint_source=2 * pred.detach())
        assert_close(image["epsilon"], prop.epsilon.grad, 1e-12, "gradient mode vs imaging mode")
        results.append(prop.epsilon.grad)
    assert_close(results[0], results[1], 1e-12, "Go vs python_backend")


def test_maxwell_adjoints_agree_between_paths():
    """The Go core's per-step adjoint state equals the gradient autograd
    gives the fields going into each step of the pure-PyTorch path."""
    problem = make_maxwell_problem(nt=12, seed=2)
    args, kw = _maxwell_call(problem)
    recs = []
    for python_backend in (False, True):
        prop = _maxwell(problem)
        rec = Recorder()
        prop.register_gradient("sigma", rec, mode="imaging", imaging_type=list(FIELD_NAMES))
        prop.imaging(*args, **kw, python_backend=python_backend)
        recs.append(rec)
    for name in FIELD_NAMES:
        for which in (0, 1):
            a, b = recs[0].by_step(which, name), recs[1].by_step(which, name)
            assert float((a - b).abs().max()) <= 1e-11 * max(float(b.abs().max()), 1e-300), name


def test_maxwell_imaging_leaves_gradient_hooks_and_grads_alone():
    problem = make_maxwell_problem(nt=10, seed=3)
    args, kw = _maxwell_call(problem)
    prop = _maxwell(problem, epsilon_requires_grad=True, sigma_requires_grad=True)
    calls = []
    prop.register_gradient("epsilon", lambda f, a, m, dt, dh: calls.append(1) or torch.zeros_like(m[0]))
    prop.register_gradient("sigma", lambda f, a, m, dt, dh: f["Ey"] * a["Ey"], mode="imaging")
    images = prop.imaging(*args, **kw)
    assert list(images) == ["sigma"] and images["sigma"].shape == prop.sigma.shape
    assert calls == []
    assert prop.epsilon.grad is None and prop.sigma.grad is None


def test_attributes():
    v = torch.full((8, 9), 1500.0)
    prop = torchwave.Scalar(v, 5.0)
    assert prop.wavefield_names == ["wavefield", "psiy", "psix", "zetay", "zetax"]
    assert prop.source_type == ["wavefield"] and prop.receiver_type == ["wavefield"]
    assert prop.model_names == ("v",)
    m = torchwave.MaxwellTM(torch.full((8, 9), 4.0), torch.zeros(8, 9), torch.ones(8, 9), 0.02)
    assert m.wavefield_names == ["Ey", "Hx", "Hz", "m_Ey_x", "m_Ey_z", "m_Hx_z", "m_Hz_x"]
    assert m.source_type == ["Ey"] and m.receiver_type == ["Ey"]
    assert m.model_names == ("epsilon", "sigma")


def test_laplacian():
    y, x = torch.meshgrid(torch.arange(12.0, dtype=torch.float64), torch.arange(10.0, dtype=torch.float64), indexing="ij")
    f = (y * 2.0) ** 2 + 3 * (x * 0.5) ** 2  # ∇² = 2 + 6 everywhere
    for accuracy in (2, 4, 6, 8):
        lap = hooks.laplacian(f[None], (2.0, 0.5), accuracy)
        h = accuracy // 2
        assert_close(lap[0, h:-h, h:-h], torch.full((12 - 2 * h, 10 - 2 * h), 8.0, dtype=torch.float64), 1e-12)
        assert float(lap[0, :h].abs().max()) == 0 and float(lap[0, :, -h:].abs().max()) == 0


# Bad input -------------------------------------------------------------------


@pytest.fixture
def tiny():
    problem = make_problem(ny=8, nx=9, nt=6, n_shots=1, seed=7)
    args, kw = _scalar_call(problem)
    return _scalar_module(problem), args, kw


def test_register_bad_arguments(tiny):
    prop, _, _ = tiny
    with pytest.raises(ValueError, match=r"unknown parameter 'vp'.*\['v'\]"):
        prop.register_gradient("vp", xcorr)
    with pytest.raises(ValueError, match=r"unknown wavefield 'h1' in imaging_type.*'wavefield'"):
        prop.register_gradient("v", xcorr, imaging_type=["wavefield", "h1"])
    with pytest.raises(TypeError, match="fn must be callable"):
        prop.register_gradient("v", 3.0)
    with pytest.raises(ValueError, match="mode must be 'gradient' or 'imaging'"):
        prop.register_gradient("v", xcorr, mode="image")
    with pytest.raises(TypeError, match="imaging_type"):
        prop.register_gradient("v", xcorr, imaging_type=[])
    m = torchwave.MaxwellTM(torch.full((8, 9), 4.0), torch.zeros(8, 9), torch.ones(8, 9), 0.02)
    with pytest.raises(ValueError, match=r"unknown parameter 'mu'.*\['epsilon', 'sigma'\]"):
        m.register_gradient("mu", xcorr)


def test_imaging_bad_arguments(tiny):
    prop, args, kw = tiny
    with pytest.raises(RuntimeError, match="mode='imaging'"):
        prop.imaging(*args, **kw)
    prop.register_gradient("v", xcorr)  # gradient mode only
    with pytest.raises(RuntimeError, match="mode='imaging'"):
        prop.imaging(*args, **kw)
    prop.register_gradient("v", xcorr, mode="imaging")
    with pytest.raises(ValueError, match=r"observed must have the receiver data's shape \[?\(1, 3, 6\)"):
        prop.imaging(*args, **kw, observed=torch.zeros(1, 3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="adjoint_source must have the receiver data's shape"):
        prop.imaging(*args, **kw, adjoint_source=torch.zeros(3, 6, dtype=torch.float64))
    with pytest.raises(TypeError, match="observed must be a torch.Tensor"):
        prop.imaging(*args, **kw, observed=[0.0])
    with pytest.raises(TypeError, match="adjoint_source must be torch.float64"):
        prop.imaging(*args, **kw, adjoint_source=torch.zeros(1, 3, 6, dtype=torch.float32))
    assert prop.v.grad is None


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (lambda f, a, m, dt, dh: 1.0, TypeError, r"hook for 'v' returned float; expected a tensor of shape \[8, 9\]"),
        (lambda f, a, m, dt, dh: torch.zeros(8, 8, dtype=torch.float64), ValueError, r"'v' returned a tensor of shape \[8, 8\]"),
        (lambda f, a, m, dt, dh: torch.zeros(8, 9), TypeError, r"'v' returned a torch.float32 tensor .* expected torch.float64"),
    ],
)
def test_hook_returning_the_wrong_thing(tiny, bad, error, match):
    prop, args, kw = tiny
    prop.register_gradient("v", bad)
    with pytest.raises(error, match=match):
        prop(*args, **kw)[-1].sum().backward()
    prop.register_gradient("v", bad, mode="imaging")
    with pytest.raises(error, match=match):
        prop.imaging(*args, **kw, python_backend=True)


@pytest.mark.parametrize("python_backend", [False, True])
def test_hook_sees_plain_tensors(python_backend):
    problem = make_problem(ny=8, nx=9, nt=6, n_shots=1, seed=8)
    args, kw = _scalar_call(problem)
    prop = _scalar_module(problem)
    flags = []

    def fn(forward, adjoint, models, dt, dh):
        flags.append((forward["wavefield"].requires_grad, adjoint["wavefield"].requires_grad, models[0].requires_grad))
        return forward["wavefield"] * adjoint["wavefield"]

    prop.register_gradient("v", fn)
    prop(*args, **kw, python_backend=python_backend)[-1].sum().backward()
    assert flags == [(False, False, False)] * 6


def test_live_graphs_keep_their_own_fields():
    """Two hooked graphs alive at once must not share the (pooled) buffer
    of kept forward fields."""
    problem = make_problem(ny=10, nx=11, nt=8, n_shots=1, seed=9)
    args, kw = _scalar_call(problem)
    prop = _scalar_module(problem)
    prop.register_gradient("v", xcorr)
    src_b = args[1] * 3 + 1

    def grad_of(loss):
        prop.v.grad = None
        loss.backward()
        return prop.v.grad.clone()

    alone_a = grad_of(prop(*args, **kw)[-1].pow(2).sum())
    alone_b = grad_of(prop(args[0], src_b, *args[2:], **kw)[-1].pow(2).sum())
    loss_a = prop(*args, **kw)[-1].pow(2).sum()
    loss_b = prop(args[0], src_b, *args[2:], **kw)[-1].pow(2).sum()
    assert torch.equal(grad_of(loss_b), alone_b)
    assert torch.equal(grad_of(loss_a), alone_a)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_python_backend_on_cuda_matches_cpu():
    problem = make_problem(ny=10, nx=11, nt=8, seed=10)
    args, kw = _scalar_call(problem)
    images = []
    for device in ("cpu", "cuda"):
        prop = _scalar_module(problem).to(device)
        prop.register_gradient("v", xcorr, mode="imaging")
        moved = [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
        image = prop.imaging(*moved, **kw, python_backend=True)["v"]
        assert image.device.type == device
        images.append(image.cpu())
    assert_close(images[1], images[0], 1e-12, "cuda vs cpu")
