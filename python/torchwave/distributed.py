"""Shot-parallel FWI objectives on a Dask cluster.

:class:`ShotObjective` computes the data misfit of a model summed over
shots, and its gradient, with the shots spread over the workers of a Dask
cluster. The propagator is :func:`torchwave.scalar` (the wavespeed) by
default, or :func:`torchwave.scalar_born` (the wavespeed or the scattering
potential), :func:`torchwave.acoustic` (the wavespeed and the density,
with pressure or velocity sources and receivers) or
:func:`torchwave.maxwelltm` (the permittivity, conductivity or
permeability). The objective is a function of one model or of several
(``inverted=("v", "rho")``, the models stacked in one vector), with the
others held fixed, in 1D, 2D or 3D as the locations say::

    import torchwave.distributed

    with torchwave.distributed.ShotObjective(
        (ny, nx), dx, dt, source_amplitudes, source_locations,
        receiver_locations, observed, pml_freq=10.0, max_vel=v_max, n_workers=2,
    ) as objective:
        # scipy: f and g together
        result = scipy.optimize.minimize(objective.value_and_grad, x0, jac=True, method="L-BFGS-B", bounds=...)
        # torchwave.optim: objective(x, grad_out) -> float
        # torch autograd: objective.loss(v) is differentiable in v
        loss = objective.loss(v) + regulariser(v)
        loss.backward()

``import torchwave`` does not import Dask; ``import torchwave.distributed``
does, and needs ``pip install "dask[distributed]"``.

The objective is smooth in the model: the ``max_vel`` that sets the
propagator's CPML profile and internal time step (and that the propagator
would otherwise take, not differentiably, from each model it is given) is
fixed once for the objective's lifetime; see :class:`ShotObjective`.

How the work is laid out
------------------------

* The shots are split into groups (``shots_per_task``). Each group's source
  amplitudes, locations and observed data go to the cluster once, when the
  objective is built, as the result of a small task placed on one worker;
  they stay in that worker's memory for every later evaluation. Because
  they are a task's result rather than scattered data, the scheduler can
  recompute them on another worker if their worker dies (the scheduler
  keeps the task's definition, so it holds a copy of the observed data).
* Each evaluation broadcasts the model to every worker once
  (``client.scatter(..., broadcast=True)``), runs one task per shot group
  where its data live (forward propagation, loss and, when a gradient is
  wanted, the backward pass), and sums the groups' (loss, gradient) pairs in
  a tree of tasks on the workers. Only the final pair comes back.
* A worker that dies mid-evaluation has its tasks, and its shot groups,
  recomputed on the others; the result is the same. If the model's every
  copy was lost with it (a one-worker cluster), the evaluation is run again
  once the cluster has a worker. An exception raised inside a task (a bad
  loss, a propagator error) reaches the caller as that exception.

Threads and devices
-------------------

A worker plugin sets, on every worker (also those that join later),
``torchwave.set_num_threads(n)`` and ``torch.set_num_threads(n)`` with
``n = max(1, usable cores // task slots on that host)``, where the task
slots are the worker threads of all workers on the host. A LocalCluster of
``n_workers`` with one thread each on a machine of C cores therefore runs
``C // n_workers`` torchwave threads per shot group and never more threads
than cores. ``threads=`` overrides ``n``.

``device=None`` runs on each worker's own GPU where workers see GPUs and the
propagator can run there, else on the CPU: worker ``k`` (its name, for a
LocalCluster) uses ``cuda:k % device_count``.

Worker processes must not be forked from a process that has loaded
torchwave (a forked Go runtime hangs): the LocalCluster started here spawns
its workers, and a Dask configuration asking for ``fork`` is refused.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import os
import time
import uuid
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np
import torch

try:
    import dask
    import distributed
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('torchwave.distributed needs Dask: pip install "dask[distributed]"') from exc

from . import _lib
from ._common import IGNORE_LOCATION, spatial_ndim
from .acoustic import acoustic
from .maxwell import C0, maxwelltm
from .scalar import scalar
from .scalar_born import scalar_born

__all__ = ["PROPAGATORS", "PropagatorSpec", "ShotObjective", "l2_misfit"]

#: Propagator keyword arguments a ShotObjective passes on to torchwave.scalar
#: (and to torchwave.scalar_born and torchwave.acoustic).
PROPAGATOR_KWARGS = (
    "accuracy",
    "pml_width",
    "pml_freq",
    "max_vel",
    "survey_pad",
    "origin",
    "nt",
    "model_gradient_sampling_interval",
    "freq_taper_frac",
    "time_pad_frac",
    "time_taper",
    "python_backend",
)

#: Those it passes on to torchwave.maxwelltm.
MAXWELLTM_KWARGS = (
    "stencil",
    "pml_width",
    "pml_freq",
    "max_vel",
    "nt",
    "model_gradient_sampling_interval",
    "freq_taper_frac",
    "time_pad_frac",
    "time_taper",
    "python_backend",
)


def _one_kind(ndim: int) -> Tuple[str, ...]:
    return ()


def _acoustic_kinds(ndim: int) -> Tuple[str, ...]:
    """Acoustic's kinds of source and receiver in `ndim` dimensions, in the
    order of its receiver outputs: pressure, then the velocity components
    the model has (z in 3D only, y in 2D and 3D)."""
    return ("p", *"zyx"[3 - ndim :])


@dataclasses.dataclass(frozen=True)
class PropagatorSpec:
    """How a ShotObjective calls one propagator.

    ``models``: the propagator's model arguments, in order; ``inverted``:
    the one the objective is a function of unless ``inverted=`` says
    otherwise; ``fixed_defaults``: constant values of fixed models that
    may be left out (``maxwelltm``: ``sigma=0``, ``mu=1``); ``survey``: its
    names of the source amplitudes, source locations and receiver
    locations; ``kwargs``: the keyword arguments passed on; ``speed``:
    the fastest wave speed of a dict of the ``speed_bounds`` models
    (float64 arrays), the quantity ``max_vel`` bounds; ``speed_bounds``:
    per model that ``speed`` depends on, which of its box bounds gives the
    fastest speed ("lower" or "upper"); ``ndims``: the numbers of spatial
    dimensions it runs in.

    ``kinds(ndim)``: the kinds of source and receiver of a propagator that
    has several (``acoustic``: "p", "z", "y", "x"), the first the default;
    empty for one. With kinds, the survey names take the kind as a suffix
    (``source_amplitudes_p``, ``receiver_locations_x``), and the receiver
    data of each kind are the last outputs, one per kind in this order;
    without, the receiver data are the last output.
    """

    name: str
    function: Callable[..., Tuple[torch.Tensor, ...]]
    models: Tuple[str, ...]
    inverted: str
    survey: Tuple[str, str, str]
    kwargs: Tuple[str, ...]
    speed: Callable[[Dict[str, np.ndarray]], float]
    speed_bounds: Dict[str, str]
    fixed_defaults: Dict[str, float] = dataclasses.field(default_factory=dict)
    ndims: Tuple[int, ...] = (1, 2, 3)
    kinds: Callable[[int], Tuple[str, ...]] = _one_kind

    def survey_names(self, source_kind: Optional[str], receiver_kind: Optional[str]) -> Tuple[str, str, str]:
        """The names of the source amplitudes, source locations and
        receiver locations for these kinds (None for a propagator with
        one kind)."""
        amplitudes, sources, receivers = self.survey
        if source_kind is None or receiver_kind is None:
            return self.survey
        return f"{amplitudes}_{source_kind}", f"{sources}_{source_kind}", f"{receivers}_{receiver_kind}"

    def receiver_output(self, receiver_kind: Optional[str], ndim: int) -> int:
        """The index in the propagator's outputs of the receiver data."""
        kinds = self.kinds(ndim)
        if receiver_kind is None:
            return -1
        return kinds.index(receiver_kind) - len(kinds)


