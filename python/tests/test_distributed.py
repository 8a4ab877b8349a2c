"""torchwave.distributed on a real Dask LocalCluster (spawned worker
processes): loss and gradient equal the serial ones for 1 and 2 workers and
any shot grouping, through all three call styles, for every propagator
(acoustic with v and rho inverted together), in 1D, 2D and 3D; a worker killed
mid-evaluation changes nothing; a worker's exception reaches the caller;
bad input fails early with the argument named."""

from __future__ import annotations

import math
import os
import signal
import socket
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from conftest import FAIL_ON_PML_FREQ_DEFAULT, make_problem

import torchwave

distributed = pytest.importorskip("distributed")
twd = pytest.importorskip("torchwave.distributed")

pytestmark = FAIL_ON_PML_FREQ_DEFAULT
TOL = 1e-12
CORES = len(os.sched_getaffinity(0))
PROPAGATOR = ("accuracy", "pml_width", "pml_freq")


def _problem(n_shots: int = 5, seed: int = 1):
    """A 30x30, 40-step float64 problem; observed data from a perturbed
    model so the misfit and its gradient are far from zero."""
    p = make_problem(ny=30, nx=30, nt=40, n_shots=n_shots, n_sources=1, n_receivers=6, seed=seed, pml_width=4)
    v = p.pop("v")
    with torch.no_grad():
        observed = torchwave.scalar(v * 1.05 + 20.0, **p)[-1]
    return v, p, observed


def _objective(v, p, observed, **kwargs) -> twd.ShotObjective:
    return twd.ShotObjective(
        v.shape,
        p["grid_spacing"],
        p["dt"],
        p["source_amplitudes"],
        p["source_locations"],
        p["receiver_locations"],
        observed,
        **{k: p[k] for k in PROPAGATOR},
        **kwargs,
    )


def _serial(v, p, observed, loss=twd.l2_misfit, **kwargs):
    """Loss and gradient of all shots in one serial propagation."""
    v = v.clone().requires_grad_(True)
    f = loss(torchwave.scalar(v, **p, **kwargs)[-1], observed)
    f.backward()
    return float(f.detach()), v.grad.numpy()


