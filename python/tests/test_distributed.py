"""torchwave.distributed on a real Dask LocalCluster (spawned worker
processes): loss and gradient equal the serial ones for 1 and 2 workers and
any shot grouping, through all three call styles; a worker killed
mid-evaluation changes nothing; a worker's exception reaches the caller;
bad input fails early with the argument named."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

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
        v.shape, p["grid_spacing"], p["dt"], p["source_amplitudes"], p["source_locations"], p["receiver_locations"],
        observed, **{k: p[k] for k in PROPAGATOR}, **kwargs,
    )


def _serial(v, p, observed, loss=twd.l2_misfit):
    """Loss and gradient of all shots in one serial propagation."""
    v = v.clone().requires_grad_(True)
    f = loss(torchwave.scalar(v, **p)[-1], observed)
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
    serial loss at the start."""
    from torchwave.optim import LBFGSOptions, lbfgs_minimize

    v, p, observed, (f_ref, _) = problem
    seen = []
    with _objective(v, p, observed, client=client) as objective:

        def recorded(x, grad_out):
            seen.append(objective(x, grad_out))
            return seen[-1]

        x0 = v.numpy().reshape(-1).astype(np.float64)
        result = lbfgs_minimize(
            recorded, x0, lower_bounds=x0 - 200.0, upper_bounds=x0 + 200.0, options=LBFGSOptions(max_iter=3)
        )
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
            model_shape=v.shape, grid_spacing=p["grid_spacing"], dt=p["dt"], source_amplitudes=p["source_amplitudes"],
            source_locations=p["source_locations"], receiver_locations=p["receiver_locations"], observed=observed,
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
