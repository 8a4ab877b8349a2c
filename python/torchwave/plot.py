"""Pictures of models, shot gathers, wavefields, 3D volumes and inversions.

``pip install torchwave[plot]`` installs Matplotlib; ``import torchwave``
does not import this module (``torchwave.plot`` loads it on first use).
Every function takes tensors (on any device, with or without grad) or
arrays, draws into the Axes it is given (or a new figure's) and returns
it, so panels compose::

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), layout="constrained")
    torchwave.plot.model(v, dx, ax=axes[0], sources=src_loc[:, 0], receivers=rec_loc[0])
    torchwave.plot.shot_gather(data[0], dt, ax=axes[1], mode="wiggle")
    torchwave.plot.history(losses, ax=axes[2])

Axes follow torchwave's layout: a 2D array is [depth, x] (depth down the
page), a 3D volume [nz, ny, nx]; cell i of an axis is centred at
``origin + i * spacing``. Locations are cell indices in the same order
(``(depth, x)`` in 2D).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["model", "image", "shot_gather", "wavefield", "slices", "history"]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[Any]]
Spacing = Union[float, Sequence[float], None]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("torchwave.plot needs Matplotlib: pip install 'torchwave[plot]' (or pip install matplotlib)") from err
    return plt


def _numpy(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_complex():
            x = x.real
        return x.to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _axes(ax: Optional[Axes], figsize: Tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    _, new = _pyplot().subplots(figsize=figsize, layout="constrained")
    return new


def _spacing(grid_spacing: Spacing, ndim: int) -> Optional[np.ndarray]:
    if grid_spacing is None:
        return None
    d = np.atleast_1d(np.asarray(grid_spacing, dtype=np.float64))
    if d.size == 1:
        d = np.repeat(d, ndim)
    if d.shape != (ndim,):
        raise ValueError(f"grid_spacing must be one number or {ndim}, got {grid_spacing!r}")
    return d


def _extent(
    shape: Sequence[int], spacing: Optional[np.ndarray], origin: Optional[Sequence[float]]
) -> Optional[Tuple[float, float, float, float]]:
    """imshow's extent for a [rows (down), columns (across)] array."""
    if spacing is None:
        return None
    o = np.zeros(2) if origin is None else np.asarray(origin, dtype=np.float64)
    (nr, nc), (dr, dc) = shape, spacing
    return (float(o[1] - dc / 2), float(o[1] + (nc - 0.5) * dc), float(o[0] + (nr - 0.5) * dr), float(o[0] - dr / 2))


def _clip(a: np.ndarray, percentile: float) -> float:
    finite = np.abs(a[np.isfinite(a)])
    lim = float(np.percentile(finite, percentile)) if finite.size else 0.0
    return lim if lim > 0 else (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)


def _labels(ax: Axes, spacing: Optional[np.ndarray], unit: str, rows: str = "depth", columns: str = "x") -> None:
    suffix = f" ({unit})" if spacing is not None else " (cells)"
    ax.set_xlabel(columns + suffix)
    ax.set_ylabel(rows + suffix)


def model(
    m: ArrayLike,
    grid_spacing: Spacing = None,
    *,
    ax: Optional[Axes] = None,
    title: Optional[str] = None,
    cmap: str = "viridis",
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
    colorbar: bool = True,
    label: Optional[str] = "wavespeed (m/s)",
    origin: Optional[Sequence[float]] = None,
    unit: str = "m",
    sources: Optional[ArrayLike] = None,
    receivers: Optional[ArrayLike] = None,
    **imshow: Any,
) -> Axes:
    """A 2D model [depth, x] as an image, with sources and receivers.

    Args:
        m: the model, [nz, nx] (a leading shot dimension of 1 is dropped).
        grid_spacing: (dz, dx) or one number; None labels the axes in cells.
        ax: the Axes to draw into (default: a new figure's).
        title: the panel's title.
        cmap: the colour map.
        vmin: the bottom of the colour scale (default: the minimum).
        vmax: the top of the colour scale (default: the maximum).
        colorbar: add a colour bar labelled ``label``.
        label: the colour bar's label.
        origin: the coordinates of cell (0, 0), (depth, x).
        unit: the unit of grid_spacing, for the axis labels.
        sources: [n, 2] source cells (depth, x), drawn as red stars.
        receivers: [n, 2] receiver cells, drawn as small white triangles.
        **imshow: passed to ``Axes.imshow``.

    Returns:
        The Axes.
    """
    a = _numpy(m)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"model: expected a 2D [nz, nx] array, got shape {a.shape} (3D volumes: torchwave.plot.slices)")
    ax = _axes(ax)
    d = _spacing(grid_spacing, 2)
    imshow.setdefault("aspect", "equal" if d is None or d[0] == d[1] else "auto")
    im = ax.imshow(a, extent=_extent(a.shape, d, origin), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", **imshow)
    step = np.ones(2) if d is None else d
    start = np.zeros(2) if origin is None else np.asarray(origin, dtype=np.float64)
    for locs, style in (
        (receivers, dict(marker="v", color="w", ms=3, mec="k", mew=0.3, label="receivers")),
        (sources, dict(marker="*", color="r", ms=9, label="sources")),
    ):
        if locs is not None:
            p = _numpy(locs).reshape(-1, 2)
            ax.plot(start[1] + p[:, 1] * step[1], start[0] + p[:, 0] * step[0], ls="none", **style)  # type: ignore[arg-type]
    ax.set_xlim(*(im.get_extent()[:2]))
    ax.set_ylim(*(im.get_extent()[2:]))
    _labels(ax, d, unit)
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=label, shrink=0.85)
    return ax


