"""The one propagation driver every propagator runs on.

A propagator is a :class:`Spec`: its field names, its Go calls, its
working state, its gradients and its reference step. This module owns,
once, what they share:

* argument checks and the padded problem (:func:`check_options`,
  :func:`check_shots`, :func:`check_max_vel`, :func:`pad_replicate`,
  :func:`pad_initial`) and the :class:`Setup` they make;
* :func:`propagate`: the choice between the Go core and the pure-PyTorch
  reference, the hooks' grid, the crop of the outputs and the resampling
  of the receivers;
* :class:`Propagation`, the autograd Function around the Go core: working
  copies, the history plan, the chunks of steps between Go calls,
  callbacks, imaging hooks, the hand-over of the history to autograd's
  saved tensors and the adjoint pass;
* :func:`reference`, the time loop of the pure-PyTorch implementation.

No propagator imports another; shared types (:class:`CallbackState`,
:func:`empty_cache`) live here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from . import _common as common
from . import _lib
from . import _storage as storage
from . import location_interpolation as interpolation

__all__ = ["CallbackState", "empty_cache", "Setup", "Spec", "Propagation", "propagate", "reference"]

PYTHON_BACKENDS = ("eager", "jit", "compile")
_SPECS: Dict[Tuple[str, int], Spec] = {}


class CallbackState:
    """What a forward or backward callback sees at a step.

    ``step`` is the user time step; ``dt`` the internal time step. Fields are
    on the padded grid; ``get_wavefield(name, view)`` returns the "inner"
    (model region), "pml" (model and PML) or "full" (also the halo) part.
    In the backward pass the wavefields are the adjoint fields and
    ``get_gradient("v")`` the model gradient accumulated so far; as in
    Deepwave, editing it in place changes the gradient (the accumulation
    of later steps adds to the edited values). In the forward pass the
    wavefields are the working fields themselves; in the backward pass
    ``wavefield_0``/``wavefield_m1`` are computed copies (the Go core keeps
    the adjoint scaled by v²dt²), so editing those has no effect.
    """

    def __init__(self, dt, step, wavefields, models, gradients, fd_pad, pml_width):
        self.dt = dt
        self.step = step
        self._wavefields = wavefields
        self._models = models
        self._gradients = gradients
        self._fd_pad = fd_pad
        self._pml_width = pml_width

    @property
    def wavefields(self) -> Dict[str, torch.Tensor]:
        return {k: self.get_wavefield(k) for k in self._wavefields}

    def get_wavefield(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._wavefields:
            raise KeyError(f"unknown wavefield {name!r}; available: {sorted(self._wavefields)}")
        return self._view(self._wavefields[name], view)

    def get_model(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._models:
            raise KeyError(f"unknown model {name!r}; available: {sorted(self._models)}")
        return self._view(self._models[name], view)

    def get_gradient(self, name: str, view: str = "inner") -> torch.Tensor:
        if name not in self._gradients:
            raise KeyError(f"no gradient {name!r} here; available: {sorted(self._gradients)}")
        return self._view(self._gradients[name], view)

    def _view(self, x: torch.Tensor, view: str) -> torch.Tensor:
        h, p = self._fd_pad, self._pml_width
        ndim = len(p) // 2
        if view == "full":
            return x
        if view == "pml":
            return x[(..., *(slice(h, n - h) for n in x.shape[-ndim:]))]
        if view == "inner":
            return x[(..., *(slice(h + p[2 * i], n - h - p[2 * i + 1]) for i, n in enumerate(x.shape[-ndim:])))]
        raise ValueError(f"view must be 'inner', 'pml' or 'full', got {view!r}")


def empty_cache() -> None:
    """Frees the snapshot buffer torchwave keeps for the next gradient
    computation or imaging-hook run (it is reused while sizes fit, like
    PyTorch's caching allocator on the GPU)."""
    storage.snapshot_pool.clear()


@dataclasses.dataclass
class Setup:
    """Everything fixed for one propagation, on the padded grid."""

    n_shots: int
    grid: Tuple[int, ...]  # the padded grid's spatial shape, slowest first
    accuracy: int  # the spatial stencil's order
    spacing: Tuple[float, ...]  # the grid spacing per dimension
    dt_inner: float
    step_ratio: int
    nt_inner: int
    profiles: List[torch.Tensor]  # the PML profiles, in the propagator's order
    source_index: torch.Tensor  # [n_shots, n_src] flat cells, -1 ignored
    receiver_index: torch.Tensor
    store_interval: int
    storage_mode: str
    storage_path: str
    compression: Optional[str]  # None, "bf16" or "int8"
    strategy: str  # "full", "checkpoint" or "boundary"
    pml_width: List[int]
    extents: List[int]  # the simulated region of the model: start, end per dimension
    pad: List[int]  # halo + PML around it, start and end per dimension
    forward_callback: Optional[Callable]
    backward_callback: Optional[Callable]
    callback_frequency: int  # in user steps
    resampling: Tuple[float, bool, bool] = (0.0, 0.0, False)  # freq_taper_frac, time_pad_frac, time_taper
    models: Dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)  # padded, for callbacks
    extra_receiver_index: Optional[torch.Tensor] = None  # a second receiver set (Born's background)
    # Born's: the perturbation couples every this many steps (the
    # derivative of a model gradient sampled that often).
    coupling_interval: int = 1
    # Per receiver output of the spec, the function from its cells'
    # records to the interpolated points' (None: the cells are the points).
    receiver_maps: List[Optional[Callable]] = dataclasses.field(default_factory=list)
    # A propagator's own index sets by name, where one source and one
    # receiver set do not describe its survey (acoustic's per field).
    survey: Dict[str, List[torch.Tensor]] = dataclasses.field(default_factory=dict)

    @property
    def halo(self) -> int:
        return self.accuracy // 2

    @property
    def ndim(self) -> int:
        return len(self.grid)

    @property
    def shape(self) -> Tuple[int, ...]:
        return (self.n_shots, *self.grid)

    # The sizes and spacings by axis name; 1 for an axis the grid lacks.
    @property
    def nz(self) -> int:
        return self.grid[-3] if self.ndim >= 3 else 1

    @property
    def ny(self) -> int:
        return self.grid[-2] if self.ndim >= 2 else 1

    @property
    def nx(self) -> int:
        return self.grid[-1]

    @property
    def dz(self) -> float:
        return self.spacing[-3] if self.ndim >= 3 else 1.0

    @property
    def dy(self) -> float:
        return self.spacing[-2] if self.ndim >= 2 else 1.0

    @property
    def dx(self) -> float:
        return self.spacing[-1]

    def crop(self, field: torch.Tensor, margin: Sequence[int]) -> torch.Tensor:
        """``field``'s spatial part without ``margin`` cells (start and end
        per dimension) at its edges."""
        return field[(..., *(slice(margin[2 * i], n - margin[2 * i + 1]) for i, n in enumerate(self.grid)))]

    def due(self, callback: Optional[Callable], step: int) -> bool:
        """Whether ``callback`` runs at internal step ``step``."""
        return callback is not None and step % (self.callback_frequency * self.step_ratio) == 0


