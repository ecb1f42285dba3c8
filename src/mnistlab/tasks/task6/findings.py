"""What Task 6's analysis measures, as numbers: every network's accuracies, weights and timings, what the
untrained head of lambda = 0 and 1 does, the best mixed lambda (chosen on validation) and where its errors
fall."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mnistlab.data import FASHION_GROUP_OF_ITEM, fashion_groups, load
from mnistlab.models.mtl import GROUP_CLASSES, ITEM_CLASSES, build_single_task
from mnistlab.tasks.base import Context
from mnistlab.tasks.task6.config import TASK_NAMES, Config, lam_name
from mnistlab.tasks.task6.plan import runs
from mnistlab.train import TrainConfig, count_parameters
from mnistlab.viz.confusion import confusion_matrix
from mnistlab.weighting import effective_lambda

# Chance accuracy of each task for a classifier that guesses uniformly.
CHANCE = {"item": 1 / ITEM_CLASSES, "group": 1 / GROUP_CLASSES}


@dataclass(frozen=True)
class ErrorFindings:
    """Where the best mixed-lambda network's item errors fall, and the confusion counts its figure draws."""

    lam: float
    errors: int  # misclassified test items
    crossing: int  # of which land in another group
    pairs: list[tuple[int, int, int]]  # the crossings, commonest first: (true item, predicted item, count)
    item_counts: np.ndarray  # item confusion matrix of the network
    group_counts: np.ndarray  # group confusion matrix of its group head
    single_group_counts: np.ndarray  # group confusion matrix of the single-task group CNN

    @property
    def title(self) -> str:
        return f"MTL lambda = {lam_name(self.lam)}"

    @property
    def crossing_pct(self) -> float:
        return 100 * self.crossing / max(self.errors, 1)

    @property
    def shoe_cross(self) -> int:
        """Crossings with a shoe on either side (group 0); the others are between gendered and unisex items."""
        return sum(n for t, p, n in self.pairs if 0 in (FASHION_GROUP_OF_ITEM[t], FASHION_GROUP_OF_ITEM[p]))


@dataclass(frozen=True)
class Findings:
    """The numbers Task 6's metrics, tables, figures and prose are made of (no training, no drawing)."""

    rows: list[dict]  # every MTL network but the probes (fixed lambdas, then learned weightings): see _mtl_row
    single: dict[str, Any]  # "item", "group": the single-task CNNs (single_record); "item_as_group": a float
    probes: list[dict]  # lambda = 0.5 at this run's defaults ("default", when it ran), then each probe (_probe_row)
    histories: dict[str, tuple[list[dict], dict[str, str]]]  # network: (history, {task: key} of its trained heads)
    majority_group: float  # share of the commonest group among the test images
    n_test: int
    cache_hits: int  # networks loaded from the cache (they keep the timings of the run that trained them)
    loads: tuple[float, float]  # 1-minute load average before and after the networks were read
    errors: ErrorFindings | None = None  # the best mixed lambda's errors; None without a mixed lambda

    @property
    def s_item(self) -> float:
        return self.single["item"]["final"]["test_acc"]

    @property
    def s_group(self) -> float:
        return self.single["group"]["final"]["test_acc"]

    @property
    def fixed(self) -> list[dict]:
        return [r for r in self.rows if r["strategy"] == "fixed"]

    @property
    def learned(self) -> list[dict]:
        return [r for r in self.rows if r["strategy"] != "fixed"]

    @property
    def params_mtl(self) -> int:
        return self.rows[0]["params"] if self.rows else 0

    @property
    def params_two(self) -> int:
        return self.single["item"]["params"] + self.single["group"]["params"]

    @property
    def saving_pct(self) -> float:
        return 100 * (self.params_two - self.params_mtl) / self.params_two


def single_record(rec: dict[str, Any], task: str, classes: int) -> dict[str, Any]:
    """The single-task CNN's view of an MTL network with only the head of `task` ('item', 'group') trained."""
    history = [{"epoch": h["epoch"], "seconds": h["seconds"], "test_acc": h[f"test_acc_{task}"],
                "test_loss": h[f"test_loss_{task}"]} for h in rec["history"]]
    return {"params": count_parameters(build_single_task(classes)), "history": history,
            "train_seconds": rec["train_seconds"], "seconds_per_epoch": rec["seconds_per_epoch"],
            "final": {"test_acc": rec["final"][f"test_acc_{task}"]}}


def _probe_row(name: str, label: str, cfg: TrainConfig, item: float, group: float, seconds: float,
               spe: float) -> dict[str, Any]:
    return {"name": name, "label": label, "batch": cfg.batch_size, "schedule": cfg.lr_schedule,
            "augment": cfg.augment, "item": item, "group": group, "seconds": seconds, "spe": spe}


