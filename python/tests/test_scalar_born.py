"""Born modelling: the analytic single-scatterer solution, agreement with
finite differences of `scalar`, the adjoint of the Born operator, gradcheck,
the Go core against the PyTorch reference, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, assert_close, make_problem, rel_err, tol_for

import torchwave
from torchwave.wavelets import ricker

pytestmark = FAIL_ON_PML_FREQ_DEFAULT

BACKENDS = [False, "eager"]


def _problem(dtype=torch.float64, seed=0, per_shot_model=False, **kw):
    """A small random Born problem: scalar's test problem plus a scattering
    potential and background receivers."""
    p = make_problem(
        ny=14, nx=15, nt=24, n_shots=2, n_sources=2, n_receivers=3, dtype=dtype, seed=seed, per_shot_model=per_shot_model, **kw
    )
    gen = torch.Generator().manual_seed(seed + 100)
    p["scatter"] = (50 * torch.randn(p["v"].shape, generator=gen, dtype=torch.float64)).to(dtype)
    p["bg_receiver_locations"] = p["receiver_locations"].flip(1)[:, :2].contiguous()
    p["max_vel"] = 1.1 * float(p["v"].max())
    return p


def _born(p, **overrides):
    kw = dict(p)
    kw.update(overrides)
    return torchwave.scalar_born(**kw)


def _scalar_args(p):
    return {k: v for k, v in p.items() if k not in ("scatter", "bg_receiver_locations")}


# --------------------------------------------------------------------------
# Physics: a point scatterer in a homogeneous medium.
#
# The background solves u_tt − v²∇²u = −v²f δ_h, so in the frequency domain
# (numpy's rfft convention, see test_scalar_physics) U = −dA·F·G(r) with
# G = −(i/4)H0^(2)(kr) and dA = dy·dx. Linearising in v, with the
# scattered source −2·v·δv·f, the scattered field obeys
# (∇² + k²)δU = (2·δv·k²/v)·U, so a perturbation s on one cell (δv = s
# over the cell's area) gives at the receiver
#
#     δU = 2·s·k²·dA²·F·G(r_sp)·G(r_pr) / v.
#
# Set-up as for the Green's function test: v = 1500 m/s, 5 m cells,
# Ricker 40 Hz, dt = 0.1 ms, 2000 steps; source, scatterer and receiver
# 17 cells apart (about 2.3 wavelengths). Measured band-limited (20-60 Hz)
# relative errors, float64: accuracy 2: 1.15, 4: 0.098, 8: 0.0033
# (second-order dispersion at 7.5 cells per wavelength is large and
# compounds along the two legs).
# --------------------------------------------------------------------------

_BORN_BOUNDS = {2: 1.5, 4: 0.15, 8: 0.008}


@pytest.fixture(scope="module")
def scatterer_errors():
    v0, h, freq, dt, nt, n, s = 1500.0, 5.0, 40.0, 1e-4, 2000, 64, 10.0
    src = ricker(freq, nt, dt, dtype=torch.float64)
    (sy, sx), (py, px), (ry, rx) = (20, 20), (32, 32), (20, 44)
    v = torch.full((n, n), v0, dtype=torch.float64)
    scatter = torch.zeros_like(v)
    scatter[py, px] = s
    freqs = np.fft.rfftfreq(nt, dt)
    band = (freqs >= 0.5 * freq) & (freqs <= 1.5 * freq)
    k = 2 * np.pi * freqs[band] / v0
    f_band = np.fft.rfft(src.numpy())[band]

    def green(r):
        return -0.25j * scipy.special.hankel2(0, k * r)

    analytic = (
        2
        * s
        * k**2
        * (h * h) ** 2
        * f_band
        * green(h * math.hypot(py - sy, px - sx))
        * green(h * math.hypot(ry - py, rx - px))
        / v0
    )
    errors = {}
    for accuracy in _BORN_BOUNDS:
        out = torchwave.scalar_born(
            v,
            scatter,
            h,
            dt,
            src[None, None],
            torch.tensor([[[sy, sx]]]),
            torch.tensor([[[ry, rx]]]),
            accuracy=accuracy,
            pml_width=20,
            pml_freq=freq,
        )
        trace = np.fft.rfft(out[-1][0, 0].numpy())[band]
        errors[accuracy] = float(np.linalg.norm(trace - analytic) / np.linalg.norm(analytic))
    return errors


@pytest.mark.parametrize("accuracy", sorted(_BORN_BOUNDS))
def test_single_scatterer_matches_analytic(scatterer_errors, accuracy):
    assert scatterer_errors[accuracy] < _BORN_BOUNDS[accuracy], scatterer_errors


def test_single_scatterer_error_falls_with_accuracy(scatterer_errors):
    e = scatterer_errors
    assert e[8] < e[4] / 10 < e[2] / 50, e


# --------------------------------------------------------------------------
# Born is the derivative of scalar.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("accuracy", [2, 8])
def test_born_is_the_linearisation_of_scalar(backend, accuracy):
    p = _problem(accuracy=accuracy, dt_fraction=1.5)  # also with an internal time step
    out = _born(p, python_backend=backend)
    base = _scalar_args(p)
    eps = 1e-4
    plus = torchwave.scalar(**dict(base, v=p["v"] + eps * p["scatter"]))[-1]
    minus = torchwave.scalar(**dict(base, v=p["v"] - eps * p["scatter"]))[-1]
    assert_close(out[-1], (plus - minus) / (2 * eps), 1e-7, "scattered receivers")
    # The background is plain scalar propagation, bit for bit.
    background = torchwave.scalar(**dict(base, receiver_locations=p["bg_receiver_locations"], python_backend=backend))
    assert torch.equal(out[-2], background[-1])
    for a, b in zip(out[:6], background[:6]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("per_shot_model", [False, True])
def test_go_core_matches_reference(per_shot_model):
    p = _problem(per_shot_model=per_shot_model, seed=3)
    inputs = {}
    results = {}
    for backend in BACKENDS:
        v = p["v"].clone().requires_grad_()
        scatter = p["scatter"].clone().requires_grad_()
        amps = p["source_amplitudes"].clone().requires_grad_()
        out = _born(p, v=v, scatter=scatter, source_amplitudes=amps, python_backend=backend)
        gen = torch.Generator().manual_seed(7)
        loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in out)
        loss.backward()
        results[backend] = [o.detach() for o in out] + [v.grad, scatter.grad, amps.grad]
        inputs[backend] = (v, scatter)
    for i, (a, b) in enumerate(zip(*results.values())):
        assert_close(a, b, tol_for(torch.float64), f"output/gradient {i}")


def test_go_core_float32():
    p = _problem(dtype=torch.float32, seed=5)
    outs = [_born(p, python_backend=b) for b in BACKENDS]
    for i, (a, b) in enumerate(zip(*outs)):
        assert_close(a, b, tol_for(torch.float32), f"output {i}")


# --------------------------------------------------------------------------
# Adjoint: the Born operator scatter -> scattered receivers and its
# transpose (the scatter gradient) pass the dot-product test.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_born_adjoint_dot_product(backend):
    p = _problem(seed=11, dt_fraction=1.5)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(p["v"].shape, generator=gen, dtype=torch.float64)
    scatter = x.clone().requires_grad_()
    d = _born(p, scatter=scatter, python_backend=backend)[-1]
    y = torch.randn(d.shape, generator=gen, dtype=torch.float64)
    (adj,) = torch.autograd.grad(d, scatter, y)
    lhs, rhs = float((d.detach() * y).sum()), float((x * adj).sum())
    assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), abs(rhs)), (lhs, rhs)


def test_only_scatter_gradient_skips_background_adjoint():
    """With only scatter requiring a gradient, the result must not depend
    on whether v's gradient is computed too."""
    p = _problem(seed=13)
    g = []
    for v_grad in (False, True):
        scatter = p["scatter"].clone().requires_grad_()
        v = p["v"].clone().requires_grad_(v_grad)
        out = _born(p, v=v, scatter=scatter)
        (out[-1].square().sum() + out[-2].square().sum()).backward()
        g.append(scatter.grad)
    assert torch.equal(g[0], g[1])


