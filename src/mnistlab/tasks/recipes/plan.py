"""The networks the recipes experiment trains, each recipe as a TrainConfig, and the comparisons it draws.

The ablation (MLP and CNN-1): the full recipe, the full recipe minus each ingredient, and the brief's plain
recipe (Adam, lr 1e-3 constant, the brief's epochs), each over `seeds` seeds (seed, seed + 1, ...), compared with
the full recipe by paired t-tests across the seeds (McNemar on the test predictions with one seed). Removing
`tta` or `select` changes nothing in training, so those two arms are read from the full recipe's networks: the
full network scored without test-time views (its checkpoint evaluated again), and its last epoch instead of the
selected one. Task 6's networks: the full recipe against the brief's. The multi-task network is trained at every
lambda with both recipes ("lambda-<l>" and "brief-lambda-<l>"), because the plan is fixed before any network has
trained and so before the lambda is chosen; at the lambda chosen on validation (among the full recipe's) it is
compared with the brief's recipe on each head, and with the single-task networks.
"""

from __future__ import annotations

from dataclasses import replace

from mnistlab.analysis.contrasts import SAME_MARGIN, Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import CNN1
from mnistlab.models.mlp import MLP_BRIEF
from mnistlab.tasks.common import classifier_run
from mnistlab.tasks.multitask import KIND_MTL, MTL_FORWARD_MACS, FashionData, MTLSpec, WeightingSpec
from mnistlab.tasks.recipes.config import (
    DIGIT_NETWORKS,
    FASHION_SINGLE,
    NETWORK_NAMES,
    Config,
)
from mnistlab.train import TrainConfig


def family(net: str) -> str:
    return "fashion" if net in ("item", "group", "mtl") else net


def is_brief(arm: str) -> bool:
    """Whether `arm` is the brief's plain recipe ("brief", or the MTL network's "brief-lambda-<l>")."""
    return arm == "brief" or arm.startswith("brief-")


def lambda_of(arm: str) -> float:
    """The loss weight of an MTL arm ("lambda-0.5" or "brief-lambda-0.5": 0.5)."""
    return float(arm.rsplit("lambda-", 1)[1])


def brief_arm(lam_arm: str) -> str:
    """The MTL network's brief-recipe arm at the lambda of the full-recipe arm `lam_arm`."""
    return f"brief-{lam_arm}"


def recipe(config: Config, net: str, arm: str) -> TrainConfig:
    """The TrainConfig of `arm` ("full", "brief", "minus-<ingredient>", or the MTL network's "lambda-<l>" at the
    full recipe and "brief-lambda-<l>" at the brief's) for network `net`."""
    fam = family(net)
    batch = {"mlp": config.mlp_batch_size, "cnn1": config.cnn_batch_size, "fashion": config.fashion_batch_size}[fam]
    holdout = 0.0 if fam == "fashion" else config.val_fraction  # Task 6's data carry their validation split
    common = {"batch_size": batch, "lr": config.lr, "precision": config.precision, "holdout": holdout,
              "channels_last": fam != "mlp", "eval_batch_size": 2500}
    if is_brief(arm):
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
    if arm.startswith(("lambda-", "brief-lambda-")):
        return f"{arm_label('brief' if is_brief(arm) else 'full')}, lambda {lambda_of(arm):g}"
    if arm == "full":
        return "full recipe"
    if arm == "brief":
        return "brief's recipe"
    return f"full minus {arm.removeprefix('minus-')}"


def trained_arms(config: Config, net: str) -> list[str]:
    """The recipes `net` is trained with (each a network per seed)."""
    if net in DIGIT_NETWORKS:
        return ["full", *(f"minus-{i}" for i in config.ablate), "brief"]
    if net == "mtl":
        full = [f"lambda-{lam:g}" for lam in config.lambdas]
        return full + [brief_arm(arm) for arm in full]
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
    lam = lambda_of(arm) if net == "mtl" else FASHION_SINGLE[net]
    return SubRun(kind=KIND_MTL.name, model=MTLSpec(), data=FashionData(n_train, n_val, config.test_limit), train=cfg,
                  objective=WeightingSpec("fixed", lam), seed=seed, name=name,
                  cost=6.0 * MTL_FORWARD_MACS * n_train * cfg.epochs)


def _planned(config: Config, seed: int) -> list[tuple[str, str, int, SubRun]]:
    """(network, arm, seed offset, sub-run) of every network the task trains."""
    return [(net, arm, k, run_for(config, net, arm, seed + k))
            for net in config.networks for arm in trained_arms(config, net)
            for k in range(arm_seeds(config, net, arm))]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in _planned(config, seed)]


def metric_name(net: str, arm: str, key: str = "test_acc") -> str:
    """The metric of `net` trained with `arm` (its test accuracy by default; `key`: another of its scores)."""
    return f"{net}_{arm.replace('-', '_').replace('.', '_')}_{key}"


def contrast(config: Config, net: str, a: str, b: str) -> Contrast:
    """`net` trained with recipe `a` against it trained with `b` (an arm read from the full recipe's own networks,
    'minus-tta' or 'minus-select', has no sub-run of its own: it is compared by its metric across seeds)."""
    def side(arm: str) -> Arm:
        trained = arm in trained_arms(config, net)
        return Arm(f"{NETWORK_NAMES[net]}, {arm_label(arm)}", metric_name(net, arm),
                   run=(lambda seed, arm=arm: run_for(config, net, arm, seed)) if trained else None,
                   correct="test_correct" if net in DIGIT_NETWORKS else f"correct_{net}")
    return Contrast(side(a), side(b), f"{NETWORK_NAMES[net]}: full recipe against {arm_label(b)}")


def contrasts(config: Config) -> list[Contrast]:
    """For the runner's table with --seeds: the full recipe against the brief's, per network. None where the
    task runs seeds of its own (`seeds` > 1): its ablation table tests that comparison across them, and the
    runner's table, over the runner's one seed, would repeat it with a weaker test of two trained networks."""
    if config.seeds > 1:
        return []
    return [contrast(config, net, "full", "brief") for net in config.networks if net != "mtl"]


def mtl_contrast(config: Config, lam_arm: str, head: str) -> Contrast:
    """The MTL network at `lam_arm` against the single-task CNN of `head`, both at the full recipe. The question
    is "no worse?", so the contrast carries the equivalence margin as well."""
    return Contrast(
        Arm(f"MTL (lambda {lam_arm.removeprefix('lambda-')}), {head}s", f"mtl_{head}",
            run=lambda seed: run_for(config, "mtl", lam_arm, seed), correct=f"correct_{head}"),
        Arm(f"single-task {head} CNN", f"single_{head}",
            run=lambda seed: run_for(config, head, "full", seed), correct=f"correct_{head}"),
        f"MTL network against the single-task {head} CNN, both at the full recipe", margin=SAME_MARGIN)


def mtl_recipe_contrast(config: Config, lam_arm: str, head: str) -> Contrast:
    """The MTL network at `lam_arm` (the lambda chosen on validation), full recipe against the brief's, on one
    head."""
    lam = lambda_of(lam_arm)
    return Contrast(
        Arm(f"MTL (lambda {lam:g}), {head}s, full recipe", f"mtl_full_{head}",
            run=lambda seed: run_for(config, "mtl", lam_arm, seed), correct=f"correct_{head}"),
        Arm(f"MTL (lambda {lam:g}), {head}s, brief's recipe", f"mtl_brief_{head}",
            run=lambda seed: run_for(config, "mtl", brief_arm(lam_arm), seed), correct=f"correct_{head}"),
        f"MTL network at lambda {lam:g}, {head}s: full recipe against brief's recipe")
