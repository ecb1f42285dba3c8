"""Cost estimates for plans: how long a sub-run will take, from what this cache has measured, and how long
each task's analysis takes, from the cost the task declares (`Task.analysis_cost`).

A sub-run carries its training FLOPs (`SubRun.cost`). The throughput that turns FLOPs into seconds
comes from the finished entries of the same kind in the cache (their FLOPs over their wall time), or,
when there are none, from a short matrix-multiply measurement of this machine at the efficiency the
lab's networks typically reach (about a third of the matmul peak).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnistlab.cache import SubRunCache
from mnistlab.runtime import bf16_is_native
from mnistlab.store import read_json
from mnistlab.subrun import SubRun

TYPICAL_EFFICIENCY = 0.33


# The matmul fallback's efficiency per network family, relative to TYPICAL_EFFICIENCY: calibrated so that the
# fallback estimates of the brief profile meet the measured times (README, Performance: 2-core AMD EPYC,
# AVX512-BF16, idle). The old fallback, at one efficiency for all, estimated Task 6's eight networks at 960 s
# (120 s each in bf16: the machine's bf16 rate is thus about 4.6e11 FLOP/s at 33%); at that rate Task 3's five
# bf16 MLPs come to 51 s against 156 s measured (batch 50 keeps a small MLP far from the matmul peak), Task 4's
# five CNNs to 360 s against 386 s, and a fixed-lambda MTL network to 120 s against 144 s (5 x 28.85 s). Its
# fp32 MLP (1000-1000) comes to 89 s against 63 s measured, at the fp32/bf16 matmul ratio of that machine (0.16,
# measured busy: both in one burst). Other pairs (fp32 CNNs, a machine without native bf16) are not calibrated.
FAMILY_EFFICIENCY = {("MLPSpec", "bf16"): 51 / 156, ("MLPSpec", "fp32"): 89 / 63, ("CNNSpec", "bf16"): 360 / 386,
                     ("MTLSpec", "bf16"): 120 / 144}


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
        try:
            stored = read_json(cache.root / entry.hash / "record.json")
        except (OSError, ValueError):
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


def estimate_seconds(run: SubRun, rates: Throughput) -> float | None:
    """Estimated wall time of `run` on one worker, or None when its cost is unknown."""
    if run.cost <= 0:
        return None
    precision = getattr(run.train, "precision", "fp32")
    rate = rates.per_kind.get(run.kind) or rates.fallback.get(precision) or rates.fallback.get("fp32", 0.0)
    return run.cost / rate if rate > 0 else None


# Time per step of Task 6's learned weightings over a fixed-lambda network of the same FLOPs (their extra
# backward passes or gradient surgery), from the brief run in the README's Performance section: 28.2-29.5 s
# per epoch fixed/uncertainty, 36.6 s GradNorm, 45.3 s PCGrad (2-core AMD EPYC, AVX512-BF16, idle).
WEIGHTING_OVERHEAD = {"gradnorm": 36.6 / 28.85, "pcgrad": 45.3 / 28.85}


def training_seconds(run: SubRun, rates: Throughput) -> float | None:
    """Estimated wall time of `run` on one worker (None: unknown cost): from the throughput this cache measured
    on sub-runs of its kind, family, precision and weighting; else on sub-runs of its kind, or this machine's
    matmul speed at its family's calibrated efficiency, times the measured overhead of a learned weighting."""
    if run.cost <= 0:
        return None
    precision = getattr(run.train, "precision", "fp32")
    strategy = getattr(run.objective, "strategy", None)
    same = rates.per_class.get(_rate_key(run.kind, _model_type(run.model), precision, strategy))
    if same:
        return run.cost / same
    rate = rates.per_kind.get(run.kind)
    if not rate:
        rate = rates.fallback.get(precision) or rates.fallback.get("fp32", 0.0)
        rate *= FAMILY_EFFICIENCY.get((_model_type(run.model), str(precision)), 1.0)
    return run.cost / rate * WEIGHTING_OVERHEAD.get(str(strategy), 1.0) if rate > 0 else None


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
                state = "cached" if cache.has(run) else ("planned above" if shared else "to train")
                runs.append(PlannedRun(run.hash, run.kind, run.label, seed, state, training_seconds(run, rates)))
        train = sum(r.seconds or 0.0 for r in runs if r.state == "to train")
        per_seed = task.analysis_cost(config) if task.analysis_cost is not None else 0.0
        planned.append(PlannedTask(task.name, runs, train, per_seed * len(task_seeds), task_seeds))
    return Plan(profile, planned, rates.source)
