"""Variable-density acoustic propagation (velocity and pressure on a
staggered grid) in 1D, 2D and 3D.

`acoustic` has Deepwave 0.0.27's signature, defaults and return tuple, so
code written for Deepwave runs after changing the import. The compute runs
in torchwave's Go core with a hand-written exact discrete adjoint; with
``python_backend`` it runs in plain PyTorch instead.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import torch

from . import _acoustic_core as core
from . import _common as common
from . import _driver as driver
from ._acoustic_reference import STAGGERED_WEIGHTS, get_steps
from ._driver import CallbackState
from .hooks import HookedPropagator, HookRun

__all__ = ["acoustic", "Acoustic"]


def acoustic(
    v: torch.Tensor,
    rho: torch.Tensor,
    grid_spacing: Union[float, Sequence[float]],
    dt: float,
    source_amplitudes_p: Optional[torch.Tensor] = None,
    source_locations_p: Optional[torch.Tensor] = None,
    source_amplitudes_z: Optional[torch.Tensor] = None,
    source_locations_z: Optional[torch.Tensor] = None,
    source_amplitudes_y: Optional[torch.Tensor] = None,
    source_locations_y: Optional[torch.Tensor] = None,
    source_amplitudes_x: Optional[torch.Tensor] = None,
    source_locations_x: Optional[torch.Tensor] = None,
    receiver_locations_p: Optional[torch.Tensor] = None,
    receiver_locations_z: Optional[torch.Tensor] = None,
    receiver_locations_y: Optional[torch.Tensor] = None,
    receiver_locations_x: Optional[torch.Tensor] = None,
    accuracy: int = 4,
    pml_width: Union[int, Sequence[int]] = 20,
    pml_freq: Optional[float] = None,
    max_vel: Optional[float] = None,
    survey_pad: Optional[Union[int, Sequence[Optional[int]]]] = None,
    pressure_0: Optional[torch.Tensor] = None,
    vz_0: Optional[torch.Tensor] = None,
    vy_0: Optional[torch.Tensor] = None,
    vx_0: Optional[torch.Tensor] = None,
    phi_z_0: Optional[torch.Tensor] = None,
    phi_y_0: Optional[torch.Tensor] = None,
    phi_x_0: Optional[torch.Tensor] = None,
    psi_z_0: Optional[torch.Tensor] = None,
    psi_y_0: Optional[torch.Tensor] = None,
    psi_x_0: Optional[torch.Tensor] = None,
    origin: Optional[Sequence[int]] = None,
    nt: Optional[int] = None,
    model_gradient_sampling_interval: int = 1,
    freq_taper_frac: float = 0.0,
    time_pad_frac: float = 0.0,
    time_taper: bool = False,
    forward_callback: Optional[Callable[[CallbackState], None]] = None,
    backward_callback: Optional[Callable[[CallbackState], None]] = None,
    callback_frequency: int = 1,
    python_backend: Union[bool, str] = False,
    storage_mode: str = "device",
    storage_path: str = ".",
    storage_compression: Union[bool, str] = False,
    storage_strategy: str = "full",
    _hooks: Optional[HookRun] = None,
) -> Tuple[torch.Tensor, ...]:
    """Propagates waves through a 1D, 2D or 3D wavespeed and density model.

    Solves the variable-density acoustic equations in velocity–pressure
    form, ρ ∂v/∂t = −∇p + f and (1/K) ∂p/∂t = −∇·v + s with the bulk
    modulus K = ρv², on a staggered grid: pressure on the cells, each
    velocity component half a cell further along its axis, the density
    there the arithmetic mean of the two cells (buoyancy 2/(ρᵢ + ρᵢ₊₁)).
    Finite differences of order ``accuracy`` in space and 2 in time
    (velocity at half steps, pressure at whole steps), absorbing
    boundaries made of a convolutional PML ``pml_width`` cells wide, and an
    internal time step smaller than ``dt`` when ``dt`` would break the CFL
    condition (sources are then upsampled and receivers downsampled). The
    discrete step, its PML and the scaling of sources are Deepwave 0.0.27's
    (see docs/architecture.md, "acoustic").

    The number of spatial dimensions comes from the inputs as Deepwave
    finds it: the initial wavefields (their dimensions less the shot's),
    else the locations (their last dimension), else the model (1 or 2
    dimensions say it; a model of 3 is read as a batch of 2D models).
    Arrays are [nx] in 1D, [ny, nx] in 2D and [nz, ny, nx] in 3D, x
    varying fastest.

    Args:
        v: wavespeed, the spatial shape for every shot, or with a shot
            dimension first (one model per shot).
        rho: density, positive, of v's spatial shape (with or without a
            shot dimension).
        grid_spacing: cell size, one number or one per dimension.
        dt: time step of the amplitudes in and out (negative: backwards).
        source_amplitudes_p, source_locations_p: pressure sources (a volume
            injection rate: dt·K·s is added to p at the cell), amplitudes
            [n_shots, n_sources, nt] and long cell indices [n_shots,
            n_sources, ndim].
        source_amplitudes_z/y/x, source_locations_z/y/x: force sources on
            the z, y or x velocity (dt·B·f is added to that velocity, half a
            cell beyond the given cell along its axis); z in 3D only, y in
            2D and 3D.
        receiver_locations_p, receiver_locations_z/y/x: receivers of
            pressure and of each velocity component [n_shots, n, ndim]. A
            velocity component's sources and receivers must lie before the
            model's last cell along its axis.
        accuracy: spatial order, 2, 4, 6 or 8.
        pml_width: cells of PML, one int or a start and an end per
            dimension; 0 gives a reflecting edge.
        pml_freq: the frequency the PML is tuned to (default 25).
        max_vel: the velocity used for the CFL condition and the PML, at
            least the model's maximum (default: the maximum of |v|). No
            gradient flows through it: give it in inversions.
        survey_pad: simulate only the region within this many cells of the
            sources and receivers.
        pressure_0, vz_0, vy_0, vx_0, phi_z_0, phi_y_0, phi_x_0, psi_z_0,
            psi_y_0, psi_x_0: initial fields [n_shots, *(simulated region +
            PML)] (default zero): pressure at t = 0, velocities at
            t = −dt/2, the PML memory of the pressure update (phi) and of
            the velocity update (psi). Those of an axis the model lacks are
            not taken.
        origin: the model cell where the initial wavefields' region starts.
        nt: number of steps when there are no source amplitudes.
        model_gradient_sampling_interval: sample the model-gradient integral
            every this many internal steps (1: exact gradient).
        freq_taper_frac, time_pad_frac, time_taper: resampling options.
        forward_callback, backward_callback: called with a CallbackState
            every ``callback_frequency`` steps; its models are v, rho, K and
            the buoyancies Bz, By, Bx, and in the backward pass its
            gradients those of K and the buoyancies.
        python_backend: False for the Go core; True or "eager", "jit",
            "compile" for the pure-PyTorch implementation.
        storage_mode, storage_path, storage_compression, storage_strategy:
            where and how the wavefield history of the model gradient is
            kept, as for :func:`torchwave.scalar` (strategies "full" and
            "checkpoint"; "none" gives zero model gradients).

    Returns:
        (pressure, [vz], [vy], vx, [phi_z], [phi_y], phi_x, [psi_z],
        [psi_y], psi_x, receiver_amplitudes_p, [receiver_amplitudes_z],
        [receiver_amplitudes_y], receiver_amplitudes_x) as Deepwave returns
        them: the fields of the simulated region with its PML (z fields in
        3D only, y fields in 2D and 3D) and the receivers' amplitudes
        [n_shots, n_receivers, nt] of each kind ([n_shots, 0, nt] where
        none are given).
    """
    given = dict(
        pressure_0=pressure_0,
        vz_0=vz_0,
        vy_0=vy_0,
        vx_0=vx_0,
        phi_z_0=phi_z_0,
        phi_y_0=phi_y_0,
        phi_x_0=phi_x_0,
        psi_z_0=psi_z_0,
        psi_y_0=psi_y_0,
        psi_x_0=psi_x_0,
    )
    amplitudes = dict(p=source_amplitudes_p, z=source_amplitudes_z, y=source_amplitudes_y, x=source_amplitudes_x)
    sources = dict(p=source_locations_p, z=source_locations_z, y=source_locations_y, x=source_locations_x)
    receivers = dict(p=receiver_locations_p, z=receiver_locations_z, y=receiver_locations_y, x=receiver_locations_x)
    locations = {f"source_locations_{k}": t for k, t in sources.items()}
    locations.update({f"receiver_locations_{k}": t for k, t in receivers.items()})
    ndim = common.spatial_ndim(
        {"v": v, "rho": rho},
        {"pressure_0": pressure_0},
        locations,
        {a: {f"v{a}_0": given[f"v{a}_0"], f"phi_{a}_0": given[f"phi_{a}_0"], f"psi_{a}_0": given[f"psi_{a}_0"]} for a in "zyx"},
    )
    for a, lowest in (("z", 3), ("y", 2)):
        if ndim < lowest and (sources[a] is not None or receivers[a] is not None or amplitudes[a] is not None):
            # Deepwave's wording.
            raise ValueError(
                f"The propagation was determined to be {ndim}d, so locations related to the {a} dimension should not be provided."
            )
    spec = SPECS[ndim]
    hooks = None if _hooks is None else _hooks.bind({"v": v, "rho": rho})
    if hooks is not None:
        if hooks.replaces("v"):
            v = v.detach()  # its gradient comes from the hooks, not from autograd
        if hooks.replaces("rho"):
            rho = rho.detach()
    options = driver.check_options(
        spec,
        ndim=ndim,
        dt=dt,
        pml_width=pml_width,
        model_gradient_sampling_interval=model_gradient_sampling_interval,
        forward_callback=forward_callback,
        backward_callback=backward_callback,
        callback_frequency=callback_frequency,
        freq_taper_frac=freq_taper_frac,
        time_pad_frac=time_pad_frac,
        time_taper=time_taper,
        python_backend=python_backend,
        storage_mode=storage_mode,
        storage_path=storage_path,
        storage_compression=storage_compression,
        storage_strategy=storage_strategy,
    )
    names = core.survey_fields(ndim)
    initial = {n: given[n] for n in core.field_names(ndim)}
    setup, models, scaled, fields, v_pad, rho_pad = core.prepare(
        spec,
        v,
        rho,
        grid_spacing,
        dt,
        [(amplitudes[s], sources[s]) for s in names],
        [receivers[s] for s in names],
        accuracy,
        pml_freq,
        max_vel,
        survey_pad,
        initial,
        origin,
        nt,
        options,
        storage_mode,
        storage_path,
        storage_strategy,
        forward_callback,
        backward_callback,
    )
    if forward_callback is not None or backward_callback is not None:
        setup.models = dict(v=v_pad, rho=rho_pad, **dict(zip(core.model_names(ndim), models)))
    return driver.propagate(spec, setup, models, scaled, fields, python_backend, hooks)


class _AcousticSpec(driver.Spec):
    """The acoustic propagator for the driver, in ``ndim`` dimensions:
    models K and the buoyancy per axis, a scaled source tensor and a
    receiver set per field (p, then each velocity component), the state
    p, v, φ and ψ per axis."""

    name = "acoustic"

    def __init__(self, ndim: int):
        self.ndim = ndim
        self.model_names = core.model_names(ndim)
        self.n_sources = ndim + 1
        self.field_names = core.field_names(ndim)
        self.hook_names = core.hook_names(ndim)

    def receiver_counts(self, setup):
        return [r.shape[1] for r in setup.survey["receivers"]]

    def source_counts(self, setup):
        return [s.shape[1] for s in setup.survey["sources"]]

    # The Go core (see _acoustic_go).

    def core_args(self, setup, models):
        from . import _acoustic_go

        return _acoustic_go.core_args(setup, models)

    def forward_state(self, setup, models, initial):
        near = models[0]
        return [
            common.zeros(setup.shape, near.dtype, near=near, slot=k)
            if t is None
            else common.zeros(setup.shape, near.dtype, near=near, slot=k).copy_(t)
            for k, t in enumerate(initial, 1)
        ]

    def current(self, state):
        return list(state)

    def histories(self, setup, args, models, sources, wanted):
        from . import _acoustic_go

        return [_acoustic_go.history(self, setup, args, models, sources, wanted)]

    def run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories):
        from . import _acoustic_go

        _acoustic_go.run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories)

    def adjoint_state(self, setup, models, field_grads, need, wanted, hooks):
        near = models[0]
        out = []
        for k, (g, mask) in enumerate(zip(field_grads, core.field_masks(setup, near.dtype, near.device)), 1):
            buf = common.zeros(setup.shape, near.dtype, near=near, slot=k)
            if g is not None:
                buf.copy_(g if mask is None else g * mask)
            out.append(buf)
        return out

    def adjoint_fields(self, state, models, names=None):
        fields = list(state)
        return fields if names is None else [f if k in names else None for k, f in zip(self.hook_names, fields)]

    def gradient_buffers(self, setup, models, want):
        return [
            common.zeros(setup.shape, m.dtype, near=models[0], slot=15 + i) if w else None
            for i, (m, w) in enumerate(zip(models, want))
        ]

    def model_gradients(self, setup, models, grads):
        def total(g, m):
            if g is None:
                return None
            g = g * setup.store_interval
            return g.sum(dim=0, keepdim=True) if m.shape[0] == 1 and setup.n_shots > 1 else g

        return [total(g, m) for g, m in zip(grads, models)]

    def callback_gradients(self, setup, models, grads):
        return {k: g for k, g in zip(self.model_names, self.model_gradients(setup, models, grads)) if g is not None}

    def set_callback_gradients(self, setup, models, grads, edited):
        for k, g in zip(self.model_names, grads):
            if g is not None and k in edited:
                g.zero_()
                g[: edited[k].shape[0]] = edited[k] / setup.store_interval

    def reference_stepper(self, setup, models, sources, kind):
        velocity_step, pressure_step = get_steps(kind)
        ndim, h = self.ndim, setup.halo
        k, bs = models[0], list(models[1:])
        prof = setup.profiles
        shaped = [core.along(p, i // 4, ndim) for i, p in enumerate(prof)]
        a, b, ah, bh = shaped[0::4], shaped[1::4], shaped[2::4], shaped[3::4]
        w = STAGGERED_WEIGHTS[setup.accuracy]
        rd = [1.0 / s for s in setup.spacing]
        dt = setup.dt_inner
        records = [driver.Survey(i, setup, k) for i in setup.survey["receivers"]]
        injections = [driver.Survey(i, setup, k) for i in setup.survey["sources"]]

        def advance(state, t):
            p, vel = state[0], state[1 : 1 + ndim]
            phi, psi = state[1 + ndim : 1 + 2 * ndim], state[1 + 2 * ndim :]
            got = [r.record(f) for r, f in zip(records, [p, *vel])]
            vel, psi, _ = velocity_step(p, vel, psi, bs, ah, bh, h, w, rd, dt)
            vel = [injections[1 + i].inject(f, sources[1 + i][t]) for i, f in enumerate(vel)]
            p, phi, _ = pressure_step(p, vel, phi, k, a, b, h, w, rd, dt)
            p = injections[0].inject(p, sources[0][t])
            return [p, *vel, *phi, *psi], got

        return advance


SPECS = {ndim: driver.register(_AcousticSpec(ndim)) for ndim in (1, 2, 3)}


class Acoustic(HookedPropagator, torch.nn.Module):
    """An acoustic propagator that owns its wavespeed and density models.

    ``Acoustic(v, rho, grid_spacing, v_requires_grad=False,
    rho_requires_grad=False)(dt, source_amplitudes_p, ...)`` calls
    :func:`acoustic` with the stored models; the other arguments are the
    same, positional ones in :func:`acoustic`'s order after ``dt``.

    Imaging conditions of your own replace the gradient of ``v`` or ``rho``
    or make images (``register_gradient``, ``clear_gradients``,
    ``imaging``: see :mod:`torchwave.hooks`); the fields are ``pressure``,
    ``vz``/``vy``/``vx``, ``phi_*`` and ``psi_*``.
    """

    _source_type = ("pressure",)
    _receiver_type = ("pressure",)
    model_names = ("v", "rho")

    def __init__(
        self,
        v: torch.Tensor,
        rho: torch.Tensor,
        grid_spacing,
        v_requires_grad: bool = False,
        rho_requires_grad: bool = False,
        storage_mode: str = "device",
        storage_path: str = ".",
        storage_compression: Union[bool, str] = False,
    ):
        super().__init__()
        common.check_module_model("v", v, v_requires_grad)
        common.check_module_model("rho", rho, rho_requires_grad)
        for name, t in (("v", v), ("rho", rho)):
            common.check_tensor(name, t, ndims=(1, 2, 3, 4), dtypes=(torch.float32, torch.float64))
        self.v = torch.nn.Parameter(v, requires_grad=v_requires_grad)
        self.rho = torch.nn.Parameter(rho, requires_grad=rho_requires_grad)
        self._wavefield_names = core.hook_names(min(v.ndim, 3))
        self.grid_spacing = grid_spacing
        self.storage_mode = storage_mode
        self.storage_path = storage_path
        self.storage_compression = storage_compression

    def forward(self, dt: float, *args, **kwargs):
        """Calls :func:`acoustic` with the stored models; the storage
        options default to the module's."""
        kwargs = common.positional_kwargs(acoustic, "dt", args, kwargs, "python_backend")
        for name in ("storage_mode", "storage_path", "storage_compression"):
            kwargs.setdefault(name, getattr(self, name))
        return acoustic(self.v, self.rho, self.grid_spacing, dt, **kwargs, _hooks=self._hook_run())
