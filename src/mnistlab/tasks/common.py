"""Pieces that several experiments share. Not a task: tasks import this, never each other."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mnistlab.constraints import Constraints, Distinct, Interval
from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.errors import ConfigError
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, register_kind
from mnistlab.models import CNN1, ModelSpec, parameter_count, spec_forward_macs
from mnistlab.train import TrainConfig, count_parameters, evaluate, fit, predict_logits

# How CNN-1 (Task 4.1) is trained in each profile. Task 5 visualises the very same network, so it
# builds the same sub-run key from these values and finds Task 4's checkpoint in the cache.
# Precision "auto": bf16 autocast where the hardware computes bf16 natively (measured faster than fp32 at
# the same accuracy on an AVX512-BF16 CPU, benchmarks/bench_engine.py), fp32 elsewhere. Batch 128 for
# the full data, chosen on a validation split (benchmarks/cnn1_batch_on_validation.py: trained on the
# first 54,000 training images for 10 epochs, scored on the last 6,000): 99.17% at batch 128 against
# 99.15% at batch 50, one image apart, so a tie on accuracy, and 128 keeps the convolutions busier per
# step (134 against 139 s per epoch on one busy thread of an AVX512-BF16 CPU). The quick profile's single
# epoch on 6,000 images keeps batch 50, for 120 updates instead of 47.
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


# The subset sizes that the datasets can give (60,000 training, 10,000 test images); None takes them all.
DATA_LIMITS: Constraints = {
    "train_limit": [Interval(1, 60_000, note=" (or None for all)")],
    "test_limit": [Interval(1, 10_000, note=" (or None for all)")],
}
# The share of the training images held out for validation (the hyperparameter studies, Task 6).
VAL_FRACTION = Interval(0, 1, closed="neither", message="{name} must be between 0 and 1 (exclusive), got {value}")


def check_validation_split(val_fraction: float, n_train: int, n_val: int) -> None:
    """Refuse a validation split that leaves no image on one side."""
    if n_train < 1 or n_val < 1:
        raise ConfigError(f"val_fraction {val_fraction} of {n_train + n_val:,} training images leaves "
                          f"{n_train:,} for training and {n_val:,} for validation; both must be at least 1")


# Training keeps four float32 copies of every parameter: weights, gradients and Adam's two moments.
TRAINING_BYTES_PER_PARAMETER = 16


def memory_bytes() -> int:
    """The machine's physical memory, or a huge number where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62


def check_model_fits(spec: ModelSpec, option: str) -> int:
    """Refuse, before anything is allocated, a network whose training state cannot fit in memory
    (models=1000000000 would ask for terabytes); returns its parameter count. The network is built
    on the meta device, which records shapes without allocating, so this also finds a CNN that
    shrinks the image to nothing."""
    params = parameter_count(spec)
    need, have = params * TRAINING_BYTES_PER_PARAMETER, memory_bytes()
    if need > have:
        raise ConfigError(f"{option}: {spec.name} has {params:,} parameters, about {need / 2**30:,.0f} GiB to "
                          f"train (weights, gradients and two Adam moments), more than this machine's "
                          f"{have / 2**30:,.0f} GiB of memory")
    return params


def no_repeated_network(example: str) -> Distinct:
    """Refuse a network given twice; `example` shows how one network of several layers is written,
    since models=(1000,1000) reads as two one-layer networks."""
    return Distinct(message="{name} repeats the network {item!r} (items are separated by commas, the layers of "
                            f"one network by '-', e.g. {example})")


@dataclass(frozen=True)
class ImageData:
    """Which images a classifier sub-run trains and is tested on."""

    dataset: str = "mnist"
    normalise: str = "unit"
    view: str = "flat"
    train_limit: int | None = None
    test_limit: int | None = None
    pixel_permutation_seed: int | None = None  # train and test pixels shuffled by this fixed permutation

    def load(self, device: torch.device, data_dir: Path | None) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        kw = {"normalise": self.normalise, "view": self.view, "device": device, "data_dir": data_dir}
        splits = [load(self.dataset, "train", limit=self.train_limit, **kw),
                  load(self.dataset, "test", limit=self.test_limit, **kw)]
        if self.pixel_permutation_seed is not None:
            permutation = pixel_permutation(self.pixel_permutation_seed)
            splits = [(permute_pixels(x, permutation), y) for x, y in splits]
        return splits[0], splits[1]


