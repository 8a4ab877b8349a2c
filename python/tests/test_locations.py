"""Sources and receivers between grid points (Hicks interpolation).

Figures (2D, homogeneous 1500 m/s, 5 m cells, 25 Hz Ricker, accuracy 8,
dt 0.4 ms, source and receivers at fractional positions): relative L2
error against the analytic Green's function 0.7–0.9% interpolated, 21–37%
with the positions rounded to the nearest cell.
"""

from __future__ import annotations

import math

import pytest
import scipy.special
import torch

import torchwave
from torchwave.location_interpolation import Hicks, hicks_weights

F64 = torch.float64


def _analytic_2d(r: float, wavelet: torch.Tensor, dt: float, c: float, h: float) -> torch.Tensor:
    """u for u_tt = c²∇²u − c²·f·h²·δ (the scheme's source scaling), by
    the frequency-domain Green's function −i/4·H₀⁽²⁾(kr) (torch's FFT
    convention has time dependence e^{+iωt})."""
    nt = wavelet.shape[-1]
    n = 4 * nt
    spectrum = torch.fft.rfft(wavelet, n)
    k = 2 * math.pi * torch.fft.rfftfreq(n, dt, dtype=F64) / c
    green = torch.from_numpy(-0.25j * scipy.special.hankel2(0, (k * r).numpy()))
    green[0] = 0
    return torch.fft.irfft(-spectrum * green * h**2, n)[:nt]


def test_fractional_positions_match_the_analytic_solution():
    c, h, dt, nt, freq = 1500.0, 5.0, 0.0004, 600, 25.0
    v = torch.full((80, 80), c, dtype=F64)
    wavelet = torchwave.wavelets.ricker(freq, nt, dt, 1.5 / freq).to(F64)
    src = torch.tensor([[[40.3, 39.6]]], dtype=F64)
    rec = torch.tensor([[[50.75, 39.6], [40.3, 55.3], [30.15, 30.35]]], dtype=F64)

    def run(s, r):
        return torchwave.scalar(v, h, dt, wavelet[None, None], s, r, accuracy=8, pml_width=20, pml_freq=freq)[-1]

    interpolated = run(src, rec)
    rounded = run(src.round().long(), rec.round().long())
    for i in range(rec.shape[1]):
        r = float((rec[0, i] - src[0, 0]).norm()) * h
        exact = _analytic_2d(r, wavelet, dt, c, h)
        err = float((interpolated[0, i] - exact).norm() / exact.norm())
        err_rounded = float((rounded[0, i] - exact).norm() / exact.norm())
        assert err < 0.01, (i, err)
        assert err_rounded > 5 * err, (i, err, err_rounded)


def _problem():
    gen = torch.Generator().manual_seed(3)
    v = 1500 + 100 * torch.rand(20, 22, generator=gen, dtype=F64)
    amp = torch.randn(1, 1, 25, generator=gen, dtype=F64)
    src = torch.tensor([[[9.3, 10.6]]], dtype=F64)
    rec = torch.tensor([[[5.4, 6.7], [12.25, 14.5]]], dtype=F64)
    return v, amp, src, rec


KW = dict(accuracy=4, pml_width=3, pml_freq=25.0, max_vel=1700.0)


@pytest.mark.parametrize("wrt", ["v", "amplitudes", "source_locations", "receiver_locations"])
def test_gradcheck_with_fractional_positions(wrt):
    """Gradients with respect to the models, the amplitudes and the
    locations themselves (through the weights) are exact."""
    inputs = list(_problem())
    names = ["v", "amplitudes", "source_locations", "receiver_locations"]
    i = names.index(wrt)

    def f(x):
        args = [x if j == i else a for j, a in enumerate(inputs)]
        return torchwave.scalar(args[0], 5.0, 0.001, args[1], args[2], args[3], **KW)[-1]

    x = inputs[i].clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_reciprocity_with_fractional_positions():
    v, amp, src, rec = _problem()
    a = torchwave.scalar(v, 5.0, 0.001, amp, src, rec[:, :1], **KW)[-1]
    b = torchwave.scalar(v, 5.0, 0.001, amp, rec[:, :1], src, **KW)[-1]
    assert float((a - b).abs().max() / a.abs().max()) < 1e-6


