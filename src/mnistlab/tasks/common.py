"""Pieces that several experiments share. Not a task: tasks import this, never each other."""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.errors import ConfigError
from mnistlab.models import CNN1, CNNSpec, MLPSpec, build_cnn, build_mlp
from mnistlab.runtime import resolve_precision
from mnistlab.tasks.base import Context, Figure, Table
from mnistlab.train import TrainConfig, count_parameters, evaluate, fit, train_or_load

# How CNN-1 (Task 4.1) is trained in each profile. Task 5 visualises the very same network, so it
# builds the same sub-run key from these values and finds Task 4's checkpoint in the cache.
# Precision "auto": bf16 autocast where the hardware computes bf16 natively (measured faster than fp32 at
# the same accuracy on an AVX512-BF16 CPU, benchmarks/bench_engine.py), fp32 elsewhere. Batch 128 for
# the full data: convolutions use the CPU better on bigger batches and the less noisy Adam steps gave
# 99.0% after 10 epochs where batch 50 ended at 98.9%. The quick profile's single epoch on 6,000 images
# keeps batch 50, for 120 updates instead of 47.
CNN1_TRAINING = {
    "quick": {"epochs": 1, "batch_size": 50, "precision": "auto", "channels_last": True,
              "train_limit": 6000, "test_limit": 2000},
    "brief": {"epochs": 10, "batch_size": 128, "precision": "auto", "channels_last": True,
              "train_limit": None, "test_limit": None},
}

# Task 3.2's sweep: the brief's MLP first, then 3, 4, 5 and 7 hidden layers with shrinking width, so depth
# grows while the parameter count falls from 2.8 M to 0.2 M and "deeper" is not confused with "bigger".
# Task 4 trains the same list (a cache hit after Task 3) to set CNNs beside MLPs.
MLP_SWEEP = ("1000-1000", "1000-1000-1000", "512-512-512-512", "256-256-256-256-256",
             "128-128-128-128-128-128-128")
MLP_SWEEP_TRAINING = {"batch_size": 50, "precision": "auto"}


def check_data_limits(train_limit: int | None, test_limit: int | None) -> None:
    """Refuse subset sizes that the datasets cannot give (60,000 training, 10,000 test images)."""
    for name, value, most in (("train_limit", train_limit, 60_000), ("test_limit", test_limit, 10_000)):
        if value is not None and not 1 <= value <= most:
            raise ConfigError(f"{name} must be between 1 and {most:,} (or None for all), got {value}")


def build_model(spec: MLPSpec | CNNSpec) -> nn.Module:
    return build_mlp(spec) if isinstance(spec, MLPSpec) else build_cnn(spec)


# Training keeps four float32 copies of every parameter: weights, gradients and Adam's two moments.
TRAINING_BYTES_PER_PARAMETER = 16


