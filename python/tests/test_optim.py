"""torchwave.optim: L-BFGS-B in Go against scipy's L-BFGS-B."""

import math

import numpy as np
import pytest
import scipy.optimize as so
import torch

from torchwave import optim
from torchwave.optim import BlockPreconditioner, DiagonalPreconditioner, LBFGSOptions, lbfgs_minimize

TIGHT = dict(gtol=1e-10, ftol=1e-15)


def rosen(x, grad_out):
    grad_out[...] = so.rosen_der(x)
    return so.rosen(x)


def rosen_start(n):
    x0 = np.full(n, -1.2)
    x0[1::2] = 1.0
    return x0


def scipy_lbfgsb(fun, x0, lower=None, upper=None, **tol):
    bounds = None
    if lower is not None or upper is not None:
        lo = np.broadcast_to(-np.inf if lower is None else lower, x0.shape)
        hi = np.broadcast_to(np.inf if upper is None else upper, x0.shape)
        bounds = so.Bounds(lo, hi)
    options = {"gtol": tol.get("gtol", 1e-5), "ftol": tol.get("ftol", 2.220446049250313e-09)}
    return so.minimize(optim.scipy_objective(fun), x0, jac=True, method="L-BFGS-B", bounds=bounds, options=options)


def compare(fun, x0, lower=None, upper=None, atol=1e-8, **tol):
    ours = lbfgs_minimize(fun, x0, lower_bounds=lower, upper_bounds=upper, options=LBFGSOptions(**tol))
    ref = scipy_lbfgsb(fun, x0, lower, upper, **tol)
    assert ours.success, ours.message
    np.testing.assert_allclose(ours.x, ref.x, rtol=0, atol=atol)
    assert abs(ours.f - ref.fun) <= 1e-12 * max(1.0, abs(ref.fun))
    assert ours.evaluations <= 1.5 * ref.nfev, (ours.evaluations, ref.nfev)
    return ours, ref


@pytest.mark.parametrize("n, atol", [(2, 1e-8), (50, 1e-6)])
def test_rosenbrock_unbounded_matches_scipy(n, atol):
    # n = 50 is ill-conditioned near (1, ..., 1): at f ~ 1e-14 the
    # minimiser is only determined to ~1e-7, for scipy and for us alike.
    ours, ref = compare(rosen, rosen_start(n), atol=atol, **TIGHT)
    np.testing.assert_allclose(ours.x, 1.0, atol=atol)
    np.testing.assert_allclose(ref.x, 1.0, atol=atol)


def test_rosenbrock_default_tolerances_track_scipy_iterates():
    # With scipy's defaults both stop early; the iterates agree closely
    # because the algorithm (Cauchy point, subspace step, dcsrch) is the same.
    ours = lbfgs_minimize(rosen, rosen_start(2))
    ref = scipy_lbfgsb(rosen, rosen_start(2))
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-12)
    assert (ours.iterations, ours.evaluations) == (ref.nit, ref.nfev)


def test_rosenbrock_active_bound_n2():
    ours, _ = compare(rosen, rosen_start(2), [-2.0, -2.0], [0.5, 2.0], **TIGHT)
    assert ours.x[0] == 0.5  # active bound held exactly
    np.testing.assert_allclose(ours.x[1], 0.25, atol=1e-9)


def test_rosenbrock_active_bounds_n50():
    lower = np.full(50, -2.0)
    upper = np.where(np.arange(50) % 2 == 0, 0.9, 2.0)
    ours, ref = compare(rosen, rosen_start(50), lower, upper, atol=1e-7, **TIGHT)
    active = (ref.x == upper) | (ref.x == lower)
    assert active.sum() >= 20
    np.testing.assert_array_equal(ours.x[active], ref.x[active])


