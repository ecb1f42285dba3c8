"""Extension: how far the brief's own networks go with a modern training recipe, each ingredient measured.

The architectures stay exactly the brief's (the MLP [784, 1000, 1000, 10], CNN-1, and Task 6's single-task
item and group CNNs and its multi-task network: parameter counts asserted in tests/test_recipes.py); only how
they are trained changes. The ingredients are options of the one engine (mnistlab.train.TrainConfig), so any
task can use them:

  augment    random views of each training batch on the device: rotation, scale and shift for digits
             ("affine"), mirror and shift for clothes ("flip-shift")
  schedule   cosine decay of the learning rate after a linear warm-up (`warmup` of all steps)
  smoothing  label smoothing of the cross-entropy
  ema        an exponential moving average of the weights, scored in place of the raw weights
  tta        test-time augmentation: the softmax averaged over the identity and fixed shifted (digits) or
             mirrored (clothes) views
  select     training length chosen on validation: the epoch with the best validation accuracy (of the
             scored weights, the average's) is restored

Every network of this task trains on the first nine tenths of the training images and is validated on the
last tenth (`val_fraction`), which no network trains on; the brief's plain recipe too, so that every arm sees
the same images. The recipe of each network is then chosen on validation: of the recipes it was trained with
(the full one, the full one minus each ingredient, the brief's), the one with the best mean validation
accuracy; the multi-task network's lambda likewise. The test set is scored once per trained network, and no
choice reads it.

The ablation (MLP and CNN-1): the full recipe, the full recipe minus each ingredient, and the brief's plain
recipe (Adam, lr 1e-3 constant, the brief's epochs), each over `seeds` seeds (seed, seed + 1, ...), compared with
the full recipe by paired t-tests across the seeds (McNemar on the test predictions with one seed). Removing
`tta` or `select` changes nothing in training, so those two arms are read from the full recipe's networks: the
full network scored without test-time views (its checkpoint evaluated again), and its last epoch instead of the
selected one. Task 6's networks: the full recipe against the brief's, and the multi-task network at the lambda
chosen on validation against the single-task networks on each head.

The seeds are this task's own option (`seeds`), not the runner's --seeds: a run at --seed s trains seeds s, s + 1,
..., so two runner seeds would share networks and their aggregate would count them twice.

Budget of the extended profile: at most two hours of training on a 2-core CPU. It trains 43 networks:
  - three seeds of the full recipe and of the brief's for every network;
  - the MLP's four trained ablations (augment, schedule, smoothing, ema) on three seeds, CNN-1's on one seed
    (McNemar's test on the test predictions stands in for the paired t-test there);
  - 15 epochs of the full recipe for the MLP and CNN-1 (the brief's 10), 6 for Task 6's networks (the brief's 5);
  - the MTL network's lambda chosen among 0.25, 0.5 and 0.75, one seed each.
`mnistlab plan recipes --profile extended` says 5.4 h when the cache has no finished sub-runs to measure its
throughput by (its fallback, a third of this machine's matmul peak, is pessimistic for these networks: it puts
Task 6's network at 156 s an epoch). From the lab's own idle measurements on this CPU (docs/performance.md: the
brief's MLP about 3.4 s an epoch in bf16, CNN-1 10.6 s at batch 128, Task 6's network 28-29 s) plus what the recipe adds
(an epoch of the full recipe took 1.5x the brief's for the MLP and about the same for CNN-1 in a 1-epoch timing
on a busy machine; test-time views on 16,000 validation and test images after each epoch, about 5 s for CNN-1
and 8 s for Task 6's network): MLP about 1,230 s, CNN-1 about 1,900 s, Task 6's networks about 3,060 s, and
about 430 s of one-off scoring, in all about 6,600 s = 1.84 h of training. The estimate has not been checked by
a full run; on a slower or busier machine lower the seeds or epochs with --set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from mnistlab.constraints import Constrained, Constraints, Distinct, Each, Interval, Members, MinItems, rules_of
from mnistlab.models import CNN1
from mnistlab.models.mlp import MLP_BRIEF
from mnistlab.seeds import SAME_MARGIN, Arm, Contrast, ContrastResult, compare_family
from mnistlab.stats import t_interval
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import (
    DATA_LIMITS,
    VAL_FRACTION,
    FashionData,
    MTLSpec,
    WeightingSpec,
    check_validation_split,
    classifier_run,
)
from mnistlab.train import Precision, TrainConfig, evaluate, holdout_split

NETWORKS = ("mlp", "cnn1", "item", "group", "mtl")
DIGIT_NETWORKS = ("mlp", "cnn1")
FASHION_SINGLE = {"item": 1.0, "group": 0.0}  # the single-task CNNs are the MTL network at lambda 1 and 0
NETWORK_NAMES = {"mlp": "MLP [784, 1000, 1000, 10]", "cnn1": "CNN-1 [32, 64, 128]",
                 "item": "single-task item CNN", "group": "single-task group CNN", "mtl": "MTL network"}
# Ingredients that change training, so that their ablation is a network of its own.
TRAINED_INGREDIENTS = ("augment", "schedule", "smoothing", "ema")
# Ingredients that act after training (on scoring, on which epoch is kept): read from the full recipe's runs.
SCORED_INGREDIENTS = ("tta", "select")
INGREDIENTS = TRAINED_INGREDIENTS + SCORED_INGREDIENTS
# Multiply-adds of one forward pass of Task 6's network, for cost estimates (as in tasks/task6.py).
MTL_FORWARD_MACS = 33_748_756


@dataclass(frozen=True)
class Config(Constrained):
    networks: tuple[str, ...] = opt(NETWORKS, "the brief's networks to train with both recipes: mlp, cnn1, item, "
                                              "group (Task 6's single-task CNNs) and mtl (its two-headed network)")
    seeds: int = opt(3, "seeds of each compared recipe: seed, seed + 1, ...")
    ablate: tuple[str, ...] = opt(TRAINED_INGREDIENTS, "ingredients whose full-recipe-minus-one arm is trained "
                                                       "for the MLP and CNN-1")
    mlp_ablation_seeds: int = opt(3, "seeds of the MLP's trained minus-one arms")
    cnn_ablation_seeds: int = opt(1, "seeds of CNN-1's trained minus-one arms (an epoch costs 3x the MLP's)")
    mlp_epochs: int = opt(15, "epochs of the MLP at the full recipe (the best epoch is kept on validation)")
    cnn_epochs: int = opt(15, "epochs of CNN-1 at the full recipe (the best epoch is kept on validation)")
    fashion_epochs: int = opt(6, "epochs of Task 6's networks at the full recipe")
    brief_digit_epochs: int = opt(10, "epochs of the brief's recipe for the MLP and CNN-1 (Tasks 3 and 4)")
    brief_fashion_epochs: int = opt(5, "epochs of the brief's recipe for Task 6's networks")
    mlp_batch_size: int = opt(50, "batch size of the MLP's full recipe")
    cnn_batch_size: int = opt(128, "batch size of CNN-1's full recipe")
    fashion_batch_size: int = opt(100, "batch size of Task 6's networks")
    lr: float = opt(1e-3, "peak learning rate of the full recipe's cosine schedule after warm-up (Adam)")
    warmup: float = opt(0.05, "fraction of the steps spent warming the learning rate up linearly")
    label_smoothing: float = opt(0.1, "label smoothing of the full recipe's cross-entropy")
    ema: float = opt(0.999, "decay of the moving average of the weights that the full recipe scores")
    lambdas: tuple[float, ...] = opt((0.25, 0.5, 0.75), "the MTL network's loss weights, one chosen on validation")
    lambda_seeds: int = opt(1, "seeds of each lambda of the MTL network (all trained at the full recipe)")
    precision: Precision = opt("auto", "auto (bf16 where the CPU or GPU has it natively), bf16 or fp32")
    val_fraction: float = opt(0.1, "the last fraction of the training images kept for validation")
    train_limit: int | None = opt(None, "use only the first N training images (None: all)")
    test_limit: int | None = opt(None, "score only the first N test images (None: all)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "networks": [MinItems(message="{name} must name at least one network"),
                     Members(NETWORKS, message="unknown network {item!r} in {name}; choose from {choices}"),
                     Distinct(message="{name} must not repeat, got {value}")],
        "ablate": [Members(TRAINED_INGREDIENTS, message="{name} lists the ingredients that change training, "
                                                        "{choices}; got {item!r} (tta and select are always "
                                                        "ablated, from the full recipe's own networks)"),
                   Distinct(message="{name} must not repeat, got {value}")],
        "seeds": [Interval(1, 100)],
        "mlp_ablation_seeds": [Interval(1, 100)],
        "cnn_ablation_seeds": [Interval(1, 100)],
        "lambda_seeds": [Interval(1, 100)],
        "mlp_epochs": rules_of(TrainConfig, "epochs")["epochs"],
        "cnn_epochs": rules_of(TrainConfig, "epochs")["epochs"],
        "fashion_epochs": rules_of(TrainConfig, "epochs")["epochs"],
        "brief_digit_epochs": rules_of(TrainConfig, "epochs")["epochs"],
        "brief_fashion_epochs": rules_of(TrainConfig, "epochs")["epochs"],
        "mlp_batch_size": rules_of(TrainConfig, "batch_size")["batch_size"],
        "cnn_batch_size": rules_of(TrainConfig, "batch_size")["batch_size"],
        "fashion_batch_size": rules_of(TrainConfig, "batch_size")["batch_size"],
        "lambdas": [Each(Interval(0, 1, closed="neither"),
                         message="every lambda mixes both losses, so it lies strictly between 0 and 1, got {value}"),
                    Distinct(message="{name} must not repeat, got {value}")],
        **rules_of(TrainConfig, "lr", "warmup", "label_smoothing", "ema", "precision"),
        "val_fraction": [VAL_FRACTION],
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        check_validation_split(self.val_fraction, *self.split_sizes())
        if not self.lambdas and "mtl" in self.networks:
            from mnistlab.errors import ConfigError

            raise ConfigError("the mtl network needs at least one lambda to choose from")

    def split_sizes(self) -> tuple[int, int]:
        """(training, validation) image counts: validation is the last `val_fraction` of the training images."""
        total = self.train_limit or 60_000
        n_val = round(total * self.val_fraction)
        return total - n_val, n_val


PROFILES = {
    # A smoke test on subsets: one seed, one or two epochs, every arm, one lambda. Its numbers test the machinery.
    "quick": {"seeds": 1, "mlp_ablation_seeds": 1, "cnn_ablation_seeds": 1, "mlp_epochs": 2, "cnn_epochs": 2,
              "fashion_epochs": 1, "brief_digit_epochs": 1, "brief_fashion_epochs": 1, "train_limit": 1200,
              "test_limit": 500, "lambdas": (0.5,), "ema": 0.9, "cnn_batch_size": 50, "fashion_batch_size": 50},
    # Not the assignment's: in a brief run only the full recipe against the brief's, on one seed.
    "brief": {"seeds": 1, "ablate": (), "lambdas": (0.5,)},
    # The study of issue 28, within two hours of training on a 2-core CPU (see the module docstring).
    "extended": {"seeds": 3, "ablate": TRAINED_INGREDIENTS, "mlp_ablation_seeds": 3, "cnn_ablation_seeds": 1,
                 "lambdas": (0.25, 0.5, 0.75)},
}


# ------------------------------------------------------------------------------------------------ recipes


def family(net: str) -> str:
    return "fashion" if net in ("item", "group", "mtl") else net


def recipe(config: Config, net: str, arm: str) -> TrainConfig:
    """The TrainConfig of `arm` ("full", "brief" or "minus-<ingredient>") for network `net`."""
    fam = family(net)
    batch = {"mlp": config.mlp_batch_size, "cnn1": config.cnn_batch_size, "fashion": config.fashion_batch_size}[fam]
    holdout = 0.0 if fam == "fashion" else config.val_fraction  # Task 6's data carry their validation split
    common = {"batch_size": batch, "lr": config.lr, "precision": config.precision, "holdout": holdout,
              "channels_last": fam != "mlp", "eval_batch_size": 2500}
    if arm == "brief":
        epochs = config.brief_fashion_epochs if fam == "fashion" else config.brief_digit_epochs
        return TrainConfig(epochs=epochs, **common)
    epochs = {"mlp": config.mlp_epochs, "cnn1": config.cnn_epochs, "fashion": config.fashion_epochs}[fam]
    full = TrainConfig(epochs=epochs, augment="flip-shift" if fam == "fashion" else "affine",
                       lr_schedule="cosine", warmup=config.warmup, label_smoothing=config.label_smoothing,
                       ema=config.ema, tta="flip" if fam == "fashion" else "shift", select="best-val", **common)
    if arm == "full" or arm.startswith("lambda-"):  # the MTL network's lambdas all train at the full recipe
        return full
    off = {"augment": {"augment": "none"}, "schedule": {"lr_schedule": "constant", "warmup": 0.0},
           "smoothing": {"label_smoothing": 0.0}, "ema": {"ema": 0.0}}[arm.removeprefix("minus-")]
    return replace(full, **off)


def arm_label(arm: str) -> str:
    if arm == "full":
        return "full recipe"
    if arm == "brief":
        return "brief's recipe"
    if arm.startswith("lambda-"):
        return f"full recipe, lambda {arm.removeprefix('lambda-')}"
    return f"full minus {arm.removeprefix('minus-')}"


def trained_arms(config: Config, net: str) -> list[str]:
    """The recipes `net` is trained with (each a network per seed)."""
    if net in DIGIT_NETWORKS:
        return ["full", *(f"minus-{i}" for i in config.ablate), "brief"]
    if net == "mtl":
        return [f"lambda-{lam:g}" for lam in config.lambdas]
    return ["full", "brief"]


def arm_seeds(config: Config, net: str, arm: str) -> int:
    """How many seeds `arm` of `net` trains on."""
    if net in DIGIT_NETWORKS and arm.startswith("minus-"):
        return min(config.mlp_ablation_seeds if net == "mlp" else config.cnn_ablation_seeds, config.seeds)
    if net == "mtl":
        return min(config.lambda_seeds, config.seeds)
    return config.seeds


def run_for(config: Config, net: str, arm: str, seed: int) -> SubRun:
    """The sub-run of `net` trained with `arm` at `seed`."""
    cfg = recipe(config, net, arm)
    name = f"recipes: {NETWORK_NAMES[net]}, {arm_label(arm)}, seed {seed}"
    if net in DIGIT_NETWORKS:
        spec = MLP_BRIEF if net == "mlp" else CNN1
        run = classifier_run(spec, cfg, seed=seed, train_limit=config.train_limit, test_limit=config.test_limit,
                             keep_checkpoint=arm == "full", name=name)
        # The MLP reads the images as images (its first layer flattens them), so that they can be augmented.
        return replace(run, data=replace(run.data, view="image")) if net == "mlp" else run
    n_train, n_val = config.split_sizes()
    lam = float(arm.removeprefix("lambda-")) if net == "mtl" else FASHION_SINGLE[net]
    return SubRun(kind="mtl", model=MTLSpec(), data=FashionData(n_train, n_val, config.test_limit), train=cfg,
                  objective=WeightingSpec("fixed", lam), seed=seed, name=name,
                  cost=6.0 * MTL_FORWARD_MACS * n_train * cfg.epochs)


def _planned(config: Config, seed: int) -> list[tuple[str, str, int, SubRun]]:
    """(network, arm, seed offset, sub-run) of every network the task trains."""
    return [(net, arm, k, run_for(config, net, arm, seed + k))
            for net in config.networks for arm in trained_arms(config, net)
            for k in range(arm_seeds(config, net, arm))]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in _planned(config, seed)]


# ------------------------------------------------------------------------------------- reading the runs


def choose(val_acc: dict[str, list[float]]) -> str:
    """The arm with the best mean validation accuracy (the first listed on a tie). It sees validation
    numbers only: the test set plays no part in any choice."""
    return max(val_acc, key=lambda arm: (float(np.mean(val_acc[arm])), -list(val_acc).index(arm)))


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
    net: str
    seeds: list[int]
    scores: dict[int, dict[str, dict[str, Any]]]  # seed -> arm -> scores
    chosen: str  # the arm chosen on validation
    outcomes: dict[str, ContrastResult]  # arm -> its comparison with the full recipe

    def values(self, arm: str, key: str = "test_acc") -> list[float]:
        return [self.scores[s][arm][key] for s in self.seeds if arm in self.scores[s]]


def metric_name(net: str, arm: str, key: str = "test_acc") -> str:
    return f"{net}_{arm.replace('-', '_').replace('.', '_')}_{key}"


def _per_seed_metrics(f: NetFindings) -> dict[int, dict[str, float]]:
    return {s: {metric_name(f.net, arm, k): v for arm, sc in f.scores[s].items() for k, v in sc.items()
                if k.startswith(("test_acc", "val_acc", "seconds")) and isinstance(v, int | float)}
            for s in f.seeds}


def _net_findings(config: Config, ctx: Context, net: str) -> NetFindings:
    seeds = [ctx.seed + k for k in range(config.seeds)]
    read = _digit_scores if net in DIGIT_NETWORKS else _fashion_scores
    scores = {s: read(config, ctx, net, s) for s in seeds}
    arms = list(scores[seeds[0]])
    val = {arm: [scores[s][arm]["val_acc"] for s in seeds if arm in scores[s]] for arm in arms}
    chosen = choose(val)
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
            results = compare_family([_contrast(config, net, "full", arm) for arm in group], list(both), per_seed,
                                     ctx.finished)
            outcomes.update(zip(group, results, strict=True))
    return NetFindings(net, seeds, scores, chosen, outcomes)


def _contrast(config: Config, net: str, a: str, b: str) -> Contrast:
    def side(arm: str) -> Arm:
        trained = arm in trained_arms(config, net)
        return Arm(f"{NETWORK_NAMES[net]}, {arm_label(arm)}", metric_name(net, arm),
                   run=(lambda seed, arm=arm: run_for(config, net, arm, seed)) if trained else None,
                   correct="test_correct" if net in DIGIT_NETWORKS else f"correct_{net}")
    return Contrast(side(a), side(b), f"{NETWORK_NAMES[net]}: full recipe against {arm_label(b)}")


@dataclass
class MTLFindings:
    lam: float  # chosen on validation
    item: ContrastResult | None  # MTL's item head against the single-task item CNN (both at their full recipe)
    group: ContrastResult | None
    item_acc: list[float]
    group_acc: list[float]


def _mtl_findings(config: Config, ctx: Context, mtl: NetFindings, nets: dict[str, NetFindings]) -> MTLFindings:
    lam_arm = mtl.chosen
    seeds = [s for s in mtl.seeds if lam_arm in mtl.scores[s]]
    item, group = mtl.values(lam_arm, "test_acc_item"), mtl.values(lam_arm, "test_acc_group")
    outcomes: dict[str, ContrastResult | None] = {"item": None, "group": None}
    heads = [head for head in ("item", "group") if head in nets]
    # Both heads against their single-task CNNs form one family; the question is "no worse?", so each
    # contrast carries the equivalence margin as well.
    per_seed = {s: {**{f"mtl_{h}": mtl.scores[s][lam_arm][f"test_acc_{h}"] for h in heads},
                    **{f"single_{h}": nets[h].scores[s]["full"]["test_acc"] for h in heads}} for s in seeds}
    contrasts = [Contrast(
        Arm(f"MTL (lambda {lam_arm.removeprefix('lambda-')}), {head}s", f"mtl_{head}",
            run=lambda seed: run_for(config, "mtl", lam_arm, seed), correct=f"correct_{head}"),
        Arm(f"single-task {head} CNN", f"single_{head}",
            run=lambda seed, head=head: run_for(config, head, "full", seed), correct=f"correct_{head}"),
        f"MTL network against the single-task {head} CNN, both at the full recipe", margin=SAME_MARGIN)
        for head in heads]
    outcomes.update(zip(heads, compare_family(contrasts, seeds, per_seed, ctx.finished), strict=True))
    return MTLFindings(float(lam_arm.removeprefix("lambda-")), outcomes["item"], outcomes["group"], item, group)


# ----------------------------------------------------------------------------------------- the report

# The issue's goals: (network, least test accuracy of its recipe chosen on validation, in words).
GOALS = (("cnn1", 0.996, "CNN-1 at least 99.60%"), ("mlp", 0.989, "the MLP [1000, 1000] at least 98.90%"),
         ("item", 0.940, "the single-task item CNN at least 94.0%"),
         ("group", 0.965, "the single-task group CNN at least 96.5%"))


def _interval_text(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}%"
    iv = t_interval(values)
    return f"{100 * iv.mean:.2f} ± {100 * iv.half_width:.2f}%"


def _difference_text(o: ContrastResult | None) -> tuple[str, str]:
    c = o.comparison if o is not None else None
    if c is None:
        return "-", "-"
    p = o.p_adjusted if o.adjustment else c.p  # adjusted within the network's ablation family where it has one
    return f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f}", (f"{p:.4f}" if p >= 0.0001 else "< 0.0001")


def analyse(config: Config, ctx: Context) -> Result:
    nets = {net: _net_findings(config, ctx, net) for net in config.networks}
    mtl = _mtl_findings(config, ctx, nets["mtl"], nets) if "mtl" in nets else None
    smoke = ctx.profile == "quick"
    metrics: dict[str, float] = {}
    rows, choice_rows = [], []
    for net, f in nets.items():
        for arm in f.scores[f.seeds[0]]:
            test = f.values(arm) if net != "mtl" else f.values(arm, "test_acc_item")
            if net == "mtl":
                for head in ("item", "group"):
                    head_acc = f.values(arm, f"test_acc_{head}")
                    metrics[metric_name(net, arm, f"{head}_test_acc")] = float(np.mean(head_acc))
            else:
                metrics[metric_name(net, arm)] = float(np.mean(test))
                if len(test) > 1:
                    metrics[metric_name(net, arm, "test_acc_ci95")] = t_interval(test).half_width
            metrics[metric_name(net, arm, "val_acc")] = float(np.mean(f.values(arm, "val_acc")))
            seconds = f.values(arm, "seconds")
            metrics[metric_name(net, arm, "seconds")] = float(np.mean(seconds))
            if net == "mtl":
                continue
            diff, p = _difference_text(f.outcomes.get(arm))
            rows.append([NETWORK_NAMES[net], arm_label(arm), len(test), _interval_text(test),
                         f"{100 * float(np.mean(f.values(arm, 'val_acc'))):.2f}%", diff, p,
                         f.outcomes[arm].text if arm in f.outcomes else "(the reference)",
                         round(float(np.mean(seconds)), 1)])
        if net != "mtl":
            chosen = f.values(f.chosen)
            metrics[f"{net}_chosen_test_acc"] = float(np.mean(chosen))
            choice_rows.append([NETWORK_NAMES[net], arm_label(f.chosen),
                                f"{100 * float(np.mean(f.values(f.chosen, 'val_acc'))):.2f}%", _interval_text(chosen)])
    tables = {"ablation": Table(
        ["network", "recipe", "seeds", "test acc (mean ± 95%)", "val acc", "full minus this, points (95%)",
         "p (Holm-adjusted)", "verdict", "training s per network"], rows,
        "Each recipe of each network over its seeds: test accuracy as the mean with its 95% t-interval, and its "
        "difference from the full recipe (paired t-test across seeds; with one seed McNemar's test on the test "
        "predictions, and 'not tested' for an arm read from the full recipe's own networks). 'full minus tta' and "
        "'full minus select' are the full recipe's networks scored without test-time views, and at their last "
        "epoch; their training time is the full recipe's.")}
    if mtl is not None:
        metrics["mtl_chosen_lambda"] = mtl.lam
        metrics["mtl_chosen_item_test_acc"] = float(np.mean(mtl.item_acc))
        metrics["mtl_chosen_group_test_acc"] = float(np.mean(mtl.group_acc))
        mtl_rows = []
        for head, o in (("item", mtl.item), ("group", mtl.group)):
            diff, p = _difference_text(o)
            mtl_rows.append([head, _interval_text(mtl.item_acc if head == "item" else mtl.group_acc),
                             _interval_text(nets[head].values("full")) if head in nets else "-", diff, p,
                             o.text if o is not None else "-"])
        choice_rows.append([NETWORK_NAMES["mtl"], f"full recipe at lambda {mtl.lam:g}",
                            f"{100 * float(np.mean(nets['mtl'].values(nets['mtl'].chosen, 'val_acc'))):.2f}% "
                            "(mean of both heads)", f"items {_interval_text(mtl.item_acc)}, groups "
                                                    f"{_interval_text(mtl.group_acc)}"])
        tables["mtl"] = Table(["head", f"MTL at lambda {mtl.lam:g}", "single-task CNN", "MTL minus single, points",
                               "p", "verdict"], mtl_rows,
                              f"Task 6's multi-task network at the lambda chosen on validation ({mtl.lam:g} of "
                              f"{', '.join(f'{lam:g}' for lam in config.lambdas)}) against the single-task CNNs, all "
                              "at the full recipe.")
    tables["choice"] = Table(["network", "recipe chosen on validation", "its validation accuracy",
                              "its test accuracy"], choice_rows,
                             "One recipe per network, chosen on the validation images (the last tenth of the "
                             "training images) among the recipes it was trained with; the test set plays no part.")
    goal_rows = []
    for net, target, words in GOALS:
        if net in nets:
            values = nets[net].values(nets[net].chosen)
            met = "not judged (quick profile)" if smoke else ("met" if float(np.mean(values)) >= target else "not met")
            goal_rows.append([words, _interval_text(values), met])
            metrics[f"{net}_goal_met"] = float(float(np.mean(values)) >= target)
    if mtl is not None:
        for head, o in (("item", mtl.item), ("group", mtl.group)):
            if o is None or o.comparison is None:
                continue
            c = o.comparison
            worse = o.detected and c.difference < 0  # after the two heads' adjustment
            judged = "not met" if worse else ("met" if o.equivalence_word != "undecided" or c.difference >= 0
                                              else "undecided (more seeds would tell)")
            goal_rows.append([f"the MTL network no worse than the single-task {head} CNN",
                              f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f} points",
                              "not judged (quick profile)" if smoke else judged])
    tables["goals"] = Table(["goal (issue 28)", "measured (recipe chosen on validation)", "verdict"], goal_rows,
                            "The goals as means over the seeds on the untouched test set.")
    figures = [_curves_figure(config, ctx, nets)]
    return Result(metrics=metrics, tables=tables, figures=figures,
                  paragraphs={"ingredients": _ingredients_text(nets, smoke)})


def _ingredients_text(nets: dict[str, NetFindings], smoke: bool) -> str:
    parts = []
    for net in DIGIT_NETWORKS:
        if net not in nets:
            continue
        f = nets[net]
        for arm, o in f.outcomes.items():
            if arm == "brief":
                continue
            parts.append(f"{NETWORK_NAMES[net]}, {arm.removeprefix('minus-')}: {o.text}")
    head = ("What each ingredient bought (the full recipe against the full recipe without it; quick profile: "
            "subsets and 1-2 epochs, so these test the machinery, not the ingredients): " if smoke else
            "What each ingredient bought (the full recipe against the full recipe without it): ")
    return head + ("; ".join(parts) if parts else "no ingredient was ablated in this profile") + "."


def _curves_figure(config: Config, ctx: Context, nets: dict[str, NetFindings]) -> Figure:
    """Test accuracy per epoch, the brief's recipe against the full one, mean over the seeds, per network."""
    import matplotlib.pyplot as plt

    shown = [n for n in nets if n != "mtl"]
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(4 * max(1, len(shown)), 3.4), squeeze=False)
    for ax, net in zip(axes[0], shown, strict=False):
        f = nets[net]
        key = "test_acc" if net in DIGIT_NETWORKS else f"test_acc_{net}"
        for arm, style in (("brief", "--"), ("full", "-")):
            curves = [f.scores[s][arm]["history"] for s in f.seeds if arm in f.scores[s]]
            acc = np.mean([[h[key] for h in c] for c in curves], axis=0)
            ax.plot(range(1, len(acc) + 1), 100 * acc, style, marker="o", ms=3, label=arm_label(arm))
        ax.set_title(NETWORK_NAMES[net], fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy, %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return ctx.figure(fig, "curves", "Test accuracy after each epoch, the brief's recipe (dashed) against the full "
                                     "recipe (solid; its scored weights are the moving average), mean over the "
                                     "seeds. The networks keep the epoch chosen on validation, not the last one.")


def contrasts(config: Config) -> list[Contrast]:
    """For the runner's table with --seeds: the full recipe against the brief's, per network."""
    return [_contrast(config, net, "full", "brief") for net in config.networks if net != "mtl"]


TASK = Task(
    name="recipes",
    title="Extension: the brief's networks with a modern training recipe",
    key_table="ablation",
    key_figure="curves",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="the brief's MLP, CNN-1 and Task 6 networks, unchanged, trained with augmentation, a cosine "
                "schedule, label smoothing, a weight average, test-time views and length chosen on validation",
    # Rescoring the kept networks without test-time views and the curves figure: seconds, not minutes.
    analysis_cost=lambda config: 5.0,
)