class Spec:
    """A propagator as the driver sees it. Subclasses set the names and
    counts and implement the methods; a method's docstring says what the
    driver gives and expects. ``state`` is whatever the subclass keeps its
    working fields in (buffer pairs, lists)."""

    name = ""
    ndim = 2  # spatial dimensions
    model_names: Tuple[str, ...] = ()  # the Function's model inputs (c = v²dt², ...)
    n_sources = 1  # scaled source tensors [nt, shots, n_src]
    field_names: Tuple[str, ...] = ()  # initial and final fields, as callbacks name them
    hook_names: Tuple[Optional[str], ...] = ()  # per field, its name for imaging hooks (None: not seen)
    boundary = False  # whether storage_strategy="boundary" is available

    def receiver_counts(self, setup: Setup) -> List[int]:
        return [setup.receiver_index.shape[1]]

    def source_counts(self, setup: Setup) -> List[int]:
        """Sources per shot of each scaled source tensor."""
        return [setup.source_index.shape[1]] * self.n_sources

    def check_adjoint(self, models) -> None:
        """Refuses models the Go adjoint cannot serve."""

    def core_args(self, setup: Setup, models) -> dict:
        raise NotImplementedError

    def forward_state(self, setup: Setup, models, initial):
        """Working copies of the initial fields (None: zero)."""
        raise NotImplementedError

    def current(self, state) -> List[torch.Tensor]:
        """The state's fields in ``field_names`` order."""
        raise NotImplementedError

    def histories(self, setup: Setup, args, models, sources, wanted) -> list:
        """The history plans the model gradients ``wanted`` need."""
        raise NotImplementedError

    def run(self, backward: bool, setup: Setup, args, state, start, count, sources, receivers, stores, grads, histories):
        """Steps [start, start + count) in Go; ``stores`` has each plan's
        (buffer, first snapshot)."""
        raise NotImplementedError

    def forward_done(self, histories, state) -> None:
        pass

    def backward_start(self, histories) -> None:
        pass

    def adjoint_state(self, setup: Setup, models, field_grads, need, wanted, hooks):
        """The adjoint's starting state from the final fields' cotangents;
        ``need`` is the inputs' needs_input_grad, ``wanted`` which model
        gradients the history serves."""
        raise NotImplementedError

    def adjoint_fields(self, state, models, names=None) -> List[Optional[torch.Tensor]]:
        """∂loss/∂(the state's fields) in ``field_names`` order (None
        where not computed, and, given ``names``, for fields not in it)."""
        raise NotImplementedError

    def gradient_buffers(self, setup: Setup, models, want) -> List[Optional[torch.Tensor]]:
        return [
            common.zeros(setup.shape, m.dtype, near=models[0], slot=11 + i) if w else None
            for i, (m, w) in enumerate(zip(models, want))
        ]

    def model_gradients(self, setup: Setup, models, grads) -> List[Optional[torch.Tensor]]:
        """The models' gradients from the accumulated buffers."""
        raise NotImplementedError

    def callback_gradients(self, setup: Setup, models, grads) -> Dict[str, torch.Tensor]:
        return {}

    def set_callback_gradients(self, setup: Setup, models, grads, edited) -> None:
        pass

    def double_backward(self, ctx, grads):
        raise RuntimeError(
            f"second derivatives of {self.name} through torchwave's Go core are not available (the gradient "
            "was requested with create_graph=True); use python_backend=True"
        )

    def reference_stepper(self, setup: Setup, models, sources, kind: str) -> Callable:
        """(state list, t) -> (state list, [receiver records]) in plain PyTorch."""
        raise NotImplementedError

    @property
    def counts(self) -> Tuple[int, int, int]:
        return len(self.model_names), self.n_sources, len(self.field_names)


