"""The machine the lab runs on: device choice, threads, seeding, environment record."""

from __future__ import annotations

import os
import platform
import random
import sys

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


def thread_count() -> int:
    """Every core the process may use, unless $MNISTLAB_THREADS says otherwise (on a machine shared with
    other busy processes, one thread each avoids threads waiting on one another)."""
    raw = os.environ.get(ENV_THREADS, "").strip()
    if not raw:
        return available_cores()
    if not raw.isdigit() or int(raw) < 1:
        raise MnistlabError(f"${ENV_THREADS} must be a positive whole number, got {raw!r}")
    return int(raw)


def configure_torch(threads: int | None = None) -> None:
    """Use every core, and flush denormals.

    Adam's moment estimates for always-zero inputs (MNIST's blank border) decay
    into denormal floats, which the CPU handles very slowly: without the flush an
    epoch gets slower as training goes on.
    """
    torch.set_num_threads(threads or thread_count())
    torch.set_flush_denormal(True)


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


def environment(device: torch.device) -> dict:
    """What a reader needs to reproduce or compare a number."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cores": available_cores(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
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