def image(
    img: ArrayLike,
    grid_spacing: Spacing = None,
    *,
    ax: Optional[Axes] = None,
    title: Optional[str] = None,
    clip: float = 99.0,
    cmap: str = "seismic",
    colorbar: bool = True,
    label: Optional[str] = None,
    **kwargs: Any,
) -> Axes:
    """A signed 2D field [depth, x] (a migrated image, a gradient) on a
    symmetric colour scale clipped at the ``clip`` percentile of |img|.
    Other keywords are :func:`model`'s.

    Args:
        img: the field, [nz, nx].
        grid_spacing: (dz, dx) or one number.
        ax: the Axes to draw into.
        title: the panel's title.
        clip: the percentile of |img| at the ends of the colour scale.
        cmap: the colour map.
        colorbar: add a colour bar.
        label: the colour bar's label.
        **kwargs: passed to :func:`model`.

    Returns:
        The Axes.
    """
    a = _numpy(img)
    lim = _clip(a, clip)
    return model(a, grid_spacing, ax=ax, title=title, cmap=cmap, vmin=-lim, vmax=lim, colorbar=colorbar, label=label, **kwargs)


def shot_gather(
    data: ArrayLike,
    dt: Optional[float] = None,
    *,
    ax: Optional[Axes] = None,
    mode: str = "image",
    title: Optional[str] = None,
    clip: float = 99.0,
    offsets: Optional[ArrayLike] = None,
    every: int = 1,
    scale: float = 1.0,
    cmap: str = "gray",
    colorbar: bool = False,
) -> Axes:
    """One shot's receiver data [n_receivers, nt]: an image or wiggles,
    time down the page.

    Args:
        data: [n_receivers, nt], or [1, n_receivers, nt].
        dt: the time step in seconds (None labels time in samples).
        ax: the Axes to draw into.
        mode: ``"image"`` (a grey-scale image clipped at the ``clip``
            percentile of |data|) or ``"wiggle"`` (one line per trace,
            positive lobes filled).
        title: the panel's title.
        clip: the percentile of |data| that saturates the image, or that a
            wiggle's excursion of one trace spacing stands for.
        offsets: [n_receivers] the position of each trace along the
            horizontal axis (e.g. receiver x in metres; default: the
            receiver index).
        every: draw every ``every``-th trace (wiggle mode).
        scale: multiplies the wiggles' excursion.
        cmap: the image's colour map.
        colorbar: add a colour bar (image mode).

    Returns:
        The Axes.
    """
    a = _numpy(data)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"shot_gather: expected one shot [n_receivers, nt], got shape {a.shape}")
    if mode not in ("image", "wiggle"):
        raise ValueError(f"shot_gather: mode must be 'image' or 'wiggle', got {mode!r}")
    n_rec, nt = a.shape
    ax = _axes(ax)
    t = np.arange(nt) * (dt if dt is not None else 1.0)
    x = np.arange(n_rec, dtype=np.float64) if offsets is None else _numpy(offsets).reshape(-1)
    if x.shape != (n_rec,):
        raise ValueError(f"shot_gather: offsets must have one value per receiver ({n_rec})")
    lim = _clip(a, clip)
    if mode == "image":
        step = (x[-1] - x[0]) / (n_rec - 1) if n_rec > 1 else 1.0
        dt_ = t[1] - t[0] if nt > 1 else 1.0
        im = ax.imshow(
            a.T,
            cmap=cmap,
            vmin=-lim,
            vmax=lim,
            aspect="auto",
            interpolation="bilinear",
            extent=(float(x[0] - step / 2), float(x[-1] + step / 2), float(t[-1] + dt_ / 2), float(t[0] - dt_ / 2)),
        )
        if colorbar:
            ax.figure.colorbar(im, ax=ax, shrink=0.85)
    else:
        shown = np.arange(0, n_rec, max(1, int(every)))
        spacing = float(np.median(np.abs(np.diff(x[shown])))) if shown.size > 1 else 1.0
        gain = scale * spacing / lim
        for r in shown:
            trace = np.clip(a[r] * gain, -2 * spacing, 2 * spacing)
            ax.plot(x[r] + trace, t, color="k", lw=0.5)
            ax.fill_betweenx(t, x[r], x[r] + trace, where=trace > 0, color="k", lw=0, interpolate=True)
        ax.set_ylim(t[-1], t[0])
        ax.set_xlim(x[shown[0]] - spacing, x[shown[-1]] + spacing)
    ax.set_xlabel("receiver" if offsets is None else "offset / position")
    ax.set_ylabel("time (s)" if dt is not None else "time (samples)")
    if title:
        ax.set_title(title)
    return ax