def _scalar_speed(models: Dict[str, np.ndarray]) -> float:
    return float(np.abs(models["v"]).max())


def _maxwell_speed(models: Dict[str, np.ndarray]) -> float:
    slowness2 = float(np.min(models["epsilon"] * models["mu"]))
    return C0 / math.sqrt(slowness2) if slowness2 > 0 else math.inf


#: Where a ShotObjective's max_vel came from (its max_vel_from attribute).
_MAX_VEL_SOURCES = {
    "max_vel": "the max_vel argument",
    "fixed models": "the fixed models",
    "bounds": "the bounds",
    "initial_model": "the initial model",
    "first evaluation": "the first model evaluated",
}

_SCALAR_SURVEY = ("source_amplitudes", "source_locations", "receiver_locations")

#: The propagators a ShotObjective can run, by name. A new propagator is
#: one more entry.
PROPAGATORS: Dict[str, PropagatorSpec] = {
    spec.name: spec
    for spec in (
        PropagatorSpec("scalar", scalar, ("v",), "v", _SCALAR_SURVEY, PROPAGATOR_KWARGS, _scalar_speed, {"v": "upper"}),
        PropagatorSpec(
            "scalar_born",
            scalar_born,
            ("v", "scatter"),
            "scatter",
            _SCALAR_SURVEY,
            PROPAGATOR_KWARGS,
            _scalar_speed,
            {"v": "upper"},
        ),
        PropagatorSpec(
            "acoustic",
            acoustic,
            ("v", "rho"),
            "v",
            _SCALAR_SURVEY,
            PROPAGATOR_KWARGS,
            _scalar_speed,
            {"v": "upper"},
            kinds=_acoustic_kinds,
        ),
        PropagatorSpec(
            "maxwelltm",
            maxwelltm,
            ("epsilon", "sigma", "mu"),
            "epsilon",
            ("source_amplitude", "source_location", "receiver_location"),
            MAXWELLTM_KWARGS,
            _maxwell_speed,
            {"epsilon": "lower", "mu": "lower"},
            {"sigma": 0.0, "mu": 1.0},
            ndims=(2,),
        ),
    )
}
_logger = logging.getLogger(__name__)
_PLUGIN_NAME = "torchwave-worker-setup"
# Per worker process: address -> {"device": torch.device, "threads": int},
# filled by _WorkerSetup.setup.
_WORKER_STATE: Dict[str, Dict[str, Any]] = {}


