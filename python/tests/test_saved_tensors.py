"""Gradients under torch.utils.checkpoint and saved-tensor hooks.

The wavefield history a propagator's backward pass reads lives in
autograd's saved tensors, so that whatever autograd does with those (drop
them and recompute the forward under non-reentrant checkpointing, pack
them to another place and back) it does with the history too. Each case
must give the gradient of the plain call exactly: the same discrete
operator runs in both.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils.checkpoint import checkpoint

import torchwave

NY, NX, NT = 25, 25, 60


def _two_layer():
    v = torch.full((NY, NX), 1500.0, dtype=torch.float64)
    v[NY // 2 :] = 1600.0
    return v


def _survey():
    src = torchwave.wavelets.ricker(25.0, NT, 0.001)[None, None].double()
    src_loc = torch.tensor([[[2, NX // 2]]])
    rec_loc = torch.stack([torch.full((NX,), 3), torch.arange(NX)], -1)[None]
    return src, src_loc, rec_loc


def _scalar(storage):
    src, src_loc, rec_loc = _survey()

    def run(v):
        out = torchwave.scalar(v, 5.0, 0.001, src, src_loc, rec_loc, pml_freq=25, max_vel=1600, **storage)
        return out[-1]

    return run, [_two_layer()]


def _born(storage):
    src, src_loc, rec_loc = _survey()

    def run(v, scatter):
        out = torchwave.scalar_born(
            v,
            scatter,
            5.0,
            0.001,
            src,
            src_loc,
            rec_loc,
            bg_receiver_locations=rec_loc,
            pml_freq=25,
            max_vel=1600,
            **storage,
        )
        return out[-1] + 0.1 * out[-2]

    scatter = torch.zeros(NY, NX, dtype=torch.float64)
    scatter[NY // 2 - 2 : NY // 2 + 2, 5:-5] = 50.0
    return run, [_two_layer(), scatter]


def _maxwell(storage):
    src, src_loc, rec_loc = _survey()

    def run(eps, sigma):
        mu = torch.ones_like(eps)
        out = torchwave.maxwelltm(eps, sigma, mu, 0.02, 4e-11, src, src_loc, rec_loc, pml_width=8, max_vel=2e8, **storage)
        return out[-1]

    eps = torch.full((NY, NX), 4.0, dtype=torch.float64)
    eps[NY // 2 :] = 9.0
    sigma = torch.full((NY, NX), 1e-3, dtype=torch.float64)
    return run, [eps, sigma]


def _acoustic(storage):
    src, src_loc, rec_loc = _survey()

    def run(v, rho):
        out = torchwave.acoustic(
            v,
            rho,
            5.0,
            0.001,
            source_amplitudes_p=src,
            source_locations_p=src_loc,
            receiver_locations_p=rec_loc,
            pml_freq=25,
            max_vel=1600,
            **storage,
        )
        return out[-3]  # the pressure receivers (then those of vy and vx)

    rho = torch.full((NY, NX), 1000.0, dtype=torch.float64)
    rho[NY // 2 :] = 1800.0
    return run, [_two_layer(), rho]


PROPAGATORS = {"scalar": _scalar, "scalar_born": _born, "maxwelltm": _maxwell, "acoustic": _acoustic}


def _clone_to_cpu_and_back():
    """Hooks that store a copy of every saved tensor and hand back another:
    nothing a propagator holds on to survives the round trip."""
    return torch.autograd.graph.saved_tensors_hooks(
        lambda t: (t.device, t.detach().cpu().clone()), lambda p: p[1].to(p[0]).clone()
    )


def _identity_hooks():
    return torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t)


WRAPPERS = {
    "non-reentrant checkpoint": lambda f, xs: checkpoint(f, *xs, use_reentrant=False),
    "reentrant checkpoint": lambda f, xs: checkpoint(f, *xs, use_reentrant=True),
    "identity saved_tensors_hooks": ("context", _identity_hooks),
    "copying saved_tensors_hooks": ("context", _clone_to_cpu_and_back),
    "save_on_cpu": ("context", lambda: torch.autograd.graph.save_on_cpu()),
    "save_on_cpu pinned": ("context", lambda: torch.autograd.graph.save_on_cpu(pin_memory=True)),
}


def _gradients(run, models, wrap=None):
    xs = [m.clone().requires_grad_() for m in models]
    if wrap is None:
        rec = run(*xs)
    elif isinstance(wrap, tuple):
        with wrap[1]():
            rec = run(*xs)
    else:
        rec = wrap(run, xs)
    (rec**2).sum().backward()
    return [x.grad for x in xs]


@pytest.mark.parametrize("wrapper", list(WRAPPERS))
@pytest.mark.parametrize("name", list(PROPAGATORS))
def test_gradient_is_the_plain_one(name, wrapper):
    if "pinned" in wrapper and not torch.cuda.is_available():
        pytest.skip("pinned host memory needs a CUDA device")
    run, models = PROPAGATORS[name]({})
    plain = _gradients(run, models)
    assert all(float(g.abs().max()) > 0 for g in plain), "the test needs non-zero gradients"
    wrapped = _gradients(run, models, WRAPPERS[wrapper])
    for g, w in zip(plain, wrapped):
        torch.testing.assert_close(w, g, rtol=0, atol=0)


STORAGE = {
    "cpu": dict(storage_mode="cpu"),
    "disk": dict(storage_mode="disk"),
    "bf16": dict(storage_compression=True),
    "checkpoint strategy": dict(storage_strategy="checkpoint"),
    "boundary strategy": dict(storage_strategy="boundary"),
}


@pytest.mark.parametrize("wrapper", ["non-reentrant checkpoint", "copying saved_tensors_hooks"])
@pytest.mark.parametrize("storage", list(STORAGE))
@pytest.mark.parametrize("name", list(PROPAGATORS))
def test_every_storage_plan(name, storage, wrapper, tmp_path):
    options = dict(STORAGE[storage])
    if name != "scalar" and storage == "boundary strategy":
        pytest.skip("boundary saving is scalar's")
    if options.get("storage_mode") == "disk":
        options["storage_path"] = str(tmp_path)
    run, models = PROPAGATORS[name](options)
    plain = _gradients(run, models)
    if storage == "disk" and wrapper == "copying saved_tensors_hooks":
        # The file is kept by a key tensor; a copy of the key does not keep it.
        with pytest.raises(RuntimeError, match="storage_mode='disk'"):
            _gradients(run, models, WRAPPERS[wrapper])
        return
    wrapped = _gradients(run, models, WRAPPERS[wrapper])
    for g, w in zip(plain, wrapped):
        torch.testing.assert_close(w, g, rtol=0, atol=0)
    if storage == "disk":
        assert list(tmp_path.iterdir()) == [], "the snapshot files are removed after the backward pass"


def test_checkpoint_recomputes_the_history():
    """Under non-reentrant checkpointing the forward's history is dropped
    with its saved tensors, not kept until the backward pass."""
    import torchwave._storage as storage

    run, models = _scalar({"storage_mode": "disk", "storage_path": "."})
    v = models[0].clone().requires_grad_()
    rec = checkpoint(run, v, use_reentrant=False)
    assert storage._open_disk_rows == {}, "the first forward's snapshot file should be gone"
    (rec**2).sum().backward()
    assert storage._open_disk_rows == {}


def test_retain_graph_under_checkpoint():
    run, models = _scalar({})
    v = models[0].clone().requires_grad_()
    loss = (checkpoint(run, v, use_reentrant=False) ** 2).sum()
    loss.backward(retain_graph=True)
    first = v.grad.clone()
    loss.backward()
    torch.testing.assert_close(v.grad, 2 * first, rtol=1e-12, atol=0)
