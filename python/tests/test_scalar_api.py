"""The public API of torchwave.scalar: shapes, the nn.Module wrapper,
survey extraction, initial wavefields, callbacks, storage modes, ignored
locations, threads, memory layouts and wavelets."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, assert_close, make_problem, rel_err, run

import torchwave
from torchwave import wavelets

pytestmark = FAIL_ON_PML_FREQ_DEFAULT

IG = torchwave.IGNORE_LOCATION


def _loss_and_grads(out, leaves, seed=0):
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in out]
    loss = sum((o * w).sum() for o, w in zip(out, weights))
    return torch.autograd.grad(loss, leaves)


# --------------------------------------------------------------------------
# Shapes and the module wrapper
# --------------------------------------------------------------------------


@pytest.mark.parametrize("python_backend", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_return_shapes(python_backend, dtype):
    pml = [2, 3, 4, 1]
    p = make_problem(ny=11, nx=13, nt=9, n_shots=3, n_sources=2, n_receivers=4, dtype=dtype, pml_width=pml, accuracy=6)
    out = run(p, python_backend=python_backend)
    assert isinstance(out, tuple) and len(out) == 7
    for w in out[:6]:
        assert w.shape == (3, 11 + 2 + 3, 13 + 4 + 1)
        assert w.dtype == dtype
    assert out[6].shape == (3, 4, 9)
    assert out[6].dtype == dtype
    assert float(out[0].abs().max()) > 0 and float(out[6].abs().max()) > 0


def test_return_shapes_without_receivers():
    p = make_problem(ny=10, nx=12, nt=7, n_shots=2)
    assert run(p, receiver_locations=None)[6].shape == (2, 0, 7)
    assert run(p, receiver_locations=torch.zeros(2, 0, 2, dtype=torch.long))[6].shape == (2, 0, 7)


def test_return_shapes_cfl_subdivision():
    p = make_problem(ny=10, nx=12, nt=7, n_shots=2, dt_fraction=2.5)
    out = run(p)
    assert out[6].shape == (2, 3, 7)  # downsampled back to the user's nt
    assert out[0].shape == (2, 16, 18)


@pytest.mark.parametrize("python_backend", [False, True])
def test_return_shapes_without_receivers_cfl_subdivision(python_backend):
    p = make_problem(ny=10, nx=12, nt=7, n_shots=2, dt_fraction=2.5)
    assert run(p, receiver_locations=None, python_backend=python_backend)[6].shape == (2, 0, 7)


def test_nt_without_sources_propagates_initial_wavefield():
    p = make_problem(ny=12, nx=12, nt=10, n_shots=1)
    w0 = torch.zeros(1, 18, 18, dtype=torch.float64)
    w0[0, 9, 9] = 1.0
    out = torchwave.scalar(
        p["v"],
        p["grid_spacing"],
        p["dt"],
        receiver_locations=p["receiver_locations"],
        wavefield_0=w0,
        wavefield_m1=w0.clone(),
        nt=10,
        pml_width=3,
        pml_freq=25.0,
    )
    assert out[6].shape == (1, 3, 10)
    assert float(out[0].abs().max()) > 0
    assert not torch.equal(out[0], w0)


def test_module_matches_function():
    p = make_problem(ny=12, nx=14, nt=15, n_shots=2, seed=3)
    module = torchwave.Scalar(p["v"], p["grid_spacing"])
    assert isinstance(module, torch.nn.Module)
    assert not module.v.requires_grad
    kw = {k: p[k] for k in ("accuracy", "pml_width", "pml_freq")}
    a = module(p["dt"], p["source_amplitudes"], p["source_locations"], p["receiver_locations"], **kw)
    b = run(p)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_module_v_requires_grad_gives_the_function_gradient():
    p = make_problem(ny=12, nx=14, nt=15, n_shots=2, seed=3)
    module = torchwave.Scalar(p["v"].clone(), p["grid_spacing"], v_requires_grad=True)
    assert [n for n, _ in module.named_parameters()] == ["v"]
    kw = {k: p[k] for k in ("accuracy", "pml_width", "pml_freq")}
    out = module(p["dt"], p["source_amplitudes"], p["source_locations"], p["receiver_locations"], **kw)
    (g_mod,) = _loss_and_grads(out, [module.v])
    v = p["v"].clone().requires_grad_(True)
    (g_fun,) = _loss_and_grads(run(p, v=v), [v])
    assert_close(g_mod, g_fun, 1e-14)


# --------------------------------------------------------------------------
# survey_pad, origin and initial wavefields
# --------------------------------------------------------------------------


def _survey_problem(nt):
    p = make_problem(ny=40, nx=46, nt=nt, n_shots=2, n_sources=1, n_receivers=2, seed=5, pml_width=4)
    p["source_locations"] = torch.tensor([[[18, 20]], [[21, 24]]])
    p["receiver_locations"] = torch.tensor([[[19, 23], [20, 21]], [[22, 22], [18, 25]]])
    return p


def test_survey_pad_crops_and_matches_full_model():
    """Bounding box of the sources and receivers: rows 18-22, columns
    20-25; padded by 8 cells -> rows 10-30 (21), columns 12-33 (22). While
    the wave has not reached the cropped region's edge the receivers agree
    with the full model (measured 1e-12 after 20 steps)."""
    p = _survey_problem(20)
    full = run(p)
    crop = run(p, survey_pad=8)
    assert full[0].shape == (2, 40 + 8, 46 + 8)
    assert crop[0].shape == (2, 21 + 8, 22 + 8)
    assert crop[6].shape == full[6].shape
    assert float(full[6].abs().max()) > 0
    assert rel_err(crop[6], full[6]) < 1e-9
    # The cropped wavefield is the full one's corresponding region (they
    # differ slightly near the cropped edge, measured 1.8e-5; a one-cell
    # misalignment would be an O(1) difference).
    inner_full = full[0][:, 4 + 10 : 4 + 31, 4 + 12 : 4 + 34]
    inner_crop = crop[0][:, 4:-4, 4:-4]
    assert rel_err(inner_crop, inner_full) < 1e-3
    assert rel_err(inner_crop, full[0][:, 4 + 11 : 4 + 32, 4 + 12 : 4 + 34]) > 0.1


def test_survey_pad_per_side_and_none():
    p = _survey_problem(5)
    out = run(p, survey_pad=[2, None, 0, 3])
    # rows 16 .. 39 (None: to the model edge), columns 20 .. 28
    assert out[0].shape == (2, 24 + 8, 9 + 8)


def test_survey_pad_changes_result_once_boundary_is_reached():
    """Cropping is real: run long enough and the cropped PML is felt."""
    p = _survey_problem(80)
    assert rel_err(run(p, survey_pad=3)[6], run(p)[6]) > 1e-3


def test_origin_with_initial_wavefields():
    """Initial wavefields for the region starting at `origin` are
    simulated with that region of the model; locations stay in model
    coordinates."""
    gen = torch.Generator().manual_seed(0)
    p = make_problem(ny=26, nx=30, nt=18, n_shots=1, n_sources=1, n_receivers=2, seed=6, pml_width=3)
    oy, ox, sy, sx = 5, 7, 12, 14
    shape = (1, sy + 6, sx + 6)
    init = {
        n: torch.randn(shape, generator=gen, dtype=torch.float64)
        for n in ("wavefield_0", "wavefield_m1", "psiy_m1", "psix_m1", "zetay_m1", "zetax_m1")
    }
    src = torch.tensor([[[oy + 3, ox + 4]]])
    rec = torch.tensor([[[oy + 8, ox + 10], [oy + 1, ox + 2]]])
    a = run(p, source_locations=src, receiver_locations=rec, origin=[oy, ox], **init)
    b = run(
        p,
        v=p["v"][oy : oy + sy, ox : ox + sx],
        source_locations=src - torch.tensor([oy, ox]),
        receiver_locations=rec - torch.tensor([oy, ox]),
        **init,
    )
    assert a[0].shape == shape
    for x, y in zip(a, b):
        assert_close(x, y, 1e-14)
    # Origin matters: one row further down is a different model region.
    c = run(p, source_locations=src, receiver_locations=rec, origin=[oy + 1, ox], **init)
    assert rel_err(c[6], a[6]) > 1e-6


def test_initial_wavefields_continue_a_run():
    """Running 12 steps then 8 more from the returned state equals one run
    of 20 steps (PML fields included)."""
    p = make_problem(ny=14, nx=15, nt=20, n_shots=2, seed=7, pml_width=[3, 2, 4, 1])
    whole = run(p)
    first = run(p, source_amplitudes=p["source_amplitudes"][..., :12])
    names = ("wavefield_0", "wavefield_m1", "psiy_m1", "psix_m1", "zetay_m1", "zetax_m1")
    second = run(p, source_amplitudes=p["source_amplitudes"][..., 12:], **dict(zip(names, first[:6])))
    for x, y in zip(second[:6], whole[:6]):
        assert_close(x, y, 1e-12)
    assert_close(torch.cat([first[6], second[6]], dim=-1), whole[6], 1e-12)


# --------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("python_backend", [False, True])
@pytest.mark.parametrize("dt_fraction", [0.9, 2.5])
def test_forward_callback_count_steps_and_views(python_backend, dt_fraction):
    pml = [2, 3, 1, 4]
    p = make_problem(ny=10, nx=12, nt=23, n_shots=2, pml_width=pml, accuracy=6, dt_fraction=dt_fraction)
    seen = []

    def cb(state):
        assert isinstance(state, torchwave.CallbackState)
        seen.append(state.step)
        assert state.get_wavefield("wavefield_0").shape == (2, 10, 12)
        assert state.get_wavefield("wavefield_0", "inner").shape == (2, 10, 12)
        assert state.get_wavefield("psiy_m1", "pml").shape == (2, 10 + 5, 12 + 5)
        assert state.get_wavefield("zetax_m1", "full").shape == (2, 10 + 5 + 6, 12 + 5 + 6)
        assert state.get_model("v").shape[-2:] == (10, 12)
        assert_close(state.get_model("v")[0], p["v"], 0)
        assert set(state.wavefields) >= {"wavefield_0", "wavefield_m1", "psiy_m1", "psix_m1", "zetay_m1", "zetax_m1"}
        with pytest.raises(KeyError):
            state.get_wavefield("nope")
        with pytest.raises(ValueError, match="view"):
            state.get_wavefield("wavefield_0", "outer")

    run(p, forward_callback=cb, callback_frequency=5, python_backend=python_backend)
    assert seen == [0, 5, 10, 15, 20]
    seen.clear()
    run(p, forward_callback=cb, python_backend=python_backend)
    assert seen == list(range(23))


@pytest.mark.parametrize("python_backend", [False, True])
def test_forward_callback_sees_the_wavefield_at_that_step(python_backend):
    """At step k the callback sees u^k: the final wavefield of a k-step
    run, and the value the receivers record at sample k."""
    p = make_problem(ny=10, nx=12, nt=12, n_shots=2, pml_width=2, seed=2)
    snaps = {}

    def cb(state):
        snaps[state.step] = {n: state.get_wavefield(n, "pml").clone() for n in ("wavefield_0", "wavefield_m1", "psiy_m1")}
        snaps[state.step]["inner"] = state.get_wavefield("wavefield_0", "inner").clone()

    out = run(p, forward_callback=cb, callback_frequency=1, python_backend=python_backend)
    for k in (4, 7):
        part = run(p, source_amplitudes=p["source_amplitudes"][..., :k])
        assert_close(snaps[k]["wavefield_0"], part[0], 1e-13, f"u at step {k}")
        assert_close(snaps[k]["wavefield_m1"], part[1], 1e-13, f"u_prev at step {k}")
        assert torch.allclose(snaps[k]["psiy_m1"], part[2], atol=1e-14)
    loc = p["receiver_locations"]
    for k in range(12):
        for s in range(2):
            expect = snaps[k]["inner"][s, loc[s, :, 0], loc[s, :, 1]]
            assert torch.allclose(out[6][s, :, k], expect, rtol=0, atol=1e-14)


def test_backward_callback():
    p = make_problem(ny=10, nx=12, nt=23, n_shots=2, seed=4, pml_width=2)
    v = p["v"].clone().requires_grad_(True)
    calls = []

    def bcb(state):
        calls.append((state.step, state.get_gradient("v").clone(), state.get_wavefield("wavefield_0").clone()))

    out = run(p, v=v, backward_callback=bcb, callback_frequency=5)
    assert calls == []
    (g,) = _loss_and_grads(out, [v])
    assert [c[0] for c in calls] == [20, 15, 10, 5, 0]
    grads = [c[1] for c in calls]
    assert grads[0].shape[-2:] == (10, 12)
    # Accumulates over the backward pass; the last one is the whole
    # gradient (compared away from the model edges, where v.grad also
    # collects the PML cells, and away from the source cells, where the
    # source scaling −v²dt² adds a term outside the propagator).
    assert rel_err(grads[0], grads[-1]) > 1e-3
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask[1:-1, 1:-1] = True
    for s in range(2):
        for y, x in p["source_locations"][s].tolist():
            mask[y, x] = False
    g_cb = grads[-1].reshape(-1, 10, 12).sum(0)
    assert float(g[mask].abs().max()) > 0
    assert_close(g_cb[mask], g[mask], 1e-10)
    # The adjoint wavefield is not identically zero.
    assert float(calls[-1][2].abs().max()) > 0


def test_backward_callback_without_model_gradient():
    """With v not requiring grad there is no model gradient to report."""
    p = make_problem(ny=10, nx=12, nt=10, n_shots=1, seed=4)
    amps = p["source_amplitudes"].clone().requires_grad_(True)
    seen = []

    def bcb(state):
        seen.append(state.step)
        with pytest.raises(KeyError):
            state.get_gradient("v")

    out = run(p, source_amplitudes=amps, backward_callback=bcb, callback_frequency=3)
    out[6].sum().backward()
    assert seen == [9, 6, 3, 0]


def test_backward_callback_python_backend_not_silently_ignored():
    p = make_problem(ny=10, nx=12, nt=10, n_shots=1, seed=4)
    v = p["v"].clone().requires_grad_(True)
    seen = []
    try:
        out = run(p, v=v, backward_callback=lambda s: seen.append(s.step), python_backend=True)
        out[6].sum().backward()
    except (RuntimeError, NotImplementedError, ValueError):
        return
    assert seen, "backward_callback was neither called nor rejected"


@pytest.mark.parametrize("python_backend", [False, True])
@pytest.mark.parametrize("dt_fraction,callback_frequency", [(0.9, 3), (0.9, 4), (2.5, 2)])
def test_callbacks_do_not_change_results(python_backend, dt_fraction, callback_frequency):
    p = make_problem(ny=11, nx=12, nt=17, n_shots=2, seed=8, dt_fraction=dt_fraction)

    def outputs(**kw):
        v = p["v"].clone().requires_grad_(True)
        a = p["source_amplitudes"].clone().requires_grad_(True)
        out = run(p, v=v, source_amplitudes=a, python_backend=python_backend, **kw)
        return [o.detach() for o in out], _loss_and_grads(out, [v, a])

    plain, g_plain = outputs()
    cb = lambda state: None  # noqa: E731
    with_cb, g_cb = outputs(
        forward_callback=cb, backward_callback=None if python_backend else cb, callback_frequency=callback_frequency
    )
    for x, y in zip(with_cb, plain):
        assert_close(x, y, 1e-14)
    for x, y in zip(g_cb, g_plain):
        assert_close(x, y, 1e-14)


# --------------------------------------------------------------------------
# Storage modes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("python_backend", [False, True])
def test_storage_mode_none_gives_source_gradients(python_backend):
    p = make_problem(ny=10, nx=12, nt=14, n_shots=2, seed=10)
    grads = []
    for mode in ("device", "none"):
        a = p["source_amplitudes"].clone().requires_grad_(True)
        w0 = torch.zeros(2, 16, 18, dtype=torch.float64, requires_grad=True)
        out = run(p, source_amplitudes=a, wavefield_0=w0, storage_mode=mode, python_backend=python_backend)
        grads.append(_loss_and_grads(out, [a, w0]))
    for x, y in zip(grads[1], grads[0]):
        assert float(y.abs().max()) > 0
        assert_close(x, y, 1e-14)


@pytest.mark.parametrize("python_backend", [False, True])
def test_storage_mode_none_gives_zero_v_gradient_and_exact_source_gradient(python_backend):
    """As in Deepwave: with nothing stored, v's gradient is zero and the
    source amplitudes' is the usual one."""
    p = make_problem(ny=10, nx=12, nt=5, n_shots=1)

    def grads(**kw):
        v = p["v"].clone().requires_grad_(True)
        src = p["source_amplitudes"].clone().requires_grad_(True)
        run(p, v=v, source_amplitudes=src, python_backend=python_backend, **kw)[6].square().sum().backward()
        return v.grad, src.grad

    v_none, src_none = grads(storage_mode="none")
    v_dev, src_dev = grads()
    assert v_none is not None and torch.count_nonzero(v_none) == 0
    assert torch.count_nonzero(v_dev) > 0
    assert_close(src_none, src_dev, 1e-14)