# --------------------------------------------------------------------------
# gradcheck (float64, finite differences)
# --------------------------------------------------------------------------

V_SCALE = 1000.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck_v_scatter_sources(backend):
    p = _problem(seed=21)
    p.update(v=p["v"][:8, :9].contiguous(), scatter=p["scatter"][:8, :9].contiguous(), nt=None)
    p["source_locations"] = torch.tensor([[[2, 3], [5, 6]], [[1, 1], [6, 2]]])
    p["receiver_locations"] = torch.tensor([[[3, 3], [7, 8]], [[0, 4], [4, 0]]])
    p["bg_receiver_locations"] = torch.tensor([[[1, 5]], [[6, 7]]])
    p["source_amplitudes"] = p["source_amplitudes"][..., :10].contiguous()
    inputs = (
        (p["v"] / V_SCALE).requires_grad_(),
        (p["scatter"] / V_SCALE).requires_grad_(),
        p["source_amplitudes"].clone().requires_grad_(),
    )

    def f(v, scatter, amps):
        out = _born(p, v=v * V_SCALE, scatter=scatter * V_SCALE, source_amplitudes=amps, python_backend=backend)
        return out[-2], out[-1], out[0], out[7]

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=backend is not False)


@pytest.mark.parametrize("name", ["wavefield_0", "psix_m1", "wavefield_sc_m1", "zetay_sc_m1"])
def test_gradcheck_initial_wavefields(name):
    p = _problem(seed=23, pml_width=2)
    p.update(v=p["v"][:7, :8].contiguous(), scatter=p["scatter"][:7, :8].contiguous())
    p["source_locations"] = torch.tensor([[[2, 3], [5, 6]], [[1, 1], [6, 2]]])
    p["receiver_locations"] = torch.tensor([[[3, 3], [6, 7]], [[0, 4], [4, 0]]])
    p["bg_receiver_locations"] = torch.tensor([[[1, 5]], [[6, 7]]])
    p["source_amplitudes"] = p["source_amplitudes"][..., :8].contiguous()
    gen = torch.Generator().manual_seed(2)
    shape = (2, 7 + 4, 8 + 4)
    field = torch.randn(shape, generator=gen, dtype=torch.float64).requires_grad_()

    def f(w):
        out = _born(p, **{name: w})
        return out[-2], out[-1], out[1], out[6]

    assert torch.autograd.gradcheck(f, (field,), eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


# --------------------------------------------------------------------------
# Storage options, callbacks, the module.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        dict(storage_mode="disk"),
        dict(storage_compression="int8"),
        dict(model_gradient_sampling_interval=2),
        dict(storage_strategy="checkpoint"),
        dict(storage_strategy="checkpoint", model_gradient_sampling_interval=3),
    ],
)
def test_storage_options(options, tmp_path):
    p = _problem(seed=31, dtype=torch.float32)
    grads = []
    # Storage options are compared with plain storage at the same sampling.
    baseline = {k: v for k, v in options.items() if k == "model_gradient_sampling_interval" and len(options) > 1}
    for kw in (baseline, options):
        if kw.get("storage_mode") == "disk":
            kw = dict(kw, storage_path=str(tmp_path))
        v = p["v"].clone().requires_grad_()
        scatter = p["scatter"].clone().requires_grad_()
        _born(p, v=v, scatter=scatter, **kw)[-1].square().sum().backward()
        grads.append((v.grad, scatter.grad))
    exact = options.get("storage_mode") == "disk" or options.get("storage_strategy") == "checkpoint"
    tol = 1e-6 if exact else 0.1
    for a, b in zip(*grads):
        assert rel_err(b, a) <= tol


