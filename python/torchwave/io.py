"""Shot gathers and models in and out: SEG-Y (through segyio) and NumPy.

``pip install torchwave[segy]`` installs segyio; the NumPy formats need
nothing more. ``import torchwave`` does not import this module:
``torchwave.io`` loads it on first use.

Coordinates are metres (or whatever unit the grid spacing is in), as
``(x, y, depth)`` triples, depth positive downwards. In the SEG-Y trace
headers:

========================  =====================================  =========
value                     header (byte)                          scaled by
========================  =====================================  =========
source x, y               SourceX (73), SourceY (77)             SourceGroupScalar (71)
receiver x, y             GroupX (81), GroupY (85)               SourceGroupScalar (71)
source depth              SourceDepth (49)                       ElevationScalar (69)
receiver depth            −ReceiverGroupElevation (41)           ElevationScalar (69)
source–receiver offset    offset (37)                            none (rounded)
shot number, trace        FieldRecord (9), TraceNumber (13)
========================  =====================================  =========

A scalar follows the SEG-Y rule: positive, the header value is multiplied
by it; negative, divided by its magnitude; zero means one. The writer
picks the smallest power of ten that stores every coordinate exactly (to
1/10000 of a unit), within the 32-bit header fields.

torchwave's locations are cell indices in the model's axis order, depth
first: ``(depth, x)`` for a 2D model ``[nz, nx]`` (the "y" axis of a 2D
propagator is depth) and ``(depth, y, x)`` for a 3D model ``[nz, ny, nx]``.
:func:`locations_to_coordinates` and :func:`coordinates_to_locations`
convert between the two.

Models in SEG-Y are stored one trace per vertical column (samples running
down), the columns of a 3D model inline by inline (INLINE_3D (189) the y
index + 1, CROSSLINE_3D (193) the x index + 1) with their position in
CDP_X (181) and CDP_Y (185). The vertical spacing is written into the
sample interval field in thousandths of the unit (millimetres for metres),
the usual convention for depth models.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    "ShotGathers",
    "read_shot_gathers",
    "write_shot_gathers",
    "read_model",
    "write_model",
    "locations_to_coordinates",
    "coordinates_to_locations",
]

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[Any]]
PathLike = Union[str, pathlib.Path]

_SEGY_SUFFIXES = (".sgy", ".segy")
_INT32_MAX = 2**31 - 1


def _segyio():
    try:
        import segyio
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "torchwave.io needs segyio for SEG-Y files: pip install 'torchwave[segy]' (or pip install segyio)"
        ) from err
    return segyio


def _array(x: ArrayLike, name: str, dtype=np.float64) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    out = np.asarray(x, dtype=dtype)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite")
    return out


def _scalar_for(values: np.ndarray) -> int:
    """The SEG-Y scalar (1, -10, ..., -10000) storing values exactly, or
    as finely as the int32 header fields allow."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    chosen = 1
    for divisor in (1, 10, 100, 1000, 10000):
        if largest * divisor > _INT32_MAX:
            break
        chosen = divisor
        scaled = values * divisor
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            break
    if largest > _INT32_MAX:
        raise ValueError(f"coordinates up to {largest:g} do not fit SEG-Y's 32-bit header fields")
    return 1 if chosen == 1 else -chosen


def _apply_scalar(raw: np.ndarray, scalar: np.ndarray) -> np.ndarray:
    scalar = np.asarray(scalar, dtype=np.float64)
    factor = np.where(scalar > 0, scalar, np.where(scalar < 0, 1.0 / np.abs(np.where(scalar == 0, 1, scalar)), 1.0))
    return raw.astype(np.float64) * factor


def _store(values: np.ndarray, scalar: int) -> np.ndarray:
    factor = float(scalar) if scalar > 0 else 1.0 / -scalar
    return np.round(values / factor).astype(np.int64)


def _interval_us(dt: float, what: str) -> int:
    us = dt * 1e6
    if not (0 < us <= 65535) or abs(us - round(us)) > 1e-6 * max(1.0, us):
        raise ValueError(
            f"{what} {dt!r} must be a positive whole number of microseconds up to 65535 for SEG-Y's "
            "sample interval field; resample the data first"
        )
    return int(round(us))


