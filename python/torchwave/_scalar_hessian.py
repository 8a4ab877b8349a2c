"""Second derivatives of `scalar` through the Go core, served by Born
modelling.

The backward pass of `scalar` maps the receiver cotangent g to the
gradients (g_c, g_s) = Jᵀg, where J is the Jacobian of the receivers with
respect to the padded model c = v²dt² and the scaled sources s. Its own
vector-Jacobian product, for cotangents (δc, δs) of (g_c, g_s), needs
the derivatives of ⟨g, J(c, s)·(δc, δs)⟩:

(g holds the receivers' cotangent and those of the final wavefields the
loss uses; J maps to the receivers and those final fields.)

* with respect to g: J·(δc, δs), the scattered receivers of a Born run
  with model perturbation δc and scattered source δs (the scattered field
  with δc = 0 is plain propagation of δs, so one Born run does both);
* with respect to c and s: the gradient of that run's scattered
  receivers against g, taken through the background, i.e. the Born
  adjoint's background part.

So one Born forward and backward gives the whole double backward: a
Hessian-vector product costs about three propagations more than a
gradient, all in Go.

With ``model_gradient_sampling_interval=k`` the first derivative sums
W(u)·λ on every k-th step only, times k: it is linear in W(u) on those
steps, so its derivative is the same Born run with the coupling k·δc·W(u)
added on those steps alone (the Go core's ``coupling_interval``), itself
differentiated exactly.
"""

from __future__ import annotations

import dataclasses

import torch

from . import _driver as driver


def differentiable_backward(ctx, grads):
    """The scalar Propagation's backward under create_graph=True, for its
    tensor inputs (c, the scaled sources, the initial fields, the hooks'
    inputs)."""
    *g_fields, g_rec = grads
    need = ctx.needs_input_grad[3:]
    setup = ctx.setup
    n_fields = len(ctx.spec.field_names)
    if getattr(ctx, "hooks", None) is not None:
        raise NotImplementedError("second derivatives with registered imaging hooks are not available")
    if any(need[2 : 2 + n_fields]):
        if setup.store_interval != 1:
            # The reference's gradient is always exact: its derivative
            # would not be that of the sampled gradient.
            raise NotImplementedError(
                "second derivatives with initial-wavefield gradients need the exact gradient: use "
                "model_gradient_sampling_interval=1 (or python_backend=True, whose gradient is always exact)"
            )
        # Not what one Born run serves: the gradient's graph comes from
        # the pure-PyTorch implementation, re-run from the saved inputs.
        return _reference_backward(ctx, grads)
    (c,), (src,), _ = driver.saved_inputs(ctx)
    if g_rec is None:
        g_rec = torch.zeros(setup.nt_inner, setup.n_shots, setup.receiver_index.shape[1], dtype=c.dtype)
    g_c, g_src = _ScalarVectorJacobian.apply(c, src, g_rec, ctx, *g_fields)
    return (g_c if need[0] else None, g_src if need[1] else None, *([None] * (len(need) - 2)))


def _reference_backward(ctx, grads):
    """The gradient, differentiable, from the reference implementation run
    again from the forward's saved inputs, at the reference's speed, with
    autograd keeping every step. Under create_graph=True the saved inputs
    carry the caller's graph, so the result is differentiable through them."""
    # c, the scaled sources, the initial fields, each through an alias
    # node: the sources depend on c in the caller's graph, and a gradient
    # taken with respect to c itself would count that path twice.
    models, sources, initial = driver.saved_inputs(ctx)
    inputs = [None if t is None else t.view_as(t) for t in (*models, *sources, *initial)]
    need = ctx.needs_input_grad[3:]
    setup = dataclasses.replace(ctx.setup, storage_mode="device", forward_callback=None, backward_callback=None)
    outputs = driver.reference(ctx.spec, setup, inputs[:1], inputs[1:2], inputs[2:], "eager")
    pairs = [(o, g) for o, g in zip(outputs, grads) if g is not None]
    wanted = [i for i, t in enumerate(inputs) if t is not None and need[i]]
    got = [None] * len(wanted)
    if wanted and pairs:
        got = torch.autograd.grad(
            [o for o, _ in pairs], [inputs[i] for i in wanted], [g for _, g in pairs], create_graph=True, allow_unused=True
        )
    out = [None] * len(inputs)
    for i, g in zip(wanted, got):
        out[i] = torch.zeros_like(inputs[i]) if g is None else g
    return (*out, *([None] * (len(need) - len(inputs))))


class _ScalarVectorJacobian(torch.autograd.Function):
    """(c, s, g_rec, g_fields) -> Jᵀg = (g_c, g_s), differentiable once
    more; g_fields are the cotangents of the final fields (None where
    the loss does not use one)."""

    @staticmethod
    def forward(ctx, c, src, g_rec, scalar_ctx, *g_fields):
        grads = driver.Propagation.backward(scalar_ctx, *g_fields, g_rec)[3:]
        ctx.scalar_ctx = scalar_ctx
        ctx.field_given = [g is not None for g in g_fields]
        ctx.save_for_backward(c, src, g_rec, *(g for g in g_fields if g is not None))
        g_c = torch.zeros_like(c) if grads[0] is None else grads[0]
        g_src = torch.zeros_like(src) if grads[1] is None else grads[1]
        return g_c, g_src

    @staticmethod
    def backward(ctx, d_c, d_src):
        if torch.is_grad_enabled():
            raise RuntimeError("third derivatives through torchwave's Go core are not available")
        c, src, g_rec, *given = ctx.saved_tensors
        need = ctx.needs_input_grad
        setup = ctx.scalar_ctx.setup
        # A gradient sampled every k steps is linear in W(u) on those steps
        # only: its derivative is Born modelling coupled on them, k·δc·W(u),
        # differentiated exactly (every step).
        born_setup = dataclasses.replace(
            setup,
            store_interval=1,
            coupling_interval=setup.store_interval,
            extra_receiver_index=torch.empty(setup.n_shots, 0, dtype=torch.long),
            forward_callback=None,
            backward_callback=None,
            storage_mode="device" if setup.storage_mode in ("none", "auto") else setup.storage_mode,
            compression=None,
        )
        dc = torch.zeros_like(c) if d_c is None else d_c.contiguous()
        src_sc = torch.zeros_like(src) if d_src is None else d_src.contiguous()
        with torch.enable_grad():
            c_ = c.detach().requires_grad_(need[0])
            src_ = src.detach().requires_grad_(need[1])
            born = driver.spec_named("scalar_born", setup.ndim)
            n = len(ctx.field_given)
            out = driver.Propagation.apply(born, born_setup, None, c_, dc, src_, src_sc, *([None] * (2 * n)))
            # J·(δc, δs): the scattered receivers and final scattered fields.
            scattered_fields, scattered = list(out[n : 2 * n]), out[-1]
            outputs, cotangents = [scattered], [g_rec]
            g_fields = iter(given)
            for field, is_given in zip(scattered_fields, ctx.field_given):
                if is_given:
                    outputs.append(field)
                    cotangents.append(next(g_fields))
            wrt = [t for t in (c_, src_) if t.requires_grad]
            grads = list(torch.autograd.grad(outputs, wrt, cotangents, allow_unused=True)) if wrt else []
        g_c = grads.pop(0) if need[0] else None
        g_src = grads.pop(0) if need[1] else None
        d_fields = [
            f.detach() if is_given and need[4 + i] else None
            for i, (f, is_given) in enumerate(zip(scattered_fields, ctx.field_given))
        ]
        return (g_c, g_src, scattered.detach() if need[2] else None, None, *d_fields)
