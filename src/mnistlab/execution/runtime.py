"""The machine the lab runs on: device choice, threads, seeding, environment record."""

from __future__ import annotations

import ctypes
import math
import os
import platform
import random
import sys
import time
from typing import Any

import numpy as np
import torch

from mnistlab.constraints import OneOf
from mnistlab.errors import MnistlabError

DEVICES = ("auto", "cpu", "cuda")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


ENV_THREADS = "MNISTLAB_THREADS"


def thread_setting() -> int | None:
    """$MNISTLAB_THREADS as a fixed thread count, or None for the adaptive policy (unset or 'auto')."""
    raw = os.environ.get(ENV_THREADS, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise MnistlabError(f"${ENV_THREADS} must be a positive whole number or 'auto', got {raw!r}")
    return int(raw)


def thread_count() -> int:
    """The fixed thread count $MNISTLAB_THREADS asks for, else every core the process may use."""
    return thread_setting() or available_cores()


class ThreadGovernor:
    """Chooses how many threads to compute with from the cores other processes leave free.

    Why: two OpenMP threads on two cores, with one other CPU-bound process beside them, made epochs
    5-20x slower (a thread spins at every barrier while its partner waits for a core), while one
    thread is only ~1.6x slower than two on an idle machine; no fixed setting wins both, so the
    engine asks this governor between steps (at most every `interval` seconds).

    How: over the window since the last look, the busy CPU time of the cores we may run on
    (/proc/stat) minus this process's own CPU time (os.times, all threads, spinning included) is the
    other processes' load, in cores. We use the cores left, rounded down unless the others leave
    most of a core free (a core less than 1 - `reserve` = 70% free is not worth a thread, since a
    descheduled thread stalls its partners). Measuring costs two small file reads and no waiting.
    Where /proc/stat is missing (not Linux), the governor keeps every core.

    The thread count can change the last bits of some reductions (the Task 6 network's gradients
    differ by ~1e-9 between one and two threads); set $MNISTLAB_THREADS for bit-for-bit reruns.
    """

    def __init__(self, max_threads: int | None = None, *, interval: float = 0.5, reserve: float = 0.3,
                 min_window: float = 0.2):
        try:
            self.cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:
            self.cpus = list(range(os.cpu_count() or 1))
        self.max_threads = max(1, max_threads or len(self.cpus))
        self.interval, self.reserve, self.min_window = interval, reserve, min_window
        self.threads = self.max_threads
        self.last_other: float | None = None
        self._next = 0.0
        self._last = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        """(wall seconds, busy CPU seconds of our cores, this process's CPU seconds), or None."""
        try:
            with open("/proc/stat", encoding="ascii") as f:
                lines = f.read().splitlines()
        except OSError:
            return None
        wanted = {f"cpu{i}" for i in self.cpus}
        busy_ticks = 0
        for line in lines:
            name, _, rest = line.partition(" ")
            if name in wanted:
                fields = [int(v) for v in rest.split()]
                # user nice system idle iowait irq softirq steal ...: idle and iowait are free time
                busy_ticks += sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
        times = os.times()
        return time.monotonic(), busy_ticks / _CLOCK_TICKS, times.user + times.system

    def other_load(self) -> float | None:
        """Cores other processes kept busy since the last call (None when the window is too short)."""
        now = self._sample()
        if now is None or self._last is None:
            return None
        wall = now[0] - self._last[0]
        if wall < self.min_window:
            return None
        other = (now[1] - self._last[1]) - (now[2] - self._last[2])
        self._last = now
        self.last_other = max(0.0, other / wall)
        return self.last_other

    def choose(self) -> int:
        """Look at the load now and set torch's thread count; returns the count in use."""
        other = self.other_load()
        if other is not None:
            free = len(self.cpus) - other
            threads = min(self.max_threads, max(1, math.floor(free + self.reserve)))
            if threads != self.threads or torch.get_num_threads() != threads:
                self.threads = threads
                torch.set_num_threads(threads)
        self._next = time.monotonic() + self.interval
        return self.threads

    def start(self) -> None:
        """Called when training starts: decide before the first step, since a first second on too
        many threads of a busy machine can cost more than a short look. A window older than a few
        looks says little about the load now, so then look over a fresh one; a first decision or a
        fresh look waits for at most 0.1 s."""
        now = time.monotonic()
        stale = self._last is None or now - self._last[0] > 4 * self.interval
        if not stale and self.last_other is not None:
            return
        if stale:
            self._last = self._sample()
        if self._last is None:
            return
        window = self.min_window / 2
        time.sleep(max(0.0, window - (time.monotonic() - self._last[0])))
        saved, self.min_window = self.min_window, window
        try:
            self.choose()
        finally:
            self.min_window = saved

    def poll(self) -> int:
        """`choose` if `interval` seconds have passed since the last look; else the current count."""
        if time.monotonic() >= self._next:
            return self.choose()
        return self.threads


try:
    _CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _CLOCK_TICKS = 100

_GOVERNOR: ThreadGovernor | None = None


def thread_governor() -> ThreadGovernor | None:
    """The governor configure_torch started, or None when the thread count is fixed."""
    return _GOVERNOR


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed large blocks instead of returning them to the system.

    Why: glibc serves blocks over 32 MB with a fresh mmap and unmaps them when freed, so every
    training step of the Task 6 network page-faulted its bf16 weight copies and fp32 gradients
    (19.7 M elements each) into memory anew: a 3136 x 6272 fp32-to-bf16 cast took ~50 ms instead of
    ~5 ms, and the bf16 step went from ~260 to ~360 ms (one thread, busy 2-core EPYC). The cost is
    that the process keeps its peak memory. Returns whether the setting took (glibc only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 31))
    except (OSError, AttributeError):
        return False