def _rel(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


@pytest.fixture(scope="module")
def problem():
    v, p, observed = _problem()
    return v, p, observed, _serial(v, p, observed)


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster shared by the tests that do not start their own."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_workers_are_spawned():
    import dask

    assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        v, p, observed = _problem(n_shots=2)
        with pytest.raises(RuntimeError, match="fork"):
            _objective(v, p, observed)


@pytest.fixture(scope="module", params=[1, 2], ids=["1worker", "2workers"])
def own(request, problem):
    """An objective that starts its own LocalCluster of 1 or 2 workers;
    closing it shuts the cluster down."""
    v, p, observed, _ = problem
    objective = _objective(v, p, observed, n_workers=request.param)
    cluster = objective._cluster
    yield objective
    objective.close()
    assert objective.client.status == "closed"
    assert cluster.status.name == "closed"


def test_equals_serial_own_local_cluster(own, problem):
    v, p, observed, (f_ref, g_ref) = problem
    x = v.numpy().ravel().astype(np.float64)
    n_workers = len(own._cluster.workers)
    workers = own.client.scheduler_info(n_workers=-1)["workers"]
    assert len(workers) == n_workers
    assert len(own.shot_groups) == n_workers
    # Thread settings: the cores shared among the workers' task threads.
    threads = own.client.run(lambda: (torchwave.get_num_threads(), torch.get_num_threads()))
    share = max(1, CORES // n_workers)
    assert set(threads.values()) == {(share, share)}

    n = own.n_evaluations
    f, g = own.value_and_grad(x)
    assert isinstance(f, float) and g.dtype == np.float64 and g.shape == (x.size,)
    assert abs(f - f_ref) <= TOL * abs(f_ref)
    assert _rel(g, g_ref.ravel()) <= TOL

    grad_out = np.full_like(x, np.nan)
    assert abs(own(x, grad_out) - f_ref) <= TOL * abs(f_ref)
    assert _rel(grad_out, g_ref.ravel()) <= TOL

    assert abs(own.value(x) - f_ref) <= TOL * abs(f_ref)
    assert own.n_evaluations == n + 3


def test_autograd_composes_with_torch(client, problem):
    v, p, observed, (f_ref, g_ref) = problem
    with _objective(v, p, observed, client=client) as objective:
        model = v.clone().requires_grad_(True)
        loss = objective.loss(model)
        assert loss.dtype == model.dtype and loss.ndim == 0 and loss.requires_grad
        # A regulariser and a weight compose with it like any torch op.
        total = 3.0 * loss + 1e-3 * (model[1:] - model[:-1]).pow(2).sum()
        total.backward()
        ref = v.clone().requires_grad_(True)
        (1e-3 * (ref[1:] - ref[:-1]).pow(2).sum()).backward()
        assert abs(float(loss.detach()) - f_ref) <= TOL * abs(f_ref)
        assert _rel(model.grad.numpy(), 3.0 * g_ref + ref.grad.numpy()) <= TOL

        # A torch optimiser step lowers the loss.
        model = v.clone().requires_grad_(True)
        optimiser = torch.optim.SGD([model], lr=1.0 / float(np.abs(g_ref).max()))
        losses = []
        for _ in range(2):
            optimiser.zero_grad()
            loss = objective.loss(model)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        assert losses[1] < losses[0]

        # Without a gradient wanted, only the forward runs.
        with torch.no_grad():
            assert abs(float(objective.loss(v)) - f_ref) <= TOL * abs(f_ref)
    assert client.status == "running"  # a client given by the caller stays open


def test_drives_torchwave_lbfgs_minimize(client, problem):
    """The objective is what torchwave.optim.lbfgs_minimize takes: the
    bounded optimiser lowers the misfit and its first evaluation is the
    serial loss at the start, with max_vel the fastest speed the bounds
    allow."""
    from torchwave.optim import LBFGSOptions, lbfgs_minimize

    v, p, observed, _ = problem
    seen = []
    x0 = v.numpy().reshape(-1).astype(np.float64)
    bounds = (x0 - 200.0, x0 + 200.0)
    with _objective(v, p, observed, client=client, bounds=bounds) as objective:
        assert objective.max_vel == float(x0.max()) + 200.0 and objective.max_vel_from == "bounds"

        def recorded(x, grad_out):
            seen.append(objective(x, grad_out))
            return seen[-1]

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no model ran faster than the fixed max_vel
            result = lbfgs_minimize(
                recorded, x0, lower_bounds=bounds[0], upper_bounds=bounds[1], options=LBFGSOptions(max_iter=3)
            )
    f_ref, _ = _serial(v, p, observed, max_vel=float(x0.max()) + 200.0)
    assert abs(seen[0] - f_ref) <= TOL * abs(f_ref)
    assert result.iterations == 3 and result.f < 0.5 * seen[0]
    assert np.all(result.x >= x0 - 200.0) and np.all(result.x <= x0 + 200.0)


@pytest.mark.parametrize("shots_per_task", [1, 2, 5])
def test_shot_grouping_does_not_change_the_result(client, problem, shots_per_task):
    v, p, observed, (f_ref, g_ref) = problem
    with _objective(v, p, observed, client=client, shots_per_task=shots_per_task) as objective:
        groups = objective.shot_groups
        assert sorted(s for g in groups for s in g) == list(range(5))
        assert all(len(g) <= shots_per_task for g in groups)
        f, g = objective.value_and_grad(v.numpy().ravel())
        assert abs(f - f_ref) <= TOL * abs(f_ref)
        assert _rel(g, g_ref.ravel()) <= TOL
        # The shot data stay on the workers, spread over both.
        holders = client.who_has(objective._groups)
        assert all(len(h) >= 1 for h in holders.values())
        if len(groups) >= 2:
            assert len({h[0] for h in holders.values()}) == 2


def test_worker_killed_mid_evaluation(own, problem):
    """SIGKILL a worker while it computes a shot group: its shots (and, on a
    one-worker cluster, the model broadcast) are recomputed, the result is
    the same."""
    v, p, observed, _ = problem

    def slow_misfit(predicted, observed):
        time.sleep(1.0)
        return 0.5 * (predicted - observed).pow(2).sum()

    f_ref, g_ref = _serial(v, p, observed)
    with _objective(v, p, observed, client=own.client, loss=slow_misfit) as objective:
        c = objective.client
        result = {}
        thread = threading.Thread(target=lambda: result.update(fg=objective.value_and_grad(v.numpy().ravel())))
        thread.start()
        deadline = time.monotonic() + 30
        victim = None
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, keys in c.processing().items() if any("_group_loss" in str(k) for k in keys)]
            victim = busy[0] if busy else None
            time.sleep(0.05)
        assert victim is not None, "no worker started a shot group"
        time.sleep(0.3)  # well inside the task's second of work
        pid = c.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=60)
        assert not thread.is_alive(), "the evaluation did not return"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert victim not in c.scheduler_info(n_workers=-1)["workers"]
        f, g = result["fg"]
        assert abs(f - f_ref) <= TOL * abs(f_ref)
        assert _rel(g, g_ref.ravel()) <= TOL
        # Both objectives go on working on the repaired cluster.
        for o in (own, objective):
            f2, _ = o.value_and_grad(v.numpy().ravel())
            assert abs(f2 - f_ref) <= TOL * abs(f_ref)