def test_unknown_storage_mode():
    p = make_problem(ny=10, nx=12, nt=5, n_shots=1)
    with pytest.raises(ValueError, match="storage_mode"):
        run(p, storage_mode="gpu")


# --------------------------------------------------------------------------
# Ignored locations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("python_backend", [False, True])
def test_ignored_receivers_record_zero(python_backend):
    p = make_problem(ny=12, nx=12, nt=15, n_shots=2, n_receivers=3, seed=11)
    rec = p["receiver_locations"].clone()
    rec[0, 1] = IG
    rec[1, 2] = IG
    full = run(p, python_backend=python_backend)
    out = run(p, receiver_locations=rec, python_backend=python_backend)
    assert float(out[6][0, 1].abs().max()) == 0
    assert float(out[6][1, 2].abs().max()) == 0
    keep = torch.ones(2, 3, dtype=torch.bool)
    keep[0, 1] = keep[1, 2] = False
    assert float(full[6][~keep].abs().max()) > 0
    assert torch.equal(out[6][keep], full[6][keep])


@pytest.mark.parametrize("python_backend", [False, True])
def test_ignored_sources_have_no_effect(python_backend):
    p = make_problem(ny=12, nx=12, nt=15, n_shots=2, n_sources=3, seed=12)
    src = p["source_locations"].clone()
    src[:, 2] = IG
    # Two ignored entries in shot 0: ignored locations are exempt from the
    # duplicate check.
    src[0, 1] = IG
    out = run(p, source_locations=src, python_backend=python_backend)
    amps = p["source_amplitudes"].clone()
    amps[:, 2] = 0
    amps[0, 1] = 0
    ref = run(p, source_amplitudes=amps, python_backend=python_backend)
    for x, y in zip(out, ref):
        assert_close(x, y, 1e-14)