def l2_misfit(predicted: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """The standard FWI misfit ``0.5 * sum((predicted - observed) ** 2)``
    over every shot, receiver and time sample (the default loss)."""
    return 0.5 * (predicted - observed).pow(2).sum()


# ----------------------------------------------------------------- on workers


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _WorkerSetup(distributed.WorkerPlugin):
    """Sets torchwave's and torch's thread counts and picks the device on
    every worker it is registered with (and every worker that joins)."""

    def __init__(self, threads: Optional[int], device: Optional[str], slots_by_host: Dict[str, int], python_backend):
        self.threads = threads
        self.device = device
        self.slots_by_host = slots_by_host
        self.python_backend = python_backend

    def setup(self, worker) -> None:
        slots = self.slots_by_host.get(worker.ip, worker.state.nthreads)
        threads = self.threads or max(1, _usable_cores() // max(1, slots))
        _lib.set_num_threads(threads)
        torch.set_num_threads(threads)
        _WORKER_STATE[worker.address] = {"device": self._device(worker), "threads": threads}

    def teardown(self, worker) -> None:
        _WORKER_STATE.pop(worker.address, None)

    def _device(self, worker) -> torch.device:
        if self.device is not None and self.device != "cuda":
            return torch.device(self.device)
        # torchwave's Go core has no CUDA path yet; the PyTorch backend does.
        usable = torch.cuda.is_available() and self.python_backend not in (None, False)
        if self.device == "cuda" or usable:
            count = torch.cuda.device_count()
            if count == 0:
                raise RuntimeError(f"device='cuda' but worker {worker.address} sees no GPU")
            rank = worker.name if isinstance(worker.name, int) else sum(map(ord, worker.address))
            return torch.device("cuda", rank % count)
        return torch.device("cpu")


def _worker_device() -> torch.device:
    try:
        address = distributed.get_worker().address
    except ValueError:  # not on a worker (e.g. a synchronous test)
        return torch.device("cpu")
    state = _WORKER_STATE.get(address)
    return state["device"] if state is not None else torch.device("cpu")


def _known_tasks(keys: List[str], dask_scheduler=None) -> int:
    """How many of `keys` the scheduler still knows (run on the scheduler)."""
    return sum(key in dask_scheduler.tasks for key in keys)


def _hold(group: dict) -> dict:
    """The task whose result is one shot group's data on a worker."""
    return group


def _group_loss(x: np.ndarray, group: dict, need_grad: bool, max_vel: float) -> Tuple[float, Optional[np.ndarray]]:
    """Loss (and gradient) of one shot group at `x`, the inverted models
    stacked ([n_inverted, *model_shape])."""
    device = _worker_device()
    # Copies: the received array is read-only.
    inverted = [torch.tensor(m, device=device).requires_grad_(need_grad) for m in x]
    spec = PROPAGATORS[group["propagator"]]
    models = {name: t.to(device) for name, t in group["fixed_models"].items()}
    models.update(zip(group["inverted"], inverted))
    survey = {name: t.to(device) for name, t in group["survey"].items()}
    with torch.set_grad_enabled(need_grad):
        predicted = spec.function(
            **models,
            grid_spacing=group["grid_spacing"],
            dt=group["dt"],
            **survey,
            **group["kwargs"],
            max_vel=max_vel,
        )[group["output"]]
        loss = group["loss"](predicted, group["observed"].to(device))
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(f"loss must return a scalar tensor, got {type(loss).__name__} {getattr(loss, 'shape', '')}")
        if not need_grad:
            return float(loss), None
        grads = torch.autograd.grad(loss.reshape(()), inverted, allow_unused=True)
    grad = np.stack(
        [
            # None: the loss does not depend on that model.
            np.zeros(m.shape) if g is None else g.detach().to("cpu", torch.float64).numpy()
            for m, g in zip(inverted, grads)
        ]
    )
    return float(loss.detach()), grad


def _add(a: Tuple[float, Optional[np.ndarray]], b: Tuple[float, Optional[np.ndarray]]):
    """One node of the reduction tree: (loss, gradient) pairs add."""
    grad = None if a[1] is None else a[1] + b[1]
    return a[0] + b[0], grad


# ------------------------------------------------------------ on the client


class _ShotLossFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, objective: ShotObjective, *models: torch.Tensor) -> torch.Tensor:
        need_grad = any(ctx.needs_input_grad[1:])
        x = np.stack([m.detach().to("cpu").numpy() for m in models])
        f, g = objective._evaluate(x, need_grad)
        if need_grad:
            ctx.save_for_backward(
                *(torch.from_numpy(gi).to(device=m.device, dtype=m.dtype) for gi, m in zip(cast(np.ndarray, g), models))
            )
        return torch.tensor(f, dtype=models[0].dtype, device=models[0].device)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        return (None, *(grad_output * g for g in ctx.saved_tensors))


class ShotObjective:
    """The misfit of a model summed over shots, and its gradient, computed
    shot-parallel on a Dask cluster.

    The objective is a function of one model argument of the propagator
    (the *inverted* model, ``inverted=``) or of several
    (``inverted=("v", "rho")``); its other model arguments are held fixed
    (``fixed_models=``):

    * ``propagator="scalar"`` (the default): ``v``; no fixed models.
    * ``"scalar_born"``: ``scatter`` (default; ``v`` fixed, required) or
      ``v`` (``scatter`` fixed, required). The data are the scattered
      receiver amplitudes, so ``observed`` holds reflections, as in
      least-squares RTM.
    * ``"acoustic"``: ``v`` (default; ``rho`` fixed, required), ``rho``
      (``v`` fixed) or both. ``source_kind`` and ``receiver_kind`` choose
      the sources and the receiver data: ``"p"`` (pressure, the default),
      or the velocity component ``"x"``, ``"y"`` (2D and 3D) or ``"z"``
      (3D); the survey tensors go to ``source_amplitudes_<kind>``,
      ``source_locations_<kind>`` and ``receiver_locations_<kind>``.
    * ``"maxwelltm"``: ``epsilon`` (default), ``sigma`` or ``mu``; of the
      other two, ``sigma`` defaults to 0 and ``mu`` to 1, ``epsilon``
      must be given. 2D only.

    With several inverted models the objective's vector ``x`` holds them
    one after the other, ``x = [m1.ravel(), m2.ravel()]`` (the packing of
    :func:`torchwave.workflow.block_preconditioner`), and so do its
    gradient, ``bounds`` and ``initial_model``; :meth:`loss` takes one
    tensor per model.

    The number of spatial dimensions (1, 2 or 3) is that of the locations
    (their last dimension), which ``model_shape`` must match.

    An unknown propagator, model name, fixed model or kind is an error
    naming what is known.

    ``max_vel``, which sets the CPML profile and the internal time step,
    is fixed for the objective's lifetime, so that the objective an
    optimiser's line search sees is a smooth function of the model (a
    propagator left to take it from each model has a kink wherever the
    fastest cell changes, and no gradient flows through it). It is, in
    order of precedence: ``max_vel`` if given (then passed as is, so a
    model faster than it is refused by the propagator); the speed of the
    fixed models when the inverted model does not change the fastest speed
    (``scatter``, ``sigma``); the fastest speed ``bounds`` allow (the
    upper bound of ``v``, the lower bounds of ``epsilon`` or ``mu`` with
    the fixed other one); the fastest speed of ``initial_model``; else
    that of the first model evaluated (normally an optimiser's starting
    model). The attribute ``max_vel`` holds it once fixed (``None``
    before), ``max_vel_from`` where it came from. A later model faster than
    a ``max_vel`` taken from bounds or a starting model (one outside the
    bounds, or above the starting model's fastest speed) is run with its
    own fastest speed instead, with a warning: the objective has a kink
    there, which ``max_vel`` or ``bounds`` that the optimiser enforces
    avoid.

    Args:
        model_shape: the spatial shape of each model: (nx,), (ny, nx) or
            (nz, ny, nx).
        grid_spacing, dt: as for the propagator.
        source_amplitudes: [n_shots, n_sources, nt], float32 or float64;
            the computation runs in this dtype.
        source_locations: [n_shots, n_sources, ndim] long cell indices.
        receiver_locations: [n_shots, n_receivers, ndim] long cell indices.
            These three go to the propagator under its own names
            (``source_amplitude``, ``source_location`` and
            ``receiver_location`` for ``maxwelltm``, with the kind's
            suffix for ``acoustic``).
        observed: observed data [n_shots, n_receivers, nt], same dtype.
        propagator: the name of a propagator in :data:`PROPAGATORS`
            (``"scalar"``, ``"scalar_born"``, ``"acoustic"``,
            ``"maxwelltm"``) or the function itself (``torchwave.maxwelltm``,
            ...). Default ``"scalar"``.
        inverted: the name of the model argument the objective is a
            function of, or a sequence of names (default: see above).
        source_kind, receiver_kind: for ``acoustic``, the kind of the
            sources and of the receiver data ("p", "z", "y" or "x"; default
            "p").
        fixed_models: the other model arguments, by name, each a tensor of
            ``model_shape`` for every shot (converted to the computation's
            dtype). They travel with each shot group's data.
        bounds: ``(lower, upper)`` box bounds of the inverted model, each
            None, a number or an array of ``model_shape`` (or flattened;
            with several inverted models, of their stacked shape or the
            size of ``x``), as given to the optimiser; used only to fix
            ``max_vel``. A
            bound that does not limit the speed (None, infinite, a
            non-positive lower permittivity) is not used.
        initial_model: the starting model (``model_shape`` or flattened,
            stacked as ``x`` for several); used only to fix ``max_vel`` when
            ``bounds`` do not.
        loss: ``loss(predicted, observed) -> scalar tensor`` for one group
            of shots ([n_group, n_receivers, nt] each); the objective is its
            sum over the groups, so it must be a sum over shots for the
            result not to depend on the grouping. Default
            :func:`l2_misfit`, ``0.5 * sum((predicted - observed) ** 2)``.
            It runs on the workers: it must pickle (cloudpickle), and its
            module must be importable there unless it is a lambda or defined
            in ``__main__``.
        client: None to start a LocalCluster here (``n_workers`` worker
            processes, spawned, ``threads_per_worker`` threads each), closed
            by :meth:`close`; a scheduler address to connect to (waiting at
            most ``timeout`` seconds); or a ``distributed.Client``.
        n_workers: workers of the LocalCluster (default: the usable cores).
        threads_per_worker: task threads per LocalCluster worker (default 1).
        shots_per_task: shots per task; default: the shots split evenly into
            as many groups as the cluster has task threads.
        threads: torchwave and torch threads per worker (default: the cores
            of a host divided by the task threads of its workers).
        device: "cpu", "cuda" or None (a GPU per worker where there is one
            the propagator can use, else the CPU).
        timeout: seconds to wait for a scheduler and its first worker.
        cluster_kwargs: more keyword arguments for the LocalCluster.
        **propagator_kwargs: passed to the propagator: for ``scalar``,
            ``scalar_born`` and ``acoustic`` accuracy, pml_width, pml_freq, max_vel,
            survey_pad, origin, nt, ... (:data:`PROPAGATOR_KWARGS`);
            ``survey_pad`` applies to each group of shots. For
            ``maxwelltm`` stencil, pml_width, pml_freq, max_vel, nt, ...
            (:data:`MAXWELLTM_KWARGS`).

    Call it in any of three ways:

    * ``objective(x, grad_out) -> float`` (the shape torchwave.optim takes):
      ``x`` the flattened model, or models (float64 NumPy vector), the
      gradient is written into ``grad_out``;
    * ``objective.value_and_grad(x) -> (float, ndarray)`` for
      ``scipy.optimize.minimize(..., jac=True)``;
    * ``objective.loss(model) -> tensor`` (``objective.loss(v, rho)`` for
      several): a ``torch.autograd.Function``, so ``loss.backward()`` fills
      ``model.grad`` and the loss composes with any torch regulariser or
      optimiser.

    ``objective.value(x)`` gives the loss alone (forward propagation only).
    """

    def __init__(
        self,
        model_shape: Sequence[int],
        grid_spacing: Union[float, Sequence[float]],
        dt: float,
        source_amplitudes: torch.Tensor,
        source_locations: torch.Tensor,
        receiver_locations: torch.Tensor,
        observed: torch.Tensor,
        *,
        propagator: Union[str, Callable[..., Any]] = "scalar",
        inverted: Union[None, str, Sequence[str]] = None,
        source_kind: Optional[str] = None,
        receiver_kind: Optional[str] = None,
        fixed_models: Optional[Dict[str, torch.Tensor]] = None,
        bounds: Optional[Tuple[Any, Any]] = None,
        initial_model: Union[None, np.ndarray, torch.Tensor] = None,
        loss: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None,
        client: Union[None, str, distributed.Client] = None,
        n_workers: Optional[int] = None,
        threads_per_worker: int = 1,
        shots_per_task: Optional[int] = None,
        threads: Optional[int] = None,
        device: Optional[str] = None,
        timeout: float = 30.0,
        cluster_kwargs: Optional[Dict[str, Any]] = None,
        **propagator_kwargs,
    ):
        self.model_shape = _check_model_shape(model_shape)
        self.propagator = _propagator_spec(propagator)
        spec = self.propagator
        unknown = sorted(set(propagator_kwargs) - set(spec.kwargs))
        if unknown:
            raise TypeError(
                f"ShotObjective got unexpected keyword argument(s) {unknown}; the propagator "
                f"keyword arguments it passes on to {spec.name} are {list(spec.kwargs)}"
            )
        if loss is not None and not callable(loss):
            raise TypeError(f"loss must be callable, got {type(loss).__name__}")
        _check_positive_int("threads_per_worker", threads_per_worker)
        for name, value in (("n_workers", n_workers), ("shots_per_task", shots_per_task), ("threads", threads)):
            if value is not None:
                _check_positive_int(name, value)
        if device is not None and device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
            raise ValueError(f"device must be 'cpu', 'cuda' or None, got {device!r}")
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.n_shots, self.dtype, self.ndim = _check_acquisition(
            spec, self.model_shape, source_amplitudes, source_locations, receiver_locations, observed, propagator_kwargs.get("nt")
        )
        self.source_kind, self.receiver_kind = _check_kinds(spec, self.ndim, source_kind, receiver_kind)
        self._inverted = _check_inverted(spec, inverted)
        #: The inverted model's name, or a tuple of the names of several.
        self.inverted: Union[str, Tuple[str, ...]] = (
            self._inverted[0] if isinstance(inverted, (str, type(None))) else self._inverted
        )
        self._x_shape = (len(self._inverted), *self.model_shape)
        self._fixed_models = _check_fixed_models(spec, self._inverted, fixed_models, self.model_shape, self.dtype)
        self._warned_speed = False
        self.max_vel, self.max_vel_from = _initial_max_vel(
            spec,
            self._inverted,
            self._fixed_models,
            self._x_shape,
            propagator_kwargs.pop("max_vel", None),
            bounds,
            initial_model,
        )
        self.loss_fn = l2_misfit if loss is None else loss
        self.timeout = float(timeout)
        self.n_evaluations = 0
        self._closed = False
        self._cluster: Optional[Any] = None
        self._owns_client = False
        self.client = self._connect(client, n_workers, threads_per_worker, cluster_kwargs)
        try:
            slots = self._register_plugin(threads, device, propagator_kwargs.get("python_backend", False))
            self.shot_groups = _split_shots(self.n_shots, shots_per_task, slots)
            common = dict(
                grid_spacing=grid_spacing,
                dt=float(dt),
                loss=self.loss_fn,
                kwargs=dict(propagator_kwargs),
                propagator=spec.name,
                inverted=self._inverted,
                fixed_models=self._fixed_models,
                output=spec.receiver_output(self.receiver_kind, self.ndim),
            )
            self._groups = self._send_groups(common, source_amplitudes, source_locations, receiver_locations, observed)
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------- set-up

    def _connect(self, client, n_workers, threads_per_worker, cluster_kwargs) -> distributed.Client:
        if isinstance(client, distributed.Client):
            return client
        if isinstance(client, str):
            try:
                connected = distributed.Client(client, timeout=self.timeout)
            except (OSError, TimeoutError) as exc:
                raise ConnectionError(
                    f"client: no Dask scheduler answered at {client!r} within {self.timeout:g} s ({exc})"
                ) from exc
            self._owns_client = True
            return connected
        if client is not None:
            raise TypeError(f"client must be None, a scheduler address or a distributed.Client, got {type(client).__name__}")
        method = dask.config.get("distributed.worker.multiprocessing-method")
        if method == "fork":
            raise RuntimeError(
                "distributed.worker.multiprocessing-method is 'fork', but a forked child of a process "
                "that has loaded torchwave hangs; set it to 'spawn' (Dask's default)"
            )
        kwargs = dict(
            n_workers=n_workers or _usable_cores(),
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=":0",
        )
        kwargs.update(cluster_kwargs or {})
        with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
            self._cluster = distributed.LocalCluster(**kwargs)
        self._owns_client = True
        return distributed.Client(self._cluster)

    def _register_plugin(self, threads, device, python_backend) -> int:
        """Registers the thread and device settings on the workers; returns
        the cluster's task threads."""
        workers = self._wait_for_a_worker()
        slots_by_host: Dict[str, int] = {}
        for info in workers.values():
            slots_by_host[info["host"]] = slots_by_host.get(info["host"], 0) + info["nthreads"]
        plugin = _WorkerSetup(threads, device, slots_by_host, python_backend)
        try:
            self.client.register_plugin(plugin, name=_PLUGIN_NAME)
        except ImportError as exc:
            raise ImportError(
                f"the Dask workers cannot import torchwave ({exc}): install it where the workers run, "
                "or put its python/ directory on their PYTHONPATH"
            ) from exc
        return sum(slots_by_host.values())

    def _wait_for_a_worker(self) -> Dict[str, Any]:
        """The scheduler's workers, once it has at least one (asking the
        scheduler itself: a LocalCluster's cached view lags behind)."""
        deadline = time.monotonic() + self.timeout
        while True:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            if workers:
                return workers
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Dask cluster has had no worker for {self.timeout:g} s")
            time.sleep(0.05)

    def _send_groups(self, common, source_amplitudes, source_locations, receiver_locations, observed) -> List[distributed.Future]:
        """One task per shot group whose result is the group's data. They go
        to the scheduler in one batch, which spreads them over the workers.
        They carry no worker restrictions: a task restricted to a worker that
        has died is never rescheduled on a new one, even when its
        restrictions are loose."""
        token = uuid.uuid4().hex[:12]
        groups = []
        for shots in self.shot_groups:
            index = torch.as_tensor(shots, dtype=torch.long)
            survey = (source_amplitudes, source_locations, receiver_locations)
            names = self.propagator.survey_names(self.source_kind, self.receiver_kind)
            groups.append(
                dict(
                    common,
                    shots=list(shots),
                    survey={name: t.detach().to("cpu")[index].contiguous() for name, t in zip(names, survey)},
                    observed=observed.detach().to("cpu")[index].contiguous(),
                )
            )
        with warnings.catch_warnings():
            # The data travel inside the tasks on purpose, so that the
            # scheduler can recompute them; it warns above 10 MiB.
            warnings.filterwarnings("ignore", message="Sending large graph")
            keys = [f"torchwave-shots-{token}-{i}" for i in range(len(groups))]
            futures = self.client.map(_hold, groups, key=keys)
        distributed.wait(futures)
        for future in futures:
            if future.status == "error":
                future.result()  # raises the worker's exception
        return futures

    # ---------------------------------------------------------- evaluation

    def _evaluate(self, model: np.ndarray, need_grad: bool) -> Tuple[float, Optional[np.ndarray]]:
        """Loss (and gradient, float64 [n_inverted, *model_shape]) at
        `model`, the inverted models stacked in a NumPy array of that
        shape."""
        if self._closed:
            raise RuntimeError("this ShotObjective is closed")
        if not np.all(np.isfinite(model)):
            raise ValueError("model has non-finite values")
        model = np.ascontiguousarray(model, dtype=_numpy_dtype(self.dtype))
        max_vel = self._max_vel_for(model)
        attempts = 3
        for attempt in range(attempts):
            model_future = self.client.scatter(model, broadcast=True, hash=False)
            try:
                parts = [
                    self.client.submit(_group_loss, model_future, group, need_grad, max_vel, pure=False) for group in self._groups
                ]
                while len(parts) > 1:
                    pairs = [self.client.submit(_add, a, b, pure=False) for a, b in zip(parts[::2], parts[1::2])]
                    parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
                f, g = parts[0].result()
                break
            except concurrent.futures.CancelledError:
                # The model's every copy died with its workers: broadcast it
                # again once there is a worker to hold it.
                if model_future.status != "cancelled" or attempt == attempts - 1 or self.client.status != "running":
                    raise
                _logger.warning("the model broadcast was lost with its workers; sending it again")
                self._wait_for_a_worker()
            finally:
                del model_future
        self.n_evaluations += 1
        return float(f), (None if g is None else g.reshape(self._x_shape))

    def _max_vel_for(self, model: np.ndarray) -> float:
        """The max_vel of an evaluation at `model`: the objective's fixed
        one (fixing it now at the first evaluation), or the model's own
        fastest speed where that is faster than a max_vel taken from a
        starting model."""
        if self.max_vel_from in ("max_vel", "fixed models"):
            return cast(float, self.max_vel)
        speed = _model_speed(self.propagator, self._inverted, self._fixed_models, model)
        if self.max_vel is None:
            self.max_vel, self.max_vel_from = speed, "first evaluation"
            return speed
        if speed > self.max_vel * (1 + 1e-6):
            if not self._warned_speed:
                self._warned_speed = True
                warnings.warn(
                    f"the model's fastest wave speed {speed:.6g} exceeds the max_vel {self.max_vel:.6g} this "
                    f"ShotObjective fixed from {_MAX_VEL_SOURCES[cast(str, self.max_vel_from)]}; such models run with "
                    "their own fastest speed, where the objective is not smooth: give ShotObjective max_vel= "
                    "or bounds= that hold every model the optimiser tries",
                    stacklevel=4,
                )
            return speed
        return self.max_vel

    def _check_x(self, x) -> np.ndarray:
        x = np.asarray(x)
        size = math.prod(self._x_shape)
        if x.ndim != 1 or x.size != size:
            what = "model" if len(self._inverted) == 1 else f"models {', '.join(self._inverted)} one after the other"
            raise ValueError(
                f"x must be the flattened {what}, a vector of {size} values for model_shape "
                f"{tuple(self.model_shape)}, got shape {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
        return x.reshape(self._x_shape)

    def __call__(self, x: np.ndarray, grad_out: np.ndarray) -> float:
        """Loss at the flattened model ``x``; writes the gradient into
        ``grad_out`` (torchwave.optim's objective shape)."""
        model = self._check_x(x)
        if not isinstance(grad_out, np.ndarray) or grad_out.shape != x.shape:
            raise ValueError(
                f"grad_out must be a NumPy array of the same shape as x {np.shape(x)}, got "
                f"{getattr(grad_out, 'shape', type(grad_out).__name__)}"
            )
        f, g = self._evaluate(model, True)
        grad_out[...] = cast(np.ndarray, g).reshape(grad_out.shape)
        return f

    def value_and_grad(self, x: np.ndarray) -> Tuple[float, np.ndarray]:
        """``(loss, gradient)`` at the flattened model ``x``, the gradient a
        float64 vector: a function for ``scipy.optimize.minimize(jac=True)``."""
        f, g = self._evaluate(self._check_x(x), True)
        return f, cast(np.ndarray, g).reshape(-1)

    def value(self, x: np.ndarray) -> float:
        """The loss alone at the flattened model ``x`` (no backward pass)."""
        return self._evaluate(self._check_x(x), False)[0]

    def loss(self, *models: torch.Tensor) -> torch.Tensor:
        """The loss at ``model`` (of ``model_shape``; one tensor per
        inverted model, in the order of ``inverted``) as a differentiable
        scalar tensor: its backward gives the gradient summed over shots."""
        if len(models) != len(self._inverted):
            raise TypeError(f"loss takes one tensor per inverted model {list(self._inverted)}, got {len(models)} arguments")
        for name, model in zip(self._inverted, models):
            label = "model" if len(models) == 1 else f"model {name}"
            if not isinstance(model, torch.Tensor):
                raise TypeError(f"{label} must be a torch.Tensor, got {type(model).__name__}")
            if tuple(model.shape) != tuple(self.model_shape):
                raise ValueError(f"{label} must have shape {tuple(self.model_shape)}, got {tuple(model.shape)}")
            if not model.is_floating_point():
                raise TypeError(f"{label} must be a floating-point tensor, got {model.dtype}")
        return _ShotLossFunction.apply(self, *models)

    # ---------------------------------------------------------- lifetime

    def close(self) -> None:
        """Releases the shot data on the cluster; closes the client and the
        LocalCluster if this objective started them."""
        if self._closed:
            return
        self._closed = True
        groups, self._groups = getattr(self, "_groups", []), []
        if groups and self.client.status == "running":
            # Free the shot data on the workers, and wait (briefly) until the
            # scheduler has let them go: a cluster closed before that warns
            # that it lost them.
            keys = [future.key for future in groups]
            self.client.cancel(groups)
            deadline = time.monotonic() + 2.0
            while self.client.run_on_scheduler(_known_tasks, keys=keys) and time.monotonic() < deadline:
                time.sleep(0.02)
        if self._cluster is not None:  # workers first, so none outlives its scheduler
            self._cluster.close()
            self._cluster = None
        client = getattr(self, "client", None)
        if client is not None and self._owns_client:
            client.close()

    def __enter__(self) -> ShotObjective:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self.shot_groups)} shot groups"
        return (
            f"ShotObjective({self.propagator.name}, inverted={self.inverted!r}, model_shape={tuple(self.model_shape)}, "
            f"n_shots={self.n_shots}, dtype={self.dtype}, max_vel={self.max_vel}, {state})"
        )