def wavefield(
    u: ArrayLike,
    grid_spacing: Spacing = None,
    *,
    ax: Optional[Axes] = None,
    title: Optional[str] = None,
    crop: Union[int, Sequence[int]] = 0,
    clip: float = 99.5,
    cmap: str = "seismic",
    background: Optional[ArrayLike] = None,
    colorbar: bool = False,
) -> Axes:
    """A wavefield snapshot [ny, nx] (or one shot's of [n_shots, ny, nx]:
    the first), on a symmetric colour scale, optionally over a model.

    Args:
        u: the snapshot; torchwave's returned wavefields include the PML
            and padding, which ``crop`` removes.
        grid_spacing: (dy, dx) or one number.
        ax: the Axes to draw into.
        title: the panel's title.
        crop: cells to drop from each edge: one int, or
            (top, bottom, left, right).
        clip: the percentile of |u| at the ends of the colour scale.
        cmap: the colour map.
        background: a model of the (cropped) snapshot's shape, drawn in grey
            under a half-transparent wavefield.
        colorbar: add a colour bar.

    Returns:
        The Axes.
    """
    a = _numpy(u)
    while a.ndim > 2:
        a = a[0]
    c = [int(crop)] * 4 if isinstance(crop, (int, np.integer)) else [int(v) for v in crop]
    if len(c) != 4 or min(c) < 0:
        raise ValueError(f"wavefield: crop must be one int or (top, bottom, left, right), got {crop!r}")
    a = a[c[0] : a.shape[0] - c[1], c[2] : a.shape[1] - c[3]]
    ax = _axes(ax)
    d = _spacing(grid_spacing, 2)
    extent = _extent(a.shape, d, None)
    lim = _clip(a, clip)
    alpha = 1.0
    if background is not None:
        b = _numpy(background)
        if b.shape != a.shape:
            raise ValueError(f"wavefield: background has shape {b.shape}, the cropped snapshot {a.shape}")
        ax.imshow(b, cmap="gray", extent=extent, aspect="equal" if d is None or d[0] == d[1] else "auto", interpolation="nearest")
        alpha = 0.65
    im = ax.imshow(
        a, cmap=cmap, vmin=-lim, vmax=lim, extent=extent, alpha=alpha, aspect="equal" if d is None or d[0] == d[1] else "auto"
    )
    _labels(ax, d, "m")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85)
    return ax