def test_callbacks_see_both_wavefields():
    p = _problem(seed=33)
    seen = {"forward": [], "backward": []}

    def forward(state):
        seen["forward"].append(state.step)
        assert set(state.wavefields) >= {"wavefield_0", "wavefield_sc_0", "psix_sc_m1"}
        assert state.get_model("scatter").shape[-2:] == p["scatter"].shape

    def backward(state):
        seen["backward"].append(state.step)
        assert state.get_gradient("scatter").shape[-2:] == p["scatter"].shape

    scatter = p["scatter"].clone().requires_grad_()
    out = _born(p, scatter=scatter, forward_callback=forward, backward_callback=backward, callback_frequency=5)
    out[-1].sum().backward()
    assert seen["forward"] == [0, 5, 10, 15, 20]
    assert seen["backward"] == [20, 15, 10, 5, 0]


def test_module_matches_function():
    p = _problem(seed=35)
    prop = torchwave.ScalarBorn(p["v"], p["scatter"], p["grid_spacing"], scatter_requires_grad=True)
    out = prop(
        p["dt"],
        p["source_amplitudes"],
        p["source_locations"],
        p["receiver_locations"],
        p["bg_receiver_locations"],
        pml_width=p["pml_width"],
        pml_freq=25.0,
        max_vel=p["max_vel"],
    )
    ref = _born(p)
    for a, b in zip(out, ref):
        assert torch.equal(a.detach(), b)
    out[-1].sum().backward()
    assert prop.scatter.grad is not None and prop.v.grad is None


