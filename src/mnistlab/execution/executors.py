"""Executors: who trains the sub-runs that the cache lacks.

    inline     in this process, one after another (the default; what a laptop wants)
    processes  in N worker processes on this machine (--jobs N), each with its share of the threads
    ray        as Ray tasks, on a local Ray instance or on a running cluster (--address HOST:PORT)

Every executor has one method, `run(runs, on_done)`: it trains each sub-run and calls
`on_done(run, outcome)` in the driver process as each one finishes, in any order; the driver alone
writes the cache, so workers need no shared filesystem. A failure raises `ExecutorError` naming
the sub-run; sub-runs that finished before it have already been handed to `on_done`, so running the
same command again resumes. A worker that dies in the middle of a sub-run (killed, out of memory)
costs that sub-run one retry; a second death stops the run. `close()` releases workers and clusters.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

import torch

from mnistlab.errors import MnistlabError
from mnistlab.execution.progress import stderr_line
from mnistlab.execution.runtime import ENV_THREADS, available_cores, configure_torch, thread_count
from mnistlab.execution.subrun import Env, Outcome, SubRun, execute

OnDone = Callable[[SubRun, Outcome], None]
EXECUTORS = ("inline", "processes", "ray")
RETRIES = 1  # a sub-run whose worker dies is tried once more; a second death is not bad luck
RAY_EXTRA = "pip install 'mnistlab[cluster]'"
RAY_CONNECT_TIMEOUT_S = 20.0  # joining a live head takes about a second
PORT_CHECK_TIMEOUT_S = 5.0


class ExecutorError(MnistlabError):
    """A sub-run could not be executed (after its retry, where the executor retries)."""


class Executor(Protocol):
    def run(self, runs: Sequence[SubRun], on_done: OnDone) -> None: ...

    def close(self) -> None: ...


def _longest_first(runs: Sequence[SubRun]) -> list[SubRun]:
    """Start the costliest sub-runs first, so the last one to finish is a short one (less idle time)."""
    return sorted(runs, key=lambda run: run.cost, reverse=True)


@dataclass
class InlineExecutor:
    """Train in this process, one sub-run after another."""

    device: torch.device
    data_dir: Path | None = None
    show_progress: bool | None = None

    def run(self, runs: Sequence[SubRun], on_done: OnDone) -> None:
        env = Env(device=self.device, data_dir=self.data_dir, show_progress=self.show_progress)
        for run in runs:
            on_done(run, execute(run, env))

    def close(self) -> None:
        pass


# ----------------------------------------------------------------------------------------- processes


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 0.5


def _die_with_driver(driver: int, pdeathsig: bool) -> None:
    """End this worker as soon as its driver is gone, even by kill -9 (which runs no clean-up): Linux
    sends SIGKILL on the driver's death (prctl PR_SET_PDEATHSIG), and everywhere a daemon thread checks
    twice a second that the parent is still the driver. Without this, a worker trained on for its whole
    sub-run and then printed BrokenPipeError tracebacks."""
    if pdeathsig and sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while True:
            if os.getppid() != driver:
                os._exit(1)
            threading.Event().wait(PARENT_POLL_S)

    if os.getppid() != driver:  # gone before the watch began
        os._exit(1)
    threading.Thread(target=watch, name="mnistlab-driver-watch", daemon=True).start()


def _worker_main(conn: Connection, threads: int, env: Env, driver: int | None = None,
                 pdeathsig: bool = False) -> None:
    """A worker process: train each sub-run the driver sends, reply with its pickled outcome."""
    # Ctrl-C reaches the whole process group: the driver alone decides, and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if driver is not None:
        _die_with_driver(driver, pdeathsig)
    configure_torch(threads)
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):  # the driver has gone
            return
        if not payload:
            return
        try:
            reply: tuple[str, Any] = ("ok", execute(pickle.loads(payload), env))
        except MnistlabError as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            # A bug, not a user mistake: keep its traceback where a developer will look for it.
            traceback.print_exc()
            reply = ("error", f"{type(exc).__name__}: {exc}")
        # Plain pickle, not multiprocessing's: tensors travel by value instead of as shared-memory
        # handles that would need this process alive when the driver unpickles them.
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the driver has gone (BrokenPipeError): nobody to answer
            return


def _exit_words(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (", perhaps for lack of memory" if -code == signal.SIGKILL else "")
    return f"exit code {code}"


class _Worker:
    """One worker process and the pipe to it; `job` is the sub-run it is training, if any."""

    def __init__(self, context: multiprocessing.context.SpawnContext, threads: int, env: Env) -> None:
        self.conn, child = context.Pipe()
        # daemon: an interrupted driver never leaves workers training behind it.
        # PR_SET_PDEATHSIG fires when the creating *thread* ends: asked for only from the main thread.
        pdeathsig = threading.current_thread() is threading.main_thread()
        self.process = context.Process(target=_worker_main, args=(child, threads, env, os.getpid(), pdeathsig),
                                       daemon=True, name="mnistlab-worker")
        self.process.start()
        child.close()
        self.job: SubRun | None = None

    def send(self, run: SubRun) -> None:
        self.job = run
        self.conn.send_bytes(pickle.dumps(run, protocol=pickle.HIGHEST_PROTOCOL))

    def receive(self) -> tuple[str, Any] | None:
        """The worker's reply, or None when it died without one."""
        try:
            if self.conn.poll():
                return pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError, pickle.UnpicklingError):
            pass
        return None

    def exit_words(self) -> str:
        self.process.join(timeout=5)
        return _exit_words(self.process.exitcode)

    def stop(self) -> None:
        if self.job is None and self.process.is_alive():
            # Asked politely, an idle worker exits cleanly (a terminated one leaks tqdm's semaphores).
            with contextlib.suppress(OSError):
                self.conn.send_bytes(b"")
            self.process.join(timeout=10)
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=5)


