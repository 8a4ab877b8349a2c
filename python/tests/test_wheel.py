"""Packaging: `python -m build` makes an sdist and, from it, one
py3-none-manylinux_2_34 wheel carrying the Go library; the wheel is
auditwheel-clean, installs into a fresh virtual environment with no Go on
PATH and runs a forward and a backward pass there from another folder;
the sdist, where Go is missing, says what is missing.

The build runs once per session (about 15 s with a warm Go cache). The
virtual environment reuses this Python's torch and numpy
(``--system-site-packages``) and pip runs with ``--no-index``: nothing is
downloaded. The tests skip where building is impossible (no Go, no C
compiler, or no `build` package).

Extra interpreters (each with torch and numpy of its own) can be named in
TORCHWAVE_WHEEL_PYTHONS, separated by spaces: the wheel is then also
installed for each and the same script run with it.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import runpy
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest

import torchwave

ROOT = pathlib.Path(__file__).resolve().parents[2]
BACKEND = runpy.run_path(str(ROOT / "build_backend" / "torchwave_build.py"))
TAG = "py3-none-manylinux_2_34_x86_64"

#: Run in the fresh environment: a small forward and backward pass; prints
#: where torchwave came from, the data's sum and the gradient's sum.
SMOKE = """
import sys, torch, torchwave
v = torch.full((24, 30), 2000.0, dtype=torch.float64, requires_grad=True)
src = torchwave.wavelets.ricker(25.0, 60, 0.001).to(torch.float64)[None, None]
src_loc = torch.tensor([[[3, 15]]])
rec_loc = torch.stack([torch.full((30,), 3), torch.arange(30)], -1)[None]
data = torchwave.scalar(v, 5.0, 0.001, src, src_loc, rec_loc, pml_width=5, pml_freq=25.0, max_vel=2500.0)[-1]
data.pow(2).sum().backward()
assert torch.isfinite(v.grad).all() and float(v.grad.abs().max()) > 0
print(torchwave.__file__)
print(repr(float(data.detach().sum())), repr(float(v.grad.sum())))
print("python", sys.version.split()[0], "torch", torch.__version__)
"""


def _reference() -> tuple[float, float]:
    """SMOKE's two sums from the torchwave under test."""
    scope: dict = {}
    exec(SMOKE.replace("print(", "(lambda *a: None)("), scope)
    return float(scope["data"].detach().sum()), float(scope["v"].grad.sum())


