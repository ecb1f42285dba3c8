"""The hyperparameter studies' own kind of sub-run ("hparams"): one `Recipe` trained with early stopping on a
validation split, its best epoch's weights restored, then scored once on the test set.

A study value that equals the reference is the very same sub-run (same cache key), so the reference is
trained once per dataset however many studies list it, and an interrupted study resumes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mnistlab.data import load
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, register_kind
from mnistlab.losses import PenalisedLoss
from mnistlab.models import ModelSpec
from mnistlab.train import TrainConfig, count_parameters, evaluate, fit, predict_logits


@dataclass(frozen=True)
class Recipe:
    """Everything about one run that a study may change: the network, how it starts, what it minimises
    and how. The data, the epoch cap, patience and precision come from the Config and are the same for
    every run of a profile. The network's initialisation and pooling kind are fields of its spec."""

    spec: ModelSpec
    output: str = "softmax"  # output activation; the network itself always ends in the linear logits
    loss: str = "ce"         # the cross-entropy that matches `output`, its label-smoothed form, or MSE
    kernel_l1: float = 0.0   # penalties added to the loss, Keras-style: l1 * sum|w| on weights only...
    kernel_l2: float = 0.0   # ...l2 * sum w^2 on weights only...
    bias_l2: float = 0.0     # ...and l2 * sum b^2 on biases only
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    batch_size: int = 128

    @property
    def family(self) -> str:
        return self.spec.family

    def objective(self, model: nn.Module) -> PenalisedLoss:
        """The loss this recipe trains `model` on: its output's data loss plus its penalties."""
        return PenalisedLoss(model, output=self.output, loss=self.loss, kernel_l1=self.kernel_l1,
                             kernel_l2=self.kernel_l2, bias_l2=self.bias_l2)


Split = tuple[Tensor, Tensor]


def fit_recipe(model: nn.Module, recipe: Recipe, train: Split, val: Split, test: Split, cfg: TrainConfig, *,
               seed: int, desc: str = "", show_progress: bool | None = None) -> dict[str, Any]:
    """Train with early stopping on `val`, then (best weights restored) evaluate `test` once.

    The validation loss, which early stopping watches and the curves show, is the cross-entropy of the
    softmax of the outputs for every recipe, also those trained on MSE, sigmoid outputs or penalties: one
    yardstick, so that best epochs and curves compare across studies.
    """
    result = fit(model, train, None, cfg, seed=seed, objective=recipe.objective(model), val=val,
                 desc=desc, show_progress=show_progress)
    best = result.best_epoch or len(result.history)
    at_best = result.history[best - 1]
    tested = evaluate(model, test[0], test[1], batch_size=cfg.eval_batch_size, precision=cfg.precision,
                      channels_last=cfg.channels_last)
    return {
        "params": count_parameters(model),
        "history": result.history,
        "best_epoch": best,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "val_loss": at_best["val_loss"],
        "val_acc": at_best["val_acc"],
        "test_loss": tested["loss"],
        "test_acc": tested["acc"],
        "train_seconds": result.train_seconds,
    }


@dataclass(frozen=True)
class StudyData:
    """A dataset split three ways: the first n_train training images, the next n_val for validation
    (early stopping, best epoch), and the test set, scored once after the best weights are restored."""

    dataset: str
    view: str
    n_train: int
    n_val: int
    test_limit: int | None = None

    def load(self, device: torch.device, data_dir) -> tuple[Split, Split, Split]:
        kw = {"normalise": "unit", "view": self.view, "device": device, "data_dir": data_dir}
        x, y = load(self.dataset, "train", limit=self.n_train + self.n_val, **kw)
        xt, yt = load(self.dataset, "test", limit=self.test_limit, **kw)
        return (x[:self.n_train], y[:self.n_train]), (x[self.n_train:], y[self.n_train:]), (xt, yt)


def _train_recipe(run: SubRun, model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    train, val, test = run.data.load(env.device, env.data_dir)
    record = fit_recipe(model, run.model, train, val, test, run.train, seed=run.seed, desc=run.label,
                        show_progress=env.show_progress)
    cfg = run.train
    pred = predict_logits(model, test[0], batch_size=cfg.eval_batch_size, precision=cfg.precision,
                          channels_last=cfg.channels_last)[0].argmax(1)
    return record, {"test_correct": (pred == test[1]).cpu().numpy()}


KIND_HPARAMS = register_kind(SubRunKind("hparams", build=lambda run: run.model.spec.build(), train=_train_recipe))
