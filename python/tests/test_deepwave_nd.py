"""torchwave against Deepwave 0.0.27 in 1D, 2D and 3D: the same calls to
scalar, scalar_born, Scalar and ScalarBorn, positional and by keyword,
give tuples of the same length whose every tensor (final wavefields, PML
fields, receiver data) has the same shape and, in float64, the same
values within 1e-6 relative.

Skipped where deepwave 0.0.27 is not importable (``pip install
deepwave==0.0.27``, as ``make bench`` does).

What the comparison relies on (Deepwave 0.0.27's rules):

* ndim comes from the initial wavefields (their ndim − 1), else from the
  locations' last dimension; the models then have ndim dimensions, or
  ndim + 1 with a first dimension of 1 or n_shots. So a [n_shots, ny, nx]
  model with [shot, n, 2] locations is a batch of 2D models, not a 3D
  model.
* pml_width and survey_pad have 2·ndim entries, slowest dimension first;
  grid_spacing one or ndim.
* scalar returns 3 + 2·ndim tensors: wavefield_nt, wavefield_ntm1, the
  psi fields (z, y, x, as many as there are dimensions), the zeta fields,
  receiver_amplitudes. scalar_born returns 6 + 4·ndim: those of the
  background without its receivers, the same for the scattered field,
  then bg_receiver_amplitudes and receiver_amplitudes.
* The C-PML's damping σ0 = −3·max_vel·ln(R)/(2·L) uses one L for every
  side and dimension: the longest PML, max over sides of width × that
  dimension's spacing (deepwave/regular_grid.py set_pml_profiles). With
  uneven widths or spacings a per-side L gives other PML fields and
  receiver data (0.1-40 % apart): the pml_list, pml_uneven_origin and
  spacing_list cases check this rule. Elsewhere the widths and spacings
  are even so that the other cases do not depend on it.
* Initial wavefields cover the simulated region plus its PML; with
  origin, that region starts at origin and its size is the wavefield's
  shape less the PML.
"""

from __future__ import annotations

import importlib.metadata
import math

import pytest
import torch
from conftest import rel_err

import torchwave

deepwave = pytest.importorskip("deepwave")
if importlib.metadata.version("deepwave") != "0.0.27":  # pragma: no cover - the pinned reference
    pytest.skip(
        f"these tests compare against deepwave 0.0.27, found {importlib.metadata.version('deepwave')}", allow_module_level=True
    )

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Deepwave's points-per-wavelength and extents notices

F64 = torch.float64
AXES = {1: "x", 2: "yx", 3: "zyx"}
SHAPES = {1: (23,), 2: (9, 11), 3: (6, 7, 8)}
SPACING = {1: [5.0], 2: [5.0, 5.0], 3: [5.0, 5.0, 5.0]}
TOL = 1e-6


def pml_names(ndim, sc=""):
    return [f"psi{a}{sc}_m1" for a in AXES[ndim]] + [f"zeta{a}{sc}_m1" for a in AXES[ndim]]


def field_names(ndim, sc=""):
    return [f"wavefield{sc}_0", f"wavefield{sc}_m1", *pml_names(ndim, sc)]


def random_locations(gen, n_shots, n, shape, offset=None):
    out = torch.empty(n_shots, n, len(shape), dtype=torch.long)
    for s in range(n_shots):
        flat = torch.randperm(math.prod(shape), generator=gen)[:n]
        for d in reversed(range(len(shape))):
            out[s, :, d] = flat % shape[d] + (offset[d] if offset else 0)
            flat = flat // shape[d]
    return out


def build(ndim, born=False, n_shots=2, nt=15, per_shot=False, dt_fraction=0.9, seed=0, region=None, origin=None):
    """A random problem: (kwargs for scalar / scalar_born). With region
    and origin the sources and receivers lie in that sub-box."""
    gen = torch.Generator().manual_seed(seed)
    shape = SHAPES[ndim]
    full = ((n_shots,) if per_shot else ()) + shape
    v = 1500 + 1000 * torch.rand(full, generator=gen, dtype=F64)
    dt = dt_fraction * 0.6 / math.sqrt(sum(1 / h**2 for h in SPACING[ndim])) / float(v.max())
    box = region or shape
    kw = dict(
        v=v,
        grid_spacing=SPACING[ndim],
        dt=dt,
        source_amplitudes=torch.randn(n_shots, 2, nt, generator=gen, dtype=F64),
        source_locations=random_locations(gen, n_shots, 2, box, origin),
        receiver_locations=random_locations(gen, n_shots, 3, box, origin),
        accuracy=4,
        pml_width=3,
        pml_freq=25.0,
    )
    if born:
        kw["bg_receiver_locations"] = random_locations(gen, n_shots, 2, box, origin)
        # Non-zero only strictly inside the box the sources and receivers
        # span, so zero on the edge of any region simulated (survey_pad,
        # origin) and of the model: there the two libraries pad scatter
        # into the PML differently (see test_born_scatter_on_the_edge).
        locations = torch.cat(
            [kw[k].reshape(-1, ndim) for k in ("source_locations", "receiver_locations", "bg_receiver_locations")]
        )
        inner = (Ellipsis, *[slice(int(lo) + 1, int(hi)) for lo, hi in zip(locations.min(0).values, locations.max(0).values)])
        scatter = torch.zeros(full, dtype=F64)
        scatter[inner] = 100 * torch.randn(scatter[inner].shape, generator=gen, dtype=F64)
        assert float(scatter.abs().max()) > 0
        kw["scatter"] = scatter
    return kw


