"""Cost estimates for plans: how long a sub-run will take, from what this cache has measured, and how long
each task's analysis takes, from the cost the task declares (`Task.analysis_cost`).

A sub-run carries its training FLOPs (`SubRun.cost`). The throughput that turns FLOPs into seconds
comes from the finished entries of the same kind in the cache (their FLOPs over their wall time), or,
when there are none, from a short matrix-multiply measurement of this machine at the efficiency the
lab's networks typically reach (about a third of the matmul peak).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnistlab.errors import MnistlabError
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.runtime import bf16_is_native
from mnistlab.execution.subrun import SubRun

TYPICAL_EFFICIENCY = 0.33


# The matmul fallback's efficiency per network family, relative to TYPICAL_EFFICIENCY, and the fixed seconds
# each optimizer step costs beside its FLOPs (Python, the optimizer, small kernels far from the matmul peak:
# why a small MLP at batch 50 is slower than its FLOPs say and a large one faster). Fitted by least squares
# to the committed example's brief run (examples/brief: 46 bf16 MLPs, 30 bf16 CNNs; 2-core AMD EPYC,
# AVX512-BF16, whose fallback rates were 292.8 GFLOP/s bf16 and 67.0 fp32 at 33%, measured idle): per step
# 1.03 ms for an MLP, 4.8 ms for a CNN. The MTL network (every one the same size, so its two terms cannot be
# told apart) and the fp32 MLP are calibrated by their totals: 15 fixed-lambda networks 2,711 s, three fp32
# MLPs 217 s. The hyperparameter studies' networks ("Recipe") count their cost at the epoch cap and mostly
# stop early: their 78 took 1,683 s against 2,187 s estimated at one efficiency. Other pairs (fp32 CNNs, a
# machine without native bf16) are not calibrated.
FAMILY_EFFICIENCY = {("MLPSpec", "bf16"): 0.752, ("MLPSpec", "fp32"): 89 / 63, ("CNNSpec", "bf16"): 1.42,
                     ("MTLSpec", "bf16"): 1.03, ("Recipe", "bf16"): 2187 / 1683}
STEP_SECONDS = {("MLPSpec", "bf16"): 1.03e-3, ("CNNSpec", "bf16"): 4.83e-3}


def _model_type(model: Any) -> str:
    """The spec's type name as the cache key records it (MLPSpec, CNNSpec, MTLSpec, ...)."""
    return model.get("__type__", "") if isinstance(model, dict) else type(model).__name__


def _rate_key(kind: str, model_type: str, precision: Any, strategy: Any) -> str:
    return f"{kind}/{model_type}/{precision}/{strategy or ''}"


@dataclass
class Throughput:
    per_kind: dict[str, float] = field(default_factory=dict)  # FLOP/s measured on finished sub-runs
    # FLOP/s measured on finished sub-runs of the same kind, network family, precision and loss weighting
    per_class: dict[str, float] = field(default_factory=dict)
    fallback: dict[str, float] = field(default_factory=dict)  # precision -> FLOP/s from a matmul measurement
    source: str = ""


