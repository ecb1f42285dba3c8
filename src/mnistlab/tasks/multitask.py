"""The brief's multi-task network as sub-runs, shared by Task 6 and the recipes task (tasks never import each
other): its spec, its data (Fashion-MNIST items and the brief's groups as two targets), its loss weighting,
and its kind "mtl" -- the hard-sharing network (`mnistlab.models.mtl`) trained with one weighting
(`mnistlab.weighting`), its history and weighting recorded and its test predictions kept per head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mnistlab.data import fashion_groups, load
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, register_kind
from mnistlab.models.mtl import build_mtl
from mnistlab.train import TrainConfig, classifier_heads, count_parameters, fit, predict_logits
from mnistlab.weighting import make_weighting

# The two heads: the item (10 Fashion-MNIST classes) and the brief's group (shoes / gendered / unisex).
HEAD_NAMES = ("item", "group")


@dataclass(frozen=True)
class MTLSpec:
    """The brief's hard-sharing network (models.mtl.build_mtl): its shape is fixed by the brief."""

    name: str = "brief-hard-sharing"


@dataclass(frozen=True)
class FashionData:
    """Fashion-MNIST with item labels (10 classes) and the brief's groups (3 classes) as two targets."""

    n_train: int = 54_000
    n_val: int = 6_000  # the training images after the first n_train: validation only
    test_limit: int | None = None

    def load(self, device: torch.device, data_dir) -> tuple[Split, Split, Split]:
        """(train, validation, test), each images and (items, groups)."""
        kw = {"normalise": "unit", "view": "image", "device": device, "data_dir": data_dir}
        x, items = load("fashion-mnist", "train", limit=self.n_train + self.n_val, **kw)
        xt, items_t = load("fashion-mnist", "test", limit=self.test_limit, **kw)
        groups = fashion_groups(items)
        return ((x[:self.n_train], (items[:self.n_train], groups[:self.n_train])),
                (x[self.n_train:], (items[self.n_train:], groups[self.n_train:])),
                (xt, (items_t, fashion_groups(items_t))))


Split = tuple[Tensor, tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class WeightingSpec:
    """How the two losses become one: 'fixed' with lambda (the brief's), or a learned strategy."""

    strategy: str = "fixed"
    lam: float | None = 0.5

    def code_roots(self) -> list[tuple[str, str | None]]:
        """The code of a weighting registered from outside the package, for the cache key (the package's own
        are reached through mnistlab.weighting): an edit of it retrains its networks."""
        from mnistlab.execution.fingerprint import root_of
        from mnistlab.weighting import weighting_class

        cls = weighting_class(self.strategy)
        return [] if cls.__module__.split(".")[0] == "mnistlab" else [root_of(cls)]



# The network's two outputs, as the engine scores them: history keys test_acc_item, val_loss_group, ...
MTL_HEADS = classifier_heads(HEAD_NAMES)

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
    trained = None if spec.strategy != "fixed" or spec.lam not in (0.0, 1.0) else [HEAD_NAMES[int(spec.lam == 0.0)]]
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


KIND_MTL = register_kind(SubRunKind("mtl", build=lambda run: build_mtl(), train=_train_mtl))
