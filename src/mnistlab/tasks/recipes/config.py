"""The recipes experiment's options: the networks, the seeds of each arm, the full recipe's ingredients and
the brief's epochs, with each profile's values.

The seeds are this task's own option (`seeds`), not the runner's --seeds: a run at --seed s trains seeds s, s + 1,
..., so two runner seeds would share networks and their aggregate would count them twice.

Budget of the extended profile: at most two hours of training on a 2-core CPU. It trains 52 networks:
  - three seeds of the full recipe and of the brief's for every network (the MLP, CNN-1, Task 6's item and
    group CNNs);
  - the MLP's four trained ablations (augment, schedule, smoothing, ema) on three seeds, CNN-1's on one seed
    (an epoch of CNN-1 costs 2-3x the MLP's; McNemar's test on two trained networks stands in for the paired
    t-test there, and the recipe is chosen among the arms trained on every seed);
  - the MTL network at lambdas 0.5 and 0.75, each with the full and with the brief's recipe, on three seeds
    each: the plan is fixed before anything trains, so the brief's twin of the lambda chosen on validation has
    to be trained at every lambda. Two lambdas, not three, for the budget: 0.25, 0.5 and 0.75 came within 0.12
    points of each other on validation in the first extended run, and a third would add six networks (about
    1,050 s);
  - 15 epochs of the full recipe for the MLP and CNN-1 (the brief's 10), 6 for Task 6's networks (the brief's 5).
    Task 6's networks still gain after 6: at 12 (`--set fashion_epochs=12`, measured for the single-task CNNs,
    docs/performance.md) items rise from 91.41 to 93.26% and groups from 94.16 to 95.08%, but twelve epochs
    for all twelve of their full-recipe networks would add about 2,200 s, past the budget.
Measured in the committed example (examples/brief, 2026-12-07, 2-core AMD EPYC with AVX512-BF16, idle): 6,631 s
of training (1 h 51 min; MLP 56-72 s a network, CNN-1 129-156 s, Task 6's networks 151-218 s) and 7,568 s
(2 h 06 min) with the scoring after each epoch, against 7,715 s planned by `mnistlab plan` at that machine's
reference rates. On a slower or busier machine lower the seeds or epochs with --set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, Distinct, Each, Interval, Members, MinItems, rules_of
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import DATA_LIMITS, VAL_FRACTION, check_validation_split
from mnistlab.train import Precision, TrainConfig

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
    lambdas: tuple[float, ...] = opt((0.5, 0.75), "the MTL network's loss weights, one chosen on validation")
    lambda_seeds: int = opt(1, "seeds of each lambda of the MTL network (each trained at the full and at the brief's "
                               "recipe)")
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
    # The study of issue 28, within two hours of training on a 2-core CPU (see this module's docstring).
    "extended": {"seeds": 3, "ablate": TRAINED_INGREDIENTS, "mlp_ablation_seeds": 3, "cnn_ablation_seeds": 1,
                 "lambdas": (0.5, 0.75), "lambda_seeds": 3},
}
