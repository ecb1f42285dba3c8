"""What the recipes experiment measures, as numbers: each network's scores per recipe and seed (read from
the trained networks; 'minus-tta' and 'minus-select' from the full recipe's own), the recipe chosen on
validation, each recipe's comparison with the full one across seeds, the MTL network's lambda and its heads
against the single-task CNNs; and the flat metrics. The test set plays no part in any choice."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mnistlab.analysis.contrasts import ContrastResult, compare_family
from mnistlab.analysis.stats import t_interval
from mnistlab.tasks.base import Context
from mnistlab.tasks.recipes.config import DIGIT_NETWORKS, Config
from mnistlab.tasks.recipes.plan import (
    arm_seeds,
    brief_arm,
    contrast,
    is_brief,
    lambda_of,
    metric_name,
    mtl_contrast,
    mtl_recipe_contrast,
    run_for,
    trained_arms,
)
from mnistlab.train import evaluate, holdout_split

# The goals: (network, least test accuracy of its recipe chosen on validation, in words).
GOALS = (("cnn1", 0.996, "CNN-1 at least 99.60%"), ("mlp", 0.989, "the MLP [1000, 1000] at least 98.90%"),
         ("item", 0.940, "the single-task item CNN at least 94.0%"),
         ("group", 0.965, "the single-task group CNN at least 96.5%"))


def choose(val_acc: dict[str, list[float]]) -> str:
    """The arm with the best mean validation accuracy (the first listed on a tie). It sees validation
    numbers only: the test set plays no part in any choice."""
    return max(val_acc, key=lambda arm: (float(np.mean(val_acc[arm])), -list(val_acc).index(arm)))


def complete_arms(scores: dict[int, dict[str, Any]], seeds: list[int]) -> list[str]:
    """The arms trained (or scored) on every one of `seeds`, in their order: the recipes a choice is made among,
    so that the chosen recipe's test accuracy is a mean over all the seeds, as the goals are (an arm of one seed
    would also win a choice by its seed's luck more often than an arm averaged over three)."""
    return [arm for arm in scores[seeds[0]] if all(arm in scores[s] for s in seeds)]


def choice_arms(net: str, scores: dict[int, dict[str, Any]], seeds: list[int]) -> list[str]:
    """The arms `net`'s choice on validation is made among: those complete on every seed (`complete_arms`); for
    the MTL network only its full-recipe lambdas, since its brief-recipe arms are what the chosen lambda is
    compared with, not candidates."""
    return [arm for arm in complete_arms(scores, seeds) if net != "mtl" or not is_brief(arm)]


def _digit_scores(config: Config, ctx: Context, net: str, seed: int) -> dict[str, dict[str, Any]]:
    """Each arm's scores for one seed of a digit network: trained arms from their records, 'minus-tta' by
    scoring the full network's checkpoint without test-time views, 'minus-select' from its last epoch."""
    out = {arm: {"test_acc": final["test_acc"], "val_acc": final["val_acc"], "seconds": rec["train_seconds"],
                 "history": rec["history"], "epoch": final["epoch"]}
           for arm, rec, final in _trained_records(config, ctx, net, seed)}
    full_run = run_for(config, net, "full", seed)
    full = ctx.trained(full_run)
    cfg = full_run.train
    model = full.model(ctx.device)
    (x, y), (xt, yt) = full_run.data.load(ctx.device, ctx.data_dir)
    _, (xv, yv) = holdout_split(x, (y,), cfg.holdout)
    kw = {"batch_size": cfg.eval_batch_size, "precision": cfg.precision, "channels_last": cfg.channels_last}
    out["minus-tta"] = {"test_acc": evaluate(model, xt, yt, **kw)["acc"],
                        "val_acc": evaluate(model, xv, yv[0], **kw)["acc"],
                        "seconds": out["full"]["seconds"], "history": None, "epoch": out["full"]["epoch"]}
    last = full.record["history"][-1]
    out["minus-select"] = {"test_acc": last["test_acc"], "val_acc": last["val_acc"],
                           "seconds": out["full"]["seconds"], "history": None, "epoch": last["epoch"]}
    return out


def _final(rec: dict[str, Any]) -> dict[str, Any]:
    """The history record of the epoch a network ended with (the selected one, else the last)."""
    epoch = rec.get("selected_epoch")
    return rec["history"][epoch - 1] if epoch else rec["history"][-1]