def test_no_background_receivers_gives_empty_output():
    p = _problem(seed=37)
    out = _born(p, bg_receiver_locations=None)
    assert out[-2].shape == (2, 0, p["source_amplitudes"].shape[-1])


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(scatter=torch.zeros(3, 4, dtype=torch.float64)), ValueError, "scatter"),
        (dict(scatter=torch.zeros(14, 15, dtype=torch.float32)), TypeError, "scatter"),
        (dict(scatter=torch.full((14, 15), float("nan"), dtype=torch.float64)), ValueError, "scatter"),
        (dict(scatter=torch.zeros(3, 14, 15, dtype=torch.float64)), ValueError, "scatter"),
        (dict(bg_receiver_locations=torch.tensor([[[0, 99]], [[0, 0]]])), ValueError, "bg_receiver_locations"),
        (dict(bg_receiver_locations=torch.tensor([[[1, 1], [1, 1]], [[0, 0], [0, 1]]])), ValueError, "bg_receiver_locations"),
        (dict(storage_strategy="boundary"), NotImplementedError, "storage_strategy"),
    ],
)
def test_bad_input(change, error, match):
    p = _problem()
    with pytest.raises(error, match=match):
        _born(p, **change)


def test_storage_none_gives_a_zero_model_gradient():
    """As in Deepwave: nothing stored, so scatter's gradient is zero."""
    p = _problem()
    scatter = p["scatter"].clone().requires_grad_()
    _born(p, scatter=scatter, storage_mode="none")[-1].square().sum().backward()
    assert scatter.grad is not None and torch.count_nonzero(scatter.grad) == 0


# --------------------------------------------------------------------------
# Imaging-condition hooks on ScalarBorn
# --------------------------------------------------------------------------


def _module(p, **flags):
    return torchwave.ScalarBorn(p["v"].clone(), p["scatter"].clone(), p["grid_spacing"], **flags)


def _call_args(p):
    return (p["dt"], p["source_amplitudes"], p["source_locations"], p["receiver_locations"], p["bg_receiver_locations"])


def _call_kwargs(p, backend):
    return dict(pml_width=p["pml_width"], pml_freq=25.0, max_vel=p["max_vel"], python_backend=backend)


def test_born_hook_names():
    prop = _module(_problem())
    assert prop.model_names == ("v", "scatter")
    assert "wavefield_sc" in prop.wavefield_names and "zetax_sc" in prop.wavefield_names
    assert prop.source_type[0] == "wavefield" and prop.receiver_type[0] == "wavefield_sc"