def slices(
    volume: ArrayLike,
    grid_spacing: Spacing = None,
    *,
    index: Optional[Sequence[Optional[int]]] = None,
    fig: Optional[Figure] = None,
    title: Optional[str] = None,
    cmap: str = "viridis",
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
    symmetric: bool = False,
    label: Optional[str] = "wavespeed (m/s)",
    unit: str = "m",
) -> Tuple[Figure, np.ndarray]:
    """Three orthogonal slices through a 3D volume [nz, ny, nx]: the depth
    slice (x–y at depth index ``iz``), the inline (x–depth at ``iy``) and
    the crossline (y–depth at ``ix``), each marked with where the others cut
    it, on one colour scale.

    Args:
        volume: [nz, ny, nx] (a leading shot dimension of 1 is dropped).
        grid_spacing: (dz, dy, dx) or one number.
        index: (iz, iy, ix), each None for the middle (the default).
        fig: the Figure to draw into (default: a new one).
        title: the figure's title.
        cmap: the colour map.
        vmin: the bottom of the colour scale (default: the volume's
            minimum, or -max|v| with ``symmetric``).
        vmax: the top of the colour scale.
        symmetric: a scale symmetric about zero (images, wavefields).
        label: the colour bar's label.
        unit: the unit of grid_spacing, for the axis labels.

    Returns:
        (figure, the three Axes).
    """
    a = _numpy(volume)
    while a.ndim > 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3:
        raise ValueError(f"slices: expected a 3D [nz, ny, nx] volume, got shape {a.shape}")
    nz, ny, nx = a.shape
    idx = list(index) if index is not None else [None, None, None]
    if len(idx) != 3:
        raise ValueError(f"slices: index must be (iz, iy, ix), got {index!r}")
    iz, iy, ix = (n // 2 if i is None else int(i) for i, n in zip(idx, a.shape))
    for i, n, name in ((iz, nz, "iz"), (iy, ny, "iy"), (ix, nx, "ix")):
        if not 0 <= i < n:
            raise ValueError(f"slices: {name}={i} is outside 0..{n - 1}")
    d = _spacing(grid_spacing, 3)
    step = np.ones(3) if d is None else d
    if symmetric:
        lim = float(np.max(np.abs(a))) or 1.0
        vmin, vmax = (-lim if vmin is None else vmin), (lim if vmax is None else vmax)
    else:
        vmin, vmax = (float(a.min()) if vmin is None else vmin), (float(a.max()) if vmax is None else vmax)
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(figsize=(13, 4), layout="constrained")
    width = [nx * step[2], nx * step[2], ny * step[1]]
    axes = np.asarray(fig.subplots(1, 3, gridspec_kw={"width_ratios": width}))
    panels = (
        (a[iz], (step[1], step[2]), f"depth slice, z = {iz * step[0]:g}", "y", "x", [(None, ix * step[2]), (iy * step[1], None)]),
        (
            a[:, iy],
            (step[0], step[2]),
            f"inline, y = {iy * step[1]:g}",
            "depth",
            "x",
            [(None, ix * step[2]), (iz * step[0], None)],
        ),
        (
            a[:, :, ix],
            (step[0], step[1]),
            f"crossline, x = {ix * step[2]:g}",
            "depth",
            "y",
            [(None, iy * step[1]), (iz * step[0], None)],
        ),
    )
    im = None
    for ax, (plane, dd, name, rows, columns, cuts) in zip(axes, panels):
        im = ax.imshow(
            plane,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            extent=_extent(plane.shape, np.asarray(dd), None),
            interpolation="nearest",
            aspect="equal",
        )
        for row, column in cuts:
            if column is not None:
                ax.axvline(column, color="w", lw=0.8, ls="--")
            if row is not None:
                ax.axhline(row, color="w", lw=0.8, ls="--")
        ax.set_title(name)
        _labels(ax, d, unit, rows, columns)
    if im is not None:
        fig.colorbar(im, ax=list(axes), label=label, shrink=0.85)
    if title:
        fig.suptitle(title)
    return fig, axes


def history(
    losses: Union[ArrayLike, Dict[str, ArrayLike]],
    *,
    ax: Optional[Axes] = None,
    model_error: Optional[ArrayLike] = None,
    log: bool = True,
    xlabel: str = "iteration",
    ylabel: str = "loss",
    title: Optional[str] = None,
) -> Axes:
    """An inversion's history: the loss per iteration (one curve, or one
    per name of a dict), and on a second axis the model error if given.

    Args:
        losses: a sequence of values, or {label: sequence}.
        ax: the Axes to draw into.
        model_error: per iteration, e.g. ||v − v_true|| / ||v_true||,
            drawn in red against the right-hand axis.
        log: a logarithmic loss axis.
        xlabel: the horizontal axis's label.
        ylabel: the loss axis's label.
        title: the panel's title.

    Returns:
        The Axes (of the loss).
    """
    ax = _axes(ax)
    curves = losses if isinstance(losses, dict) else {None: losses}
    for name, values in curves.items():
        y = _numpy(values).reshape(-1)
        ax.plot(np.arange(len(y)), y, "o-", ms=3, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if isinstance(losses, dict):
        ax.legend()
    if model_error is not None:
        err = _numpy(model_error).reshape(-1)
        twin = ax.twinx()
        twin.plot(np.arange(len(err)), err, "s--", ms=3, color="tab:red")
        twin.set_ylabel("model error", color="tab:red")
        twin.tick_params(axis="y", colors="tab:red")
    if title:
        ax.set_title(title)
    return ax
