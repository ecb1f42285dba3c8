"""Pieces that several experiments share. Not a task: tasks import this, never each other."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from mnistlab.data import load
from mnistlab.models import CNN1, CNNSpec, MLPSpec, build_cnn, build_mlp
from mnistlab.tasks.base import Context
from mnistlab.train import TrainConfig, count_parameters, evaluate, fit, train_or_load

# How CNN-1 (Task 4.1) is trained in each profile. Task 5 visualises the very same network, so it
# builds the same sub-run key from these values and finds Task 4's checkpoint in the cache.
CNN1_TRAINING = {
    "quick": {"epochs": 1, "batch_size": 50, "train_limit": 6000, "test_limit": 2000},
    "brief": {"epochs": 10, "batch_size": 50, "train_limit": None, "test_limit": None},
}


def build_model(spec: MLPSpec | CNNSpec) -> nn.Module:
    return build_mlp(spec) if isinstance(spec, MLPSpec) else build_cnn(spec)


def train_classifier(
    ctx: Context,
    spec: MLPSpec | CNNSpec,
    cfg: TrainConfig,
    *,
    dataset: str = "mnist",
    normalise: str = "unit",
    train_limit: int | None = None,
    test_limit: int | None = None,
    desc: str = "",
) -> tuple[nn.Module, dict[str, Any]]:
    """Train `spec` on `dataset` with the one engine, once per (spec, data, config, seed).

    Returns the trained model (on ctx.device) and its record: per-epoch history, parameter count,
    training seconds, final train/test accuracy and loss. A rerun, or another task asking for the
    same key, loads the checkpoint from the sub-run cache instead of training again.
    """
    view = "flat" if isinstance(spec, MLPSpec) else "image"
    key = {
        "kind": "classifier",
        "model": type(spec).__name__,
        "spec": asdict(spec),
        "data": {"dataset": dataset, "normalise": normalise, "view": view,
                 "train_limit": train_limit, "test_limit": test_limit},
        "train": asdict(cfg),
        "seed": ctx.seed,
    }

    def data():
        kw = {"normalise": normalise, "view": view, "device": ctx.device, "data_dir": ctx.data_dir}
        return (load(dataset, "train", limit=train_limit, **kw), load(dataset, "test", limit=test_limit, **kw))

    def build() -> nn.Module:
        torch.manual_seed(ctx.seed)
        return build_model(spec)

    def train(model: nn.Module) -> dict[str, Any]:
        (x, y), (xt, yt) = data()
        result = fit(model, (x, y), (xt, yt), cfg, seed=ctx.seed, desc=desc or spec.name,
                     show_progress=ctx.show_progress)
        final_train = evaluate(model, x, y, batch_size=cfg.eval_batch_size, precision=cfg.precision)
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


def cnn1_key_config(profile: str) -> tuple[TrainConfig, dict[str, int | None]]:
    """The TrainConfig and data limits with which CNN-1 is trained in `profile`."""
    values = dict(CNN1_TRAINING[profile])
    limits = {"train_limit": values.pop("train_limit"), "test_limit": values.pop("test_limit")}
    return TrainConfig(**values), limits


__all__ = ["CNN1", "CNN1_TRAINING", "build_model", "cnn1_key_config", "train_classifier"]