@dataclasses.dataclass
class ShotGathers:
    """Receiver data of a survey with its geometry, as read by
    :func:`read_shot_gathers`.

    Attributes:
        data: [n_shots, n_receivers, nt] samples (float32), zero where
            ``receiver_mask`` is False.
        dt: the time sampling interval in seconds.
        source_coordinates: [n_shots, 3] source (x, y, depth).
        receiver_coordinates: [n_shots, n_receivers, 3] receiver
            (x, y, depth), NaN where ``receiver_mask`` is False.
        receiver_mask: [n_shots, n_receivers] bool, True for a trace that
            is in the file (shots with fewer traces are padded).
        field_record: [n_shots] the shot numbers of the file (FieldRecord).
    """

    data: np.ndarray
    dt: float
    source_coordinates: np.ndarray
    receiver_coordinates: np.ndarray
    receiver_mask: np.ndarray
    field_record: np.ndarray

    @property
    def n_shots(self) -> int:
        return int(self.data.shape[0])

    def source_locations(
        self,
        grid_spacing: Union[float, Sequence[float]],
        origin: Optional[Sequence[float]] = None,
        ndim: int = 2,
        rounding: bool = True,
    ) -> torch.Tensor:
        """[n_shots, 1, ndim] source locations in cells (see
        :func:`coordinates_to_locations`)."""
        return coordinates_to_locations(self.source_coordinates[:, None], grid_spacing, origin, ndim, rounding)

    def receiver_locations(
        self,
        grid_spacing: Union[float, Sequence[float]],
        origin: Optional[Sequence[float]] = None,
        ndim: int = 2,
        rounding: bool = True,
    ) -> torch.Tensor:
        """[n_shots, n_receivers, ndim] receiver locations in cells; padded
        receivers get torchwave.IGNORE_LOCATION."""
        from ._common import IGNORE_LOCATION

        coords = np.where(self.receiver_mask[..., None], self.receiver_coordinates, 0.0)
        loc = coordinates_to_locations(coords, grid_spacing, origin, ndim, rounding)
        return loc.masked_fill(~torch.from_numpy(self.receiver_mask)[..., None], IGNORE_LOCATION)


def _spacing(grid_spacing: Union[float, Sequence[float]], ndim: int) -> np.ndarray:
    spacing = np.atleast_1d(np.asarray(grid_spacing, dtype=np.float64))
    if spacing.size == 1:
        spacing = np.repeat(spacing, ndim)
    if spacing.shape != (ndim,) or np.any(spacing <= 0):
        raise ValueError(f"grid_spacing must be one positive number or {ndim}, got {grid_spacing!r}")
    return spacing


#: For each model dimensionality, the (x, y, depth) component of each
#: location axis.
_AXES = {1: (0,), 2: (2, 0), 3: (2, 1, 0)}


def locations_to_coordinates(
    locations: ArrayLike,
    grid_spacing: Union[float, Sequence[float]],
    origin: Optional[Sequence[float]] = None,
    y: float = 0.0,
) -> np.ndarray:
    """Cell locations [..., ndim] (torchwave's order: ``(x,)``,
    ``(depth, x)`` or ``(depth, y, x)``) to coordinates [..., 3] of
    ``(x, y, depth)``: ``origin + index * spacing`` per axis.

    Args:
        locations: cell indices (or fractional positions).
        grid_spacing: one number or one per location axis, in the
            locations' order.
        origin: the coordinates of cell 0, one per location axis (default
            zeros).
        y: the y coordinate of 1D and 2D models' locations.
    """
    loc = _array(locations, "locations")
    ndim = loc.shape[-1]
    if ndim not in _AXES:
        raise ValueError(f"locations must end in a dimension of 1, 2 or 3, got shape {loc.shape}")
    spacing = _spacing(grid_spacing, ndim)
    start = np.zeros(ndim) if origin is None else np.asarray(origin, dtype=np.float64)
    out = np.zeros(loc.shape[:-1] + (3,))
    out[..., 1] = y
    for axis, component in enumerate(_AXES[ndim]):
        out[..., component] = start[axis] + loc[..., axis] * spacing[axis]
    return out


