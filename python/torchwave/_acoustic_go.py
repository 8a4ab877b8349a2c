"""The acoustic propagator's Go calls: tw_acoustic_args fixed for a
propagation, the history plans of the model gradients and the chunk
runner. The state and its adjoint are lists in ``field_names`` order (p,
v per axis, φ per axis, ψ per axis); Go updates both in place.

tw_acoustic_args indexes per-axis arrays by the 3D axis (z, y, x) and the
survey by [p, vz, vy, vx]; a grid of fewer dimensions leaves the leading
axes' entries NULL."""

from __future__ import annotations

from typing import Sequence

import torch

from . import _driver as driver
from . import _lib
from . import _storage as storage


def _per_axis(ndim: int, values: Sequence) -> list:
    """Values of the modelled axes as a z, y, x array (None before)."""
    return [None] * (3 - ndim) + list(values)


def _per_field(ndim: int, values: Sequence) -> list:
    """Values of the survey fields (p, then the modelled axes) as a p, vz,
    vy, vx array."""
    return [values[0], *_per_axis(ndim, values[1:])]


def core_args(setup: driver.Setup, models) -> dict:
    """The fields of tw_acoustic_args fixed for a whole propagation."""
    ndim = setup.ndim
    k, bs = models[0], list(models[1:])
    prof = [p.contiguous() for p in setup.profiles]
    sources = [i.contiguous() for i in setup.survey["sources"]]
    receivers = [i.contiguous() for i in setup.survey["receivers"]]
    return dict(
        dtype=0 if k.dtype == torch.float32 else 1,
        ndim=ndim,
        n_shots=setup.n_shots,
        nz=setup.nz,
        ny=setup.ny,
        nx=setup.nx,
        accuracy=setup.accuracy,
        store_interval=setup.store_interval,
        k_per_shot=int(k.shape[0] > 1),
        b_per_shot=int(bs[0].shape[0] > 1),
        dt=setup.dt_inner,
        rd=(1.0 / setup.dz, 1.0 / setup.dy, 1.0 / setup.dx),
        k=k,
        b=_per_axis(ndim, bs),
        a=_per_axis(ndim, prof[0::4]),
        bp=_per_axis(ndim, prof[1::4]),
        ah=_per_axis(ndim, prof[2::4]),
        bh=_per_axis(ndim, prof[3::4]),
        n_sources=[0 if i is None else i.shape[1] for i in _per_field(ndim, sources)],
        n_receivers=[0 if i is None else i.shape[1] for i in _per_field(ndim, receivers)],
        source_index=_per_field(ndim, sources),
        receiver_index=_per_field(ndim, receivers),
    )


def _empty(shape, dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype)


def history(spec, setup: driver.Setup, args: dict, models, sources, wanted: Sequence[bool]):
    """The plan that keeps (or recomputes) the snapshots the wanted model
    gradients need: Σ E_d for K, G_d for the buoyancy along d. Its buffers
    come in the order of its ``store_names``."""
    ndim = setup.ndim
    names = [n for n, w in zip(["store_k", *(f"store_b{d}" for d in range(3 - ndim, 3))], wanted) if w]
    if setup.strategy == "checkpoint":
        plan = driver.checkpointed(spec, setup, args, models, sources, len(names))
    else:
        # Fresh buffers: the snapshot pool keeps one, and there are several.
        plan = storage.Together(driver.stored_histories(setup, len(names), models[0].device, models[0].dtype, allocate=_empty))
    plan.store_names = names
    return plan


def _store_args(histories, stores) -> dict:
    """The store fields of a Go call from a plan's window of snapshots."""
    if not histories or not stores:
        return {}
    buffers, first = stores[0]
    if buffers is None:
        return {}
    out: dict = {"store_b": [None, None, None], "n_store": buffers[0].shape[0], "store_first": first}
    for name, buf in zip(histories[0].store_names, buffers):
        if name == "store_k":
            out["store_k"] = buf
        else:
            out["store_b"][int(name[-1])] = buf
    return out


def run(spec, backward, setup, args, state, start, count, sources, receivers, stores, grads, histories) -> None:
    """Steps [start, start + count) in Go, in place on ``state`` (the
    adjoint state when ``backward``)."""
    ndim = setup.ndim
    p, vel = state[0], state[1 : 1 + ndim]
    phi, psi = state[1 + ndim : 1 + 2 * ndim], state[1 + 2 * ndim :]
    window = slice(start, start + count)
    extra = {}
    if backward and grads is not None:
        extra = dict(grad_k=grads[0], grad_b=_per_axis(ndim, grads[1:]))
    _lib.acoustic_call(
        backward,
        **args,
        step0=start,
        n_steps=count,
        p=p,
        v=_per_axis(ndim, vel),
        phi=_per_axis(ndim, phi),
        psi=_per_axis(ndim, psi),
        source_amplitudes=_per_field(ndim, [s[window] for s in sources]),
        receiver_amplitudes=_per_field(ndim, [r[window] for r in receivers]),
        **_store_args(histories, stores),
        **extra,
    )