@dataclass
class ProcessExecutor:
    """Train in `jobs` worker processes on this machine, `threads` each (default: an equal share of
    the lab's threads, at least one). Workers start on first use and are kept until `close()`."""

    device: torch.device
    jobs: int
    data_dir: Path | None = None
    threads: int | None = None
    log: Callable[[str], None] = stderr_line
    _workers: list[_Worker] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise ExecutorError(f"--jobs must be 1 or more, got {self.jobs}")
        if self.threads is None:
            self.threads = max(1, thread_count() // self.jobs)

    def _env(self) -> Env:
        return Env(device=self.device, data_dir=self.data_dir, show_progress=False)  # the driver shows progress

    def run(self, runs: Sequence[SubRun], on_done: OnDone) -> None:
        pending = deque(_longest_first(runs))
        deaths: dict[SubRun, int] = {}
        context = multiprocessing.get_context("spawn")  # fork would copy the driver's torch threads and locks
        try:
            while pending or any(w.job is not None for w in self._workers):
                for worker in [w for w in self._workers if w.job is None]:
                    if not pending:
                        break
                    try:
                        worker.send(pending.popleft())
                    except OSError:  # died while idle: not the sub-run's fault, give it to a fresh worker
                        assert worker.job is not None
                        pending.appendleft(worker.job)
                        self._workers.remove(worker)
                        worker.stop()
                while pending and len(self._workers) < self.jobs:
                    worker = _Worker(context, self.threads or 1, self._env())
                    self._workers.append(worker)
                    worker.send(pending.popleft())
                busy = [w for w in self._workers if w.job is not None]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for worker in busy:
                    if not (worker.conn.poll() or not worker.process.is_alive()):
                        continue
                    run, reply = worker.job, worker.receive()
                    assert run is not None
                    worker.job = None
                    if reply is None:
                        self._workers.remove(worker)
                        how = worker.exit_words()
                        worker.stop()
                        deaths[run] = deaths.get(run, 0) + 1
                        if deaths[run] > RETRIES:
                            raise ExecutorError(
                                f"sub-run {run.label} ({run.hash}) failed: its worker process died twice ({how}); "
                                "finished sub-runs are cached, run the same command to resume")
                        self.log(f"mnistlab: the worker process training {run.label} died ({how}); "
                                 "trying that sub-run once more")
                        pending.appendleft(run)
                    elif reply[0] == "error":
                        raise ExecutorError(f"sub-run {run.label} ({run.hash}) failed in a worker process: {reply[1]}")
                    else:
                        on_done(run, reply[1])
        except BaseException:
            self.close()  # workers busy with sub-runs that nobody will collect
            raise

    def close(self) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()


# ----------------------------------------------------------------------------------------------- ray


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT or ray://HOST:PORT address; None for 'auto' and other forms Ray resolves."""
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout_s: float = PORT_CHECK_TIMEOUT_S) -> None:
    """Refuse at once an address where nothing listens (a Ray connection attempt would retry for minutes)."""
    host_port = _host_port(address)
    if host_port is None:
        return
    try:
        with socket.create_connection(host_port, timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExecutorError(f"no Ray cluster answers at --address {address} ({reason}); start one with "
                            "'ray start --head' on the head node, or check the host and port") from None


def _remote_settings() -> dict[str, str]:
    """The driver's MNISTLAB_* settings that workers elsewhere should obey too (no downloads, say);
    threads are the task's CPUs instead."""
    return {k: v for k, v in os.environ.items() if k.startswith("MNISTLAB_") and k != ENV_THREADS}


def _train_on_ray(run: SubRun, env: Env, threads: int, settings: dict[str, str]) -> tuple[Outcome, str]:
    """The body of a Ray task: train one sub-run where Ray placed it; its outcome and the node's id."""
    import ray

    os.environ.update(settings)
    configure_torch(threads)
    return execute(run, env), ray.get_runtime_context().get_node_id()


# Said once when the lab starts its own Ray instance with a Ray that lacks the switch _loopback_node uses.
LOCAL_RAY_NOTICE = ("mnistlab: note: this Ray release cannot be told to listen on loopback only, so the local Ray "
                    "instance listens on every network interface; on one machine, --executor processes trains the "
                    "same networks without opening ports")


@contextlib.contextmanager
def _loopback_node(ray: Any) -> Iterator[bool]:
    """While ray.init starts a local instance, make 127.0.0.1 this node's address; whether that was possible.

    Ray's servers bind loopback exactly when the node's address is 127.0.0.1 (measured on 2.60: gcs_server,
    raylet, the core workers' gRPC servers and the runtime-env agent then listen on 127.0.0.1 only; with this
    machine's address, on every interface). But ray.init replaces _node_ip_address="127.0.0.1" by this
    machine's address, unless ray_constants.ENABLE_RAY_CLUSTER is false: the switch behind
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read once when Ray is imported, so setting that variable later
    changes nothing. It is consulted only while a node picks its address, so it is put back at once and
    a cluster joined later in this process is not affected."""
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        yield False
        return
    saved, constants.ENABLE_RAY_CLUSTER = constants.ENABLE_RAY_CLUSTER, False
    try:
        yield True
    finally:
        constants.ENABLE_RAY_CLUSTER = saved


# Run by a helper process that outlives a killed driver: at the end of its stdin (the driver closed it or
# died), it SIGKILLs the listed processes (pid, start time) that still run.
_REAPER = """
import os, signal, sys
sys.stdin.buffer.read()
for pid, start in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[19] == start:
                os.kill(int(pid), signal.SIGKILL)
    except (OSError, IndexError):
        pass
"""


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time in clock ticks since boot) of every process (Linux /proc)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _reap_with_driver(before: dict[int, tuple[int, str]]) -> subprocess.Popen | None:
    """After ray.init: a helper that kills the processes Ray started (the driver's new children and all
    below them) once the driver is gone, even by kill -9 (no clean-up runs then). ray.init's own processes
    die with the driver (Ray sets PR_SET_PDEATHSIG on them) and workers follow their raylet within ~2 s,
    but the raylet's dashboard and runtime-env agents have no such link: they notice their raylet's death,
    then wait on a report to the GCS, which died too (publish_error_to_driver, a 60 s timeout), and lived
    on ~100 s. `before`: the process table before ray.init. Linux only; None elsewhere or if it fails."""
    if not sys.platform.startswith("linux"):
        return None
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    todo = [pid for pid in children.get(os.getpid(), []) if before.get(pid) != table[pid]]
    ray_processes: list[str] = []
    while todo:
        pid = todo.pop()
        ray_processes += [str(pid), table[pid][1]]
        todo += children.get(pid, [])
    try:
        # Its own session: a Ctrl-C or hang-up meant for the lab does not end it before the lab's clean-up.
        return subprocess.Popen([sys.executable, "-c", _REAPER, *ray_processes], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


@dataclass
class RayExecutor:
    """Train each sub-run as a Ray task asking for `cpus_per_job` CPUs (and one GPU on cuda).

    address: join that running cluster; None: start a local Ray instance with `num_cpus` CPUs
    (default: every available core) and stop it on `close()`. A process already connected to Ray
    keeps its connection. jobs: at most that many sub-runs submitted at once (None: all of them;
    Ray queues what the cluster cannot run yet). The connection is made on first use, so a run
    whose results are all cached starts nothing.
    """

    device: torch.device
    data_dir: Path | None = None
    address: str | None = None
    cpus_per_job: int = 1
    jobs: int | None = None
    num_cpus: int | None = None
    log: Callable[[str], None] = stderr_line
    node_of: dict[str, str] = field(default_factory=dict, init=False)  # sub-run hash -> Ray node id, for logs
    _ray: Any = field(default=None, init=False, repr=False)
    _owns_ray: bool = field(default=False, init=False, repr=False)
    _reaper: subprocess.Popen | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.cpus_per_job < 1:
            raise ExecutorError(f"CPUs per Ray task must be 1 or more, got {self.cpus_per_job}")
        if self.jobs is not None and self.jobs < 1:
            raise ExecutorError(f"--jobs must be 1 or more, got {self.jobs}")
        _import_ray()
        if self.address is not None:
            check_reachable(self.address)

    def connect(self) -> Any:
        """Connect to (or start) Ray once; the `ray` module, ready for tasks."""
        if self._ray is not None:
            return self._ray
        ray = _import_ray()
        if not ray.is_initialized():
            # ray.init installs its own SIGTERM handler (sys.exit); the lab's (one line, then the same
            # clean-up as Ctrl-C, which shuts Ray down in the CLI's finally) is put back.
            main_thread = threading.current_thread() is threading.main_thread()
            previous = signal.getsignal(signal.SIGTERM) if main_thread else None
            try:
                if self.address is None:
                    # Nothing outside this machine should reach the lab's own instance: no dashboard,
                    # and every server on loopback (_loopback_node). address="local": a new instance even
                    # where $RAY_ADDRESS or a 'ray start' on this machine names one (ray.init would join it).
                    before = _process_table() if sys.platform.startswith("linux") else {}
                    with _loopback_node(ray) as loopback:
                        if not loopback:
                            self.log(LOCAL_RAY_NOTICE)
                        ray.init(address="local", num_cpus=self.num_cpus or available_cores(),
                                 include_dashboard=False, log_to_driver=False)
                    self._reaper = _reap_with_driver(before)
                else:
                    _join_cluster(ray, self.address)
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
            self._owns_ray = True
        self._ray = ray
        self._check_feasible(ray)
        return ray

    def _check_feasible(self, ray: Any) -> None:
        """A task no node can host waits forever: refuse it instead."""
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        if self.device.type == "cuda" and not any(r.get("GPU", 0) >= 1 for r in nodes):
            raise ExecutorError("--device cuda, but no node of the Ray cluster has a GPU; start GPU nodes with "
                                "'ray start --num-gpus N' or use --device cpu")
        if not any(r.get("CPU", 0) >= self.cpus_per_job for r in nodes):
            most = max((r.get("CPU", 0) for r in nodes), default=0)
            raise ExecutorError(f"each sub-run asks for {self.cpus_per_job} CPUs (${ENV_THREADS}), but no node of "
                                f"the Ray cluster has more than {most:g}")

    def run(self, runs: Sequence[SubRun], on_done: OnDone) -> None:
        if not runs:
            return
        ray = self.connect()
        task = ray.remote(_train_on_ray).options(
            num_cpus=self.cpus_per_job, num_gpus=1 if self.device.type == "cuda" else 0,
            # Ray retries a task whose worker process or node died (system failures), not a task that
            # raised: an exception in training would only happen again.
            max_retries=RETRIES, retry_exceptions=False)
        env = Env(device=self.device, data_dir=self.data_dir, show_progress=False)
        env_ref, settings = ray.put(env), _remote_settings()
        pending = deque(_longest_first(runs))
        in_flight: dict[Any, SubRun] = {}
        try:
            while pending or in_flight:
                while pending and (self.jobs is None or len(in_flight) < self.jobs):
                    run = pending.popleft()
                    in_flight[task.remote(run, env_ref, self.cpus_per_job, settings)] = run
                done, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in done:
                    run = in_flight.pop(ref)
                    on_done(run, self._result(ray, ref, run))
        finally:
            for ref in in_flight:  # stop what nobody will collect after a failure
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)

    def _result(self, ray: Any, ref: Any, run: SubRun) -> Outcome:
        try:
            outcome, self.node_of[run.hash] = ray.get(ref)
            return outcome
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            raise ExecutorError(f"sub-run {run.label} ({run.hash}) failed on a Ray worker: "
                                f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1]}") from None
        except ray.exceptions.RayError as exc:  # a worker or node lost, after Ray's retry
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            what = ("its Ray worker died twice" if isinstance(exc, ray.exceptions.WorkerCrashedError)
                    else "Ray lost it after its retry")
            raise ExecutorError(
                f"sub-run {run.label} ({run.hash}) failed: {what} ({type(exc).__name__}: {first_line}); "
                "finished sub-runs are cached, run the same command to resume") from None

    def close(self) -> None:
        if self._ray is not None and self._owns_ray:
            self._ray.shutdown()
        self._ray, self._owns_ray = None, False
        reaper, self._reaper = self._reaper, None
        if reaper is not None:  # after the shutdown: it kills what did not stop, then ends
            with contextlib.suppress(OSError):
                reaper.stdin.close()
            reaper.wait()