def coordinates_to_locations(
    coordinates: ArrayLike,
    grid_spacing: Union[float, Sequence[float]],
    origin: Optional[Sequence[float]] = None,
    ndim: int = 2,
    rounding: bool = True,
) -> torch.Tensor:
    """Coordinates [..., 3] of ``(x, y, depth)`` to torchwave locations
    [..., ndim] (``(x,)``, ``(depth, x)`` or ``(depth, y, x)``):
    ``(coordinate - origin) / spacing`` per axis.

    Args:
        coordinates: (x, y, depth) triples.
        grid_spacing: one number or one per location axis, in the
            locations' order.
        origin: the coordinates of cell 0, one per location axis (default
            zeros).
        ndim: the model's number of dimensions.
        rounding: round to the nearest cell and return long indices
            (else float64 positions, for sub-cell locations).
    """
    coords = _array(coordinates, "coordinates")
    if coords.shape[-1] != 3:
        raise ValueError(f"coordinates must end in a dimension of 3 (x, y, depth), got shape {coords.shape}")
    if ndim not in _AXES:
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    spacing = _spacing(grid_spacing, ndim)
    start = np.zeros(ndim) if origin is None else np.asarray(origin, dtype=np.float64)
    loc = np.stack([(coords[..., c] - start[a]) / spacing[a] for a, c in enumerate(_AXES[ndim])], -1)
    if rounding:
        return torch.from_numpy(np.round(loc).astype(np.int64))
    return torch.from_numpy(loc)


def _xyz(coords: np.ndarray, name: str) -> np.ndarray:
    if coords.shape[-1] == 2:
        coords = np.concatenate([coords, np.zeros(coords.shape[:-1] + (1,))], -1)
    if coords.shape[-1] != 3:
        raise ValueError(f"{name} must end in a dimension of 2 (x, y) or 3 (x, y, depth), got shape {coords.shape}")
    return coords


