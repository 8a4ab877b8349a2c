"""The Born entry points of the Go core through ctypes (_lib.born_call):
the scattered receivers are the derivative of plain scalar runs, the
backward pass is their transpose, and bad arguments raise."""

import pytest
import torch

from torchwave import _lib

SHOTS, NY, NX, STEPS = 2, 16, 18, 20


def _problem():
    gen = torch.Generator().manual_seed(3)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    def profile(n):
        # A CPML band on the four cells at each edge (the halo and two more).
        d = torch.clamp(torch.maximum(4 - torch.arange(n), torch.arange(n) - (n - 5)), min=0).double() / 3
        a = torch.exp(-0.3 * d) * (d > 0)
        return a, 0.5 * (a - 1) * (d > 0), 0.1 * d

    ay, by, dby = profile(NY)
    ax, bx, dbx = profile(NX)

    def cells(n, offset):
        return torch.tensor([[(4 + k) * NX + 5 + offset + 3 * s for k in range(n)] for s in range(SHOTS)])

    bg = dict(
        dtype=1,
        n_shots=SHOTS,
        ny=NY,
        nx=NX,
        accuracy=4,
        n_sources=1,
        n_receivers=2,
        n_steps=STEPS,
        store_interval=1,
        rdy=1 / 1.5,
        ndim=2,
        nz=1,
        rdx=1 / 2.0,
        c=0.3 + 0.1 * rand(1, NY, NX),
        ay=ay,
        by=by,
        dby=dby,
        ax=ax,
        bx=bx,
        dbx=dbx,
        source_index=cells(1, 0),
        receiver_index=cells(2, 4),
        source_amplitudes=rand(STEPS, SHOTS, 1) - 0.5,
    )
    born = dict(
        dc=0.05 * (rand(1, NY, NX) - 0.5),
        n_receivers_sc=3,
        receiver_index_sc=cells(3, 7),
        source_amplitudes_sc=rand(STEPS, SHOTS, 1) - 0.5,
    )
    return bg, born


def _pairs(suffix=""):
    return {
        name + suffix: [torch.zeros(SHOTS, NY, NX, dtype=torch.float64) for _ in range(2)]
        for name in ("u", "psiy", "psix", "zetay", "zetax")
    }


def _scalar_receivers(bg, c, src, receiver_index):
    rec = torch.zeros(STEPS, SHOTS, receiver_index.shape[1], dtype=torch.float64)
    args = dict(
        bg,
        c=c,
        source_amplitudes=src,
        receiver_index=receiver_index,
        n_receivers=receiver_index.shape[1],
        receiver_amplitudes=rec,
    )
    _lib.scalar_call(False, **args, **_pairs())
    return rec


def test_born_forward_is_the_derivative_and_backward_its_transpose():
    bg, born = _problem()
    rec = torch.zeros(STEPS, SHOTS, 2, dtype=torch.float64)
    rec_sc = torch.zeros(STEPS, SHOTS, 3, dtype=torch.float64)
    store = torch.zeros(STEPS, SHOTS, NY, NX, dtype=torch.float64)
    _lib.born_call(
        False,
        dict(bg, receiver_amplitudes=rec, store=store, n_store=STEPS, **_pairs()),
        receiver_amplitudes_sc=rec_sc,
        **born,
        **_pairs("_sc"),
    )

    assert torch.equal(rec, _scalar_receivers(bg, bg["c"], bg["source_amplitudes"], bg["receiver_index"]))
    eps = 1e-6
    plus, minus = (
        _scalar_receivers(
            bg,
            bg["c"] + s * eps * born["dc"],
            bg["source_amplitudes"] + s * eps * born["source_amplitudes_sc"],
            born["receiver_index_sc"],
        )
        for s in (1, -1)
    )
    fd = (plus - minus) / (2 * eps)
    assert rec_sc.abs().max() > 0
    assert (rec_sc - fd).abs().max() <= 1e-6 * fd.abs().max()

    # <J x, y> = <x, J' y> for x = (dc, scattered sources), background fixed.
    y = torch.randn(rec_sc.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    grad_dc = torch.zeros(SHOTS, NY, NX, dtype=torch.float64)
    grad_src = torch.zeros_like(born["source_amplitudes_sc"])
    _lib.born_call(
        True,
        dict(bg, source_amplitudes=None, store=store, n_store=STEPS),
        **dict(born, source_amplitudes_sc=grad_src),
        receiver_amplitudes_sc=y,
        grad_dc=grad_dc,
        adjoint_bg=0,
        **_pairs("_sc"),
    )
    lhs = (rec_sc * y).sum()
    rhs = (born["dc"] * grad_dc / bg["c"]).sum() + (born["source_amplitudes_sc"] * grad_src).sum()
    assert abs(lhs - rhs) <= 1e-12 * abs(lhs)


def test_born_bad_arguments_raise():
    bg, born = _problem()
    bg.update(receiver_amplitudes=torch.zeros(STEPS, SHOTS, 2, dtype=torch.float64), **_pairs())
    born.update(receiver_amplitudes_sc=torch.zeros(STEPS, SHOTS, 3, dtype=torch.float64), **_pairs("_sc"))
    halo = born["receiver_index_sc"].clone()
    halo[0, 0] = 1
    for change, message in (
        (dict(receiver_index_sc=halo), "scattered receiver index"),
        (dict(n_receivers_sc=-3), "n_receivers_sc"),
        (dict(dc=None), "dc is a null pointer"),
    ):
        with pytest.raises(ValueError, match=message):
            _lib.born_call(False, bg, **dict(born, **change))
    with pytest.raises(ValueError, match="background adjoint"):
        _lib.born_call(True, dict(bg, grad_c=torch.zeros(SHOTS, NY, NX, dtype=torch.float64)), **born)