def test_all_ignored_with_survey_pad_uses_whole_model():
    p = make_problem(ny=12, nx=13, nt=5, n_shots=1, n_sources=1, n_receivers=1)
    out = run(p, source_locations=torch.full((1, 1, 2), IG), receiver_locations=torch.full((1, 1, 2), IG), survey_pad=2)
    assert out[0].shape == (1, 18, 19)
    assert float(out[0].abs().max()) == 0 and float(out[6].abs().max()) == 0


# --------------------------------------------------------------------------
# Threads and memory layout
# --------------------------------------------------------------------------


def test_thread_count_does_not_change_results(restore_threads):
    p = make_problem(ny=24, nx=20, nt=20, n_shots=2, seed=13, accuracy=8)

    def go():
        v = p["v"].clone().requires_grad_(True)
        out = run(p, v=v)
        return [o.detach() for o in out] + list(_loss_and_grads(out, [v]))

    torchwave.set_num_threads(1)
    assert torchwave.get_num_threads() == 1
    one = go()
    torchwave.set_num_threads(2)
    assert torchwave.get_num_threads() == 2
    two = go()
    torchwave.set_num_threads(7)  # more threads than rows per block is fine too
    seven = go()
    for a, b, c in zip(one, two, seven):
        assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_set_num_threads_rejects_bad_values(n):
    with pytest.raises(ValueError, match="set_num_threads"):
        torchwave.set_num_threads(n)


