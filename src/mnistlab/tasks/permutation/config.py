"""The permutation extension's options: the two networks, the permutation's seed, the recipes (Task 3's for the
MLP, Task 4's for the CNN) and the data sets, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, Distinct, Interval, Members, MinItems, rules_of
from mnistlab.models import CNN1, parse_cnn, parse_mlp
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import CNN1_TRAINING, DATA_LIMITS, MLP_SWEEP_TRAINING, check_model_fits
from mnistlab.train import BATCH_SIZE, Precision, TrainConfig

DATASETS = ("mnist", "fashion-mnist")
_EACH_DATASET_ONCE = "{name} must name mnist and/or fashion-mnist once each, got {value}"


@dataclass(frozen=True)
class Config(Constrained):
    mlp: str = opt("1000-1000", "the MLP's spec (hidden widths; the brief's Task 3.1 MLP)", spec="mlp")
    cnn: str = opt(CNN1.name.removeprefix("CNN "), "the CNN's spec (conv layers; the brief's CNN-1)", spec="cnn")
    permutation_seed: int = opt(0, "seed of the fixed pixel permutation")
    epochs: int = opt(10, "training epochs per network")
    mlp_batch_size: int = opt(MLP_SWEEP_TRAINING["batch_size"], "mini-batch size of the MLP")
    cnn_batch_size: int = opt(CNN1_TRAINING["brief"]["batch_size"], "mini-batch size of the CNN")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt("auto", "auto, fp32 or bf16")
    train_limit: int | None = opt(None, "the first n training images (None: all)")
    test_limit: int | None = opt(None, "the first n test images (None: all)")
    datasets: tuple[str, ...] = opt(DATASETS, "data sets studied (mnist, fashion-mnist)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "datasets": [MinItems(message=_EACH_DATASET_ONCE), Distinct(message=_EACH_DATASET_ONCE),
                     Members(DATASETS, message="unknown dataset {item!r} in {name}; choose mnist or fashion-mnist")],
        # torch.Generator.manual_seed overflows beyond 2**63 - 1
        "permutation_seed": [Interval(0, 2**63, closed="left",
                                      message="{name} must be a whole number between 0 and 2**63 - 1, got {value}")],
        **rules_of(TrainConfig, "epochs", "lr", "precision"),
        "mlp_batch_size": [BATCH_SIZE],
        "cnn_batch_size": [BATCH_SIZE],
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        check_model_fits(parse_mlp(self.mlp), "mlp")
        check_model_fits(parse_cnn(self.cnn), "cnn")

    def mlp_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.mlp_batch_size, lr=self.lr, precision=self.precision)

    def cnn_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.cnn_batch_size, lr=self.lr, precision=self.precision,
                           channels_last=True)


# The same data and recipes as Tasks 3 and 4 in each profile, so the unpermuted networks are shared.
PROFILES = {
    "quick": {"epochs": 1, "train_limit": 6000, "test_limit": 2000, "datasets": ("mnist",),
              "cnn_batch_size": CNN1_TRAINING["quick"]["batch_size"]},
    "brief": {"epochs": 10},
}