def item_as_group_acc(item_pred: np.ndarray, groups_t: np.ndarray) -> float:
    """Group accuracy implied by an item prediction, read through the brief's grouping."""
    return float((fashion_groups(item_pred) == groups_t).mean())


def cross_group_errors(items_t: np.ndarray, item_pred: np.ndarray) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(item errors, of which cross a group boundary, the commonest crossings as (true, predicted, count))."""
    counts = confusion_matrix(items_t, item_pred, ITEM_CLASSES)
    np.fill_diagonal(counts, 0)
    crossing = FASHION_GROUP_OF_ITEM[:, None] != FASHION_GROUP_OF_ITEM[None, :]
    pairs = sorted(((int(counts[t, p]), t, p) for t in range(ITEM_CLASSES) for p in range(ITEM_CLASSES)
                    if crossing[t, p] and counts[t, p]), reverse=True)
    return int(counts.sum()), int(counts[crossing].sum()), [(t, p, n) for n, t, p in pairs]


def best_mixed(rows: list[dict]) -> dict | None:
    """The fixed-lambda network with 0 < lambda < 1 and the largest sum of both *validation* accuracies
    (a choice made on the test set would flatter the test score it then reports)."""
    inner = [r for r in rows if r["strategy"] == "fixed" and 0 < r["lambda"] < 1]
    return max(inner, key=lambda r: r["val_item"] + r["val_group"]) if inner else None


def _predictions(trained: Any) -> dict[str, np.ndarray]:
    """The network's test predictions per task: {'item': ..., 'group': ...}."""
    return {task: trained.arrays[f"pred_{task}"].astype(np.int64) for task in TASK_NAMES}


def _mtl_row(kind: str, arg: float | None, rec: dict[str, Any], preds: dict[str, np.ndarray],
             groups: np.ndarray) -> dict[str, Any]:
    """One MTL network's numbers; at lambda 0 or 1 also how far its untrained head moved and how many
    classes that head uses (each taking at least 1% of the test images)."""
    name = f"lambda_{lam_name(arg)}" if kind == "fixed" else kind
    w = rec["weighting"]
    weights = (w.get("weight_0", 1.0), w.get("weight_1", 1.0))
    final = rec["final"]
    row = {"name": name, "strategy": kind, "lambda": arg, "item": final["test_acc_item"],
           "group": final["test_acc_group"], "val_item": final["val_acc_item"], "val_group": final["val_acc_group"],
           "params": rec["params"], "seconds": rec["train_seconds"], "spe": rec["seconds_per_epoch"],
           "weights": weights, "eff_lambda": effective_lambda(weights), "state": w,
           "item_as_group": item_as_group_acc(preds["item"], groups)}
    if kind == "fixed" and arg in (0.0, 1.0):
        untrained = "group" if arg == 1.0 else "item"  # lambda = 1 never trains the group head, 0 the item head
        head = TASK_NAMES.index(untrained)  # its place in the model's heads (head_max_change is in that order)
        row["head_change"] = rec["head_max_change"][head]
        classes = ITEM_CLASSES if untrained == "item" else GROUP_CLASSES
        shares = np.bincount(preds[untrained], minlength=classes) / len(groups)
        row["untrained_classes_used"] = int((shares >= 0.01).sum())
    return row


def _trained_heads(kind: str, arg: float | None) -> dict[str, str]:
    """{task: history key of its test accuracy} for the heads this network trains."""
    heads = {}
    if not (kind == "fixed" and arg == 0.0):
        heads["item"] = "test_acc_item"
    if not (kind == "fixed" and arg == 1.0):
        heads["group"] = "test_acc_group"
    return heads


def _error_findings(lam: float, items: np.ndarray, groups: np.ndarray, preds: dict[str, np.ndarray],
                    single_group_pred: np.ndarray) -> ErrorFindings:
    errors, crossing, pairs = cross_group_errors(items, preds["item"])
    return ErrorFindings(lam, errors, crossing, pairs, confusion_matrix(items, preds["item"], ITEM_CLASSES),
                         confusion_matrix(groups, preds["group"], GROUP_CLASSES),
                         confusion_matrix(groups, single_group_pred, GROUP_CLASSES))


def _test_labels(config: Config, ctx: Context) -> tuple[np.ndarray, np.ndarray, float]:
    """(items, groups, share of the commonest group) of the test images."""
    _, items_t = load("fashion-mnist", "test", normalise="unit", limit=config.test_limit, device=ctx.device,
                      data_dir=ctx.data_dir)
    groups_t = fashion_groups(items_t)
    majority = torch.bincount(groups_t, minlength=GROUP_CLASSES).max().item() / len(groups_t)
    return items_t.cpu().numpy(), groups_t.cpu().numpy(), majority