def write_shot_gathers(
    path: PathLike,
    data: ArrayLike,
    dt: float,
    source_coordinates: ArrayLike,
    receiver_coordinates: ArrayLike,
    *,
    text: Optional[str] = None,
) -> None:
    """Writes receiver data as a SEG-Y file, one trace per receiver and
    shot, the geometry in the trace headers (IEEE float32 samples).

    Args:
        path: the file to write (replaced if there).
        data: [n_shots, n_receivers, nt] receiver amplitudes (torchwave's
            receiver layout).
        dt: the sampling interval in seconds; a whole number of
            microseconds.
        source_coordinates: [n_shots, 3] (x, y, depth) or [n_shots, 2]
            (x, y; depth 0), or [n_shots, 1, 2 or 3] (one source per shot).
        receiver_coordinates: [n_shots, n_receivers, 2 or 3], or
            [n_receivers, 2 or 3] shared by every shot.
        text: a line or two for the textual header (default: says
            torchwave wrote it).
    """
    segyio = _segyio()
    samples = _array(data, "data", np.float32)
    if samples.ndim != 3:
        raise ValueError(f"data must be [n_shots, n_receivers, nt], got shape {samples.shape}")
    n_shots, n_rec, nt = samples.shape
    src = _xyz(_array(source_coordinates, "source_coordinates"), "source_coordinates")
    if src.ndim == 3 and src.shape[1] == 1:
        src = src[:, 0]
    if src.shape != (n_shots, 3):
        raise ValueError(f"source_coordinates must be one (x, y[, depth]) per shot ({n_shots}), got shape {src.shape}")
    rec = _xyz(_array(receiver_coordinates, "receiver_coordinates"), "receiver_coordinates")
    if rec.ndim == 2:
        rec = np.broadcast_to(rec, (n_shots,) + rec.shape)
    if rec.shape != (n_shots, n_rec, 3):
        raise ValueError(f"receiver_coordinates must be [n_shots, {n_rec}, 2 or 3] or [{n_rec}, 2 or 3], got shape {rec.shape}")
    interval = _interval_us(dt, "dt")
    src_rec = np.broadcast_to(src[:, None], rec.shape)
    xy_scalar = _scalar_for(np.concatenate([src[:, :2].ravel(), rec[..., :2].ravel()]))
    z_scalar = _scalar_for(np.concatenate([src[:, 2], rec[..., 2].ravel()]))
    offset = np.round(np.hypot(rec[..., 0] - src_rec[..., 0], rec[..., 1] - src_rec[..., 1])).astype(np.int64)
    spec = segyio.spec()
    spec.format = 5
    spec.samples = np.arange(nt) * (interval / 1000.0)
    spec.tracecount = n_shots * n_rec
    TF = segyio.TraceField
    lines = {
        1: "torchwave shot gathers",
        2: f"{n_shots} shots x {n_rec} receivers, {nt} samples at {interval} us, IEEE float32",
        3: "coordinates: SourceX/Y GroupX/Y scaled by SourceGroupScalar (71);",
        4: "SourceDepth and -ReceiverGroupElevation scaled by ElevationScalar (69)",
    }
    if text:
        for i, line in enumerate(text.splitlines()[:30]):
            lines[6 + i] = line[:76]
    with segyio.create(str(path), spec) as f:
        f.text[0] = segyio.tools.create_text_header(lines)
        f.bin.update(
            {
                segyio.BinField.Interval: interval,
                segyio.BinField.Samples: nt,
                segyio.BinField.Format: 5,
                segyio.BinField.SEGYRevision: 1,
            }
        )
        sx, sy, sz = (_store(src[:, i], xy_scalar if i < 2 else z_scalar) for i in range(3))
        gx, gy, gz = (_store(rec[..., i], xy_scalar if i < 2 else z_scalar) for i in range(3))
        for s in range(n_shots):
            for r in range(n_rec):
                i = s * n_rec + r
                f.header[i] = {
                    TF.TRACE_SEQUENCE_LINE: i + 1,
                    TF.TRACE_SEQUENCE_FILE: i + 1,
                    TF.FieldRecord: s + 1,
                    TF.TraceNumber: r + 1,
                    TF.EnergySourcePoint: s + 1,
                    TF.offset: int(offset[s, r]),
                    TF.ReceiverGroupElevation: int(-gz[s, r]),
                    TF.SourceDepth: int(sz[s]),
                    TF.ElevationScalar: z_scalar,
                    TF.SourceGroupScalar: xy_scalar,
                    TF.SourceX: int(sx[s]),
                    TF.SourceY: int(sy[s]),
                    TF.GroupX: int(gx[s, r]),
                    TF.GroupY: int(gy[s, r]),
                    TF.CoordinateUnits: 1,
                    TF.TRACE_SAMPLE_COUNT: nt,
                    TF.TRACE_SAMPLE_INTERVAL: interval,
                }
        f.trace.raw[:] = np.ascontiguousarray(samples.reshape(n_shots * n_rec, nt))


def read_shot_gathers(path: PathLike) -> ShotGathers:
    """Reads a SEG-Y file of shot gathers (any writer, IBM or IEEE
    samples): traces are grouped into shots by FieldRecord (or, where that
    is constant, by source position), in file order; the coordinate
    scalars are applied.

    Args:
        path: the SEG-Y file.
    """
    segyio = _segyio()
    TF = segyio.TraceField
    with segyio.open(str(path), "r", ignore_geometry=True) as f:
        traces = np.asarray(f.trace.raw[:], dtype=np.float32).reshape(f.tracecount, len(f.samples))
        interval = float(f.bin[segyio.BinField.Interval]) or float(f.header[0][TF.TRACE_SAMPLE_INTERVAL])

        def field(key: int) -> np.ndarray:
            return np.asarray(f.attributes(key)[:], dtype=np.int64)

        record = field(TF.FieldRecord)
        xy_scalar, z_scalar = field(TF.SourceGroupScalar), field(TF.ElevationScalar)
        src = np.stack(
            [
                _apply_scalar(field(TF.SourceX), xy_scalar),
                _apply_scalar(field(TF.SourceY), xy_scalar),
                _apply_scalar(field(TF.SourceDepth), z_scalar),
            ],
            -1,
        )
        rec = np.stack(
            [
                _apply_scalar(field(TF.GroupX), xy_scalar),
                _apply_scalar(field(TF.GroupY), xy_scalar),
                -_apply_scalar(field(TF.ReceiverGroupElevation), z_scalar),
            ],
            -1,
        )
    n_traces = traces.shape[0]
    if n_traces == 0:
        raise ValueError(f"{path}: no traces")
    # A new shot starts where the key changes from the previous trace.
    key = record if len(np.unique(record)) > 1 else None
    if key is not None:
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    else:
        starts = np.flatnonzero(np.r_[True, np.any(src[1:] != src[:-1], axis=-1)])
    bounds = np.r_[starts, n_traces]
    counts = np.diff(bounds)
    n_shots, n_rec = len(starts), int(counts.max())
    data = np.zeros((n_shots, n_rec, traces.shape[1]), dtype=np.float32)
    receivers = np.full((n_shots, n_rec, 3), np.nan)
    mask = np.zeros((n_shots, n_rec), dtype=bool)
    for s, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        data[s, : b - a] = traces[a:b]
        receivers[s, : b - a] = rec[a:b]
        mask[s, : b - a] = True
    return ShotGathers(
        data=data,
        dt=interval * 1e-6,
        source_coordinates=src[starts],
        receiver_coordinates=receivers,
        receiver_mask=mask,
        field_record=record[starts],
    )