@pytest.mark.parametrize("python_backend", [False, True])
def test_non_contiguous_inputs(python_backend):
    p = make_problem(ny=11, nx=13, nt=12, n_shots=2, n_sources=2, n_receivers=3, seed=14, pml_width=2)
    gen = torch.Generator().manual_seed(1)
    v_t = p["v"].t().contiguous().t()  # transposed storage
    big = torch.randn(2, 2, 24, generator=gen, dtype=torch.float64)
    amps = big[..., ::2]  # strided in time
    src_t = p["source_locations"].permute(2, 1, 0).contiguous().permute(2, 1, 0)
    rec_t = p["receiver_locations"].permute(2, 1, 0).contiguous().permute(2, 1, 0)
    w0_big = torch.randn(2, 15, 34, generator=gen, dtype=torch.float64)
    w0 = w0_big[:, :, ::2]
    for t in (v_t, amps, src_t, rec_t, w0):
        assert not t.is_contiguous()

    def go(v, a, s, r, w):
        v = v.detach().requires_grad_(True)
        a = a.detach().requires_grad_(True)
        w = w.detach().requires_grad_(True)
        out = run(
            p, v=v, source_amplitudes=a, source_locations=s, receiver_locations=r, wavefield_0=w, python_backend=python_backend
        )
        return [o.detach() for o in out] + list(_loss_and_grads(out, [v, a, w]))

    strided = go(v_t, amps, src_t, rec_t, w0)
    packed = go(v_t.contiguous(), amps.contiguous(), src_t.contiguous(), rec_t.contiguous(), w0.contiguous())
    for x, y in zip(strided, packed):
        assert float(y.abs().max()) > 0
        assert torch.equal(x, y)