def test_integer_valued_floats_are_single_cells():
    """Float positions on cell centres give exactly the integer path."""
    v, amp, src, rec = _problem()
    src_i, rec_i = src.round().long(), rec.round().long()
    a = torchwave.scalar(v, 5.0, 0.001, amp, src_i, rec_i, **KW)
    b = torchwave.scalar(v, 5.0, 0.001, amp, src_i.to(F64), rec_i.to(F64), **KW)
    for x, y in zip(a, b):
        assert torch.equal(x, y)


def test_go_matches_reference_with_fractional_positions():
    v, amp, src, rec = _problem()
    scatter = torch.zeros_like(v)
    scatter[5:15, 6:16] = 10.0
    a = torchwave.scalar_born(v, scatter, 5.0, 0.001, amp, src, rec, rec, **KW)
    b = torchwave.scalar_born(v, scatter, 5.0, 0.001, amp, src, rec, rec, python_backend=True, **KW)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)
    assert a[-1].shape == (1, 2, 25) and a[-2].shape == (1, 2, 25)


def test_maxwelltm_takes_fractional_positions():
    eps = torch.full((24, 26), 4.0, dtype=F64)
    sigma = torch.zeros_like(eps)
    mu = torch.ones_like(eps)
    amp = torchwave.wavelets.ricker(200e6, 60, 4e-11, 6e-9).to(F64)[None, None]
    src = torch.tensor([[[11.5, 12.25]]], dtype=F64)
    rec = torch.tensor([[[6.3, 8.8], [16.5, 19.25]]], dtype=F64)
    args = (eps, sigma, mu, 0.01, 4e-11, amp, src, rec)
    a = torchwave.maxwelltm(*args, pml_width=5)[-1]
    b = torchwave.maxwelltm(*args, pml_width=5, python_backend=True)[-1]
    assert a.shape == (1, 2, 60) and float(a.abs().max()) > 0
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "where, message",
    [
        ([[[-0.5, 10.0]]], r"source_locations has a coordinate -0.5 along dimension 0 outside the model"),
        ([[[9.0, 21.5]]], r"source_locations has a coordinate 21.5 along dimension 1 outside the model"),
        ([[[1.5, 10.0]]], r"source_locations has a coordinate 1.5 along dimension 0 too close to the model's edge"),
    ],
)
def test_locations_outside_or_too_close_to_the_edge(where, message):
    v, amp, _, rec = _problem()
    with pytest.raises(ValueError, match=message):
        torchwave.scalar(v, 5.0, 0.001, amp, torch.tensor(where, dtype=F64), rec, **KW)


def test_receiver_window_outside_the_model_names_it():
    v, amp, src, _ = _problem()
    with pytest.raises(ValueError, match=r"receiver_locations has a coordinate 20.5 along dimension 1 too close"):
        torchwave.scalar(v, 5.0, 0.001, amp, src, torch.tensor([[[10.0, 20.5]]], dtype=F64), **KW)


