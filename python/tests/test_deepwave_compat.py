"""What a Deepwave 0.0.27 user relies on when changing only the import:
argument order, argument types Deepwave accepts, the modules' options,
and Deepwave's wording where the exception type is the same."""

from __future__ import annotations

import inspect
import re

import pytest
import torch

import torchwave
from torchwave import wavelets

# Deepwave 0.0.27's parameter order (src/deepwave/scalar.py and
# scalar_born.py), the contract for positional calls.
DEEPWAVE_SCALAR = [
    "v",
    "grid_spacing",
    "dt",
    "source_amplitudes",
    "source_locations",
    "receiver_locations",
    "accuracy",
    "pml_width",
    "pml_freq",
    "max_vel",
    "survey_pad",
    "wavefield_0",
    "wavefield_m1",
    "psiz_m1",
    "psiy_m1",
    "psix_m1",
    "zetaz_m1",
    "zetay_m1",
    "zetax_m1",
    "origin",
    "nt",
    "model_gradient_sampling_interval",
    "freq_taper_frac",
    "time_pad_frac",
    "time_taper",
    "forward_callback",
    "backward_callback",
    "callback_frequency",
    "python_backend",
    "storage_mode",
    "storage_path",
    "storage_compression",
]
DEEPWAVE_SCALAR_BORN = [
    "v",
    "scatter",
    "grid_spacing",
    "dt",
    "source_amplitudes",
    "source_locations",
    "receiver_locations",
    "bg_receiver_locations",
    "accuracy",
    "pml_width",
    "pml_freq",
    "max_vel",
    "survey_pad",
    "wavefield_0",
    "wavefield_m1",
    "psiz_m1",
    "psiy_m1",
    "psix_m1",
    "zetaz_m1",
    "zetay_m1",
    "zetax_m1",
    "wavefield_sc_0",
    "wavefield_sc_m1",
    "psiz_sc_m1",
    "psiy_sc_m1",
    "psix_sc_m1",
    "zetaz_sc_m1",
    "zetay_sc_m1",
    "zetax_sc_m1",
    "origin",
    "nt",
    "model_gradient_sampling_interval",
    "freq_taper_frac",
    "time_pad_frac",
    "time_taper",
    "forward_callback",
    "backward_callback",
    "callback_frequency",
    "python_backend",
    "storage_mode",
    "storage_path",
    "storage_compression",
]


@pytest.mark.parametrize("fn, names", [(torchwave.scalar, DEEPWAVE_SCALAR), (torchwave.scalar_born, DEEPWAVE_SCALAR_BORN)])
def test_parameter_order_is_deepwaves(fn, names):
    params = [p for p in inspect.signature(fn).parameters if not p.startswith("_")]
    assert params[: len(names)] == names


def _problem(dtype=torch.float64):
    gen = torch.Generator().manual_seed(3)
    v = 1500 + 300 * torch.rand(14, 16, generator=gen, dtype=dtype)
    src = torch.randn(1, 1, 30, generator=gen, dtype=dtype)
    sl = torch.tensor([[[4, 7]]])
    rl = torch.tensor([[[2, 3], [9, 12]]])
    return v, src, sl, rl


def test_positional_initial_fields_land_in_deepwaves_slots():
    v, src, sl, rl = _problem()
    first = torchwave.scalar(v, 5.0, 1e-3, src, sl, rl, accuracy=4, pml_width=3, pml_freq=25.0)
    u, um1, psiy, psix, zetay, zetax = first[:6]
    kw = torchwave.scalar(
        v,
        5.0,
        1e-3,
        src,
        sl,
        rl,
        accuracy=4,
        pml_width=3,
        pml_freq=25.0,
        wavefield_0=u,
        wavefield_m1=um1,
        psiy_m1=psiy,
        psix_m1=psix,
        zetay_m1=zetay,
        zetax_m1=zetax,
    )
    pos = torchwave.scalar(
        v,
        5.0,
        1e-3,
        src,
        sl,
        rl,
        4,
        3,
        25.0,
        None,
        None,
        u,
        um1,
        None,
        psiy,
        psix,
        None,
        zetay,
        zetax,
    )
    for a, b in zip(kw, pos):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["psiz_m1", "zetaz_m1"])
def test_z_fields_are_refused_in_2d(name):
    v, src, sl, rl = _problem()
    field = torch.zeros(1, 20, 22, dtype=v.dtype)
    with pytest.raises(ValueError, match="2d, so fields related to the z dimension should not be provided"):
        torchwave.scalar(v, 5.0, 1e-3, src, sl, rl, pml_width=3, **{name: field})


