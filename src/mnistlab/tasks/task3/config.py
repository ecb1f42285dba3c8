"""Task 3's options: the MLPs of the sweep and the brief's training recipe, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, MinItems, rules_of
from mnistlab.models import parse_spec
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import DATA_LIMITS, MLP_SWEEP, MLP_SWEEP_TRAINING, check_model_fits, no_repeated_network
from mnistlab.train import Precision, TrainConfig

DEFAULT_MODELS = MLP_SWEEP


@dataclass(frozen=True)
class Config(Constrained):
    models: tuple[str, ...] = opt(DEFAULT_MODELS,
        "MLP specs, hidden widths joined by '-' (e.g. 1000-1000); the first is the Task 3.1 model", spec="mlp")
    epochs: int = opt(10, "training epochs per MLP")
    batch_size: int = opt(MLP_SWEEP_TRAINING["batch_size"], "mini-batch size")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt(MLP_SWEEP_TRAINING["precision"],
                               "auto, fp32 or bf16 (auto: bf16 where the CPU/GPU computes it natively)")
    train_limit: int | None = opt(None, "the first n training images (None: all 60,000)")
    test_limit: int | None = opt(None, "the first n test images (None: all 10,000)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "models": [MinItems(message="{name} must name at least one MLP, e.g. 1000-1000"),
                   no_repeated_network("models=1000-1000,500")],
        **rules_of(TrainConfig, "epochs", "batch_size", "lr", "precision"),
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        for text in self.models:
            check_model_fits(parse_spec(text, "MLP"), "models")


PROFILES = {
    "quick": {"epochs": 1, "train_limit": 6000, "test_limit": 2000},
    "brief": {"epochs": 10},
}