def spd_matrix(n, seed=0, cond=100.0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return (q * np.geomspace(1, cond, n)) @ q.T


def quadratic(h, b):
    def fun(x, grad_out):
        hx = h @ x
        grad_out[...] = hx - b
        return 0.5 * x @ hx - b @ x

    return fun


def test_bound_constrained_quadratic_diagonal_known_solution():
    n = 40
    h = np.linspace(1, 20, n)
    a = 2 * np.sin(3 * np.arange(n))
    lower, upper = np.full(n, -1.0), np.full(n, 1.0)
    lower[::5] = -np.inf
    ours, _ = compare(quadratic(np.diag(h), h * a), np.zeros(n), lower, upper, atol=1e-9, **TIGHT)
    np.testing.assert_allclose(ours.x, np.clip(a, lower, upper), atol=1e-9)


def test_bound_constrained_quadratic_coupled_matches_scipy():
    n = 30
    h = spd_matrix(n)
    b = np.random.default_rng(1).standard_normal(n) * 5
    ours, ref = compare(quadratic(h, b), np.zeros(n), -0.3, 0.4, atol=1e-7, **TIGHT)
    assert ((ref.x == -0.3) | (ref.x == 0.4)).sum() >= 3


def test_identity_preconditioner_equals_none_bitwise():
    x0 = rosen_start(8)
    lower = np.full(8, -2.0)
    lower[3] = 0.5
    opts = LBFGSOptions(gtol=1e-9)
    plain = lbfgs_minimize(rosen, x0, lower_bounds=lower, upper_bounds=1.5, options=opts)
    ident = lbfgs_minimize(
        rosen, x0, lower_bounds=lower, upper_bounds=1.5, options=opts, preconditioner=DiagonalPreconditioner(np.ones(8))
    )
    np.testing.assert_array_equal(plain.x, ident.x)
    assert (plain.iterations, plain.evaluations, plain.f) == (ident.iterations, ident.evaluations, ident.f)
    # An identity made of 2x2 blocks sums in another order: equal to
    # rounding, which grows slowly over the iterations.
    identity_blocks = BlockPreconditioner(np.ones(4), np.zeros(4), np.ones(4))
    for max_iter, atol in ((8, 1e-14), (1000, 1e-9)):
        opts = LBFGSOptions(gtol=1e-9, max_iter=max_iter)
        plain = lbfgs_minimize(rosen, x0, lower_bounds=lower, upper_bounds=1.5, options=opts)
        block = lbfgs_minimize(rosen, x0, lower_bounds=lower, upper_bounds=1.5, options=opts, preconditioner=identity_blocks)
        assert block.iterations == plain.iterations
        np.testing.assert_allclose(block.x, plain.x, rtol=0, atol=atol)


def test_diagonal_preconditioner_inverse_hessian_converges_at_once():
    n = 100
    h = 10.0 ** (np.arange(n) % 6)
    a = (np.arange(n) % 3) - 1.0
    fun = quadratic(np.diag(h), h * a)
    opts = LBFGSOptions(gtol=1e-8)
    pre = lbfgs_minimize(fun, np.zeros(n), preconditioner=DiagonalPreconditioner(1 / h), options=opts)
    plain = lbfgs_minimize(fun, np.zeros(n), options=opts)
    assert pre.success and pre.iterations <= 2, pre
    assert plain.iterations >= 5 * pre.iterations
    np.testing.assert_allclose(pre.x, a, atol=1e-9)


def test_block_preconditioner_on_coupled_quadratic():
    m = 25
    h11 = 1.0 + np.arange(m)
    h22 = np.full(m, 100.0)
    h12 = 0.9 * np.sqrt(h11 * h22)
    det = h11 * h22 - h12**2
    b = np.concatenate([np.ones(m), -np.ones(m)])

    def fun(x, grad_out):
        u, v = x[:m], x[m:]
        gu, gv = h11 * u + h12 * v, h12 * u + h22 * v
        grad_out[:m], grad_out[m:] = gu - b[:m], gv - b[m:]
        return 0.5 * (u @ gu + v @ gv) - b @ x

    pre = BlockPreconditioner(torch.tensor(h22 / det), torch.tensor(-h12 / det), torch.tensor(h11 / det))
    opts = LBFGSOptions(gtol=1e-7, ftol=0)
    with_p = lbfgs_minimize(fun, np.zeros(2 * m), preconditioner=pre, options=opts)
    without = lbfgs_minimize(fun, np.zeros(2 * m), options=opts)
    assert with_p.success and with_p.iterations <= 2 < without.iterations
    want = np.concatenate([(h22 * b[:m] - h12 * b[m:]) / det, (h11 * b[m:] - h12 * b[:m]) / det])
    np.testing.assert_allclose(with_p.x, want, rtol=1e-8)


def test_nonfinite_at_start_is_reported():
    def fun(x, grad_out):
        grad_out[...] = 1.0
        return math.nan

    r = lbfgs_minimize(fun, np.ones(3))
    assert r.status == "nonfinite_start" and not r.success and r.evaluations == 1
    assert "starting point" in r.message


def test_nonfinite_along_the_step_backtracks_and_converges():
    seen = []

    def fun(x, grad_out):
        if x[0] > 1.5:
            seen.append(x[0])
            grad_out[...] = np.nan
            return math.inf
        return rosen(x, grad_out)

    r = lbfgs_minimize(fun, rosen_start(2), options=LBFGSOptions(**TIGHT))
    assert seen and r.success
    np.testing.assert_allclose(r.x, 1.0, atol=1e-7)


def test_nonfinite_everywhere_but_start_stops_clearly():
    x0 = np.array([3.0, 4.0])

    def fun(x, grad_out):
        grad_out[...] = x
        return 1.0 if np.array_equal(x, x0) else math.nan

    r = lbfgs_minimize(fun, x0)
    assert r.status == "nonfinite" and "non-finite" in r.message
    np.testing.assert_array_equal(r.x, x0)


def test_limits():
    r = lbfgs_minimize(rosen, rosen_start(2), options=LBFGSOptions(max_iter=3))
    assert (r.status, r.iterations, r.success) == ("max_iter", 3, False)
    r = lbfgs_minimize(rosen, rosen_start(2), options=LBFGSOptions(max_evaluations=7))
    assert (r.status, r.evaluations) == ("max_evaluations", 7)


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_exception_in_objective_propagates_and_frees(exc):
    calls = []

    def fun(x, grad_out):
        calls.append(1)
        if len(calls) == 3:
            raise exc
        return rosen(x, grad_out)

    with pytest.raises(type(exc)):
        lbfgs_minimize(fun, rosen_start(2))
    assert not optim._live_handles
    assert lbfgs_minimize(rosen, rosen_start(2)).success  # the library still works


def test_float32_dtype_shape_and_isolation():
    x0 = np.full((3, 4), 0.5, dtype=np.float32)

    def fun(x, grad_out):
        assert x.dtype == np.float64 and x.shape == (3, 4) and grad_out.shape == (3, 4)
        f = float(((x - 2) ** 2).sum())
        grad_out[...] = 2 * (x - 2)
        x[...] = 1e9  # must not disturb the solver
        return f

    r = lbfgs_minimize(fun, x0, upper_bounds=1.5)
    assert r.x.dtype == np.float32 and r.x.shape == (3, 4) and r.success
    np.testing.assert_array_equal(r.x, 1.5)
    r = lbfgs_minimize(fun, torch.full((3, 4), 0.5, dtype=torch.float64), upper_bounds=1.5)
    assert r.x.dtype == np.float64


def test_start_outside_bounds_is_projected():
    seen = []

    def fun(x, grad_out):
        seen.append(x.copy())
        grad_out[...] = 2 * x
        return float(x @ x)

    lbfgs_minimize(fun, np.array([5.0, -5.0]), lower_bounds=[1.0, -2.0], upper_bounds=[2.0, 3.0])
    np.testing.assert_array_equal(seen[0], [2.0, -2.0])


def test_callback_trace_and_progress():
    seen = []

    def callback(res):
        seen.append((res.iterations, res.f))
        return res.iterations == 4

    r = lbfgs_minimize(rosen, rosen_start(2), callback=callback, options=LBFGSOptions(trace=True, progress=True))
    assert r.status == "callback" and r.iterations == 4 and not r.success
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert [t["iteration"] for t in r.trace] == [1, 2, 3, 4]
    assert all(b["f"] <= a["f"] for a, b in zip(r.trace, r.trace[1:]))


def test_scipy_adapters():
    target = torch.linspace(-1, 1, 12, dtype=torch.float64).reshape(3, 4)

    def loss_fn(model):
        return ((model - target) ** 2).sum() + (model**4).sum()

    objective = optim.torch_objective(loss_fn, torch.zeros(3, 4, dtype=torch.float32))
    fun = optim.scipy_objective(objective)
    f, g = fun(np.zeros(12))
    assert isinstance(f, float) and g.dtype == np.float64 and g.shape == (12,)
    ref = so.minimize(fun, np.zeros(12), jac=True, method="L-BFGS-B", bounds=[(-0.5, 0.5)] * 12)
    ours = lbfgs_minimize(objective, np.zeros(12), lower_bounds=-0.5, upper_bounds=0.5)
    np.testing.assert_allclose(ours.x, ref.x, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(x0=np.array([np.nan, 1.0])), ValueError, "x0 must be finite"),
        (dict(x0=np.zeros(0)), ValueError, "x0 is empty"),
        (dict(x0="abc"), TypeError, "x0"),
        (dict(lower_bounds=np.zeros(3)), ValueError, "lower_bounds has shape"),
        (dict(lower_bounds=[0.0, 2.0], upper_bounds=[1.0, 1.0]), ValueError, "lower_bounds exceeds upper_bounds at flat index 1"),
        (dict(upper_bounds=[np.nan, 1.0]), ValueError, "upper_bounds contains NaN"),
        (dict(lower_bounds=np.inf), ValueError, "lower_bounds contains inf"),
        (dict(options=LBFGSOptions(max_iter=0)), ValueError, "max_iter"),
        (dict(options=LBFGSOptions(gtol=-1.0)), ValueError, "gtol"),
        (dict(options=dict(max_iter=3)), TypeError, "LBFGSOptions"),
        (dict(preconditioner=np.ones(2)), TypeError, "preconditioner must be"),
        (dict(preconditioner=DiagonalPreconditioner(np.ones(3))), ValueError, "3 entries, x0 has 2"),
        (dict(preconditioner=BlockPreconditioner([1.0, 1.0], [0.0, 0.0], [1.0, 1.0])), ValueError, "x0 of size 4"),
        (dict(callback=3), TypeError, "callback"),
    ],
)
def test_bad_input(kwargs, error, match):
    x0 = kwargs.pop("x0", np.zeros(2))
    with pytest.raises(error, match=match):
        lbfgs_minimize(rosen, x0, **kwargs)


def test_bad_preconditioners_and_objective():
    with pytest.raises(ValueError, match="entry 1 is 0.0"):
        DiagonalPreconditioner([1.0, 0.0])
    with pytest.raises(ValueError, match="block 0"):
        BlockPreconditioner([1.0], [2.0], [1.0])
    with pytest.raises(ValueError, match="same size"):
        BlockPreconditioner([1.0], [0.0, 0.0], [1.0])
    with pytest.raises(TypeError, match="objective must be callable"):
        lbfgs_minimize(None, np.zeros(2))
    with pytest.raises(TypeError, match="objective must return a float"):
        lbfgs_minimize(lambda x, g: None, np.zeros(2))
    assert not optim._live_handles