# --------------------------------------------------------------------------
# Wavelets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("peak_time", [None, 0.05])
def test_ricker(peak_time):
    freq, n, dt = 25.0, 200, 0.001
    w = wavelets.ricker(freq, n, dt, peak_time=peak_time)
    assert w.shape == (n,) and w.dtype == torch.float32
    t_peak = 1.5 / freq if peak_time is None else peak_time
    k = round(t_peak / dt)
    assert int(w.argmax()) == k
    assert abs(float(w[k]) - 1.0) < 1e-6
    # Symmetric about the peak, with the negative side lobes of a Ricker.
    assert torch.allclose(w[k - 20 : k], w[k + 1 : k + 21].flip(0), atol=1e-6)
    assert float(w.min()) < -0.4
    # Side-lobe minima at t_peak ± sqrt(6)/(2π f)·... i.e. ±sqrt(3/2)/(π f).
    lobe = round(math.sqrt(1.5) / (math.pi * freq) / dt)
    assert abs(int(w[:k].argmin()) - (k - lobe)) <= 1
    # Nearly zero mean (the Ricker has no DC component).
    assert abs(float(w.double().sum())) * dt < 1e-6


def test_ricker_dtype_and_empty():
    w = wavelets.ricker(10.0, 50, 0.004, dtype=torch.float64)
    assert w.dtype == torch.float64
    assert wavelets.ricker(10.0, 0, 0.004).shape == (0,)
    with pytest.raises(ValueError, match="freq"):
        wavelets.ricker(-1.0, 10, 0.001)
    with pytest.raises(ValueError, match="dt"):
        wavelets.ricker(10.0, 10, 0.0)