def _trained_records(config: Config, ctx: Context, net: str, seed: int):
    """(arm, record, the history entry of the epoch it ended with) of each arm of `net` trained for `seed`."""
    for arm in trained_arms(config, net):
        if seed - ctx.seed < arm_seeds(config, net, arm):
            rec = ctx.trained(run_for(config, net, arm, seed)).record
            yield arm, rec, _final(rec)


def _fashion_scores(config: Config, ctx: Context, net: str, seed: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for arm, rec, final in _trained_records(config, ctx, net, seed):
        if net == "mtl":
            scores = {"test_acc_item": final["test_acc_item"], "test_acc_group": final["test_acc_group"],
                      "val_acc": (final["val_acc_item"] + final["val_acc_group"]) / 2}
        else:
            head = "item" if net == "item" else "group"
            scores = {"test_acc": final[f"test_acc_{head}"], "val_acc": final[f"val_acc_{head}"]}
        out[arm] = {**scores, "seconds": rec["train_seconds"], "history": rec["history"], "epoch": final["epoch"]}
    return out


@dataclass
class NetFindings:
    """One network over its seeds: each recipe's scores, the recipe chosen on validation, and each recipe's
    comparison with the full one (one family per set of seeds, Holm-adjusted)."""

    net: str
    seeds: list[int]
    scores: dict[int, dict[str, dict[str, Any]]]  # seed -> arm -> scores
    chosen: str  # the arm chosen on validation
    outcomes: dict[str, ContrastResult]  # arm -> its comparison with the full recipe

    def values(self, arm: str, key: str = "test_acc") -> list[float]:
        return [self.scores[s][arm][key] for s in self.seeds if arm in self.scores[s]]


def _per_seed_metrics(f: NetFindings) -> dict[int, dict[str, float]]:
    return {s: {metric_name(f.net, arm, k): v for arm, sc in f.scores[s].items() for k, v in sc.items()
                if k.startswith(("test_acc", "val_acc", "seconds")) and isinstance(v, int | float)}
            for s in f.seeds}


def _net_findings(config: Config, ctx: Context, net: str) -> NetFindings:
    seeds = [ctx.seed + k for k in range(config.seeds)]
    read = _digit_scores if net in DIGIT_NETWORKS else _fashion_scores
    scores = {s: read(config, ctx, net, s) for s in seeds}
    arms = list(scores[seeds[0]])
    chosen = choose({arm: [scores[s][arm]["val_acc"] for s in seeds] for arm in choice_arms(net, scores, seeds)})
    per_seed = {s: m for s, m in _per_seed_metrics(NetFindings(net, seeds, scores, chosen, {})).items()}
    outcomes: dict[str, ContrastResult] = {}
    if net != "mtl":
        # The ablation of one network is one family of comparisons (Holm): arms trained on the same seeds are
        # tested together; an arm with fewer seeds (CNN-1's ablations in `extended`) forms a family of its own.
        by_seeds: dict[tuple[int, ...], list[str]] = {}
        for arm in arms:
            if arm != "full":
                by_seeds.setdefault(tuple(s for s in seeds if arm in scores[s]), []).append(arm)
        for both, group in by_seeds.items():
            results = compare_family([contrast(config, net, "full", arm) for arm in group], list(both), per_seed,
                                     ctx.finished)
            outcomes.update(zip(group, results, strict=True))
    return NetFindings(net, seeds, scores, chosen, outcomes)


@dataclass
class MTLFindings:
    """The MTL network at the lambda chosen on validation (among its full-recipe arms): its heads' test accuracies
    over the seeds; each head against the single-task CNN (one family of two, with the equivalence margin); and
    each head at the full recipe against the brief's at that lambda (another family of two)."""

    lam: float  # chosen on validation
    item: ContrastResult | None  # MTL's item head against the single-task item CNN (both at their full recipe)
    group: ContrastResult | None
    item_acc: list[float]
    group_acc: list[float]
    # The same lambda at the brief's recipe, per head: its test accuracies, and the full recipe against it.
    brief_acc: dict[str, list[float]] = field(default_factory=dict)
    recipe: dict[str, ContrastResult] = field(default_factory=dict)


def _mtl_findings(config: Config, ctx: Context, mtl: NetFindings, nets: dict[str, NetFindings]) -> MTLFindings:
    lam_arm, lam_brief = mtl.chosen, brief_arm(mtl.chosen)
    seeds = [s for s in mtl.seeds if lam_arm in mtl.scores[s]]
    item, group = mtl.values(lam_arm, "test_acc_item"), mtl.values(lam_arm, "test_acc_group")
    outcomes: dict[str, ContrastResult | None] = {"item": None, "group": None}
    heads = [head for head in ("item", "group") if head in nets]
    # Both heads against their single-task CNNs form one family, each with the equivalence margin as well.
    per_seed = {s: {**{f"mtl_{h}": mtl.scores[s][lam_arm][f"test_acc_{h}"] for h in heads},
                    **{f"single_{h}": nets[h].scores[s]["full"]["test_acc"] for h in heads}} for s in seeds}
    contrasts = [mtl_contrast(config, lam_arm, head) for head in heads]
    outcomes.update(zip(heads, compare_family(contrasts, seeds, per_seed, ctx.finished), strict=True))
    # The full recipe against the brief's at the chosen lambda, on both heads: a family of its own.
    both = [s for s in seeds if lam_brief in mtl.scores[s]]
    per_seed = {s: {f"mtl_{arm}_{h}": mtl.scores[s][a][f"test_acc_{h}"] for arm, a in
                    (("full", lam_arm), ("brief", lam_brief)) for h in ("item", "group")} for s in both}
    recipe_outcomes = compare_family([mtl_recipe_contrast(config, lam_arm, h) for h in ("item", "group")], both,
                                     per_seed, ctx.finished) if both else []
    return MTLFindings(lambda_of(lam_arm), outcomes["item"], outcomes["group"], item, group,
                       {h: mtl.values(lam_brief, f"test_acc_{h}") for h in ("item", "group") if both},
                       dict(zip(("item", "group"), recipe_outcomes, strict=False)))


@dataclass
class Findings:
    """What the recipes experiment measured: numbers only; tables, the figure and prose are drawn from it."""

    nets: dict[str, NetFindings]  # config.networks' order
    mtl: MTLFindings | None  # with the MTL network among the networks
    smoke: bool  # the quick profile: subsets and 1-2 epochs, so its numbers test the machinery, not the recipes

    def goal_met(self, net: str, target: float) -> bool:
        """Whether the mean test accuracy of `net`'s recipe chosen on validation reaches `target`."""
        values = self.nets[net].values(self.nets[net].chosen)
        return float(np.mean(values)) >= target


def compute_findings(config: Config, ctx: Context) -> Findings:
    nets = {net: _net_findings(config, ctx, net) for net in config.networks}
    mtl = _mtl_findings(config, ctx, nets["mtl"], nets) if "mtl" in nets else None
    return Findings(nets, mtl, smoke=ctx.profile == "quick")


def metrics(f: Findings) -> dict[str, float]:
    """Per network and recipe: mean test accuracy (per head for the MTL network; with its 95% half-width over
    several seeds), validation accuracy and training seconds; each network's chosen recipe's test accuracy, the
    MTL network's chosen lambda and heads, and whether each goal is met."""
    metrics: dict[str, float] = {}
    for net, nf in f.nets.items():
        for arm in nf.scores[nf.seeds[0]]:
            if net == "mtl":
                for head in ("item", "group"):
                    head_acc = nf.values(arm, f"test_acc_{head}")
                    metrics[metric_name(net, arm, f"{head}_test_acc")] = float(np.mean(head_acc))
            else:
                test = nf.values(arm)
                metrics[metric_name(net, arm)] = float(np.mean(test))
                if len(test) > 1:
                    metrics[metric_name(net, arm, "test_acc_ci95")] = t_interval(test).half_width
            metrics[metric_name(net, arm, "val_acc")] = float(np.mean(nf.values(arm, "val_acc")))
            metrics[metric_name(net, arm, "seconds")] = float(np.mean(nf.values(arm, "seconds")))
        if net != "mtl":
            chosen = nf.values(nf.chosen)
            metrics[f"{net}_chosen_test_acc"] = float(np.mean(chosen))
            if len(chosen) > 1:  # the README's table shows the interval of a headline metric from these two
                metrics[f"{net}_chosen_test_acc_ci95"] = t_interval(chosen).half_width
                metrics[f"{net}_chosen_test_acc_seeds"] = float(len(chosen))
    if f.mtl is not None:
        metrics["mtl_chosen_lambda"] = f.mtl.lam
        metrics["mtl_chosen_item_test_acc"] = float(np.mean(f.mtl.item_acc))
        metrics["mtl_chosen_group_test_acc"] = float(np.mean(f.mtl.group_acc))
        for head, acc in f.mtl.brief_acc.items():
            metrics[f"mtl_chosen_brief_{head}_test_acc"] = float(np.mean(acc))
    for net, target, _ in GOALS:
        if net in f.nets:
            metrics[f"{net}_goal_met"] = float(f.goal_met(net, target))
    return metrics