def _join_cluster(ray: Any, address: str) -> None:
    """ray.init(address=...) with a deadline: Ray retries an address that answers but is no Ray head
    for many minutes, so the attempt runs in a thread and is given up after RAY_CONNECT_TIMEOUT_S."""
    outcome: dict[str, BaseException | None] = {}

    def attempt() -> None:
        try:
            ray.init(address=address, log_to_driver=False)
            outcome["error"] = None
        except BaseException as exc:
            outcome["error"] = exc

    # Only the main thread may install Ray's SIGTERM handler; its warning about that is noise here.
    worker_log = logging.getLogger("ray._private.worker")
    level = worker_log.level
    worker_log.setLevel(logging.ERROR)
    try:
        thread = threading.Thread(target=attempt, name="ray-connect", daemon=True)
        thread.start()
        thread.join(RAY_CONNECT_TIMEOUT_S)
    finally:
        worker_log.setLevel(level)
    if "error" not in outcome:
        raise ExecutorError(f"could not join a Ray cluster at --address {address} within "
                            f"{RAY_CONNECT_TIMEOUT_S:.0f} s: something answers there, but not a Ray head "
                            "(the GCS port, 6379 by default)")
    error = outcome["error"]
    if error is not None:
        lines = str(error).strip().splitlines()
        raise ExecutorError(f"could not join a Ray cluster at --address {address}: "
                            f"{type(error).__name__}: {lines[0] if lines else ''}") from None