def write_model(path: PathLike, model: ArrayLike, grid_spacing: Optional[Union[float, Sequence[float]]] = None) -> None:
    """Writes a 2D [nz, nx] or 3D [nz, ny, nx] model (depth first) by the
    file's suffix: ``.npy`` (the array as is), ``.npz`` (the array and the
    grid spacing) or ``.sgy``/``.segy`` (SEG-Y, float32, one trace per
    column; see the module's notes).

    Args:
        path: the file to write.
        model: the model array or tensor.
        grid_spacing: one number or one per axis ((dz, dx) or
            (dz, dy, dx)); needed for SEG-Y and .npz, ignored by .npy.
    """
    suffix = pathlib.Path(path).suffix.lower()
    array = _array(model, "model", np.float64 if suffix in (".npy", ".npz") else np.float32)
    if isinstance(model, torch.Tensor) and suffix in (".npy", ".npz"):
        array = model.detach().cpu().numpy()
    if array.ndim not in (2, 3):
        raise ValueError(f"model must be [nz, nx] or [nz, ny, nx], got shape {array.shape}")
    if suffix == ".npy":
        np.save(path, array)
        return
    if grid_spacing is None:
        raise ValueError(f"write_model: grid_spacing is needed for {suffix} files")
    spacing = _spacing(grid_spacing, array.ndim)
    if suffix == ".npz":
        np.savez(path, model=array, grid_spacing=spacing)
        return
    if suffix not in _SEGY_SUFFIXES:
        raise ValueError(f"write_model: unknown suffix {suffix!r} (use .npy, .npz, .sgy or .segy)")
    segyio = _segyio()
    nz = array.shape[0]
    columns = array.reshape(nz, -1).T  # [ny * nx, nz], x fastest
    ny, nx = (array.shape[1], array.shape[2]) if array.ndim == 3 else (1, array.shape[1])
    dz_milli = spacing[0] * 1000.0
    if not (0 < dz_milli <= 65535) or abs(dz_milli - round(dz_milli)) > 1e-6 * dz_milli:
        raise ValueError(
            f"write_model: the vertical spacing {spacing[0]!r} must be a whole number of thousandths up to 65.535 for SEG-Y"
        )
    dx = spacing[-1]
    dy = spacing[1] if array.ndim == 3 else 1.0
    iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    x, y = (ix * dx).ravel(), (iy * dy).ravel()
    scalar = _scalar_for(np.concatenate([x, y]))
    spec = segyio.spec()
    spec.format = 5
    spec.samples = np.arange(nz) * spacing[0]
    spec.tracecount = ny * nx
    TF = segyio.TraceField
    with segyio.create(str(path), spec) as f:
        f.text[0] = segyio.tools.create_text_header(
            {
                1: f"torchwave model, {array.ndim}D, [nz, ny, nx] = {[nz, ny, nx]}",
                2: "one trace per column, samples downwards; sample interval = dz in 1/1000",
                3: f"spacing (dz, dy, dx) = ({spacing[0]:g}, {dy:g}, {dx:g})",
                4: "INLINE_3D = y index + 1, CROSSLINE_3D = x index + 1, CDP_X/Y scaled by byte 71",
            }
        )
        f.bin.update(
            {
                segyio.BinField.Interval: int(round(dz_milli)),
                segyio.BinField.Samples: nz,
                segyio.BinField.Format: 5,
                segyio.BinField.SEGYRevision: 1,
            }
        )
        cx, cy = _store(x, scalar), _store(y, scalar)
        for i in range(ny * nx):
            f.header[i] = {
                TF.TRACE_SEQUENCE_LINE: i + 1,
                TF.TRACE_SEQUENCE_FILE: i + 1,
                TF.CDP: i + 1,
                TF.INLINE_3D: i // nx + 1,
                TF.CROSSLINE_3D: i % nx + 1,
                TF.SourceGroupScalar: scalar,
                TF.CDP_X: int(cx[i]),
                TF.CDP_Y: int(cy[i]),
                TF.GroupX: int(cx[i]),
                TF.GroupY: int(cy[i]),
                TF.TRACE_SAMPLE_COUNT: nz,
                TF.TRACE_SAMPLE_INTERVAL: int(round(dz_milli)),
            }
        f.trace.raw[:] = np.ascontiguousarray(columns, dtype=np.float32)


