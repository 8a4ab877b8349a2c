"""The examples in examples/, run at a tiny size: the FWI demo writes its
figure and lowers the model error; the network-wavespeed example trains
(the loss falls) and its shot-batched gradient equals the all-shots one;
the custom imaging example's registered gradient matches autograd's; the
joint acoustic inversion lowers the errors of both v and rho."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
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


def test_fwi_demo_tiny(tmp_path, capsys):
    fwi_demo = _load("fwi_demo")
    out = tmp_path / "fwi.png"
    result = fwi_demo.main(
        [
            "--ny",
            "30",
            "--nx",
            "60",
            "--nt",
            "175",
            "--freq",
            "25",
            "--smoothing",
            "2",
            "--shots",
            "2",
            "--iterations",
            "5",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert out.is_file() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(result["losses"]) == 5
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    assert result["error_final"] < 0.97 * result["error_initial"]
    v = result["v_inverted"]
    assert v.shape == (30, 60) and bool(torch.isfinite(v).all())
    assert float(v.min()) >= fwi_demo.V_MIN and float(v.max()) <= fwi_demo.V_MAX
    printed = capsys.readouterr().out
    assert "relative model error" in printed and str(out) in printed


def test_nn_wavespeed_tiny():
    nn_wavespeed = _load("nn_wavespeed")
    # Three shots in batches of two: the batches are uneven on purpose.
    result = nn_wavespeed.run(size=(16, 32), nt=80, shots=3, batch=2, steps=4, freq=25.0, dtype=torch.float64, progress=False)
    losses = result["losses"]
    assert len(losses) == 4
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0]
    assert result["grad_max_rel_diff"] < 1e-10
    assert result["loss_sum_diff"] < 1e-12
    v = result["v"]
    assert v.shape == (16, 32)
    assert float(v.min()) > nn_wavespeed.V_LOW and float(v.max()) < nn_wavespeed.V_LOW + nn_wavespeed.V_RANGE


@pytest.mark.parametrize("preconditioned", [False, True], ids=["plain", "preconditioned"])
def test_gpr_lbfgs_workflow_loss_falls(preconditioned):
    """Scenario S0 at the seed's size: maxwelltm, 8 shots on 32×32 in
    batches of 2 through backward_shot_batches, bounded lbfgs_minimize,
    10 iterations, with and without the curvature preconditioner."""
    example = _load("gpr_lbfgs_workflow")
    result, losses = example.invert(iterations=10, preconditioned=preconditioned)
    assert result.iterations == 10 and len(losses) == 11
    assert losses[-1] < 0.05 * losses[0], losses
    assert all(b <= a for a, b in zip(losses, losses[1:])), losses
    x = result.x
    assert x.min() >= example.EPS_MIN and x.max() <= example.EPS_MAX
    assert example.model_error(x) < example.model_error(np.full_like(x, example.EPS_START))


def test_custom_imaging_small(tmp_path, capsys):
    """Scenario S1 at half the size: the registered standard imaging
    condition matches autograd's gradient, imaging mode leaves v.grad
    alone, and the figure is written."""
    custom_imaging = _load("custom_imaging")
    out = tmp_path / "custom_imaging.png"
    result = custom_imaging.main(["--small", "--out", str(out)])
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["cosine_inner"] >= 0.99, result["cosine_inner"]
    assert result["grad_untouched"]
    for name in ("autograd", "registered", "cross_correlation"):
        image = result[name]
        assert image.shape == (48, 64) and bool(torch.isfinite(image).all()) and float(image.abs().max()) > 0
    printed = capsys.readouterr().out
    assert "cosine(registered standard condition, autograd gradient)" in printed and str(out) in printed


def test_dask_fwi_tiny(tmp_path, capsys):
    """Scenario S4 at a small size: L-BFGS-B with box bounds on a 2-worker
    LocalCluster lowers the relative model error."""
    pytest.importorskip("distributed")
    dask_fwi = _load("dask_fwi")
    out = tmp_path / "dask_fwi.png"
    result = dask_fwi.main(
        [
            "--n",
            "31",
            "--radius",
            "5",
            "--nt",
            "250",
            "--freq",
            "25",
            "--pml",
            "10",
            "--iterations",
            "4",
            "--workers",
            "2",
            "--out",
            str(out),
        ]
    )
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    errors = result["errors"]
    assert len(errors) == 5, errors
    assert errors[-1] < 0.9 * errors[0], errors
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    v = result["v_inverted"]
    assert v.shape == (31, 31) and float(v.min()) >= dask_fwi.V_MIN and float(v.max()) <= dask_fwi.V_MAX
    printed = capsys.readouterr().out
    assert "iteration  4: model error" in printed and str(out) in printed


def test_rtm_layered_small(tmp_path):
    """RTM through the Born adjoint: the strongest reflector of the image
    is the first interface, and the image correlates with v − v_smooth."""
    example = _load("rtm_layered")
    out = tmp_path / "rtm.png"
    result = example.main(
        ["--ny", "40", "--nx", "80", "--nt", "500", "--freq", "25", "--shots", "3", "--out", str(out), "--no-progress"]
    )
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert abs(result["strongest_row"] - result["first_interface_row"]) <= 2, result["strongest_row"]
    assert result["correlation"] > 0.15, result["correlation"]


def test_lsrtm_loss_falls_every_epoch(tmp_path):
    """Scenario S2 at a reduced size: the Born module inside a loss with a
    TV term, torch.optim.SGD, the loss falling every epoch."""
    example = _load("lsrtm")
    out = tmp_path / "lsrtm.png"
    result = example.main(["--n", "61", "--nt", "1200", "--epochs", "10", "--out", str(out), "--no-progress"])
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    losses = result["losses"]
    assert len(losses) == 11
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.95 * losses[0], losses
    # The image has the sign of the perturbation where the reflectors are.
    image, perturbation = result["image"], result["perturbation"]
    assert float((image * perturbation).sum()) > 0


def test_acoustic_joint_inversion_tiny(tmp_path, capsys):
    """The joint v and rho inversion at a tiny size: with the 2×2 block
    preconditioner both model errors fall, the bounds hold and the figure
    is written."""
    example = _load("acoustic_joint_inversion")
    out = tmp_path / "joint.png"
    argv = ["--ny", "24", "--nx", "40", "--nt", "220", "--shots", "3", "--batch", "2", "--iterations", "5"]
    result = example.main([*argv, "--smoothing", "3", "--out", str(out), "--no-progress"])
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    losses, errors = result["losses"], result["errors"]
    assert len(losses) == 6 and losses[-1] < 0.2 * losses[0], losses
    assert errors["v"][-1] < 0.9 * errors["v"][0], errors
    assert errors["rho"][-1] < 0.9 * errors["rho"][0], errors
    for name, low, high in (("v", example.V_MIN, example.V_MAX), ("rho", example.RHO_MIN, example.RHO_MAX)):
        m = result[f"{name}_inverted"]
        assert m.shape == (24, 40) and float(m.min()) >= low and float(m.max()) <= high
    printed = capsys.readouterr().out
    assert "relative model error of rho:" in printed and str(out) in printed
