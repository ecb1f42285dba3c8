"""Time the lab's training engine against an idiomatic PyTorch loop, in one process, on the same models.

    .venv/bin/python benchmarks/bench_engine.py                 # MLP [1000,1000] and CNN-1, one full epoch each
    .venv/bin/python benchmarks/bench_engine.py --limit 12000   # shorter: 12,000 images per timed epoch
    .venv/bin/python benchmarks/bench_engine.py --variants idiomatic,engine-fp32,engine-bf16 --models cnn1
    .venv/bin/python benchmarks/bench_engine.py --models mtl --variants engine-fp32,engine-bf16,engine-bf16-nchw
    .venv/bin/python benchmarks/bench_engine.py --models none --busy   # thread policies, idle vs one competitor

For every model each variant trains its own copy from the same initial weights, with the same batch size.
Variants are interleaved round by round and the minimum over rounds is kept, because on a shared
machine a single timing can be off by 2x. After the last round every copy has seen the same number of
images, so their test accuracies are comparable ("equal accuracy").

Also printed: the best matmul GFLOP/s of the machine (fp32, and bf16 where the hardware computes it
natively) and each model's training FLOPs per epoch (6 x forward MACs x images), so one can see how far
each loop is from the hardware limit ("of peak": of the fp32 peak for fp32 variants, of the bf16 peak for
bf16 ones; on a busy machine the peak itself is measured low, so shares can pass 100%). "mtl" is the Task 6
multi-task network (lambda = 0.5, batch 100 by default, Fashion-MNIST items and groups). The engine variants
train the convolutional networks in channels_last, as the tasks do; "engine-bf16-nchw" leaves it out.
"engine-bf16-mmap" is engine-bf16 with glibc's default handling of large blocks (what the engine did before
runtime.keep_freed_memory). `--busy` times the thread policies (every core, one thread, adaptive) on the MLP
with and without one competing `while True: pass` process. The bf16 variants are left out by default on a
CPU without AVX512-BF16 or AMX, where oneDNN emulates bf16 many times slower than fp32; name them to time
them anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mnistlab.data import fashion_groups, load
from mnistlab.execution import runtime
from mnistlab.execution.runtime import available_cores, bf16_is_native, configure_torch
from mnistlab.models import CNN1, MLP_BRIEF, build_cnn, build_mlp, forward_macs
from mnistlab.models.mtl import build_mtl
from mnistlab.train import TrainConfig, as_tuple, evaluate, fit, predict_logits
from mnistlab.weighting import FixedWeighting

VARIANTS = ("idiomatic", "engine-fp32", "engine-bf16", "engine-bf16-compile", "engine-bf16-mmap", "engine-bf16-nchw")
MODELS = ("mlp", "cnn1", "mtl")


def load_avg() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


@contextlib.contextmanager
def glibc_default_large_blocks():
    """glibc's converged default: blocks over 32 MB are mmapped per allocation and unmapped when freed."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 32 << 20)
    libc.mallopt(-1, 64 << 20)
    try:
        yield
    finally:
        runtime.keep_freed_memory()


def matmul_gflops(dtype: torch.dtype, sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 4) -> float:
    """Best GFLOP/s of square matmuls over a few sizes and repeats: the practical ceiling for dense layers
    (a busy machine only ever lowers a timing, so the best one is the closest to the hardware)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)
        seconds = min(_timed(lambda a=a, b=b: torch.mm(a, b)) for _ in range(repeats))
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def idiomatic_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor | tuple[torch.Tensor, ...],
                    batch_size: int, seed: int) -> None:
    """One epoch the way most tutorials write it: TensorDataset + DataLoader(shuffle=True), default Adam
    (for several heads, the mean of their cross-entropies: lambda = 0.5)."""
    ys = as_tuple(y)
    loader = DataLoader(TensorDataset(x, *ys), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    running, correct = 0.0, 0
    for xb, *yb in loader:
        optimizer.zero_grad()
        outs = as_tuple(model(xb))
        loss = sum(F.cross_entropy(o, t) for o, t in zip(outs, yb, strict=True)) / len(outs)
        loss.backward()
        optimizer.step()
        running += loss.item() * len(xb)
        correct += (outs[0].argmax(1) == yb[0]).sum().item()


def idiomatic_eval(model: nn.Module, x: torch.Tensor, y: torch.Tensor | tuple[torch.Tensor, ...],
                   batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in DataLoader(TensorDataset(x, as_tuple(y)[0]), batch_size=batch_size):
            correct += (as_tuple(model(xb))[0].argmax(1) == yb).sum().item()
    return correct / len(x)


def engine_config(variant: str, batch_size: int, conv: bool) -> TrainConfig:
    bf16 = "bf16" in variant
    return TrainConfig(epochs=1, batch_size=batch_size, precision="bf16" if bf16 else "fp32",
                       channels_last=conv and not variant.endswith("-nchw"), compile="compile" in variant)


def load_model_data(name: str, limit: int | None):
    """(x, y, xt, yt, model): MNIST for the MLP and CNN-1; Fashion-MNIST items and groups for Task 6's net."""
    view = "flat" if name == "mlp" else "image"
    dataset = "fashion-mnist" if name == "mtl" else "mnist"
    x, y = load(dataset, "train", view=view, limit=limit)
    xt, yt = load(dataset, "test", view=view, limit=10_000 if name != "mtl" else 2_000)
    if name == "mtl":
        y, yt = (y, fashion_groups(y)), (yt, fashion_groups(yt))
    torch.manual_seed(0)
    model = {"mlp": lambda: build_mlp(MLP_BRIEF), "cnn1": lambda: build_cnn(CNN1), "mtl": build_mtl}[name]()
    return x, y, xt, yt, model