def fields_for(kw, names, region=None, seed=3):
    ndim = kw["source_locations"].shape[-1]
    pml = kw["pml_width"]
    w = [pml] * (2 * ndim) if isinstance(pml, int) else list(pml)
    box = region or kw["v"].shape[-ndim:]
    n_shots = kw["source_amplitudes"].shape[0]
    gen = torch.Generator().manual_seed(seed)
    shape = (n_shots, *[box[d] + w[2 * d] + w[2 * d + 1] for d in range(ndim)])
    return {n: 0.01 * torch.randn(shape, generator=gen, dtype=F64) for n in names}


def _clone(x):
    return x.clone() if isinstance(x, torch.Tensor) else x


def compare(name, args=(), kwargs=None):
    """Runs torchwave.<name> and deepwave.<name> on copies of the same
    arguments; every returned tensor must agree."""
    kwargs = kwargs or {}
    got = getattr(torchwave, name)(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
    want = getattr(deepwave, name)(*map(_clone, args), **{k: _clone(v) for k, v in kwargs.items()})
    assert_same(got, want)
    return got


def assert_same(got, want):
    assert isinstance(got, tuple), type(got)
    assert len(got) == len(want), (len(got), len(want))
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape, f"output {i}: shape {tuple(a.shape)} vs Deepwave's {tuple(b.shape)}"
        assert a.dtype == b.dtype, (i, a.dtype, b.dtype)
        if b.numel() == 0 or float(b.abs().max()) == 0:
            assert a.numel() == 0 or float(a.abs().max()) == 0, f"output {i}: Deepwave's is zero"
            continue
        e = rel_err(a, b)
        assert e <= TOL, f"output {i}: relative difference {e:.3e} > {TOL:.0e}"


def _scalar_only(kw):
    return {k: v for k, v in kw.items() if k not in ("scatter", "bg_receiver_locations")}


def n_out(ndim, born):
    return 6 + 4 * ndim if born else 3 + 2 * ndim


NDIMS = [1, 2, 3]
KINDS = ["scalar", "scalar_born"]


# --------------------------------------------------------------------------
# Keyword and positional calls
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_keywords(ndim, kind):
    born = kind == "scalar_born"
    kw = build(ndim, born=born, seed=ndim)
    out = compare(kind, kwargs=kw if born else _scalar_only(kw))
    assert len(out) == n_out(ndim, born)
    assert out[-1].shape == (2, 3, 15)
    if born:
        assert out[-2].shape == (2, 2, 15)


@pytest.mark.parametrize("ndim", NDIMS)
def test_positional_scalar(ndim):
    """Deepwave's parameter order up to survey_pad, then the initial fields
    positionally too (wavefield_0, wavefield_m1, psiz, psiy, psix, zetaz,
    zetay, zetax: the ones of absent dimensions are None)."""
    kw = build(ndim, seed=10 + ndim)
    args = [kw[k] for k in ("v", "grid_spacing", "dt", "source_amplitudes", "source_locations", "receiver_locations")]
    args += [6, 2, 30.0, 2800.0, None]  # accuracy, pml_width, pml_freq, max_vel, survey_pad
    kw["pml_width"] = 2
    fields = fields_for(kw, field_names(ndim))
    for name in ["wavefield_0", "wavefield_m1"] + [f"{p}{a}_m1" for p in ("psi", "zeta") for a in "zyx"]:
        args.append(fields.get(name))
    out = compare("scalar", args)
    assert len(out) == n_out(ndim, False)


@pytest.mark.parametrize("ndim", NDIMS)
def test_positional_born(ndim):
    kw = build(ndim, born=True, seed=20 + ndim)
    order = (
        "v",
        "scatter",
        "grid_spacing",
        "dt",
        "source_amplitudes",
        "source_locations",
        "receiver_locations",
        "bg_receiver_locations",
    )
    args = [kw[k] for k in order] + [8, 2, 20.0, None, 1]  # accuracy, pml_width, pml_freq, max_vel, survey_pad
    out = compare("scalar_born", args)
    assert len(out) == n_out(ndim, True)


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------


@pytest.mark.parametrize("accuracy", [2, 4, 6, 8])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_accuracy(ndim, kind, accuracy):
    born = kind == "scalar_born"
    kw = build(ndim, born=born, seed=accuracy)
    kw["accuracy"] = accuracy
    compare(kind, kwargs=kw if born else _scalar_only(kw))


VARIANTS = {
    "per_shot_model": dict(build=dict(per_shot=True)),
    "shot_dim_of_one": dict(model=lambda v: v[None]),
    "pml_list": dict(pml="list"),
    "pml_zero": dict(set=dict(pml_width=0)),
    "spacing_float": dict(set=dict(grid_spacing=5.5)),
    "spacing_list": dict(spacing=True),
    "survey_pad_int": dict(set=dict(survey_pad=1, max_vel=2600.0)),
    "survey_pad_list": dict(pad="list", set=dict(max_vel=2600.0)),
    "cfl_resampled": dict(build=dict(dt_fraction=2.5)),
    "cfl_resampled_time_pad_taper": dict(build=dict(dt_fraction=1.7), set=dict(time_pad_frac=0.25, time_taper=True)),
    "cfl_resampled_freq_taper": dict(build=dict(dt_fraction=1.7), set=dict(freq_taper_frac=0.2)),
    "max_vel": dict(set=dict(max_vel=3100.0)),
    "one_shot": dict(build=dict(n_shots=1)),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_variants(ndim, kind, variant):
    born = kind == "scalar_born"
    spec = VARIANTS[variant]
    kw = build(ndim, born=born, seed=list(VARIANTS).index(variant), **spec.get("build", {}))
    kw.update(spec.get("set", {}))
    if "model" in spec:
        kw["v"] = spec["model"](kw["v"])
        if born:
            kw["scatter"] = spec["model"](kw["scatter"])
    if spec.get("pml") == "list":
        kw["pml_width"] = [3, 0, 2, 4, 1, 2][: 2 * ndim]
    if spec.get("spacing"):
        kw["grid_spacing"] = [4.0, 6.0, 5.0][:ndim]
    if spec.get("pad") == "list":
        kw["survey_pad"] = [1, None, 0, 2, None, 1][: 2 * ndim]
    if variant == "cfl_resampled":
        ratio = deepwave.common.cfl_condition_n(kw["grid_spacing"], kw["dt"], float(kw["v"].max()))[1]
        assert ratio == 3
    out = compare(kind, kwargs=kw if born else _scalar_only(kw))
    assert out[-1].shape[-1] == kw["source_amplitudes"].shape[-1]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_origin_with_initial_wavefields(ndim, kind):
    """Every initial field given for a sub-region that starts at origin
    (the region's size is the fields' shape less the PML)."""
    born = kind == "scalar_born"
    region = {1: (15,), 2: (6, 7), 3: (4, 5, 5)}[ndim]
    origin = {1: [4], 2: [2, 3], 3: [1, 2, 2]}[ndim]
    kw = build(ndim, born=born, seed=30 + ndim, region=region, origin=origin)
    kw["pml_width"] = 2
    kw["max_vel"] = 2600.0  # see test_default_max_vel_is_the_whole_models
    names = field_names(ndim) + (field_names(ndim, "_sc") if born else [])
    kw.update(fields_for(kw, names, region=region))
    kw["origin"] = origin
    out = compare(kind, kwargs=kw if born else _scalar_only(kw))
    assert out[0].shape == kw["wavefield_0"].shape


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_pml_uneven_origin(ndim, kind):
    """Initial fields at an origin with a different PML width on every side
    and a different spacing per dimension."""
    born = kind == "scalar_born"
    region = {1: (15,), 2: (6, 7), 3: (4, 5, 5)}[ndim]
    origin = {1: [4], 2: [2, 3], 3: [1, 2, 2]}[ndim]
    kw = build(ndim, born=born, seed=35 + ndim, region=region, origin=origin)
    kw["pml_width"] = [2, 3, 1, 2, 3, 1][: 2 * ndim]
    kw["grid_spacing"] = [4.0, 5.0, 6.0][:ndim]
    kw["max_vel"] = 2600.0
    names = field_names(ndim) + (field_names(ndim, "_sc") if born else [])
    kw.update(fields_for(kw, names, region=region))
    kw["origin"] = origin
    compare(kind, kwargs=kw if born else _scalar_only(kw))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_nt_without_sources(ndim, kind):
    """No sources: nt steps from initial fields, ndim from the wavefields."""
    born = kind == "scalar_born"
    kw = build(ndim, born=born, seed=40 + ndim)
    kw.update(fields_for(kw, ["wavefield_0", "wavefield_m1"] + (["wavefield_sc_0"] if born else [])))
    del kw["source_amplitudes"], kw["source_locations"]
    kw["nt"] = 9
    out = compare(kind, kwargs=kw if born else _scalar_only(kw))
    assert out[-1].shape == (2, 3, 9)


# --------------------------------------------------------------------------
# Differences torchwave documents (strict xfail: if torchwave comes to
# match Deepwave here, these fail and the marker should go)
# --------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="torchwave's default max_vel is the maximum of v over the simulated region "
    "(scalar.py docstring); Deepwave's is the maximum over the whole model",
)
@pytest.mark.parametrize("ndim", [1, 3])
def test_default_max_vel_is_the_whole_models(ndim):
    """With origin (or survey_pad) the simulated region can leave out the
    model's fastest cell; max_vel sets the PML profile and the CFL step."""
    region = {1: (15,), 3: (4, 5, 5)}[ndim]
    origin = {1: [4], 3: [1, 2, 2]}[ndim]
    kw = _scalar_only(build(ndim, seed=80 + ndim, region=region, origin=origin))
    kw["v"][(Ellipsis, *[slice(0, 1)] * ndim)] = 2900.0  # the fastest cell, outside the region
    kw.update(fields_for(kw, ["wavefield_0"], region=region))
    kw["origin"] = origin
    compare("scalar", kwargs=kw)


@pytest.mark.xfail(
    strict=True,
    reason="torchwave replicates scatter's edge values into the PML, as v's, so that Born is the "
    "exact derivative of scalar (scalar_born.py); Deepwave pads scatter with zeros",
)
@pytest.mark.parametrize("ndim", [1, 3])
def test_born_scatter_on_the_edge(ndim):
    kw = build(ndim, born=True, seed=90 + ndim)
    kw["scatter"] = 100 * torch.rand(kw["scatter"].shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    compare("scalar_born", kwargs=kw)


# --------------------------------------------------------------------------
# The modules
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ndim", NDIMS)
def test_scalar_module(ndim):
    kw = build(ndim, seed=50 + ndim)
    mods = [lib.Scalar(kw["v"].clone(), kw["grid_spacing"]) for lib in (torchwave, deepwave)]
    call = dict(accuracy=6, pml_width=2, pml_freq=25.0)
    got, want = (
        m(kw["dt"], kw["source_amplitudes"].clone(), kw["source_locations"], kw["receiver_locations"], **call) for m in mods
    )
    assert_same(got, want)
    assert len(got) == n_out(ndim, False)


@pytest.mark.parametrize("ndim", NDIMS)
def test_scalar_born_module(ndim):
    kw = build(ndim, born=True, seed=60 + ndim)
    mods = [lib.ScalarBorn(kw["v"].clone(), kw["scatter"].clone(), kw["grid_spacing"]) for lib in (torchwave, deepwave)]
    got, want = (
        m(
            kw["dt"],
            kw["source_amplitudes"].clone(),
            kw["source_locations"],
            kw["receiver_locations"],
            kw["bg_receiver_locations"],
            accuracy=4,
            pml_width=2,
            pml_freq=25.0,
        )
        for m in mods
    )
    assert_same(got, want)
    assert len(got) == n_out(ndim, True)


# --------------------------------------------------------------------------
# Gradients (no time-step subdivision: Deepwave then samples the model
# gradient once per user time step, which torchwave does not)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", NDIMS)
def test_gradients_agree(ndim, kind):
    born = kind == "scalar_born"
    kw = build(ndim, born=born, seed=70 + ndim, per_shot=ndim == 2)
    kw["max_vel"] = 2600.0
    names = ["v", "source_amplitudes"] + (["scatter"] if born else [])
    grads = []
    for lib in (torchwave, deepwave):
        leaves = {n: kw[n].clone().requires_grad_(True) for n in names}
        call = {**(kw if born else _scalar_only(kw)), **leaves}
        out = getattr(lib, kind)(**call)
        gen = torch.Generator().manual_seed(1)
        loss = sum((o * torch.randn(o.shape, generator=gen, dtype=F64)).sum() for o in out)
        grads.append(torch.autograd.grad(loss, list(leaves.values())))
    for name, a, b in zip(names, *grads):
        if name == "scatter":
            # torchwave's scatter is replicated into the PML, so its edge
            # cells collect the PML's share of the gradient too.
            inner = (Ellipsis, *[slice(1, -1)] * ndim)
            a, b = a[inner], b[inner]
        e = rel_err(a, b)
        assert e <= TOL, f"grad {name}: relative difference {e:.3e}"