# ------------------------------------------------------------ validation


def _propagator_spec(propagator) -> PropagatorSpec:
    known = ", ".join(repr(name) for name in PROPAGATORS)
    if isinstance(propagator, str):
        if propagator not in PROPAGATORS:
            raise ValueError(f"unknown propagator {propagator!r}; ShotObjective runs {known}")
        return PROPAGATORS[propagator]
    for spec in PROPAGATORS.values():
        if propagator is spec.function:
            return spec
    if callable(propagator):
        name = getattr(propagator, "__qualname__", type(propagator).__name__)
        raise ValueError(
            f"ShotObjective does not know how to call propagator {name}: it takes one of {known}, by name "
            "or as the torchwave function itself"
        )
    raise TypeError(f"propagator must be a name ({known}) or a torchwave propagator function, got {type(propagator).__name__}")


def _check_inverted(spec: PropagatorSpec, inverted) -> Tuple[str, ...]:
    """The inverted models' names, in the order given."""
    if inverted is None:
        return (spec.inverted,)
    names = (inverted,) if isinstance(inverted, str) else inverted
    if not isinstance(names, (tuple, list)) or not names:
        raise TypeError(f"inverted must be a model name or a sequence of them, got {inverted!r}")
    for name in names:
        if name not in spec.models:
            raise ValueError(f"inverted must name one of {spec.name}'s model arguments {list(spec.models)}, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"inverted names a model more than once: {list(names)}")
    return tuple(names)


def _check_kinds(spec: PropagatorSpec, ndim: int, source_kind, receiver_kind) -> Tuple[Optional[str], Optional[str]]:
    """The kinds of source and receiver, None for a propagator with one."""
    kinds = spec.kinds(ndim)
    if not kinds:
        for name, kind in (("source_kind", source_kind), ("receiver_kind", receiver_kind)):
            if kind is not None:
                raise ValueError(f"{name} is for a propagator with several kinds of source and receiver; {spec.name} has one")
        return None, None
    out = []
    for name, kind in (("source_kind", source_kind), ("receiver_kind", receiver_kind)):
        kind = kinds[0] if kind is None else kind
        if kind not in kinds:
            raise ValueError(f"{name} must be one of {list(kinds)} for {spec.name} in {ndim}D, got {kind!r}")
        out.append(kind)
    return out[0], out[1]


def _check_fixed_models(spec, inverted, fixed_models, model_shape, dtype) -> Dict[str, torch.Tensor]:
    fixed_models = dict(fixed_models or {})
    others = [name for name in spec.models if name not in inverted]
    for name in inverted:
        if name in fixed_models:
            which = "the inverted model" if len(inverted) == 1 else "an inverted model"
            raise ValueError(f"fixed_models holds {name!r}, {which}; give only {others}")
    unknown = sorted(set(fixed_models) - set(others))
    if unknown:
        raise ValueError(f"fixed_models has {unknown}, which are not among {spec.name}'s other model arguments {others}")
    out = {}
    for name in others:
        t = fixed_models.get(name)
        if t is None:
            if name not in spec.fixed_defaults:
                shown = inverted[0] if len(inverted) == 1 else inverted
                raise ValueError(
                    f"{spec.name} with inverted={shown!r} needs fixed_models[{name!r}], a tensor of model_shape "
                    f"{tuple(model_shape)}"
                )
            t = torch.full(tuple(model_shape), spec.fixed_defaults[name], dtype=dtype)
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"fixed_models[{name!r}] must be a floating-point torch.Tensor, got {type(t).__name__}")
        if tuple(t.shape) != tuple(model_shape):
            raise ValueError(
                f"fixed_models[{name!r}] must have model_shape {tuple(model_shape)} (one model for every shot), "
                f"got {tuple(t.shape)}"
            )
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"fixed_models[{name!r}] has non-finite values")
        out[name] = t.detach().to("cpu", dtype).contiguous()
    return out