def register(spec: Spec) -> Spec:
    """Makes ``spec`` known by name and dimension (see :func:`spec_named`)."""
    _SPECS[(spec.name, spec.ndim)] = spec
    return spec


def spec_named(name: str, ndim: int = 2) -> Spec:
    """A registered propagator spec: how one propagator's code reaches
    another's without importing it."""
    return _SPECS[(name, ndim)]


# Argument checks and the padded problem.


@dataclasses.dataclass
class Options:
    """The options every propagator takes, checked."""

    dt: float
    pml_width: List[int]
    store_interval: int
    callback_frequency: int
    freq_taper_frac: float
    time_pad_frac: float
    time_taper: bool
    compression: Optional[str]


def check_options(
    spec: Spec,
    *,
    dt,
    pml_width,
    model_gradient_sampling_interval,
    forward_callback,
    backward_callback,
    callback_frequency,
    freq_taper_frac,
    time_pad_frac,
    time_taper,
    python_backend,
    storage_mode,
    storage_path,
    storage_compression,
    storage_strategy,
    negative_dt: bool = True,
    ndim: int = 2,
) -> Options:
    """Validates the options every propagator shares. A negative dt (where
    ``negative_dt``) runs the time-symmetric scheme backwards, as in
    Deepwave: the CFL rule and the PML use |dt|."""
    if python_backend is False:
        # Before any work: in a forked child even PyTorch's own thread pool
        # may hang, and the Go core would.
        _lib.check_process()
    dt = common.as_nonzero_float("dt", dt) if negative_dt else common.as_positive_float("dt", dt)
    widths = common.pml_widths(pml_width, ndim)
    interval = common.as_int("model_gradient_sampling_interval", model_gradient_sampling_interval, minimum=1)
    callback_frequency = common.as_int("callback_frequency", callback_frequency, minimum=1)
    for name, cb in (("forward_callback", forward_callback), ("backward_callback", backward_callback)):
        if cb is not None and not callable(cb):
            raise TypeError(f"{name} must be callable or None")
    freq_taper_frac = common.check_fraction("freq_taper_frac", freq_taper_frac)
    time_pad_frac = common.check_fraction("time_pad_frac", time_pad_frac)
    if not (python_backend is False or python_backend is True or python_backend in PYTHON_BACKENDS):
        raise ValueError(f"python_backend must be False, True, 'eager', 'jit' or 'compile', got {python_backend!r}")
    if python_backend is not False and backward_callback is not None:
        raise ValueError(
            "backward_callback is not supported with python_backend: autograd runs that backward pass; "
            "use the Go core (python_backend=False) for backward callbacks"
        )
    compression = storage.check_options(storage_mode, storage_path, storage_compression, storage_strategy, python_backend)
    if storage_strategy == "boundary":
        if not spec.boundary:
            raise NotImplementedError(
                f"storage_strategy='boundary' is not available for {spec.name}: use storage_strategy 'full' or 'checkpoint'"
            )
        if compression or storage_mode == "disk":
            # The strips are a fraction of the history, and the rebuilt
            # field needs them exact.
            raise ValueError(
                "storage_strategy='boundary' keeps its strips in memory, uncompressed: use storage_mode 'device', "
                "'cpu' or 'auto' without storage_compression, or storage_strategy='full' for those options"
            )
    return Options(dt, widths, interval, callback_frequency, freq_taper_frac, time_pad_frac, bool(time_taper), compression)


