"""L-BFGS-B for box-constrained minimisation, with the iteration in Go.

``lbfgs_minimize`` runs the limited-memory BFGS-B method (Byrd, Lu, Nocedal
and Zhu; with the Morales–Nocedal subspace step) in torchwave's Go core, on
gonum, in float64. The Go side never calls Python: it returns a task ("evaluate
at x", "new iterate", "done") and this module evaluates the objective between
calls, so an exception or Ctrl-C in the objective stops the run cleanly and
propagates, and the Go solver is always freed.

The objective has the form ``objective(x, grad_out) -> float``: ``x`` is a
float64 numpy array of x0's shape (a fresh copy each call, so writing to it
cannot disturb the solver), ``grad_out`` a zeroed float64 array of the same
shape for the objective to fill with the gradient.

``scipy_objective`` turns such an objective into ``fun(x) -> (f, g)`` for
``scipy.optimize.minimize(..., jac=True)``, and ``torch_objective`` builds
one from a loss on a model tensor, so one loss serves both optimisers.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ._lib import library, new_error_buffer, raise_for_status

__all__ = [
    "BlockPreconditioner",
    "DiagonalPreconditioner",
    "LBFGSOptions",
    "OptimizerResult",
    "lbfgs_minimize",
    "scipy_objective",
    "torch_objective",
]

_EVALUATE, _NEW_ITERATION, _CONVERGED, _STOPPED, _FAILED = range(5)
_PRECOND_NONE, _PRECOND_DIAGONAL, _PRECOND_BLOCK = range(3)
# Go's lbfgsb.Reason, in order, as result.status.
_STATUS = {
    1: "gtol",
    2: "ftol",
    3: "max_iter",
    4: "max_evaluations",
    5: "line_search_failed",
    6: "nonfinite_start",
    7: "nonfinite",
}
_SUCCESS = ("gtol", "ftol")
_TINY = 5e-324  # stands for a tolerance of zero (Go reads 0 as "default")

_c_double_p = ctypes.POINTER(ctypes.c_double)
_live_handles: set[int] = set()


_lib = library()


def _ptr(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(_c_double_p)


def _float64_array(value: Any, name: str) -> np.ndarray:
    """A contiguous float64 copy of a numpy array, tensor or sequence."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.is_complex():
            raise TypeError(f"{name} must be real, got a complex tensor")
        value = value.to(torch.float64).numpy()
    try:
        a = np.array(value, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a real array or tensor: {e}") from None
    return a


@dataclass
class LBFGSOptions:
    """Settings of ``lbfgs_minimize``; the defaults are scipy's L-BFGS-B ones.

    max_iter, max_evaluations: stop after this many iterations or objective
    evaluations (the optimiser never asks for more than max_evaluations).
    history_size: correction pairs kept (scipy's ``maxcor``).
    gtol: stop when the projected gradient's infinity norm is <= gtol.
    ftol: stop when (f_k - f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) <= ftol.
    max_line_search: evaluations one line search may use (scipy's ``maxls``).
    progress: show a tqdm progress bar over the iterations.
    trace: record one entry per iteration in ``result.trace``.
    """

    max_iter: int = 15000
    max_evaluations: int = 15000
    history_size: int = 10
    gtol: float = 1e-5
    ftol: float = 2.2204460492503131e-09
    max_line_search: int = 20
    progress: bool = False
    trace: bool = False

    def _validate(self) -> None:
        for name in ("max_iter", "max_evaluations", "history_size", "max_line_search"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"LBFGSOptions.{name} must be a positive int, got {v!r}")
        if self.history_size > 1000:
            raise ValueError(f"LBFGSOptions.history_size must be at most 1000, got {self.history_size}")
        for name in ("gtol", "ftol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not (0 <= v < math.inf):
                raise ValueError(f"LBFGSOptions.{name} must be a finite number >= 0, got {v!r}")


@dataclass
class OptimizerResult:
    """Outcome of ``lbfgs_minimize``.

    x has x0's shape and dtype (float64 inside); f and grad are the objective
    and its gradient (float64) at x. status is one of "gtol", "ftol"
    (converged: success is True), "max_iter", "max_evaluations",
    "callback" (the callback returned True), "line_search_failed",
    "nonfinite_start" (the objective or gradient is NaN/inf at x0) or
    "nonfinite" (they stayed NaN/inf along the search direction however
    short the step); message says it in words. trace holds one dict per
    iteration (iteration, f, projected_gradient_norm, evaluations) when
    ``LBFGSOptions.trace`` is set.
    """

    x: np.ndarray
    f: float
    grad: np.ndarray
    iterations: int
    evaluations: int
    status: str
    message: str
    success: bool
    projected_gradient_norm: float = math.nan
    trace: list[dict[str, float]] = field(default_factory=list)


class DiagonalPreconditioner:
    """P = diag(diagonal), the initial inverse Hessian up to a scale: scale
    it like the inverse curvature of each variable. Entries must be finite
    and positive; numpy arrays and tensors (any device) are accepted."""

    def __init__(self, diagonal):
        d = _float64_array(diagonal, "DiagonalPreconditioner diagonal").reshape(-1)
        if d.size == 0:
            raise ValueError("DiagonalPreconditioner diagonal is empty")
        bad = np.flatnonzero(~(np.isfinite(d) & (d > 0)))
        if bad.size:
            raise ValueError(f"DiagonalPreconditioner diagonal must be finite and positive; entry {bad[0]} is {d[bad[0]]}")
        self.diagonal = d

    def _arrays(self, n: int):
        if self.diagonal.size != n:
            raise ValueError(f"preconditioner: DiagonalPreconditioner has {self.diagonal.size} entries, x0 has {n}")
        return _PRECOND_DIAGONAL, (self.diagonal, None, None)


class BlockPreconditioner:
    """P made of symmetric 2×2 blocks [[h11[i], h12[i]], [h12[i], h22[i]]]
    coupling x[i] with x[m + i], for x of size n = 2m (two stacked
    parameter fields of m values each). Every block must be finite and
    positive definite; numpy arrays and tensors are accepted."""

    def __init__(self, h11, h12, h22):
        arrays = [
            _float64_array(v, f"BlockPreconditioner {name}").reshape(-1) for v, name in ((h11, "h11"), (h12, "h12"), (h22, "h22"))
        ]
        if len({a.size for a in arrays}) != 1:
            raise ValueError(f"BlockPreconditioner h11, h12, h22 must have the same size, got {[a.size for a in arrays]}")
        a, b, c = arrays
        if a.size == 0:
            raise ValueError("BlockPreconditioner blocks are empty")
        with np.errstate(all="ignore"):
            ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(c) & (a > 0) & (c > 0) & (a * c - b * b > 0)
        bad = np.flatnonzero(~ok)
        if bad.size:
            i = bad[0]
            raise ValueError(
                f"BlockPreconditioner blocks must be finite and positive definite; block {i} is "
                f"[[{a[i]}, {b[i]}], [{b[i]}, {c[i]}]]"
            )
        self.h11, self.h12, self.h22 = a, b, c

    def _arrays(self, n: int):
        if 2 * self.h11.size != n:
            raise ValueError(
                f"preconditioner: BlockPreconditioner has {self.h11.size} blocks, which needs x0 of size "
                f"{2 * self.h11.size}; x0 has {n}"
            )
        return _PRECOND_BLOCK, (self.h11, self.h12, self.h22)


def _bounds(value, name: str, shape, default: float) -> np.ndarray | None:
    if value is None:
        return None
    a = _float64_array(value, name)
    try:
        a = np.ascontiguousarray(np.broadcast_to(a, shape), dtype=np.float64).reshape(-1)
    except ValueError:
        raise ValueError(f"{name} has shape {a.shape}, which does not broadcast to x0's shape {shape}") from None
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN (use -inf/+inf or None for no bound)")
    if np.isinf(a).any() and (a == -default).any():
        side = "lower" if default < 0 else "upper"
        raise ValueError(f"{name} contains {-default}, which no {side} bound may be")
    return a


def lbfgs_minimize(
    objective: Callable[[np.ndarray, np.ndarray], float],
    x0,
    *,
    lower_bounds=None,
    upper_bounds=None,
    preconditioner: DiagonalPreconditioner | BlockPreconditioner | None = None,
    options: LBFGSOptions | None = None,
    callback: Callable[[OptimizerResult], bool | None] | None = None,
) -> OptimizerResult:
    """Minimises ``objective`` from x0 within ``lower_bounds <= x <=
    upper_bounds`` by L-BFGS-B.

    objective(x, grad_out) -> float: see the module docstring.
    x0: array or tensor (float32 or float64, any shape); result.x has its
    shape and dtype. A start outside the bounds is projected onto them, as
    scipy does.
    lower_bounds, upper_bounds: None (unbounded), a scalar or an array that
    broadcasts to x0's shape; -inf/+inf entries leave that side unbounded.
    preconditioner: a DiagonalPreconditioner or BlockPreconditioner, used as
    the initial inverse Hessian (scaled at every iteration).
    callback(result_so_far) runs after every iteration; returning True stops
    the run with status "callback".
    """
    if not callable(objective):
        raise TypeError(f"objective must be callable as objective(x, grad_out) -> float, got {objective!r}")
    if options is None:
        options = LBFGSOptions()
    if not isinstance(options, LBFGSOptions):
        raise TypeError(f"options must be an LBFGSOptions, got {type(options).__name__}")
    options._validate()
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")

    dtype = x0.dtype if isinstance(x0, (np.ndarray, torch.Tensor)) else None
    out_dtype = np.float32 if dtype in (np.float32, torch.float32) else np.float64
    if (
        isinstance(x0, torch.Tensor)
        and (x0.is_complex() or not x0.is_floating_point())
        and x0.dtype
        not in (
            torch.int32,
            torch.int64,
        )
    ):
        raise TypeError(f"x0 must be a real tensor, got dtype {x0.dtype}")
    x = _float64_array(x0, "x0")
    shape = x.shape
    x = x.reshape(-1)
    n = x.size
    if n == 0:
        raise ValueError("x0 is empty")
    if not np.isfinite(x).all():
        raise ValueError(f"x0 must be finite; entry {int(np.flatnonzero(~np.isfinite(x))[0])} is not")
    lower = _bounds(lower_bounds, "lower_bounds", shape, -math.inf)
    upper = _bounds(upper_bounds, "upper_bounds", shape, math.inf)
    if lower is not None and upper is not None and (lower > upper).any():
        i = int(np.flatnonzero(lower > upper)[0])
        raise ValueError(f"lower_bounds exceeds upper_bounds at flat index {i}: {lower[i]} > {upper[i]}")
    # A start outside the box is projected onto it (as scipy does); Go
    # projects its copy the same way.
    if lower is not None:
        x = np.maximum(x, lower)
    if upper is not None:
        x = np.minimum(x, upper)

    kind, (p1, p2, p3) = _PRECOND_NONE, (None, None, None)
    if preconditioner is not None:
        if not isinstance(preconditioner, (DiagonalPreconditioner, BlockPreconditioner)):
            raise TypeError(
                f"preconditioner must be a DiagonalPreconditioner or BlockPreconditioner, got {type(preconditioner).__name__}"
            )
        kind, (p1, p2, p3) = preconditioner._arrays(n)

    errbuf = new_error_buffer()
    handle = ctypes.c_int64(0)
    status = _lib.tw_lbfgsb_new(
        n, _ptr(x), _ptr(lower), _ptr(upper), options.history_size,
        options.gtol or _TINY, options.ftol or _TINY,
        options.max_iter, options.max_evaluations, options.max_line_search,
        kind, _ptr(p1), _ptr(p2), _ptr(p3), ctypes.byref(handle), errbuf, len(errbuf),
    )  # fmt: skip
    raise_for_status(status, errbuf, "lbfgs_minimize")
    h = handle.value
    _live_handles.add(h)
    bar = None
    try:
        if options.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=options.max_iter, desc="L-BFGS-B", unit="it")
        return _run(h, objective, x, shape, out_dtype, options, callback, bar)
    finally:
        if bar is not None:
            bar.close()
        _live_handles.discard(h)
        _lib.tw_lbfgsb_free(h, errbuf, len(errbuf))


def _run(h, objective, x, shape, out_dtype, options, callback, bar) -> OptimizerResult:
    n = x.size
    errbuf = new_error_buffer()
    grad = np.zeros(n)
    task = ctypes.c_int64(_EVALUATE)
    f = 0.0
    trace: list[dict[str, float]] = []
    stopped_by_callback = False
    while True:
        if task.value == _EVALUATE:
            x_user = x.reshape(shape).copy()
            grad_user = np.zeros(shape)
            value = objective(x_user, grad_user)
            try:
                f = float(value)
            except (TypeError, ValueError):
                raise TypeError(f"objective must return a float, got {type(value).__name__}") from None
            if grad_user.shape != shape or grad_user.dtype != np.float64:
                raise ValueError("objective replaced grad_out instead of filling it (use grad_out[...] = ...)")
            grad[:] = grad_user.reshape(-1)
        status = _lib.tw_lbfgsb_next(h, f, _ptr(grad), _ptr(x), ctypes.byref(task), errbuf, len(errbuf))
        raise_for_status(status, errbuf, "lbfgs_minimize")
        if task.value == _EVALUATE:
            continue
        if task.value != _NEW_ITERATION:
            result = _state(h, shape, out_dtype, trace)
            break
        if callback is None and not options.trace and bar is None:
            continue  # nobody looks at this iterate: skip copying it out
        result = _state(h, shape, out_dtype, trace, with_arrays=callback is not None)
        if options.trace:
            trace.append(
                {
                    "iteration": result.iterations,
                    "f": result.f,
                    "projected_gradient_norm": result.projected_gradient_norm,
                    "evaluations": result.evaluations,
                }
            )
        if bar is not None:
            bar.update(1)
            bar.set_postfix(f=f"{result.f:.6g}", pg=f"{result.projected_gradient_norm:.3g}")
        if callback is not None and callback(result) is True:
            stopped_by_callback = True
            break
    if stopped_by_callback:
        result.status, result.message, result.success = "callback", "stopped: the callback returned True", False
    return result


def _state(h, shape, out_dtype, trace, with_arrays=True) -> OptimizerResult:
    n = int(np.prod(shape)) if with_arrays else 0
    x, grad, info = np.empty(n), np.empty(n), np.empty(5)
    msg, errbuf = ctypes.create_string_buffer(256), new_error_buffer()
    xp, gp = (_ptr(x), _ptr(grad)) if with_arrays else (None, None)
    status = _lib.tw_lbfgsb_state(h, xp, gp, _ptr(info), msg, len(msg), errbuf, len(errbuf))
    raise_for_status(status, errbuf, "lbfgs_minimize")
    code = _STATUS.get(int(info[4]), "running")
    if not with_arrays:
        x = grad = np.full(shape, np.nan)  # iterate not copied out (trace or progress only)
    return OptimizerResult(
        x=x.reshape(shape).astype(out_dtype, copy=False),
        f=float(info[0]),
        grad=grad.reshape(shape),
        iterations=int(info[2]),
        evaluations=int(info[3]),
        status=code,
        message=msg.value.decode(),
        success=code in _SUCCESS,
        projected_gradient_norm=float(info[1]),
        trace=trace,
    )


def scipy_objective(objective: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[np.ndarray], tuple]:
    """Turns ``objective(x, grad_out) -> float`` into ``fun(x) -> (f, g)``
    for ``scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B")``:
    x arrives as a float64 copy, f comes back as a float and g as a new
    float64 array of x's shape."""
    if not callable(objective):
        raise TypeError(f"objective must be callable, got {objective!r}")

    def fun(x):
        x = np.array(x, dtype=np.float64, copy=True)
        g = np.zeros_like(x)
        f = float(objective(x, g))
        return f, g

    return fun


def torch_objective(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    like: torch.Tensor,
) -> Callable[[np.ndarray, np.ndarray], float]:
    """Builds ``objective(x, grad_out) -> float`` from ``loss_fn(model) ->
    scalar tensor``, where model is a tensor with ``like``'s shape, dtype and
    device made from x (requires_grad set). The gradient comes from
    ``loss.backward()`` (or from model.grad filled by the loss itself, as
    ``workflow.backward_shot_batches`` does: then return a float or a
    detached tensor). Use it with ``lbfgs_minimize`` directly, or with
    ``scipy.optimize.minimize(scipy_objective(torch_objective(...)),
    x0, jac=True, method="L-BFGS-B")``."""
    if not isinstance(like, torch.Tensor):
        raise TypeError(f"like must be a torch.Tensor, got {type(like).__name__}")
    shape, dtype, device = like.shape, like.dtype, like.device

    def objective(x: np.ndarray, grad_out: np.ndarray) -> float:
        model = torch.as_tensor(np.asarray(x).reshape(shape)).to(device=device, dtype=dtype).requires_grad_(True)
        loss = loss_fn(model)
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        grad = model.grad if model.grad is not None else torch.zeros_like(model)
        grad_out[...] = grad.detach().to("cpu", torch.float64).numpy().reshape(grad_out.shape)
        return float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)

    return objective
