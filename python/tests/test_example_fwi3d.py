"""examples/fwi_3d.py at a tiny size (20³, a few iterations): the data
misfit and the model error fall, and the figure of three orthogonal slices
of the true, initial and inverted models is written."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest
import torch

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    """Imports examples/<name>.py (examples/ is not a package)."""
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    spec = importlib.util.spec_from_file_location(f"torchwave_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fwi_3d_tiny(tmp_path):
    fwi_3d = _load("fwi_3d")
    out = tmp_path / "fwi_3d.png"
    result = fwi_3d.run(
        n=20,
        nt=200,
        dt=0.001,
        freq=25.0,
        shots_per_side=2,
        receiver_spacing=2,
        pml_width=5,
        iterations=4,
        lr=40.0,
        smoothing=2.5,
        out=out,
        progress=False,
    )
    assert out.is_file() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    losses = result["losses"]
    assert len(losses) == 4
    assert losses[-1] < 0.5 * losses[0], losses
    assert result["error_final"] < result["error_initial"], (result["error_initial"], result["error_final"])
    v = result["v_inverted"]
    assert v.shape == (20, 20, 20) and bool(torch.isfinite(v).all())
    assert float(v.min()) >= fwi_3d.V_MIN and float(v.max()) <= fwi_3d.V_MAX


def test_fwi_3d_slices_and_survey():
    """The figure's slices go through the centre along each axis; the survey
    puts every source and receiver on the surface (z = 1)."""
    fwi_3d = _load("fwi_3d")
    v = torch.arange(4 * 5 * 6, dtype=torch.float64).reshape(4, 5, 6)
    (_, xy, _), (_, xz, _), (_, yz, _) = fwi_3d.slices(v)
    assert (xy == v[2].numpy()).all() and (xz == v[:, 2].numpy()).all() and (yz == v[:, :, 3].numpy()).all()
    src, rec = fwi_3d.survey(20, 2, 3)
    assert src.shape == (4, 1, 3) and rec.shape[0] == 4 and rec.shape[-1] == 3
    assert bool((src[..., 0] == 1).all()) and bool((rec[..., 0] == 1).all())
    assert len({tuple(s) for s in src[:, 0].tolist()}) == 4
