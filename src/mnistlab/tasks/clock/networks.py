"""The clock task's own sub-run kind, "clock": a tell-the-time reader trained by the one engine on
generated clocks, scored by its mean common-sense error after every epoch, with its readings of the test,
validation and unseen-family clocks kept beside its record (so the analysis needs no checkpoint)."""

from __future__ import annotations

import math
import time
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab.data.clocks import MINUTES_PER_CYCLE, ClockData, common_sense_error, minutes_of
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, register_kind
from mnistlab.models.clock import ClockModelSpec, decode_minutes, variant_targets
from mnistlab.train import (
    Head,
    Objective,
    Outputs,
    TrainConfig,
    as_tuple,
    count_parameters,
    fit,
    predict_logits,
)


def _as_input(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """(n, 1, h, w) uint8 on `device`: ClockNet scales to 0-1 per batch, so 18,000 clocks of 150 px take
    0.4 GB instead of 1.6 GB as floats."""
    return torch.from_numpy(images).to(device).unsqueeze(1)


def _minute_errors(variant: str, outputs: Outputs, minutes: torch.Tensor) -> torch.Tensor:
    """Each clock's common-sense error, in minutes, of `variant`'s reading decoded from all its outputs."""
    return common_sense_error(decode_minutes(variant, outputs), minutes)


def error_head(variant: str, minutes_target: int) -> Head:
    """The engine's one head of a clock reader: the mean common-sense error ("mae", history keys train_mae
    and test_mae) of the reading decoded from all outputs, against the true minutes, target `minutes_target`."""
    return Head(output=None, target=minutes_target, metric="mae", score=partial(_minute_errors, variant), loss=None)


def engine_targets(variant: str, minutes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The variant's training targets and, last, the true minutes that its error head is scored against."""
    return (*as_tuple(variant_targets(variant, minutes)), minutes)


def without_minutes(objective: Objective) -> Objective:
    """`objective` on every target but the last: the true minutes are there to be scored, not to train on."""
    def on_variant_targets(outputs: tuple[torch.Tensor, ...], targets: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return objective(outputs, targets[:-1])

    return on_variant_targets


def _train_clock(run: SubRun, model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one reader with the engine on the first n - n_test clocks; the engine scores its mean error on the
    training and test clocks after every epoch, and the test (and held-out) readings are returned, so the
    analysis needs no checkpoint."""
    spec: ClockModelSpec = run.model
    data: ClockData = run.data
    cfg: TrainConfig = run.train
    start = time.perf_counter()
    images, labels = data.load()
    data_seconds = time.perf_counter() - start
    n_train = data.n_images - data.n_test
    x = _as_input(images, env.device)
    minutes = torch.from_numpy(minutes_of(labels)).to(env.device)
    x_train, m_train, x_test = x[:n_train], minutes[:n_train], x[n_train:]
    if data.n_extra:
        extra_images, extra_labels = data.load_extra()
        x_train = torch.cat([x_train, _as_input(extra_images, env.device)])
        m_train = torch.cat([m_train, torch.from_numpy(minutes_of(extra_labels)).to(env.device)])
        del extra_images
    if data.mirror_train:
        x_train = torch.cat([x_train, x_train.flip(-1)])
        m_train = torch.cat([m_train, torch.remainder(MINUTES_PER_CYCLE - m_train, MINUTES_PER_CYCLE)])
    targets = engine_targets(spec.variant, m_train)
    result = fit(model, (x_train, targets), (x_test, engine_targets(spec.variant, minutes[n_train:])), cfg,
                 seed=run.seed, objective=without_minutes(run.objective.objective()), desc=run.label,
                 show_progress=env.show_progress, heads=(error_head(spec.variant, len(targets) - 1),))
    arrays = {"pred_minutes": predicted_minutes(model, spec.variant, x_test, cfg).cpu().numpy().astype(np.float32),
              "mirror_pred_minutes": predicted_minutes(model, spec.variant, x_test, cfg, mirror=True).cpu().numpy()
              .astype(np.float32),
              "true_minutes": minutes_of(labels[n_train:]).astype(np.int16)}
    record = {"variant": spec.variant, "params": count_parameters(model), "history": result.history,
              "train_seconds": result.train_seconds, "data_seconds": data_seconds, "n_train": n_train + data.n_extra,
              "n_test": data.n_test}
    del x, x_test, x_train  # the held-out clocks need the memory more than the training images now
    _read_held_out(model, spec.variant, cfg, data, env, record, arrays)
    return record, arrays


def _read_held_out(model: nn.Module, variant: str, cfg: TrainConfig, data: ClockData, env: Env,
                   record: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Add the mean error on the validation clocks (record 'val_mae') and the readings of the unseen face
    family (arrays 'unseen_*', record 'unseen_mae'), where the data has them."""
    if data.n_val:
        v_images, v_labels = data.load_val()
        pred = predicted_minutes(model, variant, _as_input(v_images, env.device), cfg).cpu().numpy()
        record["val_mae"] = float(np.asarray(common_sense_error(pred, minutes_of(v_labels))).mean())
    if data.n_unseen:
        u_images, u_labels = data.load_unseen()
        pred = predicted_minutes(model, variant, _as_input(u_images, env.device), cfg).cpu().numpy()
        arrays["unseen_pred_minutes"] = pred.astype(np.float32)
        arrays["unseen_true_minutes"] = minutes_of(u_labels).astype(np.int16)
        record["unseen_mae"] = float(np.asarray(common_sense_error(pred, minutes_of(u_labels))).mean())


KIND_CLOCK = register_kind(SubRunKind("clock", build=lambda run: run.model.build(), train=_train_clock))


def predicted_minutes(model: nn.Module, variant: str, x: torch.Tensor, cfg: TrainConfig,
                      mirror: bool = False) -> torch.Tensor:
    """The model's readings of `x` in minutes. mirror=True: also read the left-right mirror image, which
    shows the time 720 - t (both hands' angles change sign; the clocks' rotation stays in range, their
    tick pattern is symmetric), map it back, and take the circular mean of the two readings."""
    kw = {"batch_size": cfg.eval_batch_size, "precision": cfg.precision,
          "channels_last": cfg.channels_last}
    pred = decode_minutes(variant, predict_logits(model, x, **kw))
    if not mirror:
        return pred
    back = -decode_minutes(variant, predict_logits(model, x.flip(-1), **kw))
    angle = torch.stack([pred, back]) * (2 * math.pi / 720)
    mean = torch.atan2(angle.sin().mean(0), angle.cos().mean(0))
    return torch.remainder(mean * (720 / (2 * math.pi)), 720)