# ------------------------------------------------------------------------------------------- choose


def make_executor(name: str, *, device: torch.device, data_dir: Path | None = None,
                  show_progress: bool | None = None, jobs: int | None = None,
                  address: str | None = None, cpus_per_job: int | None = None) -> Executor:
    """The executor called `name`, checked at the door (one clear line for a bad choice).

    jobs: processes: worker processes (default: one per available core); ray: most sub-runs in flight.
    cpus_per_job (ray only): CPUs, hence threads, per sub-run (default: $MNISTLAB_THREADS, else 1).
    """
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    if jobs is not None and jobs < 1:
        raise ExecutorError(f"--jobs must be 1 or more, got {jobs}")
    if address is not None and name != "ray":
        raise ExecutorError(f"--address is for --executor ray, not {name}")
    if name == "inline":
        if jobs not in (None, 1):
            raise ExecutorError("--jobs is for --executor processes or ray; inline trains one sub-run at a time")
        return InlineExecutor(device=device, data_dir=data_dir, show_progress=show_progress)
    if name == "processes":
        return ProcessExecutor(device=device, jobs=jobs or available_cores(), data_dir=data_dir)
    if cpus_per_job is None:
        cpus_per_job = thread_count() if os.environ.get(ENV_THREADS, "").strip() else 1
    return RayExecutor(device=device, data_dir=data_dir, address=address, cpus_per_job=cpus_per_job, jobs=jobs)