def _as_model_array(name: str, value, x_shape) -> np.ndarray:
    """`value` as the stacked inverted models [n_inverted, *model_shape]."""
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu").numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return np.full(tuple(x_shape), float(array))
    if array.size != math.prod(x_shape):
        shape = tuple(x_shape[1:]) if x_shape[0] == 1 else tuple(x_shape)
        raise ValueError(f"{name} must be a number or an array of model_shape {shape}, got shape {array.shape}")
    return array.reshape(x_shape)


def _model_speed(spec, inverted, fixed_models, x) -> float:
    """The fastest wave speed of the models with `x` as the inverted ones
    (stacked; only those that set the speed are read)."""
    models = {name: fixed_models[name].to(torch.float64).numpy() for name in spec.speed_bounds if name not in inverted}
    for i, name in enumerate(inverted):
        if name in spec.speed_bounds:
            models[name] = np.asarray(x[i], dtype=np.float64)
    return spec.speed(models)


def _initial_max_vel(
    spec, inverted, fixed_models, x_shape, max_vel, bounds, initial_model
) -> Tuple[Optional[float], Optional[str]]:
    """(max_vel, where it came from), or (None, None) when the first
    evaluation is to fix it."""
    if bounds is not None:
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise ValueError(f"bounds must be (lower, upper), got {bounds!r}")
        bounds = [None if b is None else _as_model_array(f"bounds[{i}]", b, x_shape) for i, b in enumerate(bounds)]
    if initial_model is not None:
        initial_model = _as_model_array("initial_model", initial_model, x_shape)
        if not np.all(np.isfinite(initial_model)):
            raise ValueError("initial_model has non-finite values")
    if max_vel is not None:
        if isinstance(max_vel, bool) or not isinstance(max_vel, (int, float)) or not math.isfinite(max_vel) or max_vel <= 0:
            raise ValueError(f"max_vel must be a positive number, got {max_vel!r}")
        return float(max_vel), "max_vel"
    speed_models = [i for i, name in enumerate(inverted) if name in spec.speed_bounds]
    if not speed_models:
        return _model_speed(spec, inverted, fixed_models, None), "fixed models"
    if bounds is not None:
        # Per inverted model that sets the speed, the side of its bounds
        # that gives the fastest speed; every one must limit it.
        fastest = np.zeros(tuple(x_shape))
        for i in speed_models:
            bound = bounds[0 if spec.speed_bounds[inverted[i]] == "lower" else 1]
            if bound is None or not np.all(np.isfinite(bound[i])):
                break
            fastest[i] = bound[i]
        else:
            speed = _model_speed(spec, inverted, fixed_models, fastest)
            if math.isfinite(speed) and speed > 0:
                return speed, "bounds"
    if initial_model is not None:
        return _model_speed(spec, inverted, fixed_models, initial_model), "initial_model"
    return None, None


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def _check_model_shape(model_shape) -> Tuple[int, ...]:
    try:
        shape = tuple(int(n) for n in model_shape)
    except (TypeError, ValueError):
        raise TypeError(f"model_shape must be (nx,), (ny, nx) or (nz, ny, nx), got {model_shape!r}") from None
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise ValueError(f"model_shape must be (nx,), (ny, nx) or (nz, ny, nx) of positive ints, got {model_shape!r}")
    return shape