# --------------------------------------------------------------------------
# Snapshot buffer reuse
# --------------------------------------------------------------------------


def _v_grad(p, v):
    v = v.clone().requires_grad_(True)
    run(p, v=v)[6].square().sum().backward()
    return v.grad


def test_snapshot_buffer_is_reused_after_backward():
    import torchwave._storage

    p = make_problem(ny=12, nx=13, nt=15, n_shots=2, seed=21)
    torchwave.empty_cache()
    g1 = _v_grad(p, p["v"])
    kept = torchwave._storage.snapshot_pool._free
    assert kept is not None, "the buffer should come back once autograd releases it"
    ptr = kept.ctypes.data  # a NumPy buffer
    g2 = _v_grad(p, p["v"])
    assert torchwave._storage.snapshot_pool._free.ctypes.data == ptr  # the same memory served the second call
    assert torch.equal(g1, g2)
    torchwave.empty_cache()
    assert torchwave._storage.snapshot_pool._free is None


def test_live_graphs_keep_their_own_snapshots():
    """Two forward passes alive at once (as with accumulated shot batches)
    must not share snapshots: each backward gives its own exact gradient."""
    p = make_problem(ny=12, nx=13, nt=15, n_shots=1, seed=22)
    torchwave.empty_cache()
    _v_grad(p, p["v"])  # leave a buffer in the pool
    v1 = (p["v"] * 1.0).clone().requires_grad_(True)
    v2 = (p["v"] * 1.1).clone().requires_grad_(True)
    loss1 = run(p, v=v1)[6].square().sum()
    loss2 = run(p, v=v2)[6].square().sum()
    loss2.backward()
    loss1.backward()
    assert_close(v1.grad, _v_grad(p, p["v"] * 1.0), 1e-12, "first graph")
    assert_close(v2.grad, _v_grad(p, p["v"] * 1.1), 1e-12, "second graph")


def test_backward_callback_can_edit_the_gradient():
    """As in Deepwave: the gradient a backward callback gets is the one
    being accumulated, so zeroing it drops what was summed so far."""
    p = make_problem(ny=12, nx=14, nt=20, n_shots=2, seed=31)
    first = {}

    def record(state):
        first.setdefault("g", state.get_gradient("v").clone())

    def zero_first(state):
        if not first.get("zeroed"):
            state.get_gradient("v").zero_()
            first["zeroed"] = True

    def grad(**kw):
        v = p["v"].clone().requires_grad_(True)
        run(p, v=v, callback_frequency=5, **kw)[6].square().sum().backward()
        return v.grad

    full = grad(backward_callback=record)
    edited = grad(backward_callback=zero_first)
    assert float(first["g"].abs().max()) > 0, "the first callback must see a non-zero gradient"
    # Only the model region's part is edited; the PML's share stays.
    assert_close(edited, full - first["g"].reshape(full.shape), 1e-10)
    untouched = grad(backward_callback=lambda s: s.get_gradient("v"))
    assert torch.equal(untouched, full)
