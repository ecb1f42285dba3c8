"""Cost estimates for plans: how long a sub-run will take, from what this cache has measured.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mnistlab.cache import SubRunCache, read_stored
from mnistlab.errors import MnistlabError
from mnistlab.runtime import bf16_is_native
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
            stored = read_stored(cache.root / entry.hash)
        except (OSError, ValueError):  # damaged: no rate from it (a run retrains it)
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