def check_shots(
    survey_names,
    amplitudes,
    source_locations,
    receiver_locations,
    nt,
    n_shots,
    dtype,
    device,
    initial: Dict[str, Optional[torch.Tensor]],
    extra=None,
    ndim: int = 2,
    model_shape: Optional[Sequence[int]] = None,
):
    """Checks the survey (``survey_names`` name its first three arguments),
    the initial fields and an optional ``extra`` (name, locations) receiver
    set against each other. Floating-point locations, given
    ``model_shape``, are interpolated onto the cells around them (see
    torchwave.location_interpolation): the sources' amplitudes are spread
    over those cells, and the receivers' records are to be gathered back.
    Returns (amplitudes, source_locations, receiver_locations,
    extra_locations, nt, n_shots, receiver_maps), the locations as cells;
    receiver_maps has, for the receivers and then the extra receivers,
    the function from the cells' records to the points' (None: the same)."""
    maps: List[Optional[Callable]] = [None, None]
    if model_shape is not None:
        amplitudes, source_locations, receiver_locations, extra, maps = _interpolated(
            survey_names, amplitudes, source_locations, receiver_locations, extra, model_shape
        )
    amplitudes, source_locations, receiver_locations, nt, n_shots = common.check_survey(
        survey_names,
        amplitudes,
        source_locations,
        receiver_locations,
        nt,
        n_shots,
        dtype,
        device,
        ndim,
    )
    extra_locations = None
    if extra is not None and extra[1] is not None:
        extra_locations = common.check_locations(extra[0], extra[1], n_shots, device, ndim)
        n_shots = common.shot_count(extra[0], extra_locations.shape[0], n_shots)
    for name, w in initial.items():
        if w is not None:
            common.check_tensor(name, w, ndims=(ndim + 1,), dtypes=(dtype,), device=device)
            common.check_finite(name, w)
            n_shots = common.shot_count(name, w.shape[0], n_shots)
    n_shots = 1 if n_shots is None else n_shots
    if n_shots < 1:
        raise ValueError(f"the inputs have zero shots: {survey_names[0]}, locations and initial wavefields need at least one")
    return amplitudes, source_locations, receiver_locations, extra_locations, nt, n_shots, maps


def _floating(t) -> bool:
    return isinstance(t, torch.Tensor) and t.is_floating_point()


def _interpolated(names, amplitudes, source_locations, receiver_locations, extra, model_shape):
    """check_shots' interpolation of floating-point locations."""
    amp_name, src_name, rec_name = names
    if _floating(source_locations) and isinstance(amplitudes, torch.Tensor):
        if amplitudes.ndim == 3 and source_locations.ndim == 3 and amplitudes.shape[1] != source_locations.shape[1]:
            raise ValueError(
                f"{src_name} has {source_locations.shape[1]} sources per shot but {amp_name} has {amplitudes.shape[1]}"
            )
        if amplitudes.ndim == 3 and source_locations.ndim == 3 and amplitudes.shape[0] != source_locations.shape[0]:
            raise ValueError(f"{src_name} has {source_locations.shape[0]} shots but {amp_name} has {amplitudes.shape[0]}")
        hicks = interpolation.interpolate(src_name, source_locations, model_shape)
        amplitudes, source_locations = hicks.source(amplitudes), hicks.get_locations()
    maps: List[Optional[Callable]] = []
    sets = [(rec_name, receiver_locations)] + ([extra] if extra is not None else [])
    out = []
    for name, locations in sets:
        if _floating(locations):
            hicks = interpolation.interpolate(name, locations, model_shape)
            out.append(hicks.get_locations())
            maps.append(hicks.receiver)
        else:
            out.append(locations)
            maps.append(None)
    extra = None if extra is None else (extra[0], out[1])
    return amplitudes, source_locations, out[0], extra, maps + [None] * (2 - len(maps))


def check_max_vel(max_vel, model_max: float) -> float:
    """``max_vel`` checked against the model's fastest wave (its default)."""
    if max_vel is None:
        return model_max
    max_vel = common.as_positive_float("max_vel", max_vel)
    if max_vel < model_max * (1 - 1e-6):
        raise ValueError(
            f"max_vel={max_vel} is below the model's maximum velocity {model_max}: the time step "
            "would break the CFL condition and the simulation would be unstable"
        )
    return max_vel


def pad_replicate(t: torch.Tensor, pad: Sequence[int]) -> torch.Tensor:
    """A model of ndim = len(pad) / 2 spatial dimensions, with or without a
    shot dimension first, as [1 or shots, ...] on the padded grid, its edge
    values replicated into the PML and halo."""
    ndim = len(pad) // 2
    batched = t if t.ndim == ndim + 1 else t[None]
    return torch.nn.functional.pad(batched, _torch_pad(pad), mode="replicate")