def test_worker_exception_reaches_caller(client, problem):
    v, p, observed, _ = problem

    def broken(predicted, observed):
        raise FloatingPointError("misfit exploded on shot group")

    with _objective(v, p, observed, client=client, loss=broken) as objective:
        with pytest.raises(FloatingPointError, match="misfit exploded on shot group"):
            objective.value_and_grad(v.numpy().ravel())
    with _objective(v, p, observed, client=client, loss=lambda a, b: (a - b).pow(2)) as objective:
        with pytest.raises(TypeError, match="loss must return a scalar tensor"):
            objective.value(v.numpy().ravel())


def test_bad_acquisition_fails_before_any_cluster_starts(problem):
    v, p, observed, _ = problem

    def build(**over):
        args = dict(
            model_shape=v.shape,
            grid_spacing=p["grid_spacing"],
            dt=p["dt"],
            source_amplitudes=p["source_amplitudes"],
            source_locations=p["source_locations"],
            receiver_locations=p["receiver_locations"],
            observed=observed,
        )
        kwargs = {k: over.pop(k) for k in list(over) if k not in args}
        args.update(over)
        # An unreachable address: reaching it would fail differently.
        return twd.ShotObjective(**args, client="tcp://127.0.0.1:9", timeout=1, pml_freq=25.0, **kwargs)

    with pytest.raises(ValueError, match="observed has 4 shots but source_amplitudes has 5"):
        build(observed=observed[:4])
    with pytest.raises(ValueError, match="receiver_locations has 3 shots"):
        build(receiver_locations=p["receiver_locations"][:3])
    with pytest.raises(ValueError, match="observed has 5 receivers per shot but receiver_locations has 6"):
        build(observed=observed[:, :5])
    with pytest.raises(ValueError, match="observed has 39 time samples"):
        build(observed=observed[..., :39])
    with pytest.raises(TypeError, match="observed has dtype torch.float32"):
        build(observed=observed.float())
    with pytest.raises(ValueError, match="receiver_locations has a x .* outside the model"):
        build(receiver_locations=p["receiver_locations"] + torch.tensor([0, 30]))
    with pytest.raises(ValueError, match="source_amplitudes must have shape"):
        build(source_amplitudes=p["source_amplitudes"][0])
    with pytest.raises(ValueError, match="model_shape"):
        build(model_shape=(30,))
    with pytest.raises(TypeError, match="unexpected keyword argument.*wavefield_0"):
        build(wavefield_0=torch.zeros(1))
    with pytest.raises(ValueError, match="shots_per_task must be a positive int"):
        build(shots_per_task=0)


def test_unreachable_scheduler_fails_within_timeout(problem):
    v, p, observed, _ = problem
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=rf"client: no Dask scheduler answered at 'tcp://127.0.0.1:{port}' within 2 s"):
        _objective(v, p, observed, client=f"tcp://127.0.0.1:{port}", timeout=2)
    assert time.monotonic() - start < 15
    with pytest.raises(TypeError, match="client must be None, a scheduler address or a distributed.Client"):
        _objective(v, p, observed, client=42)


def test_model_of_the_wrong_shape(client, problem):
    v, p, observed, _ = problem
    with _objective(v, p, observed, client=client) as objective:
        x = v.numpy().ravel()
        with pytest.raises(ValueError, match=r"x must be the flattened model, a vector of 900 values"):
            objective.value_and_grad(x[:-1])
        with pytest.raises(ValueError, match=r"x must be the flattened model"):
            objective.value_and_grad(v.numpy())
        with pytest.raises(ValueError, match="grad_out must be a NumPy array of the same shape as x"):
            objective(x, np.zeros(10))
        with pytest.raises(ValueError, match=r"model must have shape \(30, 30\), got \(30, 29\)"):
            objective.loss(v[:, :-1])
        with pytest.raises(TypeError, match="model must be a torch.Tensor"):
            objective.loss(x)
        bad = x.copy()
        bad[3] = np.nan
        with pytest.raises(ValueError, match="model has non-finite values"):
            objective.value(bad)
        assert objective.n_evaluations == 0
    with pytest.raises(RuntimeError, match="closed"):
        objective.value(x)