def read_model(path: PathLike, *, return_spacing: bool = False) -> Union[np.ndarray, Tuple[np.ndarray, Optional[np.ndarray]]]:
    """Reads a model written by :func:`write_model` or by another SEG-Y
    writer (one trace per vertical column; a 3D model where the INLINE_3D
    header takes several values), depth first: [nz, nx] or [nz, ny, nx].

    Args:
        path: a ``.npy``, ``.npz``, ``.sgy`` or ``.segy`` file.
        return_spacing: also return the grid spacing ((dz, dx) or
            (dz, dy, dx); None where the file does not hold it, as in .npy;
            from SEG-Y, dz from the sample interval in thousandths and the
            horizontal spacings from CDP_X/CDP_Y, None where those are
            not filled in).

    Returns:
        The model (float32 from SEG-Y, as stored otherwise), and with
        ``return_spacing`` a tuple (model, spacing).
    """
    suffix = pathlib.Path(path).suffix.lower()
    spacing: Optional[np.ndarray] = None
    if suffix == ".npy":
        model = np.load(path)
    elif suffix == ".npz":
        with np.load(path) as z:
            model, spacing = z["model"], z["grid_spacing"]
    elif suffix in _SEGY_SUFFIXES:
        model, spacing = _read_segy_model(path)
    else:
        raise ValueError(f"read_model: unknown suffix {suffix!r} (use .npy, .npz, .sgy or .segy)")
    return (model, spacing) if return_spacing else model


def _read_segy_model(path: PathLike) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    segyio = _segyio()
    TF = segyio.TraceField
    with segyio.open(str(path), "r", ignore_geometry=True) as f:
        traces = np.asarray(f.trace.raw[:], dtype=np.float32).reshape(f.tracecount, len(f.samples))
        interval = float(f.bin[segyio.BinField.Interval])
        inline = np.asarray(f.attributes(TF.INLINE_3D)[:], dtype=np.int64)
        scalar = np.asarray(f.attributes(TF.SourceGroupScalar)[:], dtype=np.int64)
        cx = _apply_scalar(np.asarray(f.attributes(TF.CDP_X)[:]), scalar)
        cy = _apply_scalar(np.asarray(f.attributes(TF.CDP_Y)[:]), scalar)
    n, nz = traces.shape
    ny = len(np.unique(inline))
    if ny > 1 and n % ny == 0:
        nx = n // ny
        model = traces.reshape(ny, nx, nz).transpose(2, 0, 1).copy()
        dx = abs(cx[1] - cx[0]) if nx > 1 else 0.0
        dy = abs(cy[nx] - cy[0])
        horizontal: list = [dy or None, dx or None]
    else:
        model = np.ascontiguousarray(traces.T)
        dx = float(np.hypot(cx[1] - cx[0], cy[1] - cy[0])) if n > 1 else 0.0
        horizontal = [dx or None]
    dz = interval / 1000.0
    parts = [dz or None, *horizontal]
    spacing = None if any(p is None for p in parts) else np.asarray(parts, dtype=np.float64)
    return model, spacing