def _torch_pad(pad: Sequence[int]) -> List[int]:
    """Start and end per dimension, slowest first, in torch's order (the
    last dimension first)."""
    out: List[int] = []
    for i in reversed(range(len(pad) // 2)):
        out += [pad[2 * i], pad[2 * i + 1]]
    return out


def pad_initial(initial: Sequence[Optional[torch.Tensor]], masks, halo: int) -> List[Optional[torch.Tensor]]:
    """Initial fields on the padded grid: zero in the halo, and zero where
    their mask is (PML fields have no effect outside their profile)."""
    out = []
    for w, mask in zip(initial, masks):
        if w is None:
            out.append(None)  # zero; allocated where it is needed
            continue
        full = torch.nn.functional.pad(w, [halo] * (2 * (w.ndim - 1)))
        out.append(full if mask is None else full * mask)
    return out


def grid_args(setup: Setup, model: torch.Tensor) -> dict:
    """The fields every propagator's ABI struct opens with (sizes, the
    store interval, 1/spacing), fixed for a whole propagation; the order
    of the stencil goes in as ``accuracy``."""
    return dict(
        dtype=0 if model.dtype == torch.float32 else 1,
        n_shots=setup.n_shots,
        ny=setup.ny,
        nx=setup.nx,
        accuracy=setup.accuracy,
        n_sources=setup.source_index.shape[1],
        n_receivers=setup.receiver_index.shape[1],
        store_interval=setup.store_interval,
        model_per_shot=int(model.shape[0] > 1),
        rdy=1.0 / setup.dy,
        rdx=1.0 / setup.dx,
        source_index=setup.source_index,
        receiver_index=setup.receiver_index,
    )


def make_setup(options: Options, **fields) -> Setup:
    """A Setup from the checked options and the propagator's own fields."""
    return Setup(
        store_interval=options.store_interval,
        compression=options.compression,
        pml_width=options.pml_width,
        callback_frequency=options.callback_frequency,
        resampling=(options.freq_taper_frac, options.time_pad_frac, options.time_taper),
        storage_path=os.fspath(fields.pop("storage_path")),
        **fields,
    )


# Running a propagation.


def propagate(spec: Spec, setup: Setup, models, sources, initial, python_backend, hooks=None) -> Tuple[torch.Tensor, ...]:
    """Runs the propagation on the padded problem; returns the final fields
    (halo cropped) and the receivers [n_shots, n_receivers, nt]."""
    if hooks is not None:
        h, p = setup.halo, setup.pml_width
        hooks.begin(
            n_steps=setup.nt_inner,
            n_shots=setup.n_shots,
            region=[e for i, n in enumerate(setup.grid) for e in (h + p[2 * i], n - h - p[2 * i + 1])],
            extents=setup.extents,
            dt=setup.dt_inner,
            dh=setup.spacing,
        )
    tensors = (*models, *sources, *initial)
    if python_backend is False and common.inside_functorch(*tensors):
        # torch.func (vmap, jvp, grad) cannot see through the Go core's raw
        # pointers; the pure-PyTorch implementation gives the same numbers.
        python_backend = common.functorch_backend(setup.backward_callback)
    if python_backend is False:
        if models[0].device.type != "cpu":
            raise NotImplementedError(
                f"the Go core's CUDA path for {spec.name} is not built yet: run on CPU tensors, "
                "or use python_backend=True on the GPU"
            )
        hook_inputs = () if hooks is None else hooks.inputs
        outputs = Propagation.apply(spec, setup, hooks, *tensors, *hook_inputs)
    else:
        kind = "eager" if python_backend is True else python_backend
        outputs = reference(spec, setup, models, sources, initial, kind, hooks)
    n = len(spec.field_names)
    wavefields = [setup.crop(f, [setup.halo] * (2 * setup.ndim)) for f in outputs[:n]]
    receivers = [common.downsample(r.permute(1, 2, 0), setup.step_ratio, *setup.resampling) for r in outputs[n:]]
    maps = setup.receiver_maps + [None] * (len(receivers) - len(setup.receiver_maps))
    receivers = [r if m is None else m(r) for r, m in zip(receivers, maps)]
    return (*wavefields, *receivers)


def callback_state(spec: Spec, setup: Setup, step: int, fields, gradients) -> CallbackState:
    return CallbackState(
        setup.dt_inner,
        step // setup.step_ratio,
        dict(zip(spec.field_names, fields)),
        setup.models,
        gradients,
        setup.halo,
        setup.pml_width,
    )


def chunks(setup: Setup, callback: Optional[Callable], segment: Optional[int], hooks=None) -> List[Tuple[int, int]]:
    """(start, count) runs of internal steps between callbacks (every
    ``setup.callback_frequency`` user steps) and between the segments of a
    segmented history (``segment`` steps, or None); single steps when
    imaging hooks need every step's fields."""
    every = None if callback is None else setup.callback_frequency * setup.step_ratio
    if hooks is not None:
        every = 1
    return storage.segment_boundaries(setup.nt_inner, every, segment)


def _segment(histories) -> Optional[int]:
    return histories[0].segment if histories else None


#: The wall time, in seconds, one Go call aims at. Python runs a signal
#: handler (Ctrl-C's KeyboardInterrupt) only when the call returns, so
#: this bounds how long a pending signal waits.
CALL_SECONDS = 0.1


class Pacer:
    """Cuts runs of steps into Go calls of about :data:`CALL_SECONDS`
    each, from the measured time per step: the first call is one step, and
    each call takes at most four times the steps of the one before, so a
    step much slower than the last measured (page faults, a loaded CPU)
    overruns the target by a bounded factor only."""

    def __init__(self) -> None:
        self.per_step = 0.0  # seconds, from the last call; 0: not measured
        self.last = 0  # steps of the last call

    def size(self) -> int:
        if self.last == 0:
            return 1
        n = 4 * self.last
        if self.per_step * n > CALL_SECONDS:
            n = max(1, int(CALL_SECONDS / self.per_step))
        return n

    def split(self, start: int, count: int, reverse: bool = False) -> Iterator[Tuple[int, int]]:
        """(start, count) pieces of ``[start, start + count)``, last first
        when ``reverse``; the time until the next piece is asked for is
        taken as the piece's."""
        done = 0
        while done < count:
            n = min(self.size(), count - done)
            first = start + count - done - n if reverse else start + done
            t0 = time.perf_counter()
            yield first, n
            self.per_step, self.last = (time.perf_counter() - t0) / n, n
            done += n


def _hooked(spec: Spec, fields, names) -> Dict[str, torch.Tensor]:
    return {k: f for k, f in zip(spec.hook_names, fields) if k is not None and k in names}


class Propagation(torch.autograd.Function):
    """The Go core as an autograd op on the padded grid. Inputs: the spec,
    the setup, the imaging hooks (or None), then the spec's models, scaled
    sources and initial fields (None: zero), then the hooks' inputs.
    Outputs: the final fields, then the receivers [nt, shots, n]."""

    @staticmethod
    def forward(ctx, spec: Spec, setup: Setup, hooks, *tensors):
        n_m, n_s, n_f = spec.counts
        models, sources, initial = tensors[:n_m], tensors[n_m : n_m + n_s], tensors[n_m + n_s : n_m + n_s + n_f]
        need = ctx.needs_input_grad[3:]
        if any(need):
            spec.check_adjoint(models)
        work = [m.detach().contiguous() for m in models]
        srcs = [s.detach().contiguous() for s in sources]
        dtype = work[0].dtype
        receivers = [torch.zeros(setup.nt_inner, setup.n_shots, n, dtype=dtype) for n in spec.receiver_counts(setup)]
        state = spec.forward_state(setup, work, initial)
        args = spec.core_args(setup, work)
        # storage_mode="none" keeps nothing: as in Deepwave, the model
        # gradients are then zero and the other gradients exact.
        wanted = [bool(w) and setup.storage_mode != "none" for w in need[:n_m]]
        histories = spec.histories(setup, args, work, srcs, wanted) if any(wanted) else []
        try:
            for h in histories:
                if isinstance(h, storage.Checkpointed):
                    h.save_initial(state)
            pacer = Pacer()
            for start, count in chunks(setup, setup.forward_callback, _segment(histories), hooks):
                if setup.due(setup.forward_callback, start):
                    setup.forward_callback(callback_state(spec, setup, start, spec.current(state), {}))
                if hooks is not None:
                    hooks.forward_step(start, _hooked(spec, spec.current(state), hooks.fields))
                for first, n in pacer.split(start, count):
                    stores = [h.forward_buffer(first, n) for h in histories]
                    spec.run(False, setup, args, state, first, n, srcs, receivers, stores, None, histories)
                    for h in histories:
                        h.after_forward(first, n, state)
            spec.forward_done(histories, state)
        except BaseException:
            for h in histories:
                h.close()  # no files left behind by a callback's exception
            raise
        ctx.spec, ctx.setup, ctx.hooks, ctx.wanted = spec, setup, hooks, wanted
        # Unused outputs get None gradients instead of zero-filled grids.
        ctx.set_materialize_grads(False)
        # The inputs as given, so that a double backward can differentiate
        # through them; the history goes into autograd's saved tensors too
        # (see _storage): released after the backward pass or with the
        # graph, kept under retain_graph=True, recomputed by
        # torch.utils.checkpoint.
        save_for_backward(ctx, tensors[: n_m + n_s + n_f], histories, hooks)
        return (*spec.current(state), *receivers)

    @staticmethod
    def backward(ctx, *grads):
        if torch.is_grad_enabled():
            # create_graph=True: the gradient must be differentiable itself.
            return (None, None, None, *ctx.spec.double_backward(ctx, grads))
        with restored(ctx) as (saved, hook_kept):
            return (None, None, None, *_adjoint(ctx, saved, hook_kept, grads))


def saved_inputs(ctx) -> Tuple[list, list, list]:
    """A Propagation's (models, sources, initial fields) as given."""
    n_m, n_s, n_f = ctx.spec.counts
    saved = ctx.saved_tensors
    return list(saved[:n_m]), list(saved[n_m : n_m + n_s]), list(saved[n_m + n_s : n_m + n_s + n_f])


def _adjoint(ctx, saved, hook_kept, grads):
    """The adjoint pass of Propagation, with the history restored."""
    spec, setup, hooks = ctx.spec, ctx.setup, ctx.hooks
    n_m, n_s, n_f = spec.counts
    models = [m.detach().contiguous() for m in saved[:n_m]]
    need = ctx.needs_input_grad[3:]
    if hooks is not None:
        hooks.restore(hook_kept)
    dtype = models[0].dtype
    state = spec.adjoint_state(setup, models, grads[:n_f], need, ctx.wanted, hooks)
    g_recs = [
        torch.zeros(setup.nt_inner, setup.n_shots, n, dtype=dtype) if g is None else g.contiguous()
        for g, n in zip(grads[n_f:], spec.receiver_counts(setup))
    ]
    g_srcs = [torch.zeros(setup.nt_inner, setup.n_shots, n, dtype=dtype) for n in spec.source_counts(setup)]
    acc = spec.gradient_buffers(setup, models, ctx.wanted)
    args = spec.core_args(setup, models)
    spec.backward_start(ctx.histories)
    pacer = Pacer()
    for start, count in reversed(chunks(setup, setup.backward_callback, _segment(ctx.histories), hooks)):
        for first, n in pacer.split(start, count, reverse=True):
            stores = [h.backward_buffer(first, n) for h in ctx.histories]
            spec.run(True, setup, args, state, first, n, g_srcs, g_recs, stores, acc, ctx.histories)
        if hooks is not None:
            # ∂loss/∂(state at `start`).
            fields = spec.adjoint_fields(state, models, hooks.fields)
            hooks.adjoint_step(start, {k: hooks.crop(f) for k, f in _hooked(spec, fields, hooks.fields).items()})
        if setup.due(setup.backward_callback, start):
            gradients = spec.callback_gradients(setup, models, acc)
            versions = {k: g._version for k, g in gradients.items()}
            setup.backward_callback(callback_state(spec, setup, start, spec.adjoint_fields(state, models), gradients))
            if any(g._version != versions[k] for k, g in gradients.items()):
                # The callback edited a gradient in place (as Deepwave
                # allows): the accumulation goes on from its values.
                spec.set_callback_gradients(setup, models, acc, gradients)
    g_models = [
        g if g is not None else torch.zeros_like(m) if need[i] else None
        for i, (g, m) in enumerate(zip(spec.model_gradients(setup, models, acc), models))
    ]
    g_fields = spec.adjoint_fields(state, models)
    hook_grads = ()
    if hooks is not None:
        hook_grads = hooks.finish()
        hooks.release()
    # Inputs given as None (zero initial fields) take no gradient.
    return (
        *g_models,
        *(g if need[n_m + i] else None for i, g in enumerate(g_srcs)),
        *(g if need[n_m + n_s + i] else None for i, g in enumerate(g_fields)),
        *hook_grads,
    )


def save_for_backward(ctx, tensors: Sequence[torch.Tensor], histories: Sequence, hooks=None) -> None:
    """``ctx.save_for_backward`` of ``tensors``, then every tensor the
    history plans hold, then the imaging hooks' kept fields.

    The plans give their tensors up (see _storage), so the history lives
    exactly as long as autograd's saved tensors, and checkpointing,
    ``saved_tensors_hooks`` and ``save_on_cpu`` act on it too."""
    kept = [t for h in histories for t in h.saved()]
    ctx.histories = list(histories)
    ctx.n_fixed, ctx.n_kept = len(tensors), len(kept)
    ctx.save_for_backward(*tensors, *kept, *(() if hooks is None else hooks.saved()))


@contextlib.contextmanager
def restored(ctx) -> Iterator[Tuple[List[torch.Tensor], List[torch.Tensor]]]:
    """In a backward pass: yields (the tensors given to save_for_backward,
    the hooks' kept fields) with ``ctx.histories`` restored, and releases
    the histories' tensors again afterwards."""
    saved = ctx.saved_tensors
    fixed, kept = list(saved[: ctx.n_fixed]), saved[ctx.n_fixed :]
    tensors = iter(kept[: ctx.n_kept])
    for h in ctx.histories:
        h.restore(tensors)
    try:
        yield fixed, list(kept[ctx.n_kept :])
    finally:
        for h in ctx.histories:
            h.release()


def stored_histories(setup: Setup, n: int, device, dtype, allocate=storage.snapshot_pool.take) -> list:
    """The "full" strategy's plans for n snapshot series: every sampled
    snapshot kept, in memory or staged through a codec into host memory
    or a file ("auto" decides for all n together)."""
    n_store = -(-setup.nt_inner // setup.store_interval)
    codec = storage.Codec(setup.compression, setup.shape, dtype)
    mode = storage.resolve_mode(setup.storage_mode, device, n * n_store * codec.row_bytes, setup.storage_path)
    plans: list = []
    try:
        for _ in range(n):
            plans.append(
                storage.full_history(mode, codec, setup.nt_inner, setup.store_interval, device, setup.storage_path, allocate)
            )
    except BaseException:
        for plan in plans:
            plan.close()
        raise
    return plans


def checkpointed(spec: Spec, setup: Setup, args, models, sources, n_series: int) -> storage.Checkpointed:
    """The "checkpoint" strategy's plan for ``n_series`` snapshot series:
    the spec's state at every segment start, from which the backward pass
    recomputes a segment's snapshots, by the spec's own forward run, into a
    staging buffer [n_series, snapshots, shots, *grid]."""
    n_store = -(-setup.nt_inner // setup.store_interval)
    per_segment = storage.staging_snapshots(n_series * n_store, state_fields=len(spec.field_names)) // n_series
    per_segment = max(per_segment, 1)
    dtype = models[0].dtype
    scratch = [torch.empty(setup.nt_inner, setup.n_shots, n, dtype=dtype) for n in spec.receiver_counts(setup)]
    plans: list = []  # the plan itself, for the spec's run
    pacer = Pacer()

    def recompute(state, start, count, staging, first):
        for step, n in pacer.split(start, count):
            spec.run(False, setup, args, state, step, n, sources, scratch, [(staging, first)], None, plans)

    plans.append(
        storage.Checkpointed(
            setup.nt_inner,
            setup.store_interval,
            per_segment * setup.store_interval,
            torch.empty((n_series, per_segment, *setup.shape), dtype=dtype),
            lambda state: [t.clone() for t in spec.current(state)],
            lambda saved: spec.forward_state(setup, models, saved),
            recompute,
        )
    )
    return plans[0]


# The pure-PyTorch implementation.


class Survey:
    """Reads receivers from and adds sources to a field [shots, *grid] in
    plain PyTorch, through flat cell indices (-1: ignored)."""

    def __init__(self, index: torch.Tensor, setup: Setup, like: torch.Tensor):
        index = index.to(like.device)
        self.index, self.ok = index.clamp_min(0), (index >= 0).to(like.dtype)
        self.cells = math.prod(setup.grid)

    def record(self, u: torch.Tensor) -> torch.Tensor:
        return u.reshape(u.shape[0], self.cells).gather(1, self.index) * self.ok

    def inject(self, u: torch.Tensor, amplitudes: torch.Tensor) -> torch.Tensor:
        if amplitudes.shape[-1] == 0:
            return u
        return u.reshape(u.shape[0], self.cells).scatter_add(1, self.index, amplitudes * self.ok).reshape(u.shape)


def reference(spec: Spec, setup: Setup, models, sources, initial, kind: str, hooks=None) -> List[torch.Tensor]:
    """The propagation in plain PyTorch, differentiated by autograd; the
    same outputs as :class:`Propagation`."""
    if setup.storage_mode == "none":
        # Zero model gradients, as the Go core gives.
        models = [m.detach() + 0 * m if m.requires_grad else m for m in models]
    ref = models[0]
    step = spec.reference_stepper(setup, models, sources, kind)
    state = [torch.zeros(setup.shape, dtype=ref.dtype, device=ref.device) if f is None else f for f in initial]
    if hooks is not None:
        state = hooks.attach(state)
    counts = spec.receiver_counts(setup)
    records: List[list] = [[] for _ in counts]
    for t in range(setup.nt_inner):
        if setup.due(setup.forward_callback, t):
            setup.forward_callback(callback_state(spec, setup, t, state, {}))
        if hooks is not None:
            watched = hooks.watch(t, _hooked(spec, state, spec.hook_names))
            state = [f if k is None else watched[k] for k, f in zip(spec.hook_names, state)]
        state, got = step(state, t)
        for r, x in zip(records, got):
            r.append(x)
    receivers = [
        torch.stack(r) if r else torch.zeros(0, setup.n_shots, n, dtype=ref.dtype, device=ref.device)
        for r, n in zip(records, counts)
    ]
    return [*state, *receivers]
