"""Task 6's kind of sub-run, "mtl": the brief's hard-sharing network (`mnistlab.models.mtl`) trained with
one loss weighting (`mnistlab.weighting`), its history and weighting recorded and its test predictions kept
per task for the comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab.execution.subrun import Env, SubRun, SubRunKind
from mnistlab.models.mtl import build_mtl
from mnistlab.tasks.common import WeightingSpec
from mnistlab.tasks.task6.config import TASK_NAMES
from mnistlab.train import TrainConfig, classifier_heads, count_parameters, fit, predict_logits
from mnistlab.weighting import make_weighting

# The network's two outputs, as the engine scores them: history keys test_acc_item, val_loss_group, ...
MTL_HEADS = classifier_heads(TASK_NAMES)

# Multiply-adds of one forward pass of the brief's MTL network (models.forward_macs), for cost estimates.
MTL_FORWARD_MACS = 33_748_756


def _train_mtl(run: SubRun, model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one MTL network; record its history and weighting, how far each head moved from its first
    weights (a head whose loss weight is 0 must not move), and its test predictions per task (arrays
    pred_item, correct_item, pred_group, correct_group)."""
    cfg: TrainConfig = run.train
    train, val, test = run.data.load(env.device, env.data_dir)
    spec: WeightingSpec = run.objective
    objective = make_weighting(spec.strategy, lam=0.5 if spec.lam is None else spec.lam).to(env.device)
    initial = [{k: v.detach().clone() for k, v in head.state_dict().items()} for head in model.heads]
    # A loss weight of 0 leaves a head untrained: the epoch is then chosen on the trained head alone.
    trained = None if spec.strategy != "fixed" or spec.lam not in (0.0, 1.0) else [TASK_NAMES[int(spec.lam == 0.0)]]
    result = fit(model, train, test, cfg, seed=run.seed, objective=objective, val=val, desc=run.label,
                 show_progress=env.show_progress, heads=MTL_HEADS, select_heads=trained)
    head_change = [max((head.state_dict()[k].float() - v.float()).abs().max().item() for k, v in init.items())
                   for head, init in zip(model.heads, initial, strict=True)]
    seconds = [h["seconds"] for h in result.history]
    record = {
        "params": count_parameters(model),
        "history": result.history,
        "train_seconds": result.train_seconds,
        "seconds_per_epoch": result.train_seconds / len(seconds),
        "min_seconds_per_epoch": min(seconds),
        "final": result.final(),
        "selected_epoch": result.selected_epoch,
        "weighting": objective.state(),
        "head_max_change": head_change,
    }
    logits = predict_logits(model, test[0], batch_size=cfg.eval_batch_size, precision=cfg.precision,
                            channels_last=cfg.channels_last, tta=cfg.tta)
    arrays = {}
    for head in MTL_HEADS:
        pred = logits[head.output].argmax(1)
        arrays[f"pred_{head.name}"] = pred.to(torch.int16).cpu().numpy()
        arrays[f"correct_{head.name}"] = (pred == test[1][head.target]).cpu().numpy()
    return record, arrays


KIND_MTL = SubRunKind(build=lambda run: build_mtl(), train=_train_mtl)