def test_hicks_matches_deepwave_helper():
    """Deepwave 0.0.27's helper, with positions whose window it computes
    exactly (binary fractions) and one point per shot (its weight cache
    is edited in place by the free-surface mirroring)."""
    deepwave = pytest.importorskip("deepwave")
    points = [[5.25, 7.75], [2.125, 9.5], [1.25, 3.5], [6.0, 6.625], [0.375, 0.75], [5.0, 7.0]]
    for free in ([False] * 4, [True, False, True, True]):
        for monopole in (True, False):
            for p in points:
                loc = torch.tensor([[p]], dtype=F64)
                kw = dict(free_surfaces=free, model_shape=[12, 12], monopole=monopole, dipole_dim=1, dtype=F64)
                theirs = deepwave.location_interpolation.Hicks(loc, **kw)
                ours = Hicks(loc, **kw)
                amp = torch.ones(1, 1, 1, dtype=F64)
                a = {tuple(c): float(w) for c, w in zip(theirs.get_locations()[0].tolist(), theirs.source(amp)[0, :, 0])}
                b = {tuple(c): float(w) for c, w in zip(ours.get_locations()[0].tolist(), ours.source(amp)[0, :, 0])}
                for cell in set(a) | set(b):
                    # Deepwave's Kaiser β is rounded to float32.
                    assert abs(a.get(cell, 0.0) - b.get(cell, 0.0)) < 1e-6, (p, free, monopole, cell)


def test_hicks_source_and_receiver_are_transposes():
    gen = torch.Generator().manual_seed(0)
    loc = 3 + 6 * torch.rand(2, 4, 3, generator=gen, dtype=F64)
    hicks = Hicks(loc, halfwidth=2, dtype=F64)
    amp = torch.randn(2, 4, 7, generator=gen, dtype=F64)
    data = torch.randn(2, hicks.get_locations().shape[1], 7, generator=gen, dtype=F64)
    lhs = (hicks.source(amp) * data).sum()
    rhs = (amp * hicks.receiver(data)).sum()
    assert abs(float(lhs - rhs)) < 1e-12 * float(lhs.abs())


def test_weights_reproduce_a_smooth_function():
    """Σ w·f(cell) ≈ f(x) for a band-limited f: the interpolation itself."""
    x = torch.tensor([10.3, 11.77, 12.5], dtype=F64)
    cells, weights = hicks_weights(x, 4)
    f = lambda t: torch.sin(0.5 * t)  # noqa: E731 (about 0.16 of the Nyquist wavenumber)
    torch.testing.assert_close((weights * f(cells.to(F64))).sum(-1), f(x), rtol=0, atol=5e-3)  # Hicks: about 0.3% ripple


def test_free_surface_mirrors_the_weights():
    """A point next to a free surface (half a cell before cell 0): cells
    beyond it carry no weight, and the window still interpolates a field
    that vanishes at the surface (odd about it), from the cells inside."""
    x = torch.tensor([0.25, 1.6], dtype=F64)
    cells, weights = hicks_weights(x, 4, free_surface=(-0.5, None))
    assert float(weights[cells < 0].abs().sum()) == 0
    f = lambda t: torch.sin(0.5 * (t + 0.5))  # noqa: E731
    torch.testing.assert_close((weights * f(cells.to(F64))).sum(-1), f(x), rtol=0, atol=5e-3)  # Hicks: about 0.3% ripple


def test_a_point_does_not_depend_on_the_others():
    """Two points with the same fractional position next to a free
    surface get the same weights (Deepwave 0.0.27's helper edits its
    weight cache in place there)."""
    kw = dict(free_surfaces=[False, False, True, False], model_shape=[12, 12], dtype=F64)
    alone = Hicks(torch.tensor([[[5.25, 0.75]]], dtype=F64), **kw)
    pair = Hicks(torch.tensor([[[8.25, 0.75], [5.25, 0.75]]], dtype=F64), **kw)
    a = alone.source(torch.ones(1, 1, 1, dtype=F64))
    b = pair.source(torch.tensor([[[0.0], [1.0]]], dtype=F64))
    da = {tuple(c): float(w) for c, w in zip(alone.get_locations()[0].tolist(), a[0, :, 0])}
    db = {tuple(c): float(w) for c, w in zip(pair.get_locations()[0].tolist(), b[0, :, 0])}
    assert max(abs(da.get(k, 0.0) - db.get(k, 0.0)) for k in set(da) | set(db)) < 1e-15