def test_born_hook_images_match_reference():
    """Images from the scattered adjoint (for scatter) and from the
    background adjoint, which the Born coupling drives (for v), agree
    between the Go core and autograd on the reference."""
    p = _problem(seed=41)
    observed = torch.randn(
        2, 3, p["source_amplitudes"].shape[-1], generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    images = {}
    for backend in BACKENDS:
        prop = _module(p)
        prop.register_gradient(
            "scatter",
            lambda fwd, adj, m, dt, dh: fwd["wavefield"] * adj["wavefield_sc"],
            mode="imaging",
            imaging_type=["wavefield", "wavefield_sc"],
        )
        prop.register_gradient(
            "v",
            lambda fwd, adj, m, dt, dh: fwd["wavefield_sc"] * adj["wavefield"] + adj["psix"],
            mode="imaging",
            imaging_type=["wavefield", "wavefield_sc", "psix"],
        )
        images[backend] = prop.imaging(*_call_args(p), observed=observed, **_call_kwargs(p, backend))
        assert prop.scatter.grad is None and prop.v.grad is None
    for name in ("scatter", "v"):
        assert float(images[False][name].abs().max()) > 0
        assert_close(images[False][name], images["eager"][name], 1e-10, name)


def test_born_gradient_hook_replaces_only_its_parameter():
    p = _problem(seed=43)
    plain = _module(p, v_requires_grad=True, scatter_requires_grad=True)
    plain(*_call_args(p), **_call_kwargs(p, False))[-1].square().sum().backward()
    hooked = _module(p, v_requires_grad=True, scatter_requires_grad=True)
    hooked.register_gradient(
        "scatter", lambda fwd, adj, m, dt, dh: fwd["wavefield"] * adj["wavefield_sc"], imaging_type=["wavefield", "wavefield_sc"]
    )
    hooked(*_call_args(p), **_call_kwargs(p, False))[-1].square().sum().backward()
    assert_close(hooked.v.grad, plain.v.grad, 1e-12, "v gradient")
    assert not torch.allclose(hooked.scatter.grad, plain.scatter.grad)
    hooked.clear_gradients()
    hooked.scatter.grad = None
    hooked.v.grad = None
    hooked(*_call_args(p), **_call_kwargs(p, False))[-1].square().sum().backward()
    assert torch.equal(hooked.scatter.grad, plain.scatter.grad)


def test_born_hook_bad_names():
    prop = _module(_problem())
    with pytest.raises(ValueError, match="epsilon"):
        prop.register_gradient("epsilon", lambda *a: None)
    with pytest.raises(ValueError, match="psiz_sc"):
        prop.register_gradient("scatter", lambda *a: None, imaging_type=["psiz_sc"])


@pytest.mark.parametrize("wanted", [("scatter",), ("v", "scatter")])
def test_backward_callback_can_edit_the_gradients(wanted):
    """As in Deepwave: zeroing the gradients in the first backward callback
    drops what had been summed so far, for each model."""
    p = _problem(seed=37)
    first = {}

    def record(state):
        if "g" not in first:
            first["g"] = {k: state.get_gradient(k).clone() for k in wanted}

    def zero_first(state):
        if not first.get("zeroed"):
            for k in wanted:
                state.get_gradient(k).zero_()
            first["zeroed"] = True

    def grads(callback):
        models = {k: p[k].clone().requires_grad_(k in wanted) for k in ("v", "scatter")}
        _born(p, **models, backward_callback=callback, callback_frequency=5)[-1].square().sum().backward()
        return {k: models[k].grad for k in wanted}

    full = grads(record)
    edited = grads(zero_first)
    for k in wanted:
        assert float(first["g"][k].abs().max()) > 0
        assert rel_err(edited[k], full[k] - first["g"][k].reshape(full[k].shape)) <= 1e-9, k