def configure_torch(threads: int | None = None) -> None:
    """Set the thread policy, and flush denormals.

    `threads` (or $MNISTLAB_THREADS) fixes the thread count; without either, a ThreadGovernor
    adapts it to the cores other processes leave free, as training goes.

    Large freed blocks stay with the process (keep_freed_memory), and
    Adam's moment estimates for always-zero inputs (MNIST's blank border) decay
    into denormal floats, which the CPU handles very slowly: without the flush an
    epoch gets slower as training goes on.
    """
    global _GOVERNOR
    fixed = threads or thread_setting()
    _GOVERNOR = None if fixed else ThreadGovernor()
    torch.set_num_threads(fixed or available_cores())
    torch.set_flush_denormal(True)
    keep_freed_memory()


def resolve_device(requested: str = "auto") -> torch.device:
    if requested not in DEVICES:
        raise MnistlabError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise MnistlabError(
            "--device cuda was asked for, but no CUDA GPU is available to PyTorch "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


PRECISIONS = ("auto", "fp32", "bf16")
# The one check of a precision, declared by every config field that holds one (TrainConfig, the tasks).
PRECISION = OneOf(PRECISIONS)


def bf16_is_native(device: torch.device) -> bool:
    """Whether `device` computes in bfloat16 in hardware: a GPU that supports it, or a CPU with
    AVX512-BF16 or AMX. Elsewhere (an AVX2-only CPU, say) oneDNN emulates bf16, and training the
    Task 6 network was then about 50x slower than in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # Private helpers of torch.cpu (present in the pinned 2.13); without them, assume emulation.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' becomes 'bf16' where the device computes bf16 natively, else 'fp32'; the others stay."""
    PRECISION.check("precision", precision)
    if precision != "auto":
        return precision
    return "bf16" if bf16_is_native(device) else "fp32"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# The CPU features that decide which kernels bf16 and fp32 training run on (oneDNN picks AMX tiles, AVX512-BF16
# dot products or an AVX2 emulation): the same seed trains other networks on each, so results record them.
KERNEL_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_fp16")


def cpu_description() -> dict[str, Any]:
    """The CPU's model name, its kernel-relevant ISA features (from /proc/cpuinfo) and the capability PyTorch's
    kernels dispatch on (torch.backends.cpu.get_cpu_capability(): 'AVX512', 'AVX2', ...)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:  # not Linux: the model from platform, no flags
        pass
    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        capability = "unknown"
    return {"cpu_model": model, "cpu_features": [f for f in KERNEL_FLAGS if f in flags], "cpu_capability": capability}


def machine_text(env: dict) -> str:
    """Where times were measured, in words, from an `environment()` record: for captions beside timings."""
    if env.get("gpu"):
        return f"Times measured on an {env['gpu']} GPU."
    cpu = env.get("cpu_model") or env.get("cpu") or env.get("processor") or "an unnamed CPU"
    return (f"Times measured on {cpu} with {env.get('cores', '?')} available cores and {env.get('threads', '?')} "
            "threads, shared with whatever else ran at the time.")


def environment(device: torch.device) -> dict:
    """What a reader needs to reproduce or compare a number, including what makes bf16 results differ between
    machines: the CPU model, its kernel-relevant ISA features and the thread count."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        **cpu_description(),
        "cores": available_cores(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "thread_policy": "adaptive" if _GOVERNOR is not None else "fixed",
        "bf16_native": bf16_is_native(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        import sklearn

        info["sklearn"] = sklearn.__version__
    except ImportError:
        pass
    return info
