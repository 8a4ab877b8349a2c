"""torchwave: differentiable wave propagation for PyTorch.

The propagators are autograd operations: a wavespeed model, source
amplitudes and initial wavefields go in, wavefields and receiver data come
out, and ``loss.backward()`` fills every gradient through a hand-written
exact discrete adjoint running in torchwave's Go core.
"""

from . import hooks, location_interpolation, optim, wavelets, workflow
from ._common import IGNORE_LOCATION
from ._lib import get_num_threads, set_num_threads, simd_enabled
from .acoustic import Acoustic, acoustic
from .maxwell import MaxwellTM, maxwelltm
from .scalar import CallbackState, Scalar, empty_cache, scalar
from .scalar_born import ScalarBorn, scalar_born

__version__ = "0.1.0"

__all__ = [
    "Acoustic",
    "acoustic",
    "CallbackState",
    "IGNORE_LOCATION",
    "MaxwellTM",
    "Scalar",
    "ScalarBorn",
    "empty_cache",
    "get_num_threads",
    "maxwelltm",
    "scalar",
    "scalar_born",
    "set_num_threads",
    "simd_enabled",
    "hooks",
    "location_interpolation",
    "optim",
    "wavelets",
    "workflow",
]


#: Submodules imported on first access (or by ``import torchwave.NAME``):
#: each needs an optional package that plain ``import torchwave`` must not
#: (distributed: Dask, ``torchwave[dask]``; io: segyio for SEG-Y,
#: ``torchwave[segy]``; plot: Matplotlib, ``torchwave[plot]``).
_LAZY_SUBMODULES = ("distributed", "io", "plot")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