def _no_go_path() -> str:
    """PATH without any folder holding a go command."""
    folders = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (pathlib.Path(p) / "go").exists()]
    return os.pathsep.join(folders)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict:
    if importlib.util.find_spec("build") is None:
        pytest.skip("the `build` package is not installed (pip install build)")
    try:
        BACKEND["check_toolchain"]()
    except BACKEND["MissingBuildTool"] as err:
        pytest.skip(f"cannot build the Go core here: {err}")
    out = tmp_path_factory.mktemp("dist")
    # Without isolation when this Python's setuptools is new enough (no
    # download); otherwise build installs setuptools into its own venv.
    command = [sys.executable, "-m", "build", "--outdir", str(out)]
    try:
        import setuptools

        if int(setuptools.__version__.split(".")[0]) >= 77:
            command.append("--no-isolation")
    except ImportError:
        pass
    start = time.perf_counter()
    result = subprocess.run([*command, str(ROOT)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(out.iterdir())
    print(f"python -m build: {seconds:.1f} s; wheel {wheels[0].stat().st_size / 1e6:.2f} MB")
    return {"wheel": wheels[0], "sdist": sdists[0], "seconds": seconds}


def test_wheel_name_contents_and_metadata(dist):
    wheel = dist["wheel"]
    assert wheel.name == f"torchwave-{torchwave.__version__}-{TAG}.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"torchwave-{torchwave.__version__}.dist-info"
        meta = zf.read(f"{info}/METADATA").decode()
        wheel_file = zf.read(f"{info}/WHEEL").decode()
    assert "torchwave/libtorchwave.so" in names
    assert "torchwave/__init__.py" in names and "torchwave/io.py" in names and "torchwave/plot.py" in names
    assert not [n for n in names if n.endswith(".h") or "/tests/" in n or n.startswith("python/")]
    assert f"Tag: {TAG}" in wheel_file and "Root-Is-Purelib: false" in wheel_file
    # The core needs torch and numpy alone; the rest are extras.
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    core = sorted(r.split(">")[0].split("=")[0].split(";")[0].strip() for r in requires if "extra ==" not in r)
    assert core == ["numpy", "torch"], requires
    extras = {line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Provides-Extra:")}
    assert {"dask", "segy", "plot", "all"} <= extras, extras
    all_extra = [r for r in requires if 'extra == "all"' in r]
    assert {r.split(";")[0].strip().split("[")[0] for r in all_extra} == {"dask", "segyio", "matplotlib"}, all_extra


def test_wheel_is_auditwheel_clean(dist):
    if importlib.util.find_spec("auditwheel") is None:
        pytest.skip("auditwheel is not installed (pip install auditwheel)")
    result = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(dist["wheel"])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert 'is consistent with the following platform tag: "manylinux_2_34_x86_64"' in text, result.stdout
    # Nothing to graft: the library needs libc alone.
    assert "system-provided shared libraries: libc.so.6 with versions" in text, result.stdout


def test_sdist_carries_the_go_sources(dist):
    with tarfile.open(dist["sdist"]) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for needed in (
        "go.mod",
        "go.sum",
        "pyproject.toml",
        "setup.py",
        "build_backend/torchwave_build.py",
        "python/torchwave/_sourcehash.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("goexport/") and n.endswith(".go") for n in names)
    assert any(n.startswith("kernels/") and n.endswith(".go") for n in names)
    assert not [n for n in names if n.endswith(".so")]


def test_wheel_runs_in_fresh_venv_without_go(dist, tmp_path):
    venv = tmp_path / "venv"
    # Without pip of its own: this Python's pip runs in it, and no older
    # setuptools of the venv's shadows the one torch requires.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TORCHWAVE_LIBRARY", "GO")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), _no_go_path()])
    assert shutil.which("go", path=env["PATH"]) is None
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-cache-dir", str(dist["wheel"])],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(python), "-c", SMOKE], capture_output=True, text=True, env=env, cwd=elsewhere)
    assert result.returncode == 0, result.stderr[-3000:]
    where, sums, _ = result.stdout.strip().splitlines()[-3:]
    assert pathlib.Path(where).resolve().is_relative_to(venv.resolve()), where
    data_sum, grad_sum = (float(x) for x in sums.split())
    ref_data, ref_grad = _reference()
    assert data_sum == pytest.approx(ref_data, rel=1e-12, abs=1e-300)
    assert grad_sum == pytest.approx(ref_grad, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("python", os.environ.get("TORCHWAVE_WHEEL_PYTHONS", "").split() or [None])
def test_wheel_runs_on_other_pythons(dist, tmp_path, python):
    if python is None:
        pytest.skip("no TORCHWAVE_WHEEL_PYTHONS given")
    target = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TORCHWAVE_LIBRARY", "GO")}
    env["PATH"] = _no_go_path()
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--no-deps", "--target", str(target), str(dist["wheel"])],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    env["PYTHONPATH"] = str(target)
    result = subprocess.run([python, "-c", SMOKE], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    print(result.stdout.strip().splitlines()[-1])
    assert str(target) in result.stdout


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("GO", "/nonexistent/go", "missing: Go (GO='/nonexistent/go' is not an executable)"),
        ("CC", "/nonexistent/cc", "missing: a C compiler"),
    ],
    ids=["no-go", "no-c-compiler"],
)
def test_sdist_build_says_what_is_missing(dist, tmp_path, variable, value, says):
    if int(__import__("setuptools").__version__.split(".")[0]) < 77:
        pytest.skip("needs setuptools>=77 in this Python for a build without isolation")
    with tarfile.open(dist["sdist"]) as tf:
        tf.extractall(tmp_path, filter="data") if sys.version_info >= (3, 12) else tf.extractall(tmp_path)
    (source,) = tmp_path.glob("torchwave-*")
    env = dict(os.environ, **{variable: value})
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "out"), str(source)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "torchwave: cannot build the compiled core from source." in text, text[-3000:]
    assert says in text, text[-3000:]
    assert "py3-none-manylinux_2_34_x86_64.whl" in text
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.whl"))