def classifier_run(spec: ModelSpec, cfg: TrainConfig, *, seed: int, dataset: str = "mnist",
                   normalise: str = "unit", train_limit: int | None = None, test_limit: int | None = None,
                   permutation_seed: int | None = None, keep_checkpoint: bool = False,
                   name: str = "") -> SubRun:
    """The sub-run that trains `spec` on `dataset` with the one engine. Two tasks asking for the same
    network (Task 5 and Task 4's CNN-1, the permutation task's unpermuted MLP and Task 3's) get equal
    SubRuns, hence one cache entry."""
    data = ImageData(dataset=dataset, normalise=normalise, view=spec.view, train_limit=train_limit,
                     test_limit=test_limit, pixel_permutation_seed=permutation_seed)
    n_train = train_limit or 60_000
    return SubRun(kind=KIND_CLASSIFIER.name, model=spec, data=data, train=cfg, seed=seed, name=name or spec.name,
                  # About 3x the forward multiply-adds (2 FLOPs each) per image, over all epochs.
                  keep_checkpoint=keep_checkpoint, cost=6.0 * spec_forward_macs(spec) * n_train * cfg.epochs,
                  steps=n_train / cfg.batch_size * cfg.epochs)


def _train_classifier(run: SubRun, model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one classifier: per-epoch history, final train/test scores, test predictions and the
    inference rate of the trained network (timed right after training, where it ran)."""
    from mnistlab.train import inference_rate

    cfg: TrainConfig = run.train
    (x, y), (xt, yt) = run.data.load(env.device, env.data_dir)
    result = fit(model, (x, y), (xt, yt), cfg, seed=run.seed, desc=run.label, show_progress=env.show_progress)
    eval_kw = {"batch_size": cfg.eval_batch_size, "precision": cfg.precision, "channels_last": cfg.channels_last}
    # The training data and the speed are scored on the plain network; the test predictions with the
    # test-time views it was trained to be scored with (cfg.tta), as fit scored the test set.
    final_train = evaluate(model, x, y, **eval_kw)
    logits = predict_logits(model, xt, tta=cfg.tta, **eval_kw)[0]
    record = {
        "name": run.label,
        "params": count_parameters(model),
        "history": result.history,
        "train_seconds": result.train_seconds,
        "train_acc": final_train["acc"],
        "train_loss": final_train["loss"],
        "test_acc": result.final()["test_acc"],
        "test_loss": result.final()["test_loss"],
        "infer_images_per_second": inference_rate(model, xt, repeats=3, **eval_kw),
        "selected_epoch": result.selected_epoch,
    }
    pred = logits.argmax(1)
    return record, {"test_pred": pred.to(torch.int16).cpu().numpy(), "test_correct": (pred == yt).cpu().numpy()}


KIND_CLASSIFIER = register_kind(SubRunKind("classifier", build=lambda run: run.model.build(), train=_train_classifier))


def tsne_2d(features: np.ndarray, *, impl: str = "opentsne", perplexity: float = 30.0, seed: int = 0,
            jobs: int = 1) -> np.ndarray:
    """A 2-D t-SNE embedding of `features` (n, d): openTSNE (several times faster here) or scikit-learn."""
    if impl == "opentsne":
        from openTSNE import TSNE as OpenTSNE

        return np.asarray(OpenTSNE(perplexity=perplexity, n_jobs=jobs, random_state=seed, verbose=False)
                          .fit(features), dtype=np.float64)
    from sklearn.manifold import TSNE

    return TSNE(perplexity=perplexity, init="pca", random_state=seed, n_jobs=jobs).fit_transform(features)


__all__ = [
    "CNN1",
    "CNN1_TRAINING",
    "DATA_LIMITS",
    "MLP_SWEEP",
    "MLP_SWEEP_TRAINING",
    "VAL_FRACTION",
    "classifier_run",
    "tsne_2d",
]
