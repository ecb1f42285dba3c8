"""Time the lab's training engine against an idiomatic PyTorch loop, in one process, on the same models.

    .venv/bin/python benchmarks/bench_engine.py                 # MLP [1000,1000] and CNN-1, one full epoch each
    .venv/bin/python benchmarks/bench_engine.py --limit 12000   # shorter: 12,000 images per timed epoch
    .venv/bin/python benchmarks/bench_engine.py --variants idiomatic,engine-fp32,engine-bf16 --models cnn1

For every model each variant trains its own copy from the same initial weights, with the same batch size.
Variants are interleaved round by round and the minimum over rounds is kept, because on a shared
machine a single timing can be off by 2x. After the last round every copy has seen the same number of
images, so their test accuracies are comparable ("equal accuracy").

Also printed: the best matmul GFLOP/s of the machine (fp32, and bf16 where the hardware computes it
natively) and each model's training FLOPs per epoch (6 x forward MACs x images), so one can see how far
each loop is from the hardware limit. The bf16 variants are left out by default on a CPU without
AVX512-BF16 or AMX, where oneDNN emulates bf16 many times slower than fp32; name them to time them anyway.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mnistlab.data import load
from mnistlab.models import CNN1, MLP_BRIEF, build_cnn, build_mlp, forward_macs
from mnistlab.runtime import available_cores, bf16_is_native, configure_torch
from mnistlab.train import TrainConfig, evaluate, fit, predict_logits

VARIANTS = ("idiomatic", "engine-fp32", "engine-bf16", "engine-bf16-compile")


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


def idiomatic_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> None:
    """One epoch the way most tutorials write it: TensorDataset + DataLoader(shuffle=True), default Adam."""
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    running, correct = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        out = model(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        optimizer.step()
        running += loss.item() * len(xb)
        correct += (out.argmax(1) == yb).sum().item()


def idiomatic_eval(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in DataLoader(TensorDataset(x, y), batch_size=batch_size):
            correct += (model(xb).argmax(1) == yb).sum().item()
    return correct / len(x)


def engine_config(variant: str, batch_size: int, conv: bool) -> TrainConfig:
    bf16 = "bf16" in variant
    return TrainConfig(epochs=1, batch_size=batch_size, precision="bf16" if bf16 else "fp32",
                       channels_last=conv, compile="compile" in variant)


def bench_model(name: str, variants: list[str], rounds: int, limit: int | None, batch_size: int,
                peak: dict[str, float]) -> list[dict]:
    conv = name != "mlp"
    view = "image" if conv else "flat"
    x, y = load("mnist", "train", view=view, limit=limit)
    xt, yt = load("mnist", "test", view=view)
    torch.manual_seed(0)
    base = build_cnn(CNN1) if conv else build_mlp(MLP_BRIEF)
    flops_epoch = 6 * forward_macs(base) * len(x)
    models = {v: copy.deepcopy(base) for v in variants}
    best = {v: float("inf") for v in variants}
    for r in range(rounds):
        for v in variants:
            if v == "idiomatic":
                seconds = _timed(lambda v=v, r=r: idiomatic_epoch(models[v], x, y, batch_size, seed=r))
            else:
                result = fit(models[v], (x, y), None, engine_config(v, batch_size, conv), seed=r,
                             show_progress=False)
                seconds = result.train_seconds
            # torch.compile's first round includes compilation; the minimum over rounds drops it
            best[v] = min(best[v], seconds)
            print(f"  {name:<5} round {r + 1}/{rounds} {v:<20} {seconds:7.2f} s", flush=True)
    rows = []
    for v in variants:
        model = models[v]
        if v == "idiomatic":
            acc = idiomatic_eval(model, xt, yt)
            infer = min(_timed(lambda m=model: idiomatic_eval(m, xt, yt)) for _ in range(3))
        else:
            cfg = engine_config(v, batch_size, conv)
            acc = evaluate(model, xt, yt, precision=cfg.precision, channels_last=conv)["acc"]
            infer = min(_timed(lambda m=model, c=cfg: predict_logits(m, xt, precision=c.precision,
                                                                      channels_last=conv))
                        for _ in range(3))
        seconds = best[v]
        ceiling = peak["bf16" if "bf16" in v else "fp32"]
        rows.append({
            "model": name, "variant": v, "batch_size": batch_size, "images": len(x),
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


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,cnn1", help="comma-separated: mlp, cnn1")
    native = bf16_is_native(torch.device("cpu"))
    parser.add_argument("--variants", default="idiomatic,engine-fp32" + (",engine-bf16" if native else ""),
                        help=f"comma-separated, from {', '.join(VARIANTS)} (default: bf16 only where native)")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per variant; the minimum is kept")
    parser.add_argument("--limit", type=int, default=None, help="training images per timed epoch (default all 60,000)")
    parser.add_argument("--batch-mlp", type=int, default=50)
    parser.add_argument("--batch-cnn", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None, help=f"default: the cores available ({available_cores()})")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    configure_torch(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, bf16 {'native' if native else 'emulated'}")
    bf16_wanted = any("bf16" in v for v in variants)
    peak = {"fp32": matmul_gflops(torch.float32),
            # emulated bf16 at 4096^3 takes minutes; a small size is enough to show how slow it is
            "bf16": matmul_gflops(torch.bfloat16, sizes=(1024, 2048, 4096) if native else (512,))
            if native or bf16_wanted else float("nan")}
    print(f"best square matmul: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s")
    rows: list[dict] = []
    for name in [m.strip() for m in args.models.split(",")]:
        if name not in ("mlp", "cnn1"):
            parser.error(f"unknown model {name!r}; choose mlp or cnn1")
        batch = args.batch_mlp if name == "mlp" else args.batch_cnn
        rows += bench_model(name, variants, args.rounds, args.limit, batch, peak)
    print()
    print(f"{'model':<6}{'variant':<21}{'batch':>6}{'s/epoch(60k)':>13}{'img/s':>9}{'speedup':>9}"
          f"{'test acc':>10}{'infer img/s':>13}{'GFLOP/s':>9}{'of peak':>9}")
    for r in rows:
        print(f"{r['model']:<6}{r['variant']:<21}{r['batch_size']:>6}{r['epoch_seconds_60k']:>13.1f}"
              f"{r['images_per_second']:>9,.0f}{r['speedup_vs_idiomatic'] or float('nan'):>8.2f}x"
              f"{r['test_acc']:>10.4f}{r['infer_images_per_second']:>13,.0f}{r['achieved_gflops']:>9.0f}"
              f"{r['share_of_matmul_peak']:>9.1%}")
    print("\ntraining FLOPs per 60k epoch: " + ", ".join(
        sorted({f"{r['model']} {r['tflop_per_epoch_60k']:.2f} TFLOP" for r in rows})))
    if args.json:
        args.json.write_text(json.dumps({"peak_gflops": peak, "threads": torch.get_num_threads(), "rows": rows},
                                        indent=2))
    return rows


if __name__ == "__main__":
    main()
