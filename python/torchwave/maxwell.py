"""2D transverse-magnetic Maxwell propagation (ground-penetrating radar).

`maxwelltm` takes TIDE's argument names: relative permittivity
``epsilon``, conductivity ``sigma`` in S/m, relative permeability ``mu``,
and returns ``(Ey, Hx, Hz, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x,
receiver_amplitudes)``, with receiver data in torchwave's layout
``[n_shots, n_receivers, nt]``. The compute runs in torchwave's Go core with
a hand-written exact discrete adjoint; with ``python_backend`` it runs in
plain PyTorch instead.

The scheme (see kernels/maxwell): Yee staggered grid, Ey at cell centres,
Hx half a cell along y (the first dimension, TIDE's "z"), Hz half a cell
along x. Per internal step: H from the curl of Ey, then

    Ey' = ca·Ey + cb·(∂x Hz − ∂y Hx),
    ca = (1 − σΔt/2ε)/(1 + σΔt/2ε),  cb = (Δt/ε)/(1 + σΔt/2ε),  cq = Δt/μ,

with ε = ε_r·ε0 and μ = μ_r·μ0 (conductive loss by the semi-implicit
average). A source amplitude is a current (A·m, a line current times the
cell area's worth of density): it adds −cb·amplitude/(dy·dx) to Ey at its
cell after the update. Receiver sample n is Ey after step n.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch

from . import _common as common
from . import _driver as driver
from . import _lib
from . import _maxwell_core as core
from . import _storage as storage
from ._driver import CallbackState
from ._maxwell_core import C0, EPS0, FIELD_NAMES, INITIAL_NAMES, MU0, coefficients, cpml_profile  # noqa: F401 (public here)
from ._maxwell_reference import STAGGERED_WEIGHTS, get_step
from .hooks import HookedPropagator, HookRun

__all__ = ["maxwelltm", "MaxwellTM", "EPS0", "MU0", "C0"]


_PAIRS = ("ey", "m_ey_x", "m_ey_z", "m_hx_z", "m_hz_x")


def maxwelltm(
    epsilon: torch.Tensor,
    sigma: torch.Tensor,
    mu: torch.Tensor,
    grid_spacing: Union[float, Sequence[float]],
    dt: float,
    source_amplitude: Optional[torch.Tensor],
    source_location: Optional[torch.Tensor],
    receiver_location: Optional[torch.Tensor],
    stencil: int = 2,
    pml_width: Union[int, Sequence[int]] = 20,
    max_vel: Optional[float] = None,
    Ey_0: Optional[torch.Tensor] = None,
    Hx_0: Optional[torch.Tensor] = None,
    Hz_0: Optional[torch.Tensor] = None,
    m_Ey_x: Optional[torch.Tensor] = None,
    m_Ey_z: Optional[torch.Tensor] = None,
    m_Hx_z: Optional[torch.Tensor] = None,
    m_Hz_x: Optional[torch.Tensor] = None,
    nt: Optional[int] = None,
    model_gradient_sampling_interval: int = 1,
    freq_taper_frac: float = 0.0,
    time_pad_frac: float = 0.0,
    time_taper: bool = False,
    pml_freq: Optional[float] = None,
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
    """Propagates a 2D TM electromagnetic wave (Ey, Hx, Hz).

    Args:
        epsilon: relative permittivity (≥ 1), [ny, nx] for every shot or
            [n_shots, ny, nx].
        sigma: conductivity in S/m (≥ 0), same shape rules.
        mu: relative permeability (> 0), same shape rules.
        grid_spacing: cell size in m, one number or (dy, dx).
        dt: time step in s of the amplitudes in and out. When it breaks the
            CFL condition, the internal step is a fraction of it (sources
            upsampled, receivers downsampled in the frequency domain).
        source_amplitude: [n_shots, n_sources, nt] source currents.
        source_location: [n_shots, n_sources, 2] long cell indices (y, x).
        receiver_location: [n_shots, n_receivers, 2] long cell indices.
        stencil: spatial order, 2, 4, 6 or 8.
        pml_width: cells of CPML, one int or [y0, y1, x0, x1]; 0 gives a
            reflecting (PEC) edge.
        max_vel: wave speed (m/s) used for the CFL condition and the CPML;
            at least the model's maximum c0/√(ε_r μ_r) (default: that, from
            the smallest ε_r·μ_r). It sets the CPML profile and the number
            of internal steps, and no gradient flows through it: the
            gradients with respect to epsilon and mu are those of the
            operator with max_vel held fixed only when max_vel is given.
            Left to the default, it follows the cell of smallest ε_r·μ_r,
            so the loss has a kink wherever that cell changes (in a
            homogeneous model, at every cell) and the gradient there
            differs from finite differences. Pass max_vel in inversions,
            e.g. c0/√(ε_min·μ_min) with ε_min the lower bound of ε_r and
            μ_min that of μ_r.
        Ey_0, Hx_0, Hz_0, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x: initial fields,
            [n_shots, ny + PML, nx + PML] (default zero).
        nt: number of steps when there are no source amplitudes.
        model_gradient_sampling_interval: sample the model-gradient sums
            every this many internal steps (1: exact gradient).
        freq_taper_frac, time_pad_frac, time_taper: resampling options.
        pml_freq: the CPML's frequency shift α = π·pml_freq at its inner
            edge (default 0: no shift).
        forward_callback, backward_callback: called with a CallbackState
            every ``callback_frequency`` steps; wavefields are named as in
            the returned tuple, models "epsilon", "sigma", "mu".
        python_backend: False for the Go core; True or "eager", "jit",
            "compile" for the pure-PyTorch implementation.
        storage_mode: where the forward fields the model gradient needs
            (Ey, the curl of H, the derivatives of Ey; only those of the
            models that want a gradient) are kept: "device" (the model's
            device), "cpu" (host memory; the same as "device" for CPU
            tensors), "disk" (a file per store, each in a new directory
            under ``storage_path``, removed once the backward pass is done,
            the graph is dropped or the forward pass raises), "auto" (the
            fastest of these with room for it; logged at debug level on
            the "torchwave" logger), or "none" (nothing: as in Deepwave,
            the gradients with respect to epsilon, sigma and mu are zero;
            those of the sources and initial fields are exact).
        storage_path: the directory for storage_mode="disk".
        storage_compression: False, True or "bf16" (half the bytes), or
            "int8" (about a quarter). Lossy: see docs/storage.md for the
            gradient error.
        storage_strategy: "full" stores every sampled step; "checkpoint"
            stores the seven fields every segment of steps and recomputes
            the steps in between during the backward pass (one extra
            forward pass, a fraction of the memory). "boundary" is not
            available for maxwelltm.

    Returns:
        (Ey, Hx, Hz, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x, receiver_amplitudes):
        the final fields of the model region with its PML, and Ey at the
        receivers, [n_shots, n_receivers, nt].
    """
    # Imaging-condition hooks of a MaxwellTM module (see torchwave.hooks).
    hooks = None if _hooks is None else _hooks.bind({"epsilon": epsilon, "sigma": sigma})
    if hooks is not None:
        # Models whose gradient comes from the hooks (all of them when
        # imaging) stay out of autograd's graph.
        if hooks.replaces("epsilon"):
            epsilon = epsilon.detach()
        if hooks.replaces("sigma"):
            sigma = sigma.detach()
        if hooks.imaging:
            mu = mu.detach()
    setup, ca, cb, cq, src, fields = _prepare(
        epsilon,
        sigma,
        mu,
        grid_spacing,
        dt,
        source_amplitude,
        source_location,
        receiver_location,
        stencil,
        pml_width,
        max_vel,
        [Ey_0, Hx_0, Hz_0, m_Ey_x, m_Ey_z, m_Hx_z, m_Hz_x],
        nt,
        model_gradient_sampling_interval,
        freq_taper_frac,
        time_pad_frac,
        time_taper,
        pml_freq,
        forward_callback,
        backward_callback,
        callback_frequency,
        python_backend,
        storage_mode,
        storage_path,
        storage_compression,
        storage_strategy,
    )
    return driver.propagate(SPEC, setup, [ca, cb, cq], [src], fields, python_backend, hooks)


def _prepare(*args, **kwargs):
    """(setup, ca, cb, cq, the scaled sources, the padded initial fields)."""
    return core.prepare(SPEC, *args, **kwargs)


class _MaxwellSpec(driver.Spec):
    """maxwelltm for the driver: models ca, cb, cq, one scaled source,
    seven fields. Go updates the forward fields in place; the adjoint runs
    on buffer pairs (Ey and the CPML fields) beside λ of Hx and Hz."""

    name = "maxwelltm"
    model_names = ("ca", "cb", "cq")
    field_names = FIELD_NAMES
    hook_names = FIELD_NAMES

    def core_args(self, setup, models):
        return _core_args(setup, *models)

    def forward_state(self, setup, models, initial):
        # Working copies, each placed near ca (see common.zeros).
        return [
            common.zeros(setup.shape, models[0].dtype, near=models[0], slot=k).copy_(t)
            if t is not None
            else common.zeros(setup.shape, models[0].dtype, near=models[0], slot=k)
            for k, t in enumerate(initial, 3)
        ]

    def current(self, state):
        return state

    def histories(self, setup, args, models, sources, wanted):
        names = _wanted_stores(wanted)
        plan = _history(setup, models, sources[0], args, names)
        plan.store_names = names  # which Go store each of its buffers is
        return [plan]

    def run(self, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories):
        buffers, first = stores[0] if stores else (None, 0)
        store_args = _store_args(histories[0].store_names, buffers, first) if histories else {}
        if not backward:
            _run_forward(args, state, start, count, sources[0], receivers[0], store_args)
            return
        pairs = state["pairs"]
        _lib.maxwell_call(
            True,
            **args,
            step0=start,
            n_steps=count,
            source_amplitudes=sources[0][start : start + count],
            receiver_amplitudes=receivers[0][start : start + count],
            hx=state["hx"],
            hz=state["hz"],
            **pairs,
            **store_args,
            **{k: g for k, g in zip(("grad_ca", "grad_cb", "grad_cq"), grads)},
        )
        if count % 2:
            for pair in pairs.values():
                pair.reverse()

    def adjoint_state(self, setup, models, field_grads, need, wanted, hooks):
        ca = models[0]
        adj = []
        for k, (g, mask) in enumerate(zip(field_grads, core.masks(setup, ca.dtype, ca.device)), 3):
            buf = common.zeros(setup.shape, ca.dtype, near=ca, slot=k)
            adj.append(buf if g is None else buf.copy_(g if mask is None else g * mask))
        pairs = {
            name: [adj[i], common.zeros(setup.shape, ca.dtype, near=ca, slot=10 + j)]
            for j, (name, i) in enumerate(zip(_PAIRS, (0, 3, 4, 5, 6)))
        }
        return {"pairs": pairs, "hx": adj[1], "hz": adj[2]}

    def adjoint_fields(self, state, models, names=None):
        pairs = state["pairs"]
        fields = [pairs["ey"][0], state["hx"], state["hz"]] + [pairs[k][0] for k in _PAIRS[1:]]
        return fields if names is None else [f if k in names else None for k, f in zip(FIELD_NAMES, fields)]

    def gradient_buffers(self, setup, models, want):
        return [
            common.zeros(setup.shape, m.dtype, near=models[0], slot=15 + i) if w else None
            for i, (m, w) in enumerate(zip(models, want))
        ]

    def model_gradients(self, setup, models, grads):
        def total(g, c):
            if g is None:
                return None
            g = g * setup.store_interval
            return g.sum(dim=0, keepdim=True) if c.shape[0] == 1 and setup.n_shots > 1 else g

        return [total(g, c) for g, c in zip(grads, models)]

    def reference_stepper(self, setup, models, sources, kind):
        step = get_step(kind)
        ay, by, ayh, byh, ax, bx, axh, bxh = setup.profiles
        profiles = (ay[:, None], by[:, None], ayh[:, None], byh[:, None], ax, bx, axh, bxh)
        w = STAGGERED_WEIGHTS[setup.accuracy]
        wy, wx = [c / setup.dy for c in w], [c / setup.dx for c in w]
        ca, src = models[0], sources[0]
        receivers, injection = driver.Survey(setup.receiver_index, setup, ca), driver.Survey(setup.source_index, setup, ca)

        def advance(state, t):
            state = step(*state, *models, *profiles, setup.halo, wy, wx)
            state[0] = injection.inject(state[0], src[t])
            return state, [receivers.record(state[0])]

        return advance


SPEC = driver.register(_MaxwellSpec())


def _core_args(setup: driver.Setup, ca, cb, cq) -> dict:
    """The fields of tw_maxwell_args fixed for a whole propagation."""
    args = driver.grid_args(setup, ca)
    args["stencil"] = args.pop("accuracy")
    profiles = (p.contiguous() for p in setup.profiles)
    return dict(args, ca=ca, cb=cb, cq=cq, **dict(zip(("ay", "by", "ayh", "byh", "ax", "bx", "axh", "bxh"), profiles)))


_STORES = ("store_ey", "store_curl", "store_dz", "store_dx")


def _wanted_stores(need) -> List[str]:
    """The stores the model gradients asked for need: Ey for ca, the curl
    of H for cb, both derivatives of Ey for cq."""
    wanted = [need[0], need[1], need[2], need[2]]
    return [name for name, w in zip(_STORES, wanted) if w]


def _store_args(names: List[str], buffers, first: int) -> dict:
    """The store fields of a Go call: a plan's window of snapshots, one
    buffer per wanted store (none when the plan gives no buffers)."""
    if buffers is None:
        return {}
    return dict(zip(names, buffers), n_store=buffers[0].shape[0], store_first=first)


def _run_forward(core_args: dict, fields, start: int, count: int, src, rec, stores: dict) -> None:
    """Forward steps [start, start + count) in Go, in place on ``fields``."""
    _lib.maxwell_call(
        False,
        **core_args,
        step0=start,
        n_steps=count,
        source_amplitudes=src[start : start + count],
        receiver_amplitudes=rec[start : start + count],
        ey=[fields[0]],
        hx=fields[1],
        hz=fields[2],
        m_ey_x=[fields[3]],
        m_ey_z=[fields[4]],
        m_hx_z=[fields[5]],
        m_hz_x=[fields[6]],
        **stores,
    )


def _empty(shape, dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype)


def _history(setup: driver.Setup, models, src: torch.Tensor, core_args: dict, names: List[str]):
    """The plan that keeps (or recomputes) the wanted stores' snapshots,
    following the storage options; its buffers come in the order of
    ``names``."""
    if setup.strategy == "checkpoint":
        return driver.checkpointed(SPEC, setup, core_args, models, [src], len(names))
    ca = models[0]
    # Fresh buffers: the snapshot pool keeps one, and there are several.
    return storage.Together(driver.stored_histories(setup, len(names), ca.device, ca.dtype, allocate=_empty))


class MaxwellTM(HookedPropagator, torch.nn.Module):
    """A TM Maxwell propagator that owns its model.

    ``MaxwellTM(epsilon, sigma, mu, grid_spacing, epsilon_requires_grad=False,
    sigma_requires_grad=False)(dt, source_amplitude, source_location,
    receiver_location, ...)`` calls :func:`maxwelltm` with the stored model;
    the keyword arguments are the same. mu is a buffer, not optimised.

    Imaging conditions of your own replace the gradient of ``epsilon`` or
    ``sigma`` or make images: ``register_gradient``, ``clear_gradients``,
    ``imaging`` (see :mod:`torchwave.hooks`); the fields are named as in
    the returned tuple.
    """

    _wavefield_names = FIELD_NAMES
    _source_type = ("Ey",)
    _receiver_type = ("Ey",)
    model_names = ("epsilon", "sigma")

    def __init__(self, epsilon, sigma, mu, grid_spacing, epsilon_requires_grad: bool = False, sigma_requires_grad: bool = False):
        super().__init__()
        for name, t in (("epsilon", epsilon), ("sigma", sigma), ("mu", mu)):
            common.check_tensor(name, t, ndims=(2, 3), dtypes=(torch.float32, torch.float64))
        for name, flag in (("epsilon_requires_grad", epsilon_requires_grad), ("sigma_requires_grad", sigma_requires_grad)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool")
        self.epsilon = torch.nn.Parameter(epsilon, requires_grad=epsilon_requires_grad)
        self.sigma = torch.nn.Parameter(sigma, requires_grad=sigma_requires_grad)
        self.register_buffer("mu", mu)
        self.grid_spacing = grid_spacing

    def forward(self, dt: float, source_amplitude=None, source_location=None, receiver_location=None, **kwargs):
        return maxwelltm(
            self.epsilon,
            self.sigma,
            self.mu,
            self.grid_spacing,
            dt,
            source_amplitude,
            source_location,
            receiver_location,
            **kwargs,
            _hooks=self._hook_run(),
        )
