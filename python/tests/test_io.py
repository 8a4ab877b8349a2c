"""torchwave.io: shot gathers and models through SEG-Y and NumPy, round
trips, files written by segyio itself (IBM floats, other scalars, uneven
shots), and the conversion between coordinates and locations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import torchwave

segyio = pytest.importorskip("segyio")
io = torchwave.io
TF = segyio.TraceField


def _survey(n_shots=3, n_rec=7, nt=120, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n_shots, n_rec, nt)).astype(np.float32)
    src = np.stack([100.0 + 250.25 * np.arange(n_shots), np.full(n_shots, 12.5), np.full(n_shots, 20.0)], -1)
    rec = np.stack([np.arange(n_rec) * 12.5, np.zeros(n_rec), np.full(n_rec, 7.5)], -1)
    return data, src, rec


def test_import_torchwave_needs_neither_segyio_nor_matplotlib():
    code = "import sys, torchwave; assert 'segyio' not in sys.modules and 'matplotlib' not in sys.modules; torchwave.io; assert 'segyio' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_shot_gathers_round_trip(tmp_path):
    data, src, rec = _survey()
    path = tmp_path / "shots.sgy"
    io.write_shot_gathers(path, torch.from_numpy(data), 0.002, src, rec)
    g = io.read_shot_gathers(path)
    assert g.n_shots == 3 and g.data.dtype == np.float32
    np.testing.assert_array_equal(g.data, data)
    assert g.dt == pytest.approx(0.002)
    np.testing.assert_allclose(g.source_coordinates, src, rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.receiver_coordinates, np.broadcast_to(rec, (3, 7, 3)), rtol=0, atol=1e-9)
    assert g.receiver_mask.all() and list(g.field_record) == [1, 2, 3]
    # The headers hold what other readers expect: the scalar that makes the
    # quarter-metre positions exact, offsets, sample interval.
    with segyio.open(str(path), ignore_geometry=True) as f:
        h = f.header[7 + 2]  # shot 2, receiver 3
        assert h[TF.SourceGroupScalar] == -100 and h[TF.SourceX] == 35025 and h[TF.GroupX] == 2500
        assert h[TF.ElevationScalar] == -10 and h[TF.SourceDepth] == 200 and h[TF.ReceiverGroupElevation] == -75
        assert h[TF.offset] == round(np.hypot(350.25 - 25.0, 12.5)) and h[TF.TRACE_SAMPLE_INTERVAL] == 2000
        assert f.bin[segyio.BinField.Format] == 5 and f.bin[segyio.BinField.Interval] == 2000


def test_receivers_per_shot_and_two_component_coordinates(tmp_path):
    data, src, _ = _survey(n_shots=2, n_rec=4)
    rec = np.random.default_rng(1).uniform(0, 1000, (2, 4, 2)).round(1)
    path = tmp_path / "shots.segy"
    io.write_shot_gathers(path, data, 0.0005, src[:, None, :2], rec)
    g = io.read_shot_gathers(path)
    np.testing.assert_allclose(g.receiver_coordinates[..., :2], rec, atol=1e-9)
    assert (g.receiver_coordinates[..., 2] == 0).all() and (g.source_coordinates[:, 2] == 0).all()
    assert g.dt == pytest.approx(0.0005)


def test_locations_survive_the_file(tmp_path):
    """Forward-model a shot with torchwave, write it with the locations'
    coordinates, read it back: the data and the cell locations return."""
    dx, dt, nt = 5.0, 0.001, 80
    v = torch.full((20, 30), 2000.0)
    src_loc = torch.tensor([[[2, 5]], [[2, 24]]])
    rec_loc = torch.stack([torch.full((30,), 1), torch.arange(30)], -1)[None].expand(2, -1, -1)
    amps = torchwave.wavelets.ricker(25.0, nt, dt)[None, None].expand(2, 1, -1)
    data = torchwave.scalar(v, dx, dt, amps, src_loc, rec_loc, pml_width=5, pml_freq=25.0)[-1]
    path = tmp_path / "shots.sgy"
    io.write_shot_gathers(path, data, dt, io.locations_to_coordinates(src_loc, dx), io.locations_to_coordinates(rec_loc, dx))
    g = io.read_shot_gathers(path)
    assert torch.equal(g.source_locations(dx), src_loc)
    assert torch.equal(g.receiver_locations(dx), rec_loc)
    assert torch.equal(torch.from_numpy(g.data), data.to(torch.float32))


def test_file_written_by_segyio(tmp_path):
    """A survey written by segyio directly: IBM floats, a positive
    coordinate scalar on one shot and a negative on the other, an elevation
    scalar, two shots of unequal size (padded on reading)."""
    path = tmp_path / "foreign.sgy"
    rng = np.random.default_rng(3)
    counts = (3, 2)
    traces = rng.standard_normal((sum(counts), 50)).astype(np.float32)
    spec = segyio.spec()
    spec.format = 1  # IBM floating point
    spec.samples = np.arange(50) * 4.0  # ms
    spec.tracecount = sum(counts)
    headers = []
    for shot, (count, scalar, sx) in enumerate(zip(counts, (2, -10), (500, 12345))):
        for r in range(count):
            headers.append(
                {
                    TF.FieldRecord: 1001 + shot,
                    TF.TraceNumber: r + 1,
                    TF.SourceGroupScalar: scalar,
                    TF.SourceX: sx,
                    TF.SourceY: 40,
                    TF.GroupX: 100 * r,
                    TF.GroupY: 0,
                    TF.ElevationScalar: -100,
                    TF.SourceDepth: 250,
                    TF.ReceiverGroupElevation: -50,
                    TF.TRACE_SAMPLE_COUNT: 50,
                    TF.TRACE_SAMPLE_INTERVAL: 4000,
                }
            )
    with segyio.create(str(path), spec) as f:
        for i, h in enumerate(headers):
            f.header[i] = h
            f.trace[i] = traces[i]
        f.bin.update({segyio.BinField.Interval: 4000, segyio.BinField.Format: 1})
    g = io.read_shot_gathers(path)
    assert g.data.shape == (2, 3, 50) and g.dt == pytest.approx(0.004)
    assert list(g.field_record) == [1001, 1002]
    assert g.receiver_mask.tolist() == [[True, True, True], [True, True, False]]
    np.testing.assert_allclose(g.data[0], traces[:3], rtol=1e-6, atol=1e-6)  # IBM -> IEEE
    np.testing.assert_allclose(g.data[1, :2], traces[3:], rtol=1e-6, atol=1e-6)
    assert (g.data[1, 2] == 0).all() and np.isnan(g.receiver_coordinates[1, 2]).all()
    np.testing.assert_allclose(g.source_coordinates, [[1000.0, 80.0, 2.5], [1234.5, 4.0, 2.5]])
    np.testing.assert_allclose(g.receiver_coordinates[0, :, 0], [0.0, 200.0, 400.0])
    np.testing.assert_allclose(g.receiver_coordinates[1, :2, 0], [0.0, 10.0])
    np.testing.assert_allclose(g.receiver_coordinates[0, :, 2], 0.5)
    loc = g.receiver_locations(10.0)
    assert loc[1, 2].tolist() == [torchwave.IGNORE_LOCATION] * 2


def test_model_written_by_segyio(tmp_path):
    """A 2D depth model as a SEG-Y with one trace per column (the layout of
    the public Marmousi files), the spacing in CDP_X and the interval."""
    path = tmp_path / "model.segy"
    nz, nx = 40, 25
    model = (1500 + 10 * np.arange(nz)[:, None] + np.arange(nx)[None, :]).astype(np.float32)
    spec = segyio.spec()
    spec.format = 1
    spec.samples = np.arange(nz) * 4.0
    spec.tracecount = nx
    with segyio.create(str(path), spec) as f:
        for i in range(nx):
            f.header[i] = {TF.CDP_X: 40 * i, TF.SourceGroupScalar: 10, TF.TRACE_SAMPLE_COUNT: nz, TF.TRACE_SAMPLE_INTERVAL: 4000}
            f.trace[i] = np.ascontiguousarray(model[:, i])
        f.bin.update({segyio.BinField.Interval: 4000})
    read, spacing = io.read_model(path, return_spacing=True)
    assert read.shape == (nz, nx)
    np.testing.assert_allclose(read, model)
    np.testing.assert_allclose(spacing, [4.0, 400.0])


@pytest.mark.parametrize("suffix", [".sgy", ".segy", ".npy", ".npz"])
@pytest.mark.parametrize("shape", [(30, 40), (12, 5, 7)], ids=["2d", "3d"])
def test_model_round_trip(tmp_path, suffix, shape):
    rng = np.random.default_rng(0)
    model = 1500 + 1000 * rng.random(shape)
    spacing = (2.5, 10.0, 12.5)[-len(shape) :] if len(shape) == 3 else (2.5, 12.5)
    path = tmp_path / f"model{suffix}"
    io.write_model(path, torch.from_numpy(model), spacing)
    read, got = io.read_model(path, return_spacing=True)
    assert read.shape == shape
    if suffix in (".npy", ".npz"):
        np.testing.assert_array_equal(read, model)
    else:
        np.testing.assert_array_equal(read, model.astype(np.float32))
    if suffix == ".npy":
        assert got is None
    else:
        np.testing.assert_allclose(got, spacing)
    np.testing.assert_array_equal(io.read_model(path), read)


def test_coordinates_and_locations():
    loc = torch.tensor([[3, 4], [10, 0]])
    coords = io.locations_to_coordinates(loc, (5.0, 10.0), origin=(100.0, 50.0), y=7.0)
    np.testing.assert_allclose(coords, [[90.0, 7.0, 115.0], [50.0, 7.0, 150.0]])
    assert torch.equal(io.coordinates_to_locations(coords, (5.0, 10.0), origin=(100.0, 50.0)), loc)
    loc3 = torch.tensor([[1, 2, 3]])
    c3 = io.locations_to_coordinates(loc3, 2.0)
    np.testing.assert_allclose(c3, [[6.0, 4.0, 2.0]])
    assert torch.equal(io.coordinates_to_locations(c3, 2.0, ndim=3), loc3)
    frac = io.coordinates_to_locations([[7.0, 0.0, 3.0]], 2.0, rounding=False)
    assert frac.dtype == torch.float64 and frac.tolist() == [[1.5, 3.5]]


def test_bad_input(tmp_path):
    data, src, rec = _survey()
    with pytest.raises(ValueError, match="whole number of microseconds"):
        io.write_shot_gathers(tmp_path / "a.sgy", data, 0.0012345, src, rec)
    with pytest.raises(ValueError, match=r"data must be \[n_shots, n_receivers, nt\]"):
        io.write_shot_gathers(tmp_path / "a.sgy", data[0], 0.001, src, rec)
    with pytest.raises(ValueError, match="source_coordinates must be one"):
        io.write_shot_gathers(tmp_path / "a.sgy", data, 0.001, src[:2], rec)
    with pytest.raises(ValueError, match="receiver_coordinates must be"):
        io.write_shot_gathers(tmp_path / "a.sgy", data, 0.001, src, rec[:3])
    with pytest.raises(ValueError, match="grid_spacing is needed"):
        io.write_model(tmp_path / "m.sgy", np.ones((3, 4)))
    with pytest.raises(ValueError, match="unknown suffix"):
        io.write_model(tmp_path / "m.txt", np.ones((3, 4)), 1.0)
    with pytest.raises(ValueError, match="model must be"):
        io.write_model(tmp_path / "m.npy", np.ones(4))