def matmul_flops(seconds: float = 0.3, n: int = 1024, dtype: torch.dtype = torch.float32) -> float:
    """Matrix-multiply FLOP/s of this machine with the current thread count (best of a short burst)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def throughput_table(cache: SubRunCache) -> Throughput:
    rates: dict[str, list[float]] = {}
    classes: dict[str, list[float]] = {}
    for entry in cache.entries():
        stored = entry.stored
        if stored is None:  # damaged: no rate from it (a run retrains it)
            continue
        cost, seconds = stored.get("cost", 0), stored.get("record", {}).get("wall_seconds", 0)
        if isinstance(cost, int | float) and isinstance(seconds, int | float) and cost > 0 and seconds > 0:
            rates.setdefault(str(stored.get("kind")), []).append(cost / seconds)
            key = stored.get("key") if isinstance(stored.get("key"), dict) else {}
            train = key.get("train") if isinstance(key.get("train"), dict) else {}
            objective = key.get("objective") if isinstance(key.get("objective"), dict) else {}
            classes.setdefault(_rate_key(str(stored.get("kind")), _model_type(key.get("model")),
                                         train.get("precision"), objective.get("strategy")), []).append(cost / seconds)
    per_kind = {kind: statistics.median(values) for kind, values in rates.items()}
    per_class = {name: statistics.median(values) for name, values in classes.items()}
    fallback = {"fp32": TYPICAL_EFFICIENCY * matmul_flops()}
    if bf16_is_native(torch.device("cpu")):
        fallback["bf16"] = TYPICAL_EFFICIENCY * matmul_flops(dtype=torch.bfloat16)
    source = ("the throughput of sub-runs this cache has finished" if per_kind else
              f"this machine's matmul speed at {TYPICAL_EFFICIENCY:.0%} efficiency, calibrated per "
              "network family")
    return Throughput(per_kind=per_kind, per_class=per_class, fallback=fallback, source=source)


# Time of a Task 6 network with a learned weighting over a fixed-lambda network of the same FLOPs (their
# extra backward passes or gradient surgery), from the example's brief run (2-core AMD EPYC, AVX512-BF16):
# 181 s a fixed-lambda network, 195 s uncertainty, 243 s GradNorm, 270 s PCGrad (means of 3 seeds).
WEIGHTING_OVERHEAD = {"uncertainty": 195 / 181, "gradnorm": 243 / 181, "pcgrad": 270 / 181}


def training_seconds(run: SubRun, rates: Throughput) -> float | None:
    """Estimated wall time of `run` on one worker (None: unknown cost): from the throughput this cache measured
    on sub-runs of its kind, family, precision and weighting; else on sub-runs of its kind, or this machine's
    matmul speed at its family's calibrated efficiency plus its steps' fixed cost, times the measured overhead
    of a learned weighting; a sub-run that is not a network (cost 0) takes the seconds its kind declares."""
    if run.cost <= 0:
        declared = run.kind_impl().seconds
        return declared(run) if declared is not None else None
    precision = getattr(run.train, "precision", "fp32")
    strategy = getattr(run.objective, "strategy", None)
    same = rates.per_class.get(_rate_key(run.kind, _model_type(run.model), precision, strategy))
    if same:
        return run.cost / same
    rate = rates.per_kind.get(run.kind)
    per_step = 0.0
    if not rate:
        family = (_model_type(run.model), str(precision))
        rate = rates.fallback.get(precision) or rates.fallback.get("fp32", 0.0)
        rate *= FAMILY_EFFICIENCY.get(family, 1.0)
        per_step = STEP_SECONDS.get(family, 0.0) * run.steps
    if rate <= 0:
        return None
    return (run.cost / rate + per_step) * WEIGHTING_OVERHEAD.get(str(strategy), 1.0)


@dataclass
class PlannedRun:
    """One sub-run of a plan: `state` is "cached", "to train" or "planned above" (another task or seed
    trains it first); `seconds` its estimated training time (None: unknown cost)."""

    hash: str
    kind: str
    label: str
    seed: int
    state: str
    seconds: float | None


@dataclass
class PlannedTask:
    """A task of a plan: its sub-runs, the training seconds of those to train, and its declared analysis
    seconds (every seed's, plus the aggregation of several)."""

    name: str
    runs: list[PlannedRun]
    train_seconds: float
    analysis_seconds: float
    seeds: list[int] = field(default_factory=lambda: [0])

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.analysis_seconds


@dataclass
class Plan:
    """What `mnistlab run` would train and how long it would take on one worker (`mnistlab plan`)."""

    profile: str
    tasks: list[PlannedTask]
    source: str  # where the training throughput came from

    @property
    def total_seconds(self) -> float:
        return sum(t.seconds for t in self.tasks)

    def as_dict(self) -> dict[str, Any]:
        runs = [r for t in self.tasks for r in t.runs if r.state != "planned above"]
        return {"profile": self.profile, "throughput_source": self.source,
                "analysis_source": ANALYSIS_SOURCE,
                "tasks": [{**asdict(t), "seconds": t.seconds} for t in self.tasks],
                "distinct_sub_runs": len(runs), "cached": sum(r.state == "cached" for r in runs),
                "to_train": sum(r.state == "to train" for r in runs), "total_seconds": self.total_seconds}


ANALYSIS_SOURCE = ("each task's declared analysis cost (Task.analysis_cost), calibrated on the brief profile "
                   "measured on a 2-core AMD EPYC (AVX512-BF16), idle")


def plan_tasks(tasks: Sequence[Any], *, profile: str, overrides: dict[str, dict[str, Any]], out: Path,
               seeds: Sequence[int] | Mapping[str, Sequence[int]], device: torch.device) -> Plan:
    """The plan of `tasks` for `profile` and `seeds` (one list for every task, or each task's own by name):
    each task's sub-runs (each network once, whichever task or seed plans it first), which the cache in `out`
    has, and the estimated seconds of training (from FLOPs and throughput) and of analysis (the task's declared
    cost, once per seed)."""
    from mnistlab.tasks.base import for_device

    cache = SubRunCache(out / "cache", log=lambda line: None)
    rates = throughput_table(cache)
    seen: set[str] = set()
    planned: list[PlannedTask] = []
    for task in tasks:
        config = for_device(task.config(profile, overrides.get(task.name, {})), device)
        task_seeds = list(seeds[task.name]) if isinstance(seeds, Mapping) else list(seeds)
        runs: list[PlannedRun] = []
        for seed in task_seeds:
            for run in task.sub_runs(config, seed):
                shared = run.hash in seen
                seen.add(run.hash)
                # A network another task or seed planned first is counted there, cached or not.
                state = "planned above" if shared else ("cached" if cache.has(run) else "to train")
                runs.append(PlannedRun(run.hash, run.kind, run.label, seed, state, training_seconds(run, rates)))
        train = sum(r.seconds or 0.0 for r in runs if r.state == "to train")
        per_seed = task.analysis_cost(config) if task.analysis_cost is not None else 0.0
        planned.append(PlannedTask(task.name, runs, train, per_seed * len(task_seeds), task_seeds))
    return Plan(profile, planned, rates.source)


# ------------------------------------------------------------------------------------------------ memory

# Training keeps four float32 copies of every parameter: weights, gradients and Adam's two moments.
STATE_BYTES_PER_PARAMETER = 16
# Each layer's output is kept for the backward pass, and its gradient is as large.
ACTIVATION_COPIES = 2
FLOAT_BYTES = 4
MNIST_IMAGES = 70_000


@dataclass
class MemoryEstimate:
    """What training one sub-run holds at its peak, in bytes."""

    state: int
    activations: int
    data: int

    @property
    def total(self) -> int:
        return self.state + self.activations + self.data

    def words(self) -> str:
        return (f"weights, gradients and Adam's moments {self.state / 2**30:.1f} GiB, activations "
                f"{self.activations / 2**30:.1f} GiB, data {self.data / 2**30:.1f} GiB")


def _input_shapes(data: Any) -> list[tuple[int, ...]]:
    """The shapes one input image may have, for a forward pass on the meta device."""
    view = getattr(data, "view", None)
    shapes = [(784,)] if view == "flat" else [(1, 28, 28)] if view is not None else [(1, 28, 28), (784,)]
    size = getattr(data, "image_size", None)
    if isinstance(size, int) and size > 0:
        shapes = [(1, size, size), (3, size, size), *shapes]
    return shapes


def estimate_memory(run: SubRun) -> MemoryEstimate:
    """The peak memory of training `run`, from its plan alone: the model is built and run on the meta
    device (shapes, no allocation), its layers' outputs summed at the batch size."""
    with torch.random.fork_rng(devices=[]), torch.device("meta"):  # the caller's random state stays as it was
        model = run.kind_impl().build(run)
    params = sum(p.numel() for p in model.parameters())
    per_sample, shape = 0, (784,)
    outputs: list[int] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            outputs.append(output[0].numel() if output.dim() else 1)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        for candidate in _input_shapes(run.data):
            outputs.clear()
            try:
                with torch.device("meta"), torch.no_grad():
                    model(torch.empty(2, *candidate, device="meta"))
            except Exception:  # another input shape, or a model that takes more than images
                continue
            per_sample, shape = sum(outputs), candidate
            break
    finally:
        for handle in handles:
            handle.remove()
    batch = int(getattr(run.train, "batch_size", 0) or 0)
    images = sum(getattr(run.data, name, None) or default
                 for name, default in (("train_limit", 60_000), ("test_limit", 10_000)))
    pixels = math.prod(shape)
    return MemoryEstimate(state=params * STATE_BYTES_PER_PARAMETER,
                          activations=ACTIVATION_COPIES * FLOAT_BYTES * per_sample * batch,
                          data=FLOAT_BYTES * pixels * min(images, MNIST_IMAGES))


def available_memory() -> tuple[int, str]:
    """(bytes this process may still allocate, where that figure comes from): MemAvailable of
    /proc/meminfo, or less where `ulimit -v` (RLIMIT_AS) leaves less room beside what the process maps."""
    have, source = 2**62, "unknown"
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    have, source = int(line.split()[1]) * 1024, "free memory (MemAvailable)"
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            with open("/proc/self/statm", encoding="ascii") as f:
                mapped = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            if limit - mapped < have:
                have, source = max(0, limit - mapped), "room left under ulimit -v"
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return have, source


def check_memory(runs: Sequence[SubRun], at_once: int = 1) -> None:
    """Refuse, before any training, sub-runs whose estimated peak (the `at_once` largest together, as
    parallel workers hold them) exceeds the memory available now; the message gives both figures."""
    if not runs:
        return
    estimates = []
    for run in runs:
        try:
            estimates.append((estimate_memory(run), run))
        except Exception:  # a kind this estimate cannot build on the meta device: not refused for that
            continue
    if not estimates:
        return
    estimates.sort(key=lambda pair: pair[0].total, reverse=True)
    largest = estimates[: max(1, at_once)]
    need = sum(e.total for e, _ in largest)
    have, source = available_memory()
    if need > have:
        biggest, run = largest[0]
        together = f" ({len(largest)} at once, as the workers train them)" if len(largest) > 1 else ""
        raise MnistlabError(f"training {run.label} needs about {need / 2**30:.1f} GiB at its peak{together} "
                            f"({biggest.words()}), more than the {have / 2**30:.1f} GiB of {source}; use "
                            "smaller models, batches or data limits")
