"""Invalid arguments to torchwave.scalar raise a clear exception naming the
argument, before any propagation."""

from __future__ import annotations

import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, make_problem, run

import torchwave

pytestmark = FAIL_ON_PML_FREQ_DEFAULT

IG = torchwave.IGNORE_LOCATION


@pytest.fixture
def p():
    """2 shots, 2 sources and 3 receivers per shot, a 10×12 model, PML 3."""
    return make_problem(ny=10, nx=12, nt=6, n_shots=2, n_sources=2, n_receivers=3)


def _with(t, index, value):
    t = t.clone()
    t[index] = value
    return t


# (id, overrides as a function of the problem, exception, regex the message must match)
CASES = [
    # shapes
    (
        "v_1d",
        lambda p: dict(v=p["v"][0, 0]),
        ValueError,
        r"^the propagation is 2D \(from source_locations\), so v must have 2 dimensions, or 3",
    ),
    (
        "v_4d",
        lambda p: dict(v=p["v"][None, None]),
        ValueError,
        r"^the propagation is 2D \(from source_locations\), so v must have 2 dimensions",
    ),
    ("v_not_tensor", lambda p: dict(v=p["v"].tolist()), TypeError, r"^v must be a torch.Tensor"),
    (
        "amplitudes_2d",
        lambda p: dict(source_amplitudes=p["source_amplitudes"][0]),
        ValueError,
        r"^source_amplitudes must have 3 dimensions",
    ),
    (
        "amplitudes_4d",
        lambda p: dict(source_amplitudes=p["source_amplitudes"][None]),
        ValueError,
        r"^source_amplitudes must have 3 dimensions",
    ),
    (
        "source_locations_last_dim_3",
        lambda p: dict(source_locations=torch.zeros(2, 2, 3, dtype=torch.long)),
        ValueError,
        r"^receiver_locations has 2 coordinates per location, so the propagation would be 2D, but source_locations says the propagation is 3D",
    ),
    (
        "receiver_locations_last_dim_1",
        lambda p: dict(receiver_locations=torch.zeros(2, 3, 1, dtype=torch.long)),
        ValueError,
        r"^receiver_locations has 1 coordinates per location, so the propagation would be 1D, but source_locations says the propagation is 2D",
    ),
    (
        "receiver_locations_2d",
        lambda p: dict(receiver_locations=p["receiver_locations"][0]),
        ValueError,
        r"^receiver_locations must have 3 dimensions",
    ),
    (
        "source_count_mismatch",
        lambda p: dict(source_locations=p["source_locations"][:, :1]),
        ValueError,
        r"source_locations has 1 sources per shot but source_amplitudes has 2",
    ),
    # dtypes
    ("v_int", lambda p: dict(v=p["v"].long()), TypeError, r"^v must have dtype"),
    ("v_float16", lambda p: dict(v=p["v"].half()), TypeError, r"^v must have dtype"),
    (
        "amplitudes_f64_with_v_f32",
        lambda p: dict(v=p["v"].float()),
        TypeError,
        r"^source_amplitudes must have dtype torch.float32, got torch.float64",
    ),
    (
        "amplitudes_int",
        lambda p: dict(source_amplitudes=p["source_amplitudes"].long()),
        TypeError,
        r"^source_amplitudes must have dtype",
    ),
    (
        "source_locations_int16",
        lambda p: dict(source_locations=p["source_locations"].to(torch.int16)),
        TypeError,
        r"^source_locations must have dtype torch.long",
    ),
    (
        "receiver_locations_int32",
        lambda p: dict(receiver_locations=p["receiver_locations"].int()),
        TypeError,
        r"^receiver_locations must have dtype torch.long",
    ),
    (
        "wavefield_0_dtype",
        lambda p: dict(wavefield_0=torch.zeros(2, 16, 18, dtype=torch.float32)),
        TypeError,
        r"^wavefield_0 must have dtype torch.float64",
    ),
    # shot counts
    (
        "source_locations_shots",
        lambda p: dict(source_locations=p["source_locations"][:1]),
        ValueError,
        r"^source_locations has 1 shots but other inputs have 2",
    ),
    (
        "receiver_locations_shots",
        lambda p: dict(receiver_locations=p["receiver_locations"][:1]),
        ValueError,
        r"^receiver_locations has 1 shots but other inputs have 2",
    ),
    (
        "per_shot_v_shots",
        lambda p: dict(v=p["v"].expand(3, 10, 12)),
        ValueError,
        r"^v has shape \(3, 10, 12\): 3 2D models, one per shot \(the propagation is 2D: source_locations has 2 coordinates\), but source_amplitudes has 2 shots",
    ),
    (
        "wavefield_shots",
        lambda p: dict(psiy_m1=torch.zeros(3, 16, 18, dtype=torch.float64)),
        ValueError,
        r"^psiy_m1 has 3 shots, but other inputs have 2",
    ),
    # values of v and the amplitudes
    ("v_nan", lambda p: dict(v=_with(p["v"], (2, 3), float("nan"))), ValueError, r"^v contains NaN or infinite"),
    ("v_inf", lambda p: dict(v=_with(p["v"], (0, 0), float("inf"))), ValueError, r"^v contains NaN or infinite"),
    (
        "amplitudes_nan",
        lambda p: dict(source_amplitudes=_with(p["source_amplitudes"], (1, 1, 4), float("nan"))),
        ValueError,
        r"^source_amplitudes contains NaN or infinite",
    ),
    (
        "amplitudes_inf",
        lambda p: dict(source_amplitudes=_with(p["source_amplitudes"], (0, 0, 0), -float("inf"))),
        ValueError,
        r"^source_amplitudes contains NaN or infinite",
    ),
    (
        "wavefield_nan",
        lambda p: dict(wavefield_m1=torch.full((2, 16, 18), float("nan"), dtype=torch.float64)),
        ValueError,
        r"^wavefield_m1 contains NaN or infinite",
    ),
    # locations outside the grid
    (
        "source_y_negative",
        lambda p: dict(source_locations=_with(p["source_locations"], (0, 0, 0), -1)),
        ValueError,
        r"^source_locations has a y \(first\) coordinate -1 outside the model",
    ),
    (
        "source_y_too_big",
        lambda p: dict(source_locations=_with(p["source_locations"], (1, 1, 0), 10)),
        ValueError,
        r"^source_locations has a y \(first\) coordinate 10 outside the model",
    ),
    (
        "source_x_too_big",
        lambda p: dict(source_locations=_with(p["source_locations"], (0, 1, 1), 12)),
        ValueError,
        r"^source_locations has a x \(second\) coordinate 12 outside the model",
    ),
    (
        "receiver_x_negative",
        lambda p: dict(receiver_locations=_with(p["receiver_locations"], (1, 0, 1), -5)),
        ValueError,
        r"^receiver_locations has a x \(second\) coordinate -5 outside the model",
    ),
    (
        "receiver_y_too_big",
        lambda p: dict(receiver_locations=_with(p["receiver_locations"], (1, 2, 0), 99)),
        ValueError,
        r"^receiver_locations has a y \(first\) coordinate 99 outside the model",
    ),
    (
        "source_half_ignored",
        lambda p: dict(source_locations=_with(p["source_locations"], (0, 0, 0), IG)),
        ValueError,
        r"^source_locations has a y \(first\) coordinate -2147483648 outside the model",
    ),
    # duplicates
    (
        "duplicate_sources",
        lambda p: dict(source_locations=_with(p["source_locations"], (0, 1), p["source_locations"][0, 0])),
        ValueError,
        r"^source_locations has duplicate locations within shot 0",
    ),
    (
        "duplicate_receivers",
        lambda p: dict(receiver_locations=_with(p["receiver_locations"], (1, 2), p["receiver_locations"][1, 0])),
        ValueError,
        r"^receiver_locations has duplicate locations within shot 1",
    ),
    # accuracy
    ("accuracy_3", lambda p: dict(accuracy=3), ValueError, r"^accuracy must be 2, 4, 6 or 8, got 3"),
    ("accuracy_10", lambda p: dict(accuracy=10), ValueError, r"^accuracy must be 2, 4, 6 or 8, got 10"),
    ("accuracy_0", lambda p: dict(accuracy=0), ValueError, r"^accuracy must be 2, 4, 6 or 8"),
    ("accuracy_float", lambda p: dict(accuracy=4.0), TypeError, r"^accuracy must be an int"),
    # PML
    ("pml_width_negative", lambda p: dict(pml_width=-1), ValueError, r"^pml_width must be at least 0"),
    ("pml_width_negative_in_list", lambda p: dict(pml_width=[1, 2, -1, 3]), ValueError, r"^pml_width\[2\] must be at least 0"),
    (
        "pml_width_three_values",
        lambda p: dict(pml_width=[1, 2, 3]),
        ValueError,
        r"^pml_width must be one int or 4 \[y0, y1, x0, x1\] for a 2D model",
    ),
    (
        "pml_width_five_values",
        lambda p: dict(pml_width=[1, 2, 3, 4, 5]),
        ValueError,
        r"^pml_width must be one int or 4 \[y0, y1, x0, x1\] for a 2D model",
    ),
    ("pml_width_float", lambda p: dict(pml_width=2.5), TypeError, r"^pml_width must be an int"),
    ("pml_freq_negative", lambda p: dict(pml_freq=-1.0), ValueError, r"^pml_freq must be a non-negative number"),
    # time step and CFL
    ("dt_zero", lambda p: dict(dt=0.0), ValueError, r"^dt must be finite and non-zero"),
    ("dt_nan", lambda p: dict(dt=float("nan")), ValueError, r"^dt must be finite and non-zero"),
    ("dt_inf", lambda p: dict(dt=float("inf")), ValueError, r"^dt must be finite and non-zero"),
    ("dt_string", lambda p: dict(dt="0.001"), TypeError, r"^dt must be a number"),
    (
        "max_vel_below_model",
        lambda p: dict(max_vel=1000.0),
        ValueError,
        r"^max_vel=1000.0 is below the model's maximum velocity .*unstable",
    ),
    ("max_vel_nan", lambda p: dict(max_vel=float("nan")), ValueError, r"^max_vel must be positive and finite"),
    ("grid_spacing_zero", lambda p: dict(grid_spacing=0.0), ValueError, r"^grid_spacing must be positive"),
    ("grid_spacing_negative_dx", lambda p: dict(grid_spacing=[5.0, -1.0]), ValueError, r"^grid_spacing\[1\] must be positive"),
    (
        "grid_spacing_three",
        lambda p: dict(grid_spacing=[1.0, 2.0, 3.0]),
        ValueError,
        r"^grid_spacing must be one number or 2 \(dy, dx\) for a 2D model, got 3",
    ),
    # nt
    ("nt_disagrees", lambda p: dict(nt=5), ValueError, r"^nt=5 disagrees with the 6 time samples of source_amplitudes"),
    (
        "nt_negative_without_sources",
        lambda p: dict(source_amplitudes=None, source_locations=None, nt=-1),
        ValueError,
        r"^nt must be at least 0",
    ),
    (
        "nt_float_without_sources",
        lambda p: dict(source_amplitudes=None, source_locations=None, nt=5.0),
        TypeError,
        r"^nt must be an int",
    ),
    (
        "neither_nt_nor_amplitudes",
        lambda p: dict(source_amplitudes=None, source_locations=None),
        ValueError,
        r"^give source_amplitudes, or nt",
    ),
    (
        "amplitudes_without_locations",
        lambda p: dict(source_locations=None),
        ValueError,
        r"^source_amplitudes and source_locations must be given together",
    ),
    (
        "locations_without_amplitudes",
        lambda p: dict(source_amplitudes=None, nt=6),
        ValueError,
        r"^source_amplitudes and source_locations must be given together",
    ),
    # backends, callbacks, other options
    ("python_backend_string", lambda p: dict(python_backend="numba"), ValueError, r"^python_backend must be"),
    ("python_backend_none", lambda p: dict(python_backend=None), ValueError, r"^python_backend must be"),
    ("callback_frequency_0", lambda p: dict(callback_frequency=0), ValueError, r"^callback_frequency must be at least 1"),
    ("callback_frequency_negative", lambda p: dict(callback_frequency=-2), ValueError, r"^callback_frequency must be at least 1"),
    ("callback_frequency_float", lambda p: dict(callback_frequency=1.5), TypeError, r"^callback_frequency must be an int"),
    ("forward_callback_not_callable", lambda p: dict(forward_callback=3), TypeError, r"^forward_callback must be callable"),
    ("backward_callback_not_callable", lambda p: dict(backward_callback="x"), TypeError, r"^backward_callback must be callable"),
    (
        "sampling_interval_0",
        lambda p: dict(model_gradient_sampling_interval=0),
        ValueError,
        r"^model_gradient_sampling_interval must be at least 1",
    ),
    (
        "freq_taper_frac_too_big",
        lambda p: dict(freq_taper_frac=1.5),
        ValueError,
        r"^freq_taper_frac must be a number in \[0, 1\]",
    ),
    ("time_pad_frac_negative", lambda p: dict(time_pad_frac=-0.1), ValueError, r"^time_pad_frac must be a number in \[0, 1\]"),
    ("storage_mode_unknown", lambda p: dict(storage_mode="gpu"), ValueError, r"^storage_mode must be one of"),
    # survey_pad, origin and initial wavefields
    ("survey_pad_negative", lambda p: dict(survey_pad=-1), ValueError, r"^survey_pad\[0\] must be at least 0"),
    (
        "survey_pad_three",
        lambda p: dict(survey_pad=[1, 2, 3]),
        ValueError,
        r"^survey_pad must be None, one int, or 4 values for a 2D model",
    ),
    (
        "survey_pad_with_wavefield",
        lambda p: dict(survey_pad=2, wavefield_0=torch.zeros(2, 16, 18, dtype=torch.float64)),
        ValueError,
        r"^survey_pad cannot be combined with initial wavefields",
    ),
    ("survey_pad_with_origin", lambda p: dict(survey_pad=2, origin=[0, 0]), ValueError, r"^give survey_pad or origin, not both"),
    (
        "wavefield_2d",
        lambda p: dict(wavefield_0=torch.zeros(16, 18, dtype=torch.float64)),
        ValueError,
        r"^source_locations has 2 coordinates per location, so the propagation would be 2D, but wavefield_0 says .* 1D",
    ),
    (
        "wavefields_disagree",
        lambda p: dict(
            wavefield_0=torch.zeros(2, 16, 17, dtype=torch.float64), zetax_m1=torch.zeros(2, 16, 18, dtype=torch.float64)
        ),
        ValueError,
        r"^zetax_m1 has spatial shape \(16, 18\), but wavefield_0 has \(16, 17\)",
    ),
    (
        "wavefield_too_big",
        lambda p: dict(wavefield_0=torch.zeros(2, 17, 18, dtype=torch.float64)),
        ValueError,
        r"^initial wavefields of spatial shape \(17, 18\) .* do not fit the model",
    ),
    (
        "origin_pushes_wavefield_out",
        lambda p: dict(wavefield_0=torch.zeros(2, 12, 12, dtype=torch.float64), origin=[5, 0]),
        ValueError,
        r"do not fit the model",
    ),
    (
        "origin_negative",
        lambda p: dict(wavefield_0=torch.zeros(2, 10, 10, dtype=torch.float64), origin=[-1, 0]),
        ValueError,
        r"^origin\[0\] must be at least 0",
    ),
    (
        "location_outside_origin_region",
        lambda p: dict(wavefield_0=torch.zeros(2, 10, 10, dtype=torch.float64), origin=[3, 5]),
        ValueError,
        r"^source_locations lies outside the simulated region",
    ),
]