def memory_bytes() -> int:
    """The machine's physical memory, or a huge number where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


def check_model_fits(spec: MLPSpec | CNNSpec, option: str) -> int:
    """Refuse, before anything is allocated, a network whose training state cannot fit in memory
    (models=1000000000 would ask for terabytes); returns its parameter count. The network is built
    on the meta device, which records shapes without allocating, so this also finds a CNN that
    shrinks the image to nothing."""
    with torch.device("meta"):
        params = sum(p.numel() for p in build_model(spec).parameters())
    need, have = params * TRAINING_BYTES_PER_PARAMETER, memory_bytes()
    if need > have:
        raise ConfigError(f"{option}: {spec.name} has {params:,} parameters, about {need / 2**30:,.0f} GiB to "
                          f"train (weights, gradients and two Adam moments), more than this machine's "
                          f"{have / 2**30:,.0f} GiB of memory")
    return params


def check_no_repeats(option: str, texts: tuple[str, ...], example: str) -> None:
    """Name the network given twice; `example` shows how one network of several layers is written,
    since models=(1000,1000) reads as two one-layer networks."""
    seen: set[str] = set()
    for text in texts:
        if text in seen:
            raise ConfigError(f"{option} repeats the network {text!r} (items are separated by commas, "
                              f"the layers of one network by '-', e.g. {example})")
        seen.add(text)


def train_classifier(
    ctx: Context,
    spec: MLPSpec | CNNSpec,
    cfg: TrainConfig,
    *,
    dataset: str = "mnist",
    normalise: str = "unit",
    train_limit: int | None = None,
    test_limit: int | None = None,
    permutation_seed: int | None = None,
    desc: str = "",
) -> tuple[nn.Module, dict[str, Any]]:
    """Train `spec` on `dataset` with the one engine, once per (spec, data, config, seed).

    With `permutation_seed`, train and test images have their pixels shuffled by that fixed permutation
    (`mnistlab.data.pixel_permutation`).

    Returns the trained model (on ctx.device) and its record: per-epoch history, parameter count,
    training seconds, final train/test accuracy and loss. A rerun, or another task asking for the
    same key, loads the checkpoint from the sub-run cache instead of training again.
    """
    view = "flat" if isinstance(spec, MLPSpec) else "image"
    data_key: dict[str, Any] = {"dataset": dataset, "normalise": normalise, "view": view,
                                "train_limit": train_limit, "test_limit": test_limit}
    if permutation_seed is not None:  # only then, so unpermuted keys stay what they always were
        data_key["pixel_permutation_seed"] = permutation_seed
    key = {
        "kind": "classifier",
        "model": type(spec).__name__,
        "spec": asdict(spec),
        "data": data_key,
        "train": asdict(cfg),
        "seed": ctx.seed,
    }

    def data():
        kw = {"normalise": normalise, "view": view, "device": ctx.device, "data_dir": ctx.data_dir}
        splits = [load(dataset, "train", limit=train_limit, **kw), load(dataset, "test", limit=test_limit, **kw)]
        if permutation_seed is not None:
            permutation = pixel_permutation(permutation_seed)
            splits = [(permute_pixels(x, permutation), y) for x, y in splits]
        return splits

    def build() -> nn.Module:
        torch.manual_seed(ctx.seed)
        return build_model(spec)

    def train(model: nn.Module) -> dict[str, Any]:
        (x, y), (xt, yt) = data()
        result = fit(model, (x, y), (xt, yt), cfg, seed=ctx.seed, desc=desc or spec.name,
                     show_progress=ctx.show_progress)
        final_train = evaluate(model, x, y, batch_size=cfg.eval_batch_size, precision=cfg.precision,
                               channels_last=cfg.channels_last)
        return {
            "name": spec.name,
            "params": count_parameters(model),
            "history": result.history,
            "train_seconds": result.train_seconds,
            "train_acc": final_train["acc"],
            "train_loss": final_train["loss"],
            "test_acc": result.final()["test_acc"],
            "test_loss": result.final()["test_loss"],
        }

    return train_or_load(ctx.cache, key, build, train, ctx.device)


def tsne_2d(features: np.ndarray, *, impl: str = "opentsne", perplexity: float = 30.0, seed: int = 0,
            jobs: int = 1) -> np.ndarray:
    """A 2-D t-SNE embedding of `features` (n, d): openTSNE (several times faster here) or scikit-learn."""
    if impl == "opentsne":
        from openTSNE import TSNE as OpenTSNE

        return np.asarray(OpenTSNE(perplexity=perplexity, n_jobs=jobs, random_state=seed, verbose=False)
                          .fit(features), dtype=np.float64)
    from sklearn.manifold import TSNE

    return TSNE(perplexity=perplexity, init="pca", random_state=seed, n_jobs=jobs).fit_transform(features)


def cnn1_key_config(profile: str, device: torch.device) -> tuple[TrainConfig, dict[str, int | None]]:
    """The TrainConfig and data limits with which CNN-1 is trained in `profile` on `device` (its precision
    resolved as the runner resolves Task 4's, so both tasks build the same sub-run key)."""
    values = dict(CNN1_TRAINING[profile])
    limits = {"train_limit": values.pop("train_limit"), "test_limit": values.pop("test_limit")}
    values["precision"] = resolve_precision(values["precision"], device)
    return TrainConfig(**values), limits


__all__ = [
    "CNN1",
    "CNN1_TRAINING",
    "MLP_SWEEP",
    "MLP_SWEEP_TRAINING",
    "build_model",
    "check_data_limits",
    "cnn1_key_config",
    "epoch_table",
    "per_epoch_seconds",
    "slug",
    "summary_table",
    "sweep_curve_figures",
    "sweep_metrics",
    "sweep_table",
    "train_classifier",
    "train_sweep",
    "tsne_2d",
]


def train_sweep(
    ctx: Context,
    specs: list[MLPSpec | CNNSpec],
    cfg: TrainConfig,
    *,
    train_limit: int | None = None,
    test_limit: int | None = None,
    infer_repeats: int = 3,
) -> list[dict[str, Any]]:
    """Train each spec with `train_classifier` (cached per spec) and time its inference on the test set.

    Returns one dict per spec: the cached record plus 'spec', 'model', 'depth' (weight layers) and
    'infer_images_per_second'. Inference is timed anew on every run: it is cheap and has no cache key.
    """
    from mnistlab.train import inference_rate

    rows = []
    for i, spec in enumerate(specs, 1):
        model, record = train_classifier(ctx, spec, cfg, train_limit=train_limit, test_limit=test_limit,
                                         desc=f"{spec.name} [{i}/{len(specs)}]")
        view = "flat" if isinstance(spec, MLPSpec) else "image"
        x_test, _ = load("mnist", "test", view=view, limit=test_limit, device=ctx.device, data_dir=ctx.data_dir)
        rate = inference_rate(model, x_test, batch_size=cfg.eval_batch_size, precision=cfg.precision,
                              channels_last=cfg.channels_last, repeats=infer_repeats)
        depth = len(spec.hidden) + 1 if isinstance(spec, MLPSpec) else len(spec.channels) + len(spec.dense) + 1
        rows.append({**record, "spec": spec, "model": model, "depth": depth, "infer_images_per_second": rate})
    return rows


def per_epoch_seconds(row: dict[str, Any]) -> float:
    return row["train_seconds"] / max(len(row["history"]), 1)


def sweep_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Flat metrics of a sweep: '<model>_<metric>' for every model, 'first_<metric>' for the brief's model."""
    metrics: dict[str, float] = {}
    for r in rows:
        key = slug(r["name"])
        for metric in ("train_acc", "test_acc", "test_loss", "train_seconds", "infer_images_per_second", "params"):
            metrics[f"{key}_{metric}"] = r[metric]
    for metric in ("train_acc", "test_acc", "train_loss", "test_loss", "params", "train_seconds"):
        metrics[f"first_{metric}"] = rows[0][metric]
    return metrics


def sweep_curve_figures(ctx: Context, rows: list[dict[str, Any]], family: str) -> list[Figure]:
    """Learning curves of a sweep's first model (the brief's) and of every model, saved as figures."""
    from mnistlab.viz.sweeps import curves_per_model

    first = rows[0]
    return [
        ctx.figure(curves_per_model(rows[:1], f"{first['name']}: train (dashed) and test (solid) per epoch"),
                   "curves_first", f"{first['name']}: accuracy and cross-entropy loss per epoch on train and test "
                                   "data (train: running mean over the epoch's batches)."),
        ctx.figure(curves_per_model(rows, f"All {family}s: train (dashed) and test (solid) per epoch"),
                   "curves_all", f"Learning curves of every {family} of the sweep."),
    ]


def slug(name: str) -> str:
    """A metric-key-safe form of a model name: 'MLP 1000-1000' -> 'mlp_1000_1000'."""
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def summary_table(spec: MLPSpec | CNNSpec, caption: str) -> Table:
    """The Keras-like layer table of `spec` (layer, output shape, parameters) as a report table."""
    from mnistlab.models import summary_rows

    model = build_model(spec)
    shape = (spec.inputs,) if isinstance(spec, MLPSpec) else (spec.in_channels, spec.image_size, spec.image_size)
    rows = [[name, shape_text, params] for name, shape_text, params in summary_rows(model, shape)]
    rows.append(["total", "", count_parameters(model)])
    return Table(["layer", "output shape", "parameters"], rows, caption)


def epoch_table(record: dict[str, Any], caption: str) -> Table:
    """Per-epoch train/test loss and accuracy and wall time of one trained model."""
    rows = [[int(h["epoch"]), h["train_loss"], h["train_acc"], h["test_loss"], h["test_acc"], h["seconds"]]
            for h in record["history"]]
    return Table(["epoch", "train loss", "train acc", "test loss", "test acc", "seconds"], rows, caption)


def sweep_table(rows: list[dict[str, Any]], caption: str) -> Table:
    """Depth vs parameters vs accuracy (and time) for a sweep from `train_sweep`."""
    return Table(
        ["model", "weight layers", "parameters", "train acc", "test acc", "test loss", "train s/epoch",
         "inference img/s"],
        [[r["name"], r["depth"], r["params"], r["train_acc"], r["test_acc"], r["test_loss"],
          per_epoch_seconds(r), r["infer_images_per_second"]] for r in rows],
        caption)
