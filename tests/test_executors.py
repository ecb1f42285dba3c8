"""Executors: inline, worker processes and Ray (a local instance and a two-node cluster) train the same
networks to the same numbers; each bad choice is one line and exit code 2; a worker killed in the middle
of a sub-run costs that sub-run one retry, and a second death names it while finished sub-runs stay cached.

Real processes and a real Ray, no mocks. The sub-runs are tiny (an MLP on 300 images, 1 epoch), Ray starts
once per backend, and every node has one CPU: the machine is small and shared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import mnistlab
from mnistlab.cli import main
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.executors import ExecutorError, InlineExecutor, ProcessExecutor, make_executor
from mnistlab.execution.runner import execute_plan
from mnistlab.execution.subrun import Outcome, SubRun
from mnistlab.models import parse_mlp
from mnistlab.tasks.common import ImageData, classifier_run
from mnistlab.train import TrainConfig

CPU = torch.device("cpu")


@dataclasses.dataclass(frozen=True)
class KillingData(ImageData):
    """ImageData whose loading, inside the worker and in the middle of the sub-run, kills that worker
    with SIGKILL: every time (`always`), or only while the marker file does not exist yet."""

    marker: str = ""
    always: bool = False

    def load(self, device, data_dir):
        if self.always or not Path(self.marker).exists():
            Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().load(device, data_dir)


def tiny_run(width: str = "32", seed: int = 0) -> SubRun:
    return classifier_run(parse_mlp(width), TrainConfig(epochs=1), seed=seed, train_limit=300, test_limit=200)


def killing_run(marker: Path, *, always: bool) -> SubRun:
    """The first tiny sub-run, but its worker dies: it computes the same numbers when it lives."""
    run = tiny_run()
    data = KillingData(**{f.name: getattr(run.data, f.name) for f in dataclasses.fields(ImageData)},
                       marker=str(marker), always=always)
    # cost 0: started last by the executors (longest first), after the healthy sub-runs.
    return dataclasses.replace(run, data=data, name="doomed MLP", cost=0.0)


PLAN = [tiny_run("32", 0), tiny_run("32", 1), tiny_run("16", 0)]


def train(executor, runs: list[SubRun]) -> dict[SubRun, Outcome]:
    done: dict[SubRun, Outcome] = {}
    executor.run(runs, lambda run, outcome: done.__setitem__(run, outcome))
    return done


def assert_same_numbers(a: Outcome, b: Outcome) -> None:
    """Same training, bit for bit: accuracy, per-epoch losses and accuracies, every test prediction."""
    assert a.record["test_acc"] == b.record["test_acc"]
    assert a.record["test_loss"] == b.record["test_loss"]
    # Time and thread count are how a run went, not what it computed.
    untimed = [[{k: v for k, v in epoch.items() if k not in ("seconds", "threads")} for epoch in o.record["history"]]
               for o in (a, b)]
    assert untimed[0] == untimed[1]
    np.testing.assert_array_equal(a.arrays["test_pred"], b.arrays["test_pred"])


@pytest.fixture(scope="module")
def inline_outcomes() -> dict[SubRun, Outcome]:
    return train(InlineExecutor(device=CPU, show_progress=False), PLAN)


# ------------------------------------------------------------------------------------------- processes


@pytest.fixture(scope="module")
def processes():
    """Two worker processes, kept warm from test to test (each worker start imports torch and the tasks)."""
    executor = ProcessExecutor(device=CPU, jobs=2, log=lambda line: None)
    yield executor
    executor.close()


@pytest.mark.slow
def test_processes_match_inline(processes, inline_outcomes):
    done = train(processes, PLAN)
    assert set(done) == set(PLAN)
    for run in PLAN:
        assert_same_numbers(done[run], inline_outcomes[run])


@pytest.mark.slow
def test_processes_retry_a_killed_worker_once(processes, tmp_path, inline_outcomes, monkeypatch):
    marker, lines = tmp_path / "killed-once", []
    monkeypatch.setattr(processes, "log", lines.append)
    run = killing_run(marker, always=False)
    done = train(processes, [run])
    assert marker.exists(), "the first attempt should have killed its worker"
    assert len(lines) == 1 and "doomed MLP" in lines[0] and "SIGKILL" in lines[0], lines
    assert_same_numbers(done[run], inline_outcomes[PLAN[0]])


@pytest.mark.slow
def test_processes_worker_that_always_dies_is_named_and_finished_work_kept(processes, tmp_path):
    # The healthy sub-run trains on a warm worker while the doomed one's retry waits for a fresh one.
    doomed, healthy = killing_run(tmp_path / "marker", always=True), PLAN[2]
    cache = SubRunCache(tmp_path / "cache")
    with pytest.raises(ExecutorError, match="doomed MLP") as failure:
        execute_plan([healthy, doomed], cache, executor=processes, show_progress=False)
    assert "died twice" in str(failure.value) and doomed.hash in str(failure.value)
    assert cache.has(healthy) and not cache.has(doomed)
    execute_plan([healthy], cache, executor=processes, show_progress=False)  # a rerun resumes: nothing to train
    assert cache.hits == 1


# ------------------------------------------------------------------------------------------------- ray


@pytest.fixture(scope="module")
def ray_environment():
    """Ray workers import this module (to unpickle KillingData) and mnistlab from the environment they
    inherit; token authentication off, as on a throwaway test cluster."""
    pytest.importorskip("ray")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_AUTH_MODE")}
    paths = [str(Path(__file__).parent), str(Path(mnistlab.__file__).parents[1]), saved["PYTHONPATH"] or ""]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    os.environ["RAY_AUTH_MODE"] = "disabled"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module", params=["local", "two-node cluster"])
def ray_executor(request, ray_environment):
    """A connected RayExecutor: a local instance it starts itself, or a two-node cluster it joins by address."""
    from mnistlab.execution.executors import RayExecutor

    cluster = None
    if request.param == "local":
        executor = RayExecutor(device=CPU, num_cpus=1)
    else:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        executor = RayExecutor(device=CPU, address=cluster.address)
    try:
        executor.connect()
        yield executor
    finally:
        executor.close()
        if cluster is not None:
            cluster.shutdown()


@pytest.mark.slow
def test_ray_matches_inline(ray_executor, inline_outcomes):
    import ray

    done = train(ray_executor, PLAN)
    assert set(done) == set(PLAN)
    for run in PLAN:
        assert_same_numbers(done[run], inline_outcomes[run])
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert set(ray_executor.node_of.values()) <= nodes
    if len(nodes) > 1:  # the cluster: three one-CPU sub-runs on two one-CPU nodes use both
        assert len(set(ray_executor.node_of.values())) == 2, ray_executor.node_of


# Once is enough for the failures: a local instance.
@pytest.mark.slow
@pytest.mark.parametrize("ray_executor", ["local"], indirect=True)
def test_ray_retries_a_killed_worker_once(ray_executor, tmp_path, inline_outcomes):
    from mnistlab.execution.executors import RayExecutor

    marker = tmp_path / "killed-once"
    run = killing_run(marker, always=False)
    done = train(RayExecutor(device=CPU, jobs=1), [run])  # shares the fixture's connection
    assert marker.exists(), "the first attempt should have killed its worker"
    assert_same_numbers(done[run], inline_outcomes[PLAN[0]])


@pytest.mark.slow
@pytest.mark.parametrize("ray_executor", ["local"], indirect=True)
def test_ray_worker_that_always_dies_is_named_and_finished_work_kept(ray_executor, tmp_path):
    from mnistlab.execution.executors import RayExecutor

    doomed, healthy = killing_run(tmp_path / "marker", always=True), PLAN[2]
    cache = SubRunCache(tmp_path / "cache")
    with pytest.raises(ExecutorError, match="doomed MLP") as failure:
        execute_plan([healthy, doomed], cache, executor=RayExecutor(device=CPU, jobs=1), show_progress=False)
    assert "died twice" in str(failure.value) and doomed.hash in str(failure.value)
    assert cache.has(healthy) and not cache.has(doomed)


# ------------------------------------------------------------------------------------------- bad input


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistlab: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]


TINY_TASK3 = ("run", "task3", "--profile", "quick", "--set", "train_limit=300", "--set", "test_limit=200",
              "--set", "epochs=1", "--set", "models=32,16", "--no-progress")


@pytest.mark.parametrize("options, needle", [
    (("--executor", "processes", "--jobs", "0"), "--jobs must be 1 or more, got 0"),
    (("--executor", "processes", "--jobs", "-2"), "--jobs must be 1 or more, got -2"),
    (("--executor", "ray", "--jobs", "0"), "--jobs must be 1 or more"),
    (("--executor", "spark"), "unknown executor 'spark'; choose one of inline, processes, ray"),
    (("--jobs", "2"), "--jobs is for --executor processes or ray"),
    (("--address", "127.0.0.1:6379"), "--address is for --executor ray"),
])
def test_bad_executor_options(capsys, tmp_path, options, needle):
    code, _, err = run_cli(capsys, *TINY_TASK3, "--out", str(tmp_path), *options)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "task3").exists()


def test_unknown_executor_in_the_api():
    with pytest.raises(ExecutorError, match="unknown executor 'spark'; choose one of inline, processes, ray"):
        make_executor("spark", device=CPU)


def test_ray_not_installed_names_the_extra(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets where Ray is not installed
    code, _, err = run_cli(capsys, *TINY_TASK3, "--out", str(tmp_path), "--executor", "ray")
    assert_one_line_error(code, err, "pip install 'mnistlab[cluster]'")


def test_unreachable_address_fails_fast(capsys, tmp_path):
    pytest.importorskip("ray")
    start = time.monotonic()
    code, _, err = run_cli(capsys, *TINY_TASK3, "--out", str(tmp_path), "--executor", "ray",
                           "--address", "127.0.0.1:1")
    assert_one_line_error(code, err, "no Ray cluster answers at --address 127.0.0.1:1", "ray start --head")
    assert time.monotonic() - start < 30


# ------------------------------------------------------------------------------------------------- CLI


def untimed_metrics(result_file: Path) -> dict:
    metrics = json.loads(result_file.read_text())["metrics"]
    return {k: v for k, v in metrics.items() if "seconds" not in k and "per_second" not in k}


@pytest.mark.slow
def test_cli_processes_writes_the_inline_result(capsys, tmp_path):
    code, _, _ = run_cli(capsys, *TINY_TASK3, "--out", str(tmp_path / "inline"))
    assert code == 0
    code, out, _ = run_cli(capsys, *TINY_TASK3, "--out", str(tmp_path / "processes"),
                           "--executor", "processes", "--jobs", "2")
    assert code == 0 and "processes executor" in out
    inline, processes = (untimed_metrics(tmp_path / name / "task3" / "result.json") for name in ("inline", "processes"))
    assert processes == inline and "mlp_32_test_acc" in inline


# ------------------------------------------------------------------------------- what is left behind

SLOW_DATA = '''
import dataclasses, os, time
from pathlib import Path
from mnistlab.tasks.common import ImageData


@dataclasses.dataclass(frozen=True)
class SlowData(ImageData):
    marker: str = ""

    def load(self, device, data_dir):
        Path(self.marker).write_text(str(os.getpid()))
        time.sleep(120)
        return super().load(device, data_dir)
'''

DRIVER = '''
import dataclasses, sys, torch
from slowdata import SlowData
from mnistlab.execution.executors import ProcessExecutor
from mnistlab.models import parse_mlp
from mnistlab.tasks.common import ImageData, classifier_run
from mnistlab.train import TrainConfig

run = classifier_run(parse_mlp("8"), TrainConfig(epochs=1), seed=0, train_limit=30, test_limit=20)
fields = {f.name: getattr(run.data, f.name) for f in dataclasses.fields(ImageData)}
run = dataclasses.replace(run, data=SlowData(**fields, marker=sys.argv[1]))
ProcessExecutor(device=torch.device("cpu"), jobs=1).run([run], lambda r, o: None)
'''


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped: only its exit status waits to be read


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_processes_workers_die_with_a_killed_driver(tmp_path):
    (tmp_path / "slowdata.py").write_text(SLOW_DATA)
    marker = tmp_path / "worker.pid"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(mnistlab.__file__).parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(marker)], env=env, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 90
        while not marker.exists() and time.monotonic() < end and driver.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), driver.stderr.read().decode() if driver.poll() is not None else "no worker started"
        time.sleep(0.2)
        worker = int(marker.read_text())
        assert _alive(worker)
        driver.kill()  # kill -9: no clean-up runs in the driver
        driver.wait(timeout=10)
        end = time.monotonic() + 5
        while _alive(worker) and time.monotonic() < end:
            time.sleep(0.05)
        assert not _alive(worker), "the worker outlived its driver by 5 s"
        assert b"Traceback" not in driver.stderr.read()
    finally:
        if driver.poll() is None:
            driver.kill()
        with contextlib.suppress(ProcessLookupError, ValueError, OSError):
            os.kill(int(marker.read_text()), signal.SIGKILL)


def _listening(pids: list[int]) -> dict[str, set[str]]:
    """The addresses each process listens on (TCP), by process name."""
    psutil = pytest.importorskip("psutil")
    out: dict[str, set[str]] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            listening = {c.laddr.ip for c in proc.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
            if listening:
                out.setdefault(proc.name(), set()).update(listening)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ray_executor", ["local"], indirect=True)
def test_local_ray_runs_no_dashboard(ray_executor):
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    started = _listening([me.pid, *(p.pid for p in me.children(recursive=True))])
    assert started, "no Ray process found listening"
    assert not any("dashboard" in name.lower() for name in started), started
    assert 8265 not in {c.laddr.port for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
                        and c.pid in {me.pid, *(p.pid for p in me.children(recursive=True))}}


def _is_loopback(address: str) -> bool:
    """127.0.0.1, ::1, or 127.0.0.1 as an IPv6 socket shows it (::ffff:127.0.0.1: Ray's gRPC servers)."""
    import ipaddress

    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


@pytest.mark.slow
@pytest.mark.parametrize("ray_executor", ["local"], indirect=True)
def test_local_ray_listens_on_loopback_only(ray_executor):
    psutil = pytest.importorskip("psutil")
    me = psutil.Process()
    started = _listening([me.pid, *(p.pid for p in me.children(recursive=True))])
    assert {"gcs_server", "raylet"} <= set(started), started
    outside = {name: ips for name, ips in started.items() if not all(_is_loopback(ip) for ip in ips)}
    assert not outside, outside


def _fake_ray(calls: list[str], switch: bool):
    """A stand-in for Ray: what is tested is the executor's own logic, not Ray. With `switch`, it has the
    constant _loopback_node turns off, and records its value when init is called."""
    import types

    constants = types.SimpleNamespace(ENABLE_RAY_CLUSTER=True)
    fake = types.SimpleNamespace(
        is_initialized=lambda: bool(calls), nodes=lambda: [{"Alive": True, "Resources": {"CPU": 2}}],
        init=lambda **kw: calls.append(f"init, cluster switch {constants.ENABLE_RAY_CLUSTER}" if switch else "init"),
        shutdown=lambda: None)
    if switch:
        fake._private = types.SimpleNamespace(ray_constants=constants)
    return fake, constants


@pytest.mark.parametrize("switch", [True, False])
@pytest.mark.parametrize("address", [None, "head:6379"])
def test_a_local_ray_instance_listens_on_loopback_or_says_it_does_not(monkeypatch, address, switch):
    """The lab starts its own instance as a loopback-only node (test_local_ray_listens_on_loopback_only),
    turning Ray's cluster switch off for ray.init only; a Ray without that switch gets one line saying the
    instance listens on every interface. Joining a cluster by --address touches nothing and says nothing."""
    import mnistlab.execution.executors as executors

    calls: list[str] = []
    fake, constants = _fake_ray(calls, switch)
    monkeypatch.setattr(executors, "_import_ray", lambda: fake)
    monkeypatch.setattr(executors, "check_reachable", lambda address: None)
    monkeypatch.setattr(executors, "_join_cluster", lambda ray, address: calls.append("join"))
    said: list[str] = []
    executor = executors.RayExecutor(device=CPU, num_cpus=1, address=address, log=said.append)
    executor.connect()
    executor.connect()
    executor.close()
    expected = "init, cluster switch False" if switch else "init"
    assert calls == ([expected] if address is None else ["join"])
    assert constants.ENABLE_RAY_CLUSTER is True  # put back: a cluster joined later is not affected
    assert said == ([executors.LOCAL_RAY_NOTICE] if address is None and not switch else [])


RAY_DRIVER = """
import time, torch
from mnistlab.execution.executors import RayExecutor
RayExecutor(device=torch.device("cpu"), num_cpus=1).connect()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_ray_dies_with_a_killed_driver(ray_environment):
    """kill -9 of a driver that started its own Ray: every Ray process goes within 5 s, the dashboard and
    runtime-env agents too (on their own they waited ~100 s on the dead GCS)."""
    psutil = pytest.importorskip("psutil")
    driver = subprocess.Popen([sys.executable, "-c", RAY_DRIVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ray_processes: list = []
    try:
        ready = driver.stdout.readline()
        assert ready.strip() == b"ready", driver.stderr.read().decode()[-2000:]
        ray_processes = psutil.Process(driver.pid).children(recursive=True)
        names = {p.name() for p in ray_processes}
        assert {"gcs_server", "raylet", "ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names, names
        driver.kill()  # kill -9: no clean-up runs in the driver
        driver.wait(timeout=10)
        end = time.monotonic() + 5
        while any(_alive(p.pid) for p in ray_processes) and time.monotonic() < end:
            time.sleep(0.05)
        survivors = [f"{p.name()} ({p.pid})" for p in ray_processes if _alive(p.pid)]
        assert not survivors, f"outlived their driver by 5 s: {survivors}"
    finally:
        if driver.poll() is None:
            driver.kill()
        for process in ray_processes:
            with contextlib.suppress(psutil.Error):
                process.kill()