@pytest.mark.parametrize("overrides,exc,match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("python_backend", [False, True], ids=["go", "python"])
def test_bad_input(p, overrides, exc, match, python_backend):
    kw = overrides(p)
    kw.setdefault("python_backend", python_backend)
    with pytest.raises(exc, match=match):
        run(p, **kw)


def test_good_input_passes(p):
    """The fixture's problem itself is valid (so every failure above is
    caused by its one override)."""
    out = run(p)
    assert float(out[-1].abs().max()) > 0


def test_module_rejects_bad_arguments(p):
    with pytest.raises(ValueError, match=r"^v must have 1 or 2 or 3 or 4 dimensions, got shape \(1, 1, 1, 10, 12\)"):
        torchwave.Scalar(p["v"][None, None, None], 5.0)
    with pytest.raises(TypeError, match="^v must have dtype"):
        torchwave.Scalar(p["v"].long(), 5.0)
    with pytest.raises(TypeError, match="^v_requires_grad must be bool, got int"):
        torchwave.Scalar(p["v"], 5.0, v_requires_grad=1)


def test_cfl_warning_for_many_substeps(p):
    """Not an error, but a dt needing 20+ internal steps warns."""
    with pytest.warns(UserWarning, match="internal steps"):
        run(p, dt=25 * p["dt"], source_amplitudes=p["source_amplitudes"][..., :2], pml_freq=5.0)


def test_pml_freq_default_warns(p):
    kw = dict(p)
    del kw["pml_freq"]
    with pytest.warns(UserWarning, match="pml_freq"):
        torchwave.scalar(**kw)


@pytest.mark.parametrize("origin", [[1, 2, 3], [1]])
def test_origin_wrong_length(p, origin):
    with pytest.raises((ValueError, TypeError), match="origin"):
        run(p, wavefield_0=torch.zeros(2, 10, 10, dtype=torch.float64), origin=origin)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_go_path_not_implemented(p):
    cuda = {k: (t.cuda() if isinstance(t, torch.Tensor) else t) for k, t in p.items()}
    with pytest.raises(NotImplementedError, match="CUDA"):
        torchwave.scalar(**cuda)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_python_backend_matches_cpu(p):
    cuda = {k: (t.cuda() if isinstance(t, torch.Tensor) else t) for k, t in p.items()}
    out = torchwave.scalar(**cuda, python_backend=True)
    ref = run(p)
    for a, b in zip(out, ref):
        assert torch.allclose(a.cpu(), b, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_mixed_devices_named(p):
    with pytest.raises(ValueError, match="^source_amplitudes is on cuda"):
        run(p, source_amplitudes=p["source_amplitudes"].cuda())