def test_import_torchwave_does_not_import_dask():
    import subprocess
    import sys

    code = (
        "import sys, torchwave\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
        "assert torchwave.distributed.ShotObjective.__name__ == 'ShotObjective'\n"
        "assert 'distributed' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------- other propagators, max_vel


def _maxwell_problem():
    """A 32x32, 60-step float64 GPR problem (2 cm cells, relative
    permittivity 4 with a block of 5, a little conductivity) with 4 shots
    along the top; observed data from the true model."""
    from torchwave.maxwell import C0

    ny = nx = 32
    nt = 60
    dx = 0.02
    eps_true = torch.full((ny, nx), 4.0, dtype=torch.float64)
    eps_true[14:22, 10:20] = 5.0
    sigma = torch.full((ny, nx), 2e-3, dtype=torch.float64)
    mu = torch.ones(ny, nx, dtype=torch.float64)
    dt = 0.9 * 0.6 / math.sqrt(2 / dx**2) / (C0 / 2.0)
    wavelet = torchwave.wavelets.ricker(800e6, nt, dt, dtype=torch.float64)
    n_shots = 4
    src = wavelet.reshape(1, 1, -1).repeat(n_shots, 1, 1)
    src_loc = torch.tensor([[[4, 6 + 6 * i]] for i in range(n_shots)])
    rec_x = torch.arange(2, 30, 3)
    rec_loc = torch.stack([torch.full_like(rec_x, 4), rec_x], dim=-1)[None].repeat(n_shots, 1, 1)
    options = dict(stencil=4, pml_width=6)
    with torch.no_grad():
        observed = torchwave.maxwelltm(eps_true, sigma, mu, dx, dt, src, src_loc, rec_loc, **options)[-1]
    return dict(
        eps0=torch.full((ny, nx), 4.0, dtype=torch.float64),
        sigma=sigma,
        mu=mu,
        dx=dx,
        dt=dt,
        src=src,
        src_loc=src_loc,
        rec_loc=rec_loc,
        options=options,
        observed=observed,
    )


def _maxwell_local(m, models, inverted, max_vel):
    """The same objective without Dask: one maxwelltm call over every shot."""
    x = models[inverted].clone().requires_grad_(True)
    call = dict(models, **{inverted: x})
    predicted = torchwave.maxwelltm(
        call["epsilon"],
        call["sigma"],
        call["mu"],
        m["dx"],
        m["dt"],
        m["src"],
        m["src_loc"],
        m["rec_loc"],
        **m["options"],
        max_vel=max_vel,
    )[-1]
    f = twd.l2_misfit(predicted, m["observed"])
    f.backward()
    return float(f.detach()), x.grad.numpy()


def test_maxwelltm_objective_equals_local(client):
    """ShotObjective with maxwelltm on a 2-worker LocalCluster: loss and
    gradient of epsilon (the default inverted model, sigma and mu fixed),
    then of sigma, equal the same objective computed in this process."""
    m = _maxwell_problem()
    models = dict(epsilon=m["eps0"], sigma=m["sigma"], mu=m["mu"])
    common = (m["eps0"].shape, m["dx"], m["dt"], m["src"], m["src_loc"], m["rec_loc"], m["observed"])
    lower, upper = 2.0, 9.0
    with twd.ShotObjective(
        *common,
        propagator=torchwave.maxwelltm,
        fixed_models=dict(sigma=m["sigma"], mu=m["mu"]),
        bounds=(lower, upper),
        client=client,
        **m["options"],
    ) as objective:
        assert objective.inverted == "epsilon" and objective.propagator.name == "maxwelltm"
        from torchwave.maxwell import C0

        assert objective.max_vel_from == "bounds" and abs(objective.max_vel - C0 / math.sqrt(lower)) <= 1e-9 * C0
        assert len(objective.shot_groups) == 2
        x = m["eps0"].numpy().ravel()
        f, g = objective.value_and_grad(x)
        f_ref, g_ref = _maxwell_local(m, models, "epsilon", objective.max_vel)
        assert abs(f - f_ref) <= TOL * abs(f_ref)
        assert _rel(g, g_ref.ravel()) <= TOL
        assert abs(objective.value(x) - f_ref) <= TOL * abs(f_ref)

    with twd.ShotObjective(
        *common, propagator="maxwelltm", inverted="sigma", fixed_models=dict(epsilon=m["eps0"]), client=client, **m["options"]
    ) as objective:
        # sigma does not change the speed: max_vel comes from epsilon and mu (default 1).
        assert objective.max_vel_from == "fixed models" and abs(objective.max_vel - C0 / 2.0) <= 1e-9 * C0
        f, g = objective.value_and_grad(m["sigma"].numpy().ravel())
        f_ref, g_ref = _maxwell_local(m, models, "sigma", C0 / 2.0)
        assert abs(f - f_ref) <= TOL * abs(f_ref)
        assert _rel(g, g_ref.ravel()) <= TOL


def test_scalar_born_objective_equals_local(client, problem):
    """scalar_born: the scattering potential (default) or the background
    wavespeed inverted, against one local scalar_born call."""
    v, p, observed, _ = problem
    gen = torch.Generator().manual_seed(5)
    scatter = 20.0 * torch.randn(v.shape, generator=gen, dtype=torch.float64)
    observed_sc = 1.1 * torchwave.scalar_born(v, scatter, **p)[-1].detach()
    survey = (
        v.shape,
        p["grid_spacing"],
        p["dt"],
        p["source_amplitudes"],
        p["source_locations"],
        p["receiver_locations"],
        observed_sc,
    )
    options = {k: p[k] for k in PROPAGATOR}
    for inverted, fixed in (("scatter", dict(v=v)), ("v", dict(scatter=scatter))):
        models = dict(v=v, scatter=scatter)
        x = models[inverted].clone().requires_grad_(True)
        call = dict(models, **{inverted: x})
        f_ref = twd.l2_misfit(torchwave.scalar_born(call["v"], call["scatter"], **p, max_vel=float(v.max()))[-1], observed_sc)
        f_ref.backward()
        kwargs = {} if inverted == "scatter" else dict(inverted="v")
        with twd.ShotObjective(
            *survey, propagator="scalar_born", fixed_models=fixed, client=client, **options, **kwargs
        ) as objective:
            assert objective.inverted == inverted
            f, g = objective.value_and_grad(models[inverted].numpy().ravel())
            assert objective.max_vel == float(v.max())
        f_ref = float(f_ref.detach())
        assert abs(f - f_ref) <= TOL * abs(f_ref)
        assert _rel(g, x.grad.numpy().ravel()) <= TOL


def test_max_vel_is_fixed_and_the_objective_smooth(client):
    """In a homogeneous model every cell is the fastest, so a propagator
    left to choose max_vel has a kink there; ShotObjective fixes max_vel
    (from the bounds), and its gradient is the central difference of its
    values. From an initial model, a faster model warns and runs."""
    p = make_problem(ny=20, nx=20, nt=40, n_shots=2, n_sources=1, n_receivers=4, seed=2, pml_width=4)
    p.pop("v")
    v0 = torch.full((20, 20), 2000.0, dtype=torch.float64)
    with torch.no_grad():
        v_true = v0.clone()
        v_true[8:13, 6:15] = 2100.0
        observed = torchwave.scalar(v_true, **p, max_vel=2100.0)[-1]
    direction = torch.rand(v0.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64).numpy().ravel()
    x0 = v0.numpy().ravel()
    with _objective(v0, p, observed, client=client, bounds=(1500.0, 2200.0)) as objective:
        assert objective.max_vel == 2200.0
        f0, g = objective.value_and_grad(x0)
        h = 0.01
        central = (objective.value(x0 + h * direction) - objective.value(x0 - h * direction)) / (2 * h)
        assert abs(central - g @ direction) <= 1e-6 * abs(g @ direction)

    with _objective(v0, p, observed, client=client, initial_model=v0) as objective:
        assert objective.max_vel == 2000.0 and objective.max_vel_from == "initial_model"
        with pytest.warns(UserWarning, match="exceeds the max_vel 2000 this ShotObjective fixed from the initial model"):
            faster = objective.value(x0 + 10.0 * direction)
        f_ref, _ = _serial(torch.from_numpy(x0 + 10.0 * direction).reshape(v0.shape), p, observed)
        assert abs(faster - f_ref) <= TOL * abs(f_ref)

    with _objective(v0, p, observed, client=client) as objective:
        assert objective.max_vel is None
        objective.value(x0 - 10.0 * direction)
        assert objective.max_vel == float((x0 - 10.0 * direction).max()) and objective.max_vel_from == "first evaluation"
    with _objective(v0, p, observed, client=client, max_vel=2050.0, bounds=(1500.0, 2200.0)) as objective:
        assert objective.max_vel == 2050.0 and objective.max_vel_from == "max_vel"
        with pytest.raises(ValueError, match="max_vel=2050.0 is below the model's maximum velocity"):
            objective.value(x0 + 100.0 * direction)


def test_bad_propagator_arguments_fail_before_any_cluster_starts(problem):
    v, p, observed, _ = problem
    eps = torch.full(v.shape, 4.0, dtype=torch.float64)

    def build(**kwargs):
        return twd.ShotObjective(
            v.shape,
            p["grid_spacing"],
            p["dt"],
            p["source_amplitudes"],
            p["source_locations"],
            p["receiver_locations"],
            observed,
            client="tcp://127.0.0.1:9",
            timeout=1,
            **kwargs,
        )

    with pytest.raises(
        ValueError, match=r"unknown propagator 'elastic'; ShotObjective runs 'scalar', 'scalar_born', 'acoustic', 'maxwelltm'"
    ):
        build(propagator="elastic")
    with pytest.raises(ValueError, match="does not know how to call propagator .*<lambda>"):
        build(propagator=lambda *a, **k: None)
    with pytest.raises(TypeError, match="propagator must be a name"):
        build(propagator=3)
    with pytest.raises(
        ValueError, match=r"inverted must name one of maxwelltm's model arguments \['epsilon', 'sigma', 'mu'\], got 'v'"
    ):
        build(propagator="maxwelltm", inverted="v")
    with pytest.raises(ValueError, match=r"scalar_born with inverted='scatter' needs fixed_models\['v'\]"):
        build(propagator="scalar_born", pml_freq=25.0)
    with pytest.raises(ValueError, match=r"maxwelltm with inverted='sigma' needs fixed_models\['epsilon'\]"):
        build(propagator="maxwelltm", inverted="sigma")
    with pytest.raises(ValueError, match=r"fixed_models has \['v'\], which are not among maxwelltm's"):
        build(propagator="maxwelltm", fixed_models=dict(v=eps))
    with pytest.raises(ValueError, match=r"fixed_models holds 'epsilon', the inverted model"):
        build(propagator="maxwelltm", fixed_models=dict(epsilon=eps))
    with pytest.raises(ValueError, match=r"fixed_models\['mu'\] must have model_shape \(30, 30\)"):
        build(propagator="maxwelltm", fixed_models=dict(mu=eps[:-1]))
    with pytest.raises(ValueError, match=r"fixed_models\['sigma'\] has non-finite values"):
        build(propagator="maxwelltm", fixed_models=dict(sigma=eps * float("nan")))
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*'accuracy'.*passes on to maxwelltm"):
        build(propagator="maxwelltm", accuracy=4)
    with pytest.raises(ValueError, match=r"fixed_models has \['scatter'\], which are not among scalar's"):
        build(fixed_models=dict(scatter=eps), pml_freq=25.0)
    with pytest.raises(ValueError, match=r"bounds must be \(lower, upper\)"):
        build(bounds=(1.0,), pml_freq=25.0)
    with pytest.raises(ValueError, match=r"initial_model must be a number or an array of model_shape"):
        build(initial_model=np.ones(7), pml_freq=25.0)
    with pytest.raises(ValueError, match="max_vel must be a positive number"):
        build(max_vel=-1.0, pml_freq=25.0)


# --------------------------------------------- acoustic, several models, 1D/3D


def _acoustic_problem(ndim: int = 2, n_shots: int = 3):
    """A small float64 acoustic problem in `ndim` dimensions: a layered
    wavespeed and a density with an anomaly, pressure sources on one side
    and receivers of every kind on the other; observed data (of every
    receiver kind) from a perturbed model."""
    shape = {1: (40,), 2: (20, 22), 3: (10, 11, 12)}[ndim]
    nt, dx = 50, 5.0
    gen = torch.Generator().manual_seed(7)
    v = 1500.0 + 500.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    rho = 1000.0 + 800.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    dt = 0.5 * dx / (float(v.max()) * math.sqrt(ndim))
    src = torchwave.wavelets.ricker(40.0, nt, dt, peak_time=1.5 / 40.0, dtype=torch.float64)
    src = src.reshape(1, 1, -1).repeat(n_shots, 1, 1) * (1.0 + torch.arange(n_shots, dtype=torch.float64)).reshape(-1, 1, 1)
    src_loc = torch.stack(
        [torch.tensor([1 + i % (n - 2) for n in shape]) + torch.tensor([0] * (ndim - 1) + [i]) for i in range(n_shots)]
    )[:, None, :]
    rec_loc = torch.tensor([[n - 3 - (j % 2) for n in shape[:-1]] + [2 + 2 * j] for j in range(4)])[None].repeat(n_shots, 1, 1)
    p = dict(grid_spacing=dx, dt=dt, accuracy=4, pml_width=4, pml_freq=40.0)
    kinds = twd._acoustic_kinds(ndim)
    receivers = {f"receiver_locations_{k}": rec_loc for k in kinds}
    with torch.no_grad():
        out = torchwave.acoustic(1.05 * v, 0.95 * rho, **p, source_amplitudes_p=src, source_locations_p=src_loc, **receivers)
    observed = dict(zip(kinds, out[-len(kinds) :]))
    return dict(v=v, rho=rho, src=src, src_loc=src_loc, rec_loc=rec_loc, options=p, observed=observed, shape=shape)


def _acoustic_local(a, inverted, receiver_kind, max_vel):
    """Loss and gradients of the same objective in one local acoustic call."""
    models = {name: a[name].clone().requires_grad_(name in inverted) for name in ("v", "rho")}
    kinds = twd._acoustic_kinds(len(a["shape"]))
    out = torchwave.acoustic(
        models["v"],
        models["rho"],
        **a["options"],
        max_vel=max_vel,
        source_amplitudes_p=a["src"],
        source_locations_p=a["src_loc"],
        **{f"receiver_locations_{receiver_kind}": a["rec_loc"]},
    )
    f = twd.l2_misfit(out[kinds.index(receiver_kind) - len(kinds)], a["observed"][receiver_kind])
    f.backward()
    return float(f.detach()), np.concatenate([models[name].grad.numpy().ravel() for name in inverted])


def test_acoustic_joint_objective_equals_local(client):
    """acoustic on a 2-worker LocalCluster with v and rho inverted together
    (x = [v, rho] stacked), pressure data and then x-velocity data: loss
    and gradient equal one local call's; max_vel comes from the upper
    bound of v in the stacked bounds; loss(v, rho) gives both gradients."""
    a = _acoustic_problem(2)
    x = np.concatenate([a["v"].numpy().ravel(), a["rho"].numpy().ravel()])
    m = x.size // 2
    lower = np.concatenate([np.full(m, 1000.0), np.full(m, 500.0)])
    upper = np.concatenate([np.full(m, 2600.0), np.full(m, 3000.0)])
    for kind in ("p", "x"):
        with twd.ShotObjective(
            a["shape"],
            a["options"]["grid_spacing"],
            a["options"]["dt"],
            a["src"],
            a["src_loc"],
            a["rec_loc"],
            a["observed"][kind],
            propagator="acoustic",
            inverted=("v", "rho"),
            receiver_kind=kind,
            bounds=(lower, upper),
            client=client,
            **{k: a["options"][k] for k in PROPAGATOR},
        ) as objective:
            assert objective.inverted == ("v", "rho") and objective.receiver_kind == kind and objective.source_kind == "p"
            assert objective.max_vel == 2600.0 and objective.max_vel_from == "bounds"
            f, g = objective.value_and_grad(x)
            f_ref, g_ref = _acoustic_local(a, ("v", "rho"), kind, 2600.0)
            assert abs(f - f_ref) <= TOL * abs(f_ref)
            assert _rel(g[:m], g_ref[:m]) <= TOL and _rel(g[m:], g_ref[m:]) <= TOL
            assert float(np.abs(g[m:]).max()) > 0  # the density has a gradient of its own
            if kind == "p":
                v, rho = (a[name].clone().requires_grad_(True) for name in ("v", "rho"))
                objective.loss(v, rho).backward()
                assert _rel(v.grad.numpy().ravel(), g_ref[:m]) <= TOL
                assert _rel(rho.grad.numpy().ravel(), g_ref[m:]) <= TOL
                with pytest.raises(TypeError, match=r"loss takes one tensor per inverted model \['v', 'rho'\]"):
                    objective.loss(v)
                with pytest.raises(ValueError, match=r"x must be the flattened models v, rho one after the other"):
                    objective.value(x[:m])


def test_acoustic_density_alone_with_velocity_sources(client):
    """rho inverted with v fixed, y-velocity sources and pressure data: the
    survey goes to source_amplitudes_y and max_vel is v's (fixed)."""
    a = _acoustic_problem(2, n_shots=2)
    kinds = dict(source_amplitudes_y=a["src"], source_locations_y=a["src_loc"], receiver_locations_p=a["rec_loc"])
    with torch.no_grad():
        observed = torchwave.acoustic(a["v"], 0.9 * a["rho"], **a["options"], **kinds)[-3]
    with twd.ShotObjective(
        a["shape"],
        a["options"]["grid_spacing"],
        a["options"]["dt"],
        a["src"],
        a["src_loc"],
        a["rec_loc"],
        observed,
        propagator=torchwave.acoustic,
        inverted="rho",
        source_kind="y",
        fixed_models=dict(v=a["v"]),
        client=client,
        **{k: a["options"][k] for k in PROPAGATOR},
    ) as objective:
        assert objective.inverted == "rho" and objective.max_vel_from == "fixed models"
        f, g = objective.value_and_grad(a["rho"].numpy().ravel())
    rho = a["rho"].clone().requires_grad_(True)
    out = torchwave.acoustic(a["v"], rho, **a["options"], max_vel=float(a["v"].max()), **kinds)
    loss = twd.l2_misfit(out[-3], observed)
    loss.backward()
    f_ref = float(loss.detach())
    assert abs(f - f_ref) <= TOL * f_ref
    assert _rel(g, rho.grad.numpy().ravel()) <= TOL


@pytest.mark.parametrize("ndim", [1, 3])
def test_scalar_objective_in_1d_and_3d_equals_direct(client, ndim):
    """The locations' last dimension sets the number of dimensions: a 1D and
    a 3D scalar objective's loss and gradient equal the direct call's."""
    gen = torch.Generator().manual_seed(11)
    shape = {1: (40,), 3: (10, 11, 12)}[ndim]
    n_shots, nt, dx = 3, 40, 5.0
    v = 1500.0 + 500.0 * torch.rand(shape, generator=gen, dtype=torch.float64)
    dt = 0.5 * dx / (2000.0 * math.sqrt(ndim))
    src = torch.randn(n_shots, 1, nt, generator=gen, dtype=torch.float64)
    src_loc = torch.stack([torch.randint(0, n, (n_shots, 1), generator=gen) for n in shape], dim=-1)
    rec_loc = torch.stack([torch.randint(0, n, (n_shots, 4), generator=gen) for n in shape], dim=-1)
    p = dict(grid_spacing=dx, dt=dt, source_amplitudes=src, source_locations=src_loc, receiver_locations=rec_loc)
    options = dict(accuracy=4, pml_width=3, pml_freq=25.0)
    with torch.no_grad():
        observed = torchwave.scalar(1.05 * v, **p, **options)[-1]
    f_ref, g_ref = _serial(v, dict(p, **options), observed, max_vel=float(v.max()))
    with twd.ShotObjective(shape, dx, dt, src, src_loc, rec_loc, observed, client=client, **options) as objective:
        assert objective.ndim == ndim and len(objective.shot_groups) == 2
        f, g = objective.value_and_grad(v.numpy().ravel())
        assert g.shape == (v.numel(),)
    assert abs(f - f_ref) <= TOL * abs(f_ref)
    assert _rel(g, g_ref.ravel()) <= TOL


def test_kinds_dimensions_and_several_models_are_checked_early():
    """Before any cluster starts: kinds only for acoustic and only those of
    its dimensions, model_shape and the locations agree, maxwelltm is 2D,
    inverted names each model once, fixed models not inverted."""
    a = _acoustic_problem(2, n_shots=2)

    def build(model_shape=a["shape"], rec_loc=a["rec_loc"], src_loc=a["src_loc"], **kwargs):
        return twd.ShotObjective(
            model_shape,
            5.0,
            a["options"]["dt"],
            a["src"],
            src_loc,
            rec_loc,
            a["observed"]["p"],
            client="tcp://127.0.0.1:9",
            timeout=1,
            pml_freq=25.0,
            **kwargs,
        )

    with pytest.raises(ValueError, match="receiver_kind is for a propagator with several kinds.*scalar has one"):
        build(receiver_kind="x")
    with pytest.raises(ValueError, match=r"source_kind must be one of \['p', 'y', 'x'\] for acoustic in 2D, got 'z'"):
        build(propagator="acoustic", source_kind="z", fixed_models=dict(rho=a["rho"]))
    with pytest.raises(ValueError, match=r"model_shape \(20, 22, 1\) has 3 dimensions, but the locations have 2"):
        build(model_shape=(20, 22, 1))
    with pytest.raises(ValueError, match="receiver_locations has 3 coordinates per location.*source_locations says"):
        build(rec_loc=torch.cat([a["rec_loc"], a["rec_loc"][..., :1]], dim=-1))
    with pytest.raises(ValueError, match="maxwelltm runs in 2D, but the locations are 1D"):
        build(model_shape=(20,), rec_loc=a["rec_loc"][..., 1:], src_loc=a["src_loc"][..., 1:], propagator="maxwelltm")
    with pytest.raises(ValueError, match="receiver_locations has a z \\(first\\) coordinate outside the model"):
        build(
            model_shape=(2, 20, 22),
            rec_loc=torch.cat([a["rec_loc"][..., :1], a["rec_loc"]], dim=-1),
            src_loc=torch.cat([0 * a["src_loc"][..., :1], a["src_loc"]], dim=-1),
        )
    with pytest.raises(ValueError, match=r"inverted names a model more than once: \['v', 'v'\]"):
        build(propagator="acoustic", inverted=("v", "v"))
    with pytest.raises(ValueError, match=r"fixed_models holds 'rho', an inverted model"):
        build(propagator="acoustic", inverted=("v", "rho"), fixed_models=dict(rho=a["rho"]))
    with pytest.raises(ValueError, match=r"acoustic with inverted='v' needs fixed_models\['rho'\]"):
        build(propagator="acoustic")
    with pytest.raises(ValueError, match=r"bounds\[0\] must be a number or an array of model_shape \(2, 20, 22\)"):
        build(propagator="acoustic", inverted=("v", "rho"), bounds=(np.ones(440), None))