def test_born_z_fields_are_refused_in_2d():
    v, src, sl, rl = _problem()
    with pytest.raises(ValueError, match="z dimension"):
        torchwave.scalar_born(
            v, torch.zeros_like(v), 5.0, 1e-3, src, sl, rl, pml_width=3, psiz_sc_m1=torch.zeros(1, 20, 22, dtype=v.dtype)
        )


@pytest.mark.parametrize("spacing", [torch.tensor(5.0), torch.tensor([5.0]), torch.tensor([5.0, 5.0])])
def test_grid_spacing_as_a_tensor(spacing):
    v, src, sl, rl = _problem()
    ref = torchwave.scalar(v, 5.0, 1e-3, src, sl, rl, pml_width=3)[-1]
    got = torchwave.scalar(v, spacing, 1e-3, src, sl, rl, pml_width=3)[-1]
    torch.testing.assert_close(got, ref, rtol=0, atol=0)


def test_grid_spacing_tensor_of_two_sizes():
    v, src, sl, rl = _problem()
    ref = torchwave.scalar(v, (4.0, 6.0), 1e-3, src, sl, rl, pml_width=3)[-1]
    got = torchwave.scalar(v, torch.tensor([4.0, 6.0]), 1e-3, src, sl, rl, pml_width=3)[-1]
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    with pytest.raises(ValueError, match="grid_spacing"):
        torchwave.scalar(v, torch.tensor([4.0, 6.0, 7.0]), 1e-3, src, sl, rl, pml_width=3)


def test_module_positional_arguments_and_storage_options(tmp_path):
    v, src, sl, rl = _problem()
    module = torchwave.Scalar(v, 5.0)
    ref = torchwave.scalar(v, 5.0, 1e-3, src, sl, rl, accuracy=8, pml_width=3)
    got = module(1e-3, src, sl, rl, 8, 3)
    for a, b in zip(ref, got):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(TypeError, match="multiple values for argument 'accuracy'"):
        module(1e-3, src, sl, rl, 8, accuracy=8)
    # The module's storage options reach the propagator.
    learn = torchwave.Scalar(v, 5.0, v_requires_grad=True, storage_mode="none")
    learn(1e-3, src, sl, rl, pml_width=3)[-1].square().sum().backward()
    assert torch.count_nonzero(learn.v.grad) == 0  # nothing stored: a zero gradient, as in Deepwave
    on_disk = torchwave.Scalar(v, 5.0, v_requires_grad=True, storage_mode="disk", storage_path=str(tmp_path))
    out = on_disk(1e-3, src, sl, rl, pml_width=3)[-1]
    assert any(p.name.startswith("torchwave-snapshots-") for p in tmp_path.iterdir())
    out.square().sum().backward()
    assert on_disk.v.grad is not None and float(on_disk.v.grad.abs().max()) > 0
    born = torchwave.ScalarBorn(v, torch.zeros_like(v), 5.0, storage_compression=True)
    assert born.storage_compression is True
    b_ref = torchwave.scalar_born(v, torch.zeros_like(v), 5.0, 1e-3, src, sl, rl, rl, 4, 3)
    b_got = born(1e-3, src, sl, rl, rl, 4, 3)
    for a, b in zip(b_ref, b_got):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_module_messages_are_deepwaves():
    v = torch.ones(10, 10)
    with pytest.raises(TypeError, match=re.escape("v must be a torch.Tensor.")):
        torchwave.Scalar([1, 2, 3], 1.0)
    for flag, kind in ((1, "int"), (0.5, "float"), ("True", "str")):
        with pytest.raises(TypeError, match=re.escape(f"v_requires_grad must be bool, got {kind}")):
            torchwave.Scalar(v, 1.0, v_requires_grad=flag)
    with pytest.raises(TypeError, match=re.escape("scatter_requires_grad must be bool, got int")):
        torchwave.ScalarBorn(v, v, 1.0, scatter_requires_grad=1)
    with pytest.raises(TypeError, match=re.escape("scatter must be a torch.Tensor.")):
        torchwave.ScalarBorn(v, [1.0], 1.0)