def _numpy_dtype(dtype: torch.dtype):
    return np.float32 if dtype == torch.float32 else np.float64


#: The names of the coordinates of a location, by the number of dimensions.
_COORDINATES = {
    1: ("x",),
    2: ("y (first)", "x (second)"),
    3: ("z (first)", "y (second)", "x (third)"),
}


def _check_acquisition(
    spec, model_shape, source_amplitudes, source_locations, receiver_locations, observed, nt
) -> Tuple[int, torch.dtype, int]:
    """(n_shots, dtype, ndim) of a checked survey."""
    named = (
        ("source_amplitudes", source_amplitudes, "[n_shots, n_sources, nt]"),
        ("source_locations", source_locations, "[n_shots, n_sources, ndim]"),
        ("receiver_locations", receiver_locations, "[n_shots, n_receivers, ndim]"),
        ("observed", observed, "[n_shots, n_receivers, nt]"),
    )
    for name, t, layout in named:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor {layout}, got {type(t).__name__}")
        if t.ndim != 3:
            raise ValueError(f"{name} must have shape {layout}, got {tuple(t.shape)}")
    dtype = source_amplitudes.dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"source_amplitudes must be float32 or float64, got {dtype}")
    if observed.dtype != dtype:
        raise TypeError(f"observed has dtype {observed.dtype} but source_amplitudes has {dtype}; they must match")
    # The number of dimensions as the propagators find it: from the locations.
    ndim = spatial_ndim({}, {}, {"source_locations": source_locations, "receiver_locations": receiver_locations}, {})
    if ndim not in _COORDINATES:
        raise ValueError(f"source_locations must have 1, 2 or 3 coordinates per location, got {ndim}")
    if len(model_shape) != ndim:
        raise ValueError(
            f"model_shape {tuple(model_shape)} has {len(model_shape)} dimensions, but the locations have {ndim} "
            f"coordinates each; they must agree"
        )
    if ndim not in spec.ndims:
        raise ValueError(f"{spec.name} runs in {' or '.join(f'{n}D' for n in spec.ndims)}, but the locations are {ndim}D")
    for name, t in (("source_locations", source_locations), ("receiver_locations", receiver_locations)):
        if t.dtype != torch.long:
            raise TypeError(f"{name} must have dtype torch.long (cell indices), got {t.dtype}")
        used = t[~(t == IGNORE_LOCATION).all(dim=-1)]
        for dim, label in enumerate(_COORDINATES[ndim]):
            if used.numel() and (int(used[:, dim].min()) < 0 or int(used[:, dim].max()) >= model_shape[dim]):
                raise ValueError(
                    f"{name} has a {label} coordinate outside the model, which has {model_shape[dim]} cells in that dimension"
                )
    n_shots = source_amplitudes.shape[0]
    for name, t, _ in named[1:]:
        if t.shape[0] != n_shots:
            raise ValueError(f"{name} has {t.shape[0]} shots but source_amplitudes has {n_shots}")
    if n_shots == 0:
        raise ValueError("source_amplitudes has no shots")
    if source_locations.shape[1] != source_amplitudes.shape[1]:
        raise ValueError(
            f"source_locations has {source_locations.shape[1]} sources per shot but source_amplitudes has {source_amplitudes.shape[1]}"
        )
    if receiver_locations.shape[1] != observed.shape[1]:
        raise ValueError(
            f"observed has {observed.shape[1]} receivers per shot but receiver_locations has {receiver_locations.shape[1]}"
        )
    expected_nt = source_amplitudes.shape[-1] if nt is None else nt
    if observed.shape[-1] != expected_nt:
        raise ValueError(f"observed has {observed.shape[-1]} time samples but the propagation gives {expected_nt}")
    return n_shots, dtype, ndim


def _split_shots(n_shots: int, shots_per_task: Optional[int], slots: int) -> List[List[int]]:
    """Contiguous groups of shot indices."""
    if shots_per_task is None:
        n_groups = max(1, min(n_shots, slots))
        return [list(map(int, g)) for g in np.array_split(np.arange(n_shots), n_groups)]
    return [list(range(i, min(i + shots_per_task, n_shots))) for i in range(0, n_shots, shots_per_task)]
