"""torchwave.workflow: acquisition layouts, shot batches, losses, batched
gradients and curvature preconditioners."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import make_problem, rel_err

import torchwave
from torchwave import workflow


def test_expand_source_amplitude():
    w = torch.arange(5.0)
    out = workflow.expand_source_amplitude(w, 3, n_sources=2)
    assert out.shape == (3, 2, 5) and out.is_contiguous()
    assert torch.equal(out[2, 1], w)
    out[0, 0, 0] = 99.0  # a copy: editing one shot leaves the others alone
    assert out[1, 0, 0] == 0.0 and w[0] == 0.0
    with pytest.raises(ValueError, match="wavelet"):
        workflow.expand_source_amplitude(torch.zeros(2, 3), 3)
    with pytest.raises(ValueError, match="n_shots"):
        workflow.expand_source_amplitude(w, 0)


def test_line_acquisition_shared_and_paired():
    shared = workflow.line_acquisition_2d(torch.tensor([3, 5]), [1, 2, 4], source_depth=2, receiver_depth=7)
    assert shared.n_shots == 2
    assert shared.source_location.tolist() == [[[2, 3]], [[2, 5]]]
    assert shared.receiver_location.shape == (2, 3, 2)
    assert shared.receiver_location[1].tolist() == [[7, 1], [7, 2], [7, 4]]
    assert shared.receiver_locations is shared.receiver_location

    paired = workflow.line_acquisition_2d(torch.arange(4) + 8, torch.arange(4) + 12, source_depth=4, receiver_mode="paired")
    assert paired.receiver_location.shape == (4, 1, 2)
    assert paired.receiver_location[:, 0].tolist() == [[4, 12], [4, 13], [4, 14], [4, 15]]
    assert paired.source_location.dtype == torch.long

    with pytest.raises(ValueError, match="paired"):
        workflow.line_acquisition_2d([1, 2], [3], source_depth=1, receiver_mode="paired")
    with pytest.raises(ValueError, match="receiver_mode"):
        workflow.line_acquisition_2d([1], [3], source_depth=1, receiver_mode="both")
    with pytest.raises(TypeError, match="source_x"):
        workflow.line_acquisition_2d(torch.tensor([1.5]), [3], source_depth=1)
    with pytest.raises(ValueError, match="source_depth"):
        workflow.line_acquisition_2d([1], [3], source_depth=-1)


def test_split_and_take_shot_batch():
    batches = workflow.split_shots(7, 3)
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    shuffled = workflow.split_shots(7, 3, shuffle=True, generator=torch.Generator().manual_seed(1))
    assert sorted(torch.cat(shuffled).tolist()) == list(range(7))

    amps = torch.randn(7, 1, 4)
    locs = torch.randint(0, 9, (7, 2, 2))
    batch = workflow.take_shot_batch(source_amplitude=amps, receiver_location=locs, source_location=None, shot_indices=batches[1])
    assert torch.equal(batch.source_amplitude, amps[3:6])
    assert torch.equal(batch.receiver_location, locs[3:6])
    assert batch.source_location is None
    assert set(batch.as_kwargs()) == {"source_amplitude", "receiver_location", "source_location"}
    with pytest.raises(ValueError, match="receiver_location has 6 shots"):
        workflow.take_shot_batch(source_amplitude=amps, receiver_location=locs[:6], shot_indices=[0])
    with pytest.raises(IndexError, match="shot_indices"):
        workflow.take_shot_batch(source_amplitude=amps, shot_indices=[7])
    with pytest.raises(ValueError, match="batch_size"):
        workflow.split_shots(4, 0)


def _small_survey(n_shots=5, dtype=torch.float64):
    p = make_problem(ny=14, nx=16, nt=24, n_shots=n_shots, n_sources=1, n_receivers=4, dtype=dtype, seed=3)
    p.pop("nt", None)
    return p


def test_run_shot_batches_equals_one_call():
    p = _small_survey()
    full = torchwave.scalar(**p)[-1]
    batched = workflow.run_shot_batches(torchwave.scalar, n_shots=5, batch_size=2, **p)
    assert batched.shape == full.shape
    assert rel_err(batched, full) < 1e-12
    with pytest.raises(ValueError, match="source_amplitudes must have n_shots=6"):
        workflow.run_shot_batches(torchwave.scalar, n_shots=6, batch_size=2, **p)


def test_run_shot_batches_tensor_and_tuple_outputs():
    """Every shot comes back whether the propagator returns one tensor or a
    tuple, with batches of equal and of unequal size."""
    src = torch.arange(12.0).reshape(4, 1, 3)
    for batch_size in (1, 2, 3, 4, 5):
        out = workflow.run_shot_batches(
            lambda *, source_amplitude: 2 * source_amplitude, n_shots=4, batch_size=batch_size, source_amplitude=src
        )
        assert out.shape == (4, 1, 3) and torch.equal(out, 2 * src)

        def pair(*, source_amplitude):
            return source_amplitude.sum(-1), 3 * source_amplitude

        assert torch.equal(workflow.run_shot_batches(pair, n_shots=4, batch_size=batch_size, source_amplitude=src), 3 * src)
        chosen = workflow.run_shot_batches(pair, n_shots=4, batch_size=batch_size, output_index=0, source_amplitude=src)
        assert torch.equal(chosen, src.sum(-1))
        as_list = workflow.run_shot_batches(lambda **kw: list(pair(**kw)), n_shots=4, batch_size=batch_size, source_amplitude=src)
        assert torch.equal(as_list, 3 * src)

    with pytest.raises(TypeError, match="returned a single tensor"):
        workflow.run_shot_batches(
            lambda *, source_amplitude: source_amplitude, n_shots=4, batch_size=2, output_index=-1, source_amplitude=src
        )
    with pytest.raises(IndexError, match="output_index=2 is out of range"):
        workflow.run_shot_batches(pair, n_shots=4, batch_size=2, output_index=2, source_amplitude=src)
    with pytest.raises(ValueError, match="first dimension must be the shot"):
        workflow.run_shot_batches(lambda *, source_amplitude: source_amplitude[0], n_shots=4, batch_size=2, source_amplitude=src)
    with pytest.raises(TypeError, match="must return a tensor or a tuple"):
        workflow.run_shot_batches(lambda *, source_amplitude: 1.0, n_shots=4, batch_size=2, source_amplitude=src)


def test_receiver_mse_normalizations_sum_to_full():
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(6, 3, 10, generator=gen, dtype=torch.float64)
    pred = torch.randn(6, 3, 10, generator=gen, dtype=torch.float64)
    full = (pred - obs).square().mean()
    batches = workflow.split_shots(6, 4)
    parts = [workflow.receiver_mse_loss(pred[b], obs, b, normalization="all") for b in batches]
    assert math.isclose(float(sum(parts)), float(full), rel_tol=1e-13)
    b = batches[1]
    assert math.isclose(
        float(workflow.receiver_mse_loss(pred[b], obs, b)), float((pred[b] - obs[b]).square().mean()), rel_tol=1e-13
    )
    total = sum(workflow.receiver_mse_loss(pred[b], obs, b, normalization="sum") for b in batches)
    assert math.isclose(float(total), float((pred - obs).square().sum()), rel_tol=1e-13)
    assert math.isclose(float(workflow.receiver_mse_loss(pred, obs)), float(full), rel_tol=1e-13)
    with pytest.raises(ValueError, match="normalization"):
        workflow.receiver_mse_loss(pred, obs, normalization="mean")
    with pytest.raises(ValueError, match="shape"):
        workflow.receiver_mse_loss(pred[:2], obs, [0, 1, 2])


def _batched_problem():
    p = _small_survey(n_shots=5)
    with torch.no_grad():
        observed = torchwave.scalar(**p)[-1]
    v0 = (p.pop("v") * 0.97).requires_grad_()
    return p, v0, observed


def _batch_loss(p, v, observed):
    def loss(shots):
        batch = workflow.take_shot_batch(
            source_amplitudes=p["source_amplitudes"],
            source_locations=p["source_locations"],
            receiver_locations=p["receiver_locations"],
            shot_indices=shots,
        )
        rest = {k: val for k, val in p.items() if k not in batch.as_kwargs()}
        pred = torchwave.scalar(v, **rest, **batch.as_kwargs())[-1]
        return workflow.receiver_mse_loss(pred, observed, shots, normalization="all")

    return loss


@pytest.mark.parametrize("zero_each_batch", [False, True])
def test_backward_shot_batches_equals_full_gradient(zero_each_batch):
    p, v, observed = _batched_problem()
    loss_fn = _batch_loss(p, v, observed)
    full = loss_fn(torch.arange(5))
    full.backward()
    full_grad, v.grad = v.grad.clone(), None

    per_batch = []

    def record(number, shots, loss):
        per_batch.append((number, shots.tolist(), v.grad.clone()))

    total = workflow.backward_shot_batches(
        loss_fn, workflow.split_shots(5, 2), zero_each_batch=zero_each_batch, after_backward=record
    )
    assert math.isclose(total, float(full.detach()), rel_tol=1e-12)
    assert rel_err(v.grad, full_grad) < 1e-12
    assert [n for n, _, _ in per_batch] == [0, 1, 2]
    if zero_each_batch:  # each hook saw its own batch's gradient, and they sum to the total
        separate = sum(g for _, _, g in per_batch)
        assert rel_err(separate, full_grad) < 1e-12
        assert float(per_batch[2][2].abs().max()) > 0
        assert rel_err(per_batch[2][2], full_grad) > 1e-3  # not the running total
    else:  # gradients accumulate: the last hook saw the running total
        assert rel_err(per_batch[-1][2], full_grad) < 1e-12


def test_backward_shot_batches_errors():
    with pytest.raises(ValueError, match="empty"):
        workflow.backward_shot_batches(lambda s: torch.zeros((), requires_grad=True), [])
    with pytest.raises(TypeError, match="scalar tensor"):
        workflow.backward_shot_batches(lambda s: 1.0, [torch.arange(2)])


def test_curvature_preconditioner_diagonal_known_values():
    c = torch.tensor([[1.0, 4.0], [16.0, 4.0]], dtype=torch.float64)
    d = workflow.curvature_preconditioner_diagonal(c, damping=0.0, power=0.5, quantile=0.5)
    # median 4: c/4 = [.25, 1, 4, 1] -> ^-1/2 = [2, 1, .5, 1] -> mean 1.125
    expected = torch.tensor([[2.0, 1.0], [0.5, 1.0]], dtype=torch.float64) / 1.125
    assert torch.allclose(d, expected, rtol=1e-12)
    assert math.isclose(float(d.mean()), 1.0, rel_tol=1e-12)

    clipped = workflow.curvature_preconditioner_diagonal(c, damping=0.0, power=0.5, clip_min=0.5, clip_max=1.5)
    assert float(clipped.min()) == 0.5 and float(clipped.max()) == 1.5
    blended = workflow.curvature_preconditioner_diagonal(c, damping=0.0, power=0.5, blend=0.25)
    assert torch.allclose(blended, 0.25 * expected + 0.75, rtol=1e-12)

    mask = torch.tensor([[False, False], [True, False]])
    masked = workflow.curvature_preconditioner_diagonal(c, damping=0.0, power=0.5, inactive_mask=mask)
    # active values [.25, 1, 1]*... -> ^-1/2 [2, 1, 1] (median 4 of [1, 4, 4]) -> mean 4/3
    assert torch.allclose(masked[~mask], torch.tensor([1.5, 0.75, 0.75], dtype=torch.float64), rtol=1e-12)
    assert float(masked[1, 0]) == pytest.approx(0.75)


def test_curvature_preconditioner_smoothing_and_damping():
    c = torch.zeros(21, 21, dtype=torch.float64)
    c[10, 10] = 1.0
    smooth = workflow.curvature_preconditioner_diagonal(c + 1e-3, smooth_sigma=2.0, damping=0.1)
    assert bool(torch.isfinite(smooth).all()) and float(smooth.min()) > 0
    # the spike is spread: its neighbours get a smaller step than far cells
    assert float(smooth[10, 12]) < float(smooth[0, 0])
    assert float(smooth[10, 10]) == pytest.approx(float(smooth.min()))
    with pytest.raises(ValueError, match="NaN"):
        workflow.curvature_preconditioner_diagonal(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="clip_min"):
        workflow.curvature_preconditioner_diagonal(c, clip_min=2.0, clip_max=1.0)
    with pytest.raises(ValueError, match="inactive_mask"):
        workflow.curvature_preconditioner_diagonal(c, inactive_mask=torch.ones(3, dtype=torch.bool))


def test_curvature_preconditioner_block_is_inverse_of_damped_curvature():
    gen = torch.Generator().manual_seed(2)
    g1 = torch.randn(30, 6, 7, generator=gen, dtype=torch.float64)
    g2 = 1e-3 * (0.6 * g1 + torch.randn(30, 6, 7, generator=gen, dtype=torch.float64))  # other units, coupled
    c11, c12, c22 = (g1 * g1).sum(0), (g1 * g2).sum(0), (g2 * g2).sum(0)
    damping = 0.05
    h11, h12, h22 = workflow.curvature_preconditioner_block(c11, c12, c22, damping=damping, power=1.0)
    s1, s2 = torch.quantile(c11.flatten(), 0.5), torch.quantile(c22.flatten(), 0.5)
    C = torch.stack([torch.stack([c11 + damping * s1, c12], -1), torch.stack([c12, c22 + damping * s2], -1)], -2)
    H = torch.stack([torch.stack([h11, h12], -1), torch.stack([h12, h22], -1)], -2)
    product = H @ C  # proportional to the identity, with one constant for every cell
    k = product[..., 0, 0].mean()
    assert torch.allclose(product / k, torch.eye(2, dtype=torch.float64).expand_as(product), atol=1e-10)
    assert bool((h11 > 0).all()) and bool((h11 * h22 - h12 * h12 > 0).all())
    with pytest.raises(ValueError, match="one shape"):
        workflow.curvature_preconditioner_block(c11, c12[:3], c22)


def test_preconditioners_drive_lbfgs():
    """A diagonal built from the exact curvature of a badly scaled quadratic
    lets L-BFGS-B converge in a couple of iterations; the block form does
    the same for a coupled two-parameter quadratic."""
    import numpy as np

    from torchwave.optim import LBFGSOptions, lbfgs_minimize

    scales = torch.logspace(0, 4, 40, dtype=torch.float64)
    target = torch.linspace(-1, 1, 40, dtype=torch.float64).numpy()

    def quadratic(x, grad_out):
        r = x - target
        grad_out[:] = scales.numpy() * r
        return 0.5 * float((scales.numpy() * r * r).sum())

    options = LBFGSOptions(max_iter=100, gtol=1e-10)
    plain = lbfgs_minimize(quadratic, np.zeros(40), options=options)
    diag = workflow.curvature_preconditioner_diagonal(scales, damping=0.0, power=1.0)
    fast = lbfgs_minimize(quadratic, np.zeros(40), preconditioner=workflow.diagonal_preconditioner(diag), options=options)
    assert fast.success and np.allclose(fast.x, target, atol=1e-8)
    assert fast.iterations <= 3 < plain.iterations

    # Two coupled parameters per cell: H = [[a, b], [b, d]] per cell.
    m = 25
    gen = torch.Generator().manual_seed(4)
    a = 1 + 100 * torch.rand(m, generator=gen, dtype=torch.float64)
    d = 1e-2 * (1 + torch.rand(m, generator=gen, dtype=torch.float64))
    b = 0.8 * torch.sqrt(a * d)
    t1, t2 = torch.randn(m, generator=gen, dtype=torch.float64), torch.randn(m, generator=gen, dtype=torch.float64)

    def coupled(x, grad_out):
        r1, r2 = torch.from_numpy(x[:m]) - t1, torch.from_numpy(x[m:]) - t2
        g1, g2 = a * r1 + b * r2, b * r1 + d * r2
        grad_out[:m], grad_out[m:] = g1.numpy(), g2.numpy()
        return 0.5 * float((r1 * g1 + r2 * g2).sum())

    h11, h12, h22 = workflow.curvature_preconditioner_block(a, b, d, damping=0.0, power=1.0)
    block = lbfgs_minimize(coupled, np.zeros(2 * m), preconditioner=workflow.block_preconditioner(h11, h12, h22), options=options)
    unblocked = lbfgs_minimize(coupled, np.zeros(2 * m), options=options)
    assert block.success and np.allclose(block.x, torch.cat([t1, t2]).numpy(), atol=1e-7)
    assert block.iterations <= 3 < unblocked.iterations


def test_acoustic_receiver_index_and_batches():
    """run_shot_batches slices acoustic's survey arguments of every kind;
    acoustic_receiver_index picks the receiver output of each kind in 1D,
    2D and 3D (pressure first, the velocity components after it)."""
    assert [workflow.acoustic_receiver_index(k, 1) for k in "px"] == [-2, -1]
    assert [workflow.acoustic_receiver_index(k, 2) for k in "pyx"] == [-3, -2, -1]
    assert [workflow.acoustic_receiver_index(k, 3) for k in "pzyx"] == [-4, -3, -2, -1]
    with pytest.raises(ValueError, match=r"kind must be one of \['p', 'y', 'x'\] in 2D, got 'z'"):
        workflow.acoustic_receiver_index("z", 2)
    with pytest.raises(ValueError, match="ndim must be 1, 2 or 3"):
        workflow.acoustic_receiver_index("p", 4)

    gen = torch.Generator().manual_seed(3)
    shape = (8, 9, 10)
    v = 1500.0 + 300.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    rho = 1000.0 + 500.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    n_shots, nt = 3, 20
    src = torch.randn(n_shots, 1, nt, generator=gen, dtype=torch.float64)
    src_loc = torch.tensor([[[2, 3, 1 + i]] for i in range(n_shots)])
    rec_loc = torch.tensor([[[5, 5, 2 + i], [6, 4, 7]] for i in range(n_shots)])
    p = dict(grid_spacing=5.0, dt=5e-4, pml_width=2, pml_freq=25.0, max_vel=1800.0)
    survey = dict(source_amplitudes_z=src, source_locations_z=src_loc, receiver_locations_p=rec_loc, receiver_locations_y=rec_loc)
    with torch.no_grad():
        whole = torchwave.acoustic(v, rho, **p, **survey)
        for kind in "py":
            index = workflow.acoustic_receiver_index(kind, 3)
            batched = workflow.run_shot_batches(
                torchwave.acoustic, n_shots=n_shots, batch_size=2, output_index=index, v=v, rho=rho, **p, **survey
            )
            assert batched.shape == (n_shots, 2, nt) and float(batched.abs().max()) > 0
            assert rel_err(batched, whole[index]) < 1e-12


def test_curvature_preconditioners_in_3d_and_in_other_units():
    """Smoothing spreads a spike along all three axes of a 3D curvature; the
    block preconditioner is covariant under a change of units of one
    parameter (density in g/cm³ instead of kg/m³: p2 → p2/1000, so
    c12 → 1000·c12, c22 → 10⁶·c22 and h12 → h12/1000, h22 → h22/10⁶),
    so the step it gives in each parameter's own units is the same."""
    c = torch.full((9, 9, 9), 1e-3, dtype=torch.float64)
    c[4, 4, 4] = 1.0
    d = workflow.curvature_preconditioner_diagonal(c, smooth_sigma=1.0, damping=0.1)
    for neighbour in ((2, 4, 4), (4, 2, 4), (4, 4, 2)):  # spread the same way along z, y and x
        assert float(d[neighbour]) == pytest.approx(float(d[2, 4, 4]), rel=1e-12)
        assert float(d[neighbour]) < float(d[0, 0, 0])

    gen = torch.Generator().manual_seed(8)
    g1 = torch.randn(20, 5, 6, 7, generator=gen, dtype=torch.float64)
    g2 = 1e-4 * (0.7 * g1 + torch.randn(20, 5, 6, 7, generator=gen, dtype=torch.float64))
    c11, c12, c22 = (g1 * g1).sum(0), (g1 * g2).sum(0), (g2 * g2).sum(0)
    options = dict(smooth_sigma=1.0, damping=0.05, power=1.0, clip_min=0.05, clip_max=20.0, blend=0.9)
    h11, h12, h22 = workflow.curvature_preconditioner_block(c11, c12, c22, **options)
    alpha = 1e3
    k11, k12, k22 = workflow.curvature_preconditioner_block(c11, alpha * c12, alpha**2 * c22, **options)
    assert rel_err(k11, h11) < 1e-12 and rel_err(k12, h12 / alpha) < 1e-12 and rel_err(k22, h22 / alpha**2) < 1e-12
    assert bool((h11 * h22 - h12 * h12 > 0).all())