def test_ricker_accepts_what_deepwave_accepts():
    with pytest.raises(ValueError, match=re.escape("dt cannot be zero.")):
        wavelets.ricker(10.0, 10, 0.0)
    flat = wavelets.ricker(0.0, 5, 0.01, peak_time=0.02, dtype=torch.float64)
    torch.testing.assert_close(flat, torch.ones(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="peak_time"):
        wavelets.ricker(0.0, 5, 0.01)
    # A negative dt samples the same wavelet backwards in time.
    fwd = wavelets.ricker(10.0, 21, 0.01, peak_time=0.0, dtype=torch.float64)
    back = wavelets.ricker(10.0, 21, -0.01, peak_time=0.0, dtype=torch.float64)
    torch.testing.assert_close(fwd, back)


def test_negative_dt_runs_the_same_scheme():
    """The leapfrog step is symmetric in time and the CFL rule and PML use
    |dt|, as in Deepwave: a negative dt gives the same data."""
    v, src, sl, rl = _problem()
    fwd = torchwave.scalar(v, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0)
    back = torchwave.scalar(v, 5.0, -1e-3, src, sl, rl, pml_width=3, pml_freq=25.0)
    for a, b in zip(fwd, back):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
    # Sub-stepped (dt past the CFL limit) as well.
    fwd = torchwave.scalar(v, 5.0, 3e-3, src, sl, rl, pml_width=3, pml_freq=25.0)[-1]
    back = torchwave.scalar(v, 5.0, -3e-3, src, sl, rl, pml_width=3, pml_freq=25.0)[-1]
    torch.testing.assert_close(fwd, back, rtol=1e-12, atol=0)


@pytest.mark.parametrize("python_backend", [False, True])
def test_zero_and_negative_wavespeeds(python_backend):
    """The scheme sees v²: a negated model gives the same data and the
    negated gradient; a region at rest (v = 0) is allowed."""
    v, src, sl, rl = _problem()

    def data_and_grad(model):
        model = model.clone().requires_grad_()
        rec = torchwave.scalar(model, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0, python_backend=python_backend)[-1]
        rec.square().sum().backward()
        return rec.detach(), model.grad

    d_pos, g_pos = data_and_grad(v)
    d_neg, g_neg = data_and_grad(-v)
    torch.testing.assert_close(d_neg, d_pos, rtol=1e-12, atol=0)
    torch.testing.assert_close(g_neg, -g_pos, rtol=1e-10, atol=0)
    at_rest = v.clone()
    at_rest[10:] = 0.0
    d_rest = torchwave.scalar(at_rest, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0, python_backend=python_backend)[-1]
    assert torch.isfinite(d_rest).all() and not torch.equal(d_rest, d_pos)
    if python_backend:
        _, g_rest = data_and_grad(at_rest)
        assert torch.isfinite(g_rest).all()
    else:
        # The Go core's adjoint is scaled by v²: a clear error, not NaNs.
        with pytest.raises(ValueError, match="v is zero at some cells"):
            data_and_grad(at_rest)


def _vmap_problem():
    gen = torch.Generator().manual_seed(7)
    v = 1500 + 300 * torch.rand(3, 12, 13, generator=gen, dtype=torch.float64)
    src = torch.randn(1, 1, 25, generator=gen, dtype=torch.float64)
    return v, src, torch.tensor([[[5, 6]]]), torch.tensor([[[2, 3], [9, 10]]])


def test_vmap_over_the_model():
    """torch.func.vmap over v (Deepwave supports it): the same numbers as
    a loop of plain calls, for the data and, through grad, the gradient."""
    v, src, sl, rl = _vmap_problem()

    def data(m):
        return torchwave.scalar(m, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0, max_vel=2000.0)[-1]

    batched = torch.func.vmap(data)(v)
    looped = torch.stack([data(m) for m in v])
    torch.testing.assert_close(batched, looped, rtol=1e-10, atol=1e-12 * float(looped.abs().max()))
    grads = torch.func.vmap(torch.func.grad(lambda m: data(m).square().sum()))(v)
    for m, g in zip(v, grads):
        m = m.clone().requires_grad_()
        data(m).square().sum().backward()  # the Go core's exact adjoint
        torch.testing.assert_close(g, m.grad, rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="give max_vel"):
        torch.func.vmap(lambda m: torchwave.scalar(m, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0)[-1])(v)


def test_vmap_over_scatter():
    v, src, sl, rl = _vmap_problem()
    scatter = torch.rand(3, 12, 13, dtype=torch.float64)

    def data(s):
        return torchwave.scalar_born(v[0], s, 5.0, 1e-3, src, sl, rl, pml_width=3, pml_freq=25.0, max_vel=2000.0)[-1]

    torch.testing.assert_close(torch.func.vmap(data)(scatter), torch.stack([data(s) for s in scatter]), rtol=1e-10, atol=1e-14)


def test_jvp_is_born_modelling():
    """Forward-mode AD through scalar equals scalar_born's scattered data:
    both are the exact derivative of the same discrete operator."""
    v, src, sl, rl = _vmap_problem()
    kw = dict(pml_width=3, pml_freq=25.0, max_vel=2000.0)
    direction = torch.rand(12, 13, dtype=torch.float64)
    _, tangent = torch.func.jvp(lambda m: torchwave.scalar(m, 5.0, 1e-3, src, sl, rl, **kw)[-1], (v[0],), (direction,))
    born = torchwave.scalar_born(v[0], direction, 5.0, 1e-3, src, sl, rl, **kw)[-1]
    torch.testing.assert_close(tangent, born, rtol=1e-10, atol=1e-12 * float(born.abs().max()))