def bench_model(name: str, variants: list[str], rounds: int, limit: int | None, batch_size: int,
                peak: dict[str, float]) -> list[dict]:
    conv = name != "mlp"  # channels_last for the convolutional networks, as the tasks train them
    x, y, xt, yt, base = load_model_data(name, limit)
    objective = {"objective": FixedWeighting.from_lambda(0.5)} if name == "mtl" else {}
    flops_epoch = 6 * forward_macs(base) * len(x)
    models = {v: copy.deepcopy(base) for v in variants}
    best = {v: float("inf") for v in variants}
    threads: dict[str, int] = {}
    for r in range(rounds):
        for v in variants:
            if v == "idiomatic":
                seconds = _timed(lambda v=v, r=r: idiomatic_epoch(models[v], x, y, batch_size, seed=r))
                threads[v] = torch.get_num_threads()
            else:
                with glibc_default_large_blocks() if v.endswith("-mmap") else contextlib.nullcontext():
                    result = fit(models[v], (x, y), None, engine_config(v, batch_size, conv), seed=r,
                                 show_progress=False, **objective)
                seconds = result.train_seconds
                threads[v] = result.threads[-1]
            # torch.compile's first round includes compilation; the minimum over rounds drops it
            best[v] = min(best[v], seconds)
            print(f"  {name:<5} round {r + 1}/{rounds} {v:<20} {seconds:7.2f} s  "
                  f"{threads[v]} threads  {load_avg()}", flush=True)
    rows = []
    for v in variants:
        model = models[v]
        if v == "idiomatic":
            acc = idiomatic_eval(model, xt, yt)
            infer = min(_timed(lambda m=model: idiomatic_eval(m, xt, yt)) for _ in range(3))
        else:
            cfg = engine_config(v, batch_size, conv)
            metrics = evaluate(model, xt, yt, precision=cfg.precision, channels_last=cfg.channels_last)
            acc = metrics.get("acc", metrics.get("acc_0"))  # the item head of the Task 6 network
            infer = min(_timed(lambda m=model, c=cfg: predict_logits(m, xt, precision=c.precision,
                                                                      channels_last=c.channels_last))
                        for _ in range(3))
        seconds = best[v]
        ceiling = peak["bf16" if "bf16" in v else "fp32"]
        rows.append({
            "model": name, "variant": v, "batch_size": batch_size, "images": len(x), "threads": threads[v],
            "ms_per_step": seconds / -(-len(x) // batch_size) * 1e3, "loadavg": os.getloadavg()[0],
            "epoch_seconds": seconds, "epoch_seconds_60k": seconds * 60000 / len(x),
            "images_per_second": len(x) / seconds, "test_acc": acc, "infer_images_per_second": len(xt) / infer,
            "tflop_per_epoch_60k": flops_epoch * 60000 / len(x) / 1e12,
            "achieved_gflops": flops_epoch / seconds / 1e9,
            "share_of_matmul_peak": flops_epoch / seconds / 1e9 / ceiling,
        })
    reference = next((row for row in rows if row["variant"] == "idiomatic"), None)
    for row in rows:
        row["speedup_vs_idiomatic"] = (reference["epoch_seconds"] / row["epoch_seconds"]) if reference else None
    return rows


POLICIES = ("all-cores", "one-thread", "adaptive")


def set_policy(policy: str) -> None:
    if policy == "adaptive":
        os.environ[runtime.ENV_THREADS] = "auto"
        configure_torch()
    else:
        configure_torch(available_cores() if policy == "all-cores" else 1)


@contextlib.contextmanager
def competitor(busy: bool):
    """One other CPU-bound process (a `while True: pass` loop) for the duration, if `busy`."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        if proc is not None:
            time.sleep(0.5)  # let it get going, as a process that was already running would be
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def bench_busy(rounds: int, limit: int, precision: str) -> list[dict]:
    """Goal 4: an epoch of the MLP [1000, 1000] (batch 50) under each thread policy, with and without one
    competing CPU-bound process, interleaved round by round; the minimum over rounds is kept."""
    x, y = load("mnist", "train", view="flat", limit=limit)
    cfg = TrainConfig(epochs=1, batch_size=50, precision=precision)
    best: dict[tuple[str, bool], float] = {}
    threads: dict[tuple[str, bool], list[int]] = {}
    for r in range(rounds):
        for busy in (False, True):
            with competitor(busy):
                for policy in POLICIES:
                    set_policy(policy)
                    torch.manual_seed(0)
                    result = fit(build_mlp(MLP_BRIEF), (x, y), None, cfg, seed=r, show_progress=False)
                    key = (policy, busy)
                    best[key] = min(best.get(key, float("inf")), result.train_seconds)
                    threads[key] = result.threads
                    print(f"  busy round {r + 1}/{rounds} {'busy' if busy else 'idle':<5} {policy:<11}"
                          f"{result.train_seconds:7.2f} s  {result.threads[-1]} threads  {load_avg()}", flush=True)
    rows = [{"policy": p, "idle_seconds": best[(p, False)], "busy_seconds": best[(p, True)],
             "slowdown": best[(p, True)] / best[(p, False)], "images": len(x), "precision": precision,
             "threads_idle": threads[(p, False)][-1], "threads_busy": threads[(p, True)][-1]} for p in POLICIES]
    print(f"\nMLP [1000, 1000], batch 50, {precision}, {len(x):,} images, best of {rounds}; "
          f"'idle' = no competitor of ours ({load_avg()} at the end)")
    print(f"{'policy':<12}{'idle s':>8}{'busy s':>8}{'busy/idle':>10}{'threads idle/busy':>19}")
    for row in rows:
        print(f"{row['policy']:<12}{row['idle_seconds']:>8.2f}{row['busy_seconds']:>8.2f}{row['slowdown']:>9.2f}x"
              f"{row['threads_idle']:>11}/{row['threads_busy']}")
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn1", help="comma-separated: mlp, cnn1, mtl (or none)")
    native = bf16_is_native(torch.device("cpu"))
    parser.add_argument("--variants", default="idiomatic,engine-fp32" + (",engine-bf16" if native else ""),
                        help=f"comma-separated, from {', '.join(VARIANTS)} (default: bf16 only where native)")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per variant; the minimum is kept")
    parser.add_argument("--limit", type=int, default=None, help="training images per timed epoch (default all 60,000)")
    parser.add_argument("--batch-mlp", type=int, default=50)
    parser.add_argument("--batch-cnn", type=int, default=50)
    parser.add_argument("--batch-mtl", type=int, default=100)
    parser.add_argument("--limit-mtl", type=int, default=3000, help="training images per timed epoch of mtl")
    parser.add_argument("--threads", default=None,
                        help=f"a number, or 'auto' for the adaptive policy (default: the cores, {available_cores()})")
    parser.add_argument("--busy", action="store_true",
                        help="also time the thread policies with and without one competing CPU-bound process")
    parser.add_argument("--busy-limit", type=int, default=12000)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if args.threads == "auto":
        set_policy("adaptive")
    else:
        configure_torch(int(args.threads) if args.threads else available_cores())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"({'adaptive' if runtime.thread_governor() else 'fixed'}), {load_avg()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, bf16 {'native' if native else 'emulated'}")
    bf16_wanted = any("bf16" in v for v in variants)
    peak = {"fp32": matmul_gflops(torch.float32),
            # emulated bf16 at 4096^3 takes minutes; a small size is enough to show how slow it is
            "bf16": matmul_gflops(torch.bfloat16, sizes=(1024, 2048, 4096) if native else (512,))
            if native or bf16_wanted else float("nan")}
    print(f"best square matmul: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    rows: list[dict] = []
    names = [m.strip() for m in args.models.split(",") if m.strip() not in ("", "none")]
    for name in names:
        if name not in MODELS:
            parser.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        batch = {"mlp": args.batch_mlp, "cnn1": args.batch_cnn, "mtl": args.batch_mtl}[name]
        limit = args.limit_mtl if name == "mtl" else args.limit
        rows += bench_model(name, variants, args.rounds, limit, batch, peak)
    print()
    print(f"{'model':<6}{'variant':<21}{'batch':>6}{'thr':>4}{'ms/step':>9}{'s/epoch(60k)':>13}{'img/s':>9}"
          f"{'speedup':>9}{'test acc':>10}{'infer img/s':>13}{'GFLOP/s':>9}{'of peak':>9}")
    for r in rows:
        print(f"{r['model']:<6}{r['variant']:<21}{r['batch_size']:>6}{r['threads']:>4}{r['ms_per_step']:>9.1f}"
              f"{r['epoch_seconds_60k']:>13.1f}"
              f"{r['images_per_second']:>9,.0f}{r['speedup_vs_idiomatic'] or float('nan'):>8.2f}x"
              f"{r['test_acc']:>10.4f}{r['infer_images_per_second']:>13,.0f}{r['achieved_gflops']:>9.0f}"
              f"{r['share_of_matmul_peak']:>9.1%}")
    print("\ntraining FLOPs per 60k epoch: " + ", ".join(
        sorted({f"{r['model']} {r['tflop_per_epoch_60k']:.2f} TFLOP" for r in rows})) + f"; {load_avg()}")
    busy_rows = bench_busy(args.rounds, args.busy_limit, "bf16" if native else "fp32") if args.busy else []
    if args.json:
        args.json.write_text(json.dumps({"peak_gflops": peak, "threads": torch.get_num_threads(), "rows": rows,
                                         "busy": busy_rows, "loadavg": os.getloadavg()}, indent=2))
    return rows


if __name__ == "__main__":
    main()
