"""torchwave.plot: each picture draws from tensors (with grad) and arrays
into given or new Axes, and refuses shapes it cannot draw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import torchwave

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plot = torchwave.plot


def _png(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=50)
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000
    return path


def test_model_image_wavefield_and_history(tmp_path):
    v = torch.linspace(1500, 3000, 20)[:, None].expand(20, 30).clone().requires_grad_()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), layout="constrained")
    ax = plot.model(
        v,
        (10.0, 10.0),
        ax=axes[0, 0],
        title="v",
        sources=torch.tensor([[1, 5], [1, 25]]),
        receivers=torch.stack([torch.ones(30), torch.arange(30)], -1),
    )
    assert ax is axes[0, 0] and ax.get_title() == "v" and ax.get_xlabel() == "x (m)"
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # depth down the page
    plot.image(torch.randn(20, 30), 10.0, ax=axes[0, 1], title="image")
    u = torch.randn(2, 30, 50)
    plot.wavefield(u, 10.0, ax=axes[0, 2], crop=(5, 5, 10, 10), background=v.detach())
    assert axes[0, 2].images[-1].get_array().shape == (20, 30)
    data = torch.randn(1, 12, 200)
    plot.shot_gather(data, 0.001, ax=axes[1, 0], mode="image", colorbar=True)
    plot.shot_gather(data[0], 0.001, ax=axes[1, 1], mode="wiggle", offsets=np.arange(12) * 25.0, every=2)
    assert axes[1, 1].get_ylabel() == "time (s)" and len(axes[1, 1].lines) == 6
    plot.history([1.0, 0.5, 0.2, 0.1], ax=axes[1, 2], model_error=[0.3, 0.25, 0.2, 0.18])
    _png(fig, tmp_path, "panels")


def test_new_figures_when_no_axes_given(tmp_path):
    ax = plot.model(np.full((10, 12), 2000.0))
    assert ax.get_xlabel() == "x (cells)"
    _png(ax.figure, tmp_path, "model")
    ax = plot.history({"plain": [3, 2, 1], "preconditioned": [3, 1, 0.5]}, log=False)
    assert ax.get_legend() is not None
    _png(ax.figure, tmp_path, "history")


def test_slices_of_a_volume(tmp_path):
    z, y, x = torch.meshgrid(torch.arange(16.0), torch.arange(12.0), torch.arange(20.0), indexing="ij")
    volume = 1500 + 50 * z + 5 * x + y
    fig, axes = plot.slices(volume, (10.0, 20.0, 5.0), index=(4, None, 15), title="3D")
    assert len(axes) == 3
    depth_slice, inline, crossline = (ax.images[0].get_array() for ax in axes)
    assert depth_slice.shape == (12, 20) and inline.shape == (16, 20) and crossline.shape == (16, 12)
    np.testing.assert_allclose(depth_slice, volume[4].numpy())
    np.testing.assert_allclose(inline, volume[:, 6].numpy())
    np.testing.assert_allclose(crossline, volume[:, :, 15].numpy())
    assert axes[0].get_title() == "depth slice, z = 40"
    _png(fig, tmp_path, "slices")


def test_bad_shapes():
    with pytest.raises(ValueError, match="3D volumes: torchwave.plot.slices"):
        plot.model(np.ones((3, 4, 5)))
    with pytest.raises(ValueError, match="expected a 3D"):
        plot.slices(np.ones((3, 4)))
    with pytest.raises(ValueError, match="outside"):
        plot.slices(np.ones((3, 4, 5)), index=(3, None, None))
    with pytest.raises(ValueError, match="mode must be"):
        plot.shot_gather(np.ones((3, 4)), mode="wiggles")
    with pytest.raises(ValueError, match="crop must be"):
        plot.wavefield(np.ones((8, 8)), crop=(1, 2))
    plt.close("all")