def compute_findings(config: Config, ctx: Context) -> Findings:
    """Read every trained network of the plan (`ctx.trained`) and reduce it to the task's numbers."""
    load_before = os.getloadavg()[0]
    items, groups, majority = _test_labels(config, ctx)
    planned = runs(config, ctx.seed)
    cache_hits = sum(not ctx.trained(run).fresh for run in dict.fromkeys(run for _, _, run in planned))
    single: dict[str, Any] = {}
    rows: list[dict] = []
    probes: list[dict] = []
    histories: dict[str, tuple[list[dict], dict[str, str]]] = {}
    preds: dict[str, dict[str, np.ndarray]] = {}  # test predictions per network and task
    for kind, arg, run in planned:
        rec, net_preds = ctx.trained(run).record, _predictions(ctx.trained(run))
        if kind == "single":
            single[arg] = single_record(rec, arg, ITEM_CLASSES if arg == "item" else GROUP_CLASSES)
            preds[f"single {arg}"] = net_preds
            histories[f"single {arg}"] = (single[arg]["history"], {arg: "test_acc"})
        elif kind == "probe":
            name, label, overrides = arg
            probes.append(_probe_row(name, label, config.train_config(**overrides), rec["final"]["test_acc_item"],
                                     rec["final"]["test_acc_group"], rec["train_seconds"], rec["seconds_per_epoch"]))
        else:
            row = _mtl_row(kind, arg, rec, net_preds, groups)
            rows.append(row)
            preds[row["name"]] = net_preds
            histories[f"MTL {row['name'].replace('_', ' ')}"] = (rec["history"], _trained_heads(kind, arg))
    single["item_as_group"] = item_as_group_acc(preds["single item"]["item"], groups)
    default = [_probe_row("default", "this run's default", config.train_config(), r["item"], r["group"], r["seconds"],
                          r["spe"]) for r in rows if r["strategy"] == "fixed" and r["lambda"] == 0.5]
    best = best_mixed(rows)
    errors = (None if best is None else
              _error_findings(best["lambda"], items, groups, preds[best["name"]], preds["single group"]["group"]))
    return Findings(rows=rows, single=single, probes=default + probes, histories=histories, majority_group=majority,
                    n_test=len(items), cache_hits=cache_hits, loads=(load_before, os.getloadavg()[0]), errors=errors)


def metrics(f: Findings) -> dict[str, float]:
    m: dict[str, float] = {}
    for task in ("item", "group"):
        s = f.single[task]
        m[f"single_{task}_test_acc"] = s["final"]["test_acc"]
        m[f"params_single_{task}"] = s["params"]
        m[f"single_{task}_train_seconds"] = s["train_seconds"]
        m[f"single_{task}_seconds_per_epoch"] = s["seconds_per_epoch"]
        if task == "item":
            m["single_item_as_group_test_acc"] = f.single["item_as_group"]
    for r in f.rows:
        name = r["name"]
        m[f"mtl_{name}_item_test_acc"], m[f"mtl_{name}_group_test_acc"] = r["item"], r["group"]
        m[f"mtl_{name}_train_seconds"], m[f"mtl_{name}_seconds_per_epoch"] = r["seconds"], r["spe"]
        m["params_mtl"] = r["params"]
        if "head_change" in r:
            m[f"mtl_{name}_untrained_head_max_weight_change"] = r["head_change"]
            m[f"mtl_{name}_untrained_head_classes_used"] = r["untrained_classes_used"]
        if r["strategy"] != "fixed":
            m.update({f"mtl_{name}_{k}": v for k, v in r["state"].items()})
            m[f"mtl_{name}_effective_lambda"] = r["eff_lambda"]
    for p in f.probes:
        if p["name"] != "default":
            m[f"probe_{p['name']}_item_test_acc"], m[f"probe_{p['name']}_group_test_acc"] = p["item"], p["group"]
            m[f"probe_{p['name']}_seconds_per_epoch"] = p["spe"]
    best, e = best_mixed(f.rows), f.errors
    if best is not None and e is not None:
        m.update({"best_mixed_lambda": best["lambda"], "best_mixed_item_test_acc": best["item"],
                  "best_mixed_group_test_acc": best["group"], "best_mixed_item_errors": e.errors,
                  "best_mixed_item_errors_crossing_groups_pct": e.crossing_pct})
    m["params_two_single"] = f.params_two
    m["params_saving"] = f.params_two - f.params_mtl
    m["params_saving_pct"] = f.saving_pct
    m["load_average_start"], m["load_average_end"] = f.loads
    return m
