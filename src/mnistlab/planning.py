"""Cost estimates for plans: how long a sub-run will take, from what this cache has measured.

A sub-run carries its training FLOPs (`SubRun.cost`). The throughput that turns FLOPs into seconds
comes from the finished entries of the same kind in the cache (their FLOPs over their wall time), or,
when there are none, from a short matrix-multiply measurement of this machine at the efficiency the
lab's networks typically reach (about a third of the matmul peak).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import torch

from mnistlab.cache import SubRunCache
from mnistlab.runtime import bf16_is_native
from mnistlab.store import read_json
from mnistlab.subrun import SubRun

TYPICAL_EFFICIENCY = 0.33


@dataclass
class Throughput:
    per_kind: dict[str, float] = field(default_factory=dict)  # FLOP/s measured on finished sub-runs
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
    for entry in cache.entries():
        try:
            stored = read_json(cache.root / entry.hash / "record.json")
        except (OSError, ValueError):
            continue
        cost, seconds = stored.get("cost", 0), stored.get("record", {}).get("wall_seconds", 0)
        if isinstance(cost, int | float) and isinstance(seconds, int | float) and cost > 0 and seconds > 0:
            rates.setdefault(str(stored.get("kind")), []).append(cost / seconds)
    per_kind = {kind: statistics.median(values) for kind, values in rates.items()}
    fallback = {"fp32": TYPICAL_EFFICIENCY * matmul_flops()}
    if bf16_is_native(torch.device("cpu")):
        fallback["bf16"] = TYPICAL_EFFICIENCY * matmul_flops(dtype=torch.bfloat16)
    source = ("the throughput of sub-runs this cache has finished" if per_kind else
              f"this machine's matmul speed at {TYPICAL_EFFICIENCY:.0%} efficiency")
    return Throughput(per_kind=per_kind, fallback=fallback, source=source)


def estimate_seconds(run: SubRun, rates: Throughput) -> float | None:
    """Estimated wall time of `run` on one worker, or None when its cost is unknown."""
    if run.cost <= 0:
        return None
    precision = getattr(run.train, "precision", "fp32")
    rate = rates.per_kind.get(run.kind) or rates.fallback.get(precision) or rates.fallback.get("fp32", 0.0)
    return run.cost / rate if rate > 0 else None
