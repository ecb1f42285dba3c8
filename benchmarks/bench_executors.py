"""Time the executors on Task 3's brief profile: the five MLPs of the sweep, trained inline, by worker
processes and by Ray on this machine, each into a fresh cache folder, in one run.

    .venv/bin/python benchmarks/bench_executors.py                          # brief: 10 epochs, all 60,000 images
    .venv/bin/python benchmarks/bench_executors.py --epochs 1 --limit 12000 # minutes, not an hour
    .venv/bin/python benchmarks/bench_executors.py --variants inline,processes --jobs 2 --rounds 2

Variants: inline (one process, every thread), inline-1thread (one process, one thread), processes
(--jobs worker processes, the threads split between them) and ray (a local Ray instance, one CPU per
sub-run). Printed: the CPU (model name, AVX512-BF16 / AMX), the load average before and after each
variant (the machine may be shared), each variant's wall-clock seconds from start to the last sub-run
stored (starting worker processes or Ray included) and its speed-up over inline. With several rounds the executors
are interleaved and the minimum is kept, because a shared machine only ever slows a timing down.

Then, per MLP, the question "do two single-thread jobs beat one two-thread job?": the training seconds
of each MLP inline (one job, every thread), inline-1thread and in the processes executor (jobs at once,
threads split), and the throughput ratio jobs x t(inline) / t(processes): above 1, splitting the cores
between sub-runs trains more networks per second than giving every core to one.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.executors import make_executor
from mnistlab.execution.runner import execute_plan
from mnistlab.execution.runtime import available_cores, bf16_is_native, configure_torch, thread_count
from mnistlab.execution.subrun import SubRun, Trained
from mnistlab.models import parse_mlp
from mnistlab.tasks.common import MLP_SWEEP, MLP_SWEEP_TRAINING
from mnistlab.tasks.sweeps import sweep_runs
from mnistlab.train import TrainConfig


def cpu_description() -> str:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    features = [f for f in ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{model}, {available_cores()} cores, flags: {' '.join(features) or 'no AVX-512'}"


def load() -> str:
    try:
        return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        return "load ?"


def plan(epochs: int, limit: int | None, test_limit: int | None) -> list[SubRun]:
    cfg = TrainConfig(epochs=epochs, **MLP_SWEEP_TRAINING)
    return sweep_runs([parse_mlp(text) for text in MLP_SWEEP], cfg, seed=0, train_limit=limit, test_limit=test_limit)


VARIANTS = ("inline", "inline-1thread", "processes", "ray")


def time_variant(name: str, runs: list[SubRun], jobs: int, root: Path) -> tuple[float, dict[SubRun, Trained]]:
    """Wall-clock seconds to train `runs` into a fresh cache with variant `name` (its start included)."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    device = torch.device("cpu")
    threads = torch.get_num_threads()
    if name == "inline-1thread":
        torch.set_num_threads(1)
    start = time.perf_counter()
    executor = make_executor(name.removesuffix("-1thread"), device=device, show_progress=False,
                             jobs=None if name.startswith("inline") else jobs)
    try:
        trained = execute_plan(runs, SubRunCache(folder / "cache"), executor=executor, device=device,
                               show_progress=False)
        seconds = time.perf_counter() - start
    finally:
        executor.close()
        torch.set_num_threads(threads)
    shutil.rmtree(folder, ignore_errors=True)
    return seconds, trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per MLP (brief: 10)")
    parser.add_argument("--limit", type=int, default=None, help="training images (default: all 60,000)")
    parser.add_argument("--test-limit", type=int, default=None, help="test images (default: all 10,000)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes, or Ray sub-runs at once")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the minimum is kept")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")

    configure_torch()
    runs = plan(args.epochs, args.limit, args.test_limit)
    print(f"CPU: {cpu_description()}; bf16 native: {bf16_is_native(torch.device('cpu'))}")
    print(f"torch {torch.__version__}; inline uses {thread_count()} threads; processes: {args.jobs} jobs x "
          f"{max(1, thread_count() // args.jobs)} threads; ray: 1 CPU per sub-run")
    print(f"plan: {len(runs)} MLPs ({', '.join(MLP_SWEEP)}), {args.epochs} epochs, "
          f"{args.limit or 60000:,} training images, batch {MLP_SWEEP_TRAINING['batch_size']}")

    best: dict[str, float] = {}
    trained_by: dict[str, dict[SubRun, Trained]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-executors-") as tmp:
        for round_ in range(1, args.rounds + 1):
            for name in names:
                before = load()
                seconds, trained = time_variant(name, runs, args.jobs, Path(tmp))
                print(f"round {round_}: {name:<14} {seconds:8.1f} s   ({before} before, {load()} after)", flush=True)
                if seconds < best.get(name, float("inf")):
                    best[name], trained_by[name] = seconds, trained

    print("\nvariant          wall s   speed-up vs inline (inline s / variant s)")
    for name in names:
        ratio = f"{best['inline'] / best[name]:.2f}x" if "inline" in best else ""
        print(f"{name:<14} {best[name]:8.1f}   {ratio}")

    reference = trained_by.get("inline")
    if reference is not None:
        for name, trained in trained_by.items():
            gap = max(abs(trained[r].record["test_acc"] - reference[r].record["test_acc"]) for r in runs)
            print(f"{name:<14} largest test-accuracy difference from inline: {gap:.4f}"
                  + ("" if name == "inline" else " (fewer threads per sub-run can change the rounding)"))

    if reference is not None and "processes" in trained_by:
        jobs, one = args.jobs, trained_by.get("inline-1thread")
        print(f"\nOne job with {thread_count()} threads (inline) vs {jobs} jobs with {max(1, thread_count() // jobs)} "
              "thread(s) each (processes), training seconds per MLP; throughput ratio = jobs x inline / processes:")
        print(f"{'MLP':<40} {'inline':>8} {'1 thread':>9} {'processes':>10} {'throughput ratio':>17}")
        for run in runs:
            t_inline = reference[run].record["train_seconds"]
            t_one = f"{one[run].record['train_seconds']:9.1f}" if one is not None else f"{'':9}"
            t_jobs = trained_by["processes"][run].record["train_seconds"]
            print(f"{run.label:<40} {t_inline:8.1f} {t_one} {t_jobs:10.1f} {jobs * t_inline / t_jobs:16.2f}x")


if __name__ == "__main__":  # worker processes are spawned: they import this file and must not rerun it
    main()
