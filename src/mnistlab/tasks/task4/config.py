"""Task 4's options: the CNNs of the sweep and CNN-1's training recipe, and the MLPs set beside them with
Task 3's recipe, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, MinItems, rules_of
from mnistlab.execution.runtime import PRECISION
from mnistlab.models import parse_spec
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import (
    CNN1_TRAINING,
    DATA_LIMITS,
    MLP_SWEEP,
    MLP_SWEEP_TRAINING,
    check_model_fits,
    no_repeated_network,
)
from mnistlab.train import BATCH_SIZE, Precision, TrainConfig

# CNN-1 first; then one conv layer, two conv layers, CNN-1 at half width, and CNN-1 plus a fourth
# stride-2 layer: depth 1-4 at fixed width, and width halved at fixed depth.
DEFAULT_MODELS = ("32k4s1-64k4s2-128k4s2", "32k4s2", "32k4s1-64k4s2", "16k4s1-32k4s2-64k4s2",
                  "32k4s1-64k4s2-128k4s2-256k4s2")


@dataclass(frozen=True)
class Config(Constrained):
    models: tuple[str, ...] = opt(DEFAULT_MODELS,
        "CNN specs, <filters>k<kernel>s<stride> per conv layer joined by '-' (e.g. 32k4s1-64k4s2)", spec="cnn")
    epochs: int = opt(CNN1_TRAINING["brief"]["epochs"], "training epochs per CNN")
    batch_size: int = opt(CNN1_TRAINING["brief"]["batch_size"], "mini-batch size of the CNNs")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt(CNN1_TRAINING["brief"]["precision"], "CNNs' precision: auto, fp32 or bf16")
    channels_last: bool = opt(CNN1_TRAINING["brief"]["channels_last"],
                              "train the CNNs in channels-last memory format (faster with oneDNN)")
    train_limit: int | None = opt(None, "the first n training images (None: all 60,000)")
    test_limit: int | None = opt(None, "the first n test images (None: all 10,000)")
    mlp_models: tuple[str, ...] = opt(MLP_SWEEP,
        "the MLPs set beside the CNNs (Task 3's sweep; same spec grammar as task3.models)", spec="mlp")
    mlp_batch_size: int = opt(MLP_SWEEP_TRAINING["batch_size"], "mini-batch size of the MLPs")
    mlp_precision: Precision = opt(MLP_SWEEP_TRAINING["precision"], "MLPs' precision: auto, fp32 or bf16")

    CONSTRAINTS: ClassVar[Constraints] = {
        "models": [MinItems(message="{name} must name at least one CNN, e.g. 32k4s1-64k4s2-128k4s2"),
                   no_repeated_network("models=32k4s1-64k4s2,16k3s1")],
        "mlp_models": [no_repeated_network("mlp_models=1000-1000,500")],
        **rules_of(TrainConfig, "epochs", "batch_size", "lr", "precision"),
        "mlp_batch_size": [BATCH_SIZE],
        "mlp_precision": [PRECISION],
        **DATA_LIMITS,
    }

    def cross_check(self) -> None:
        for text in self.models:
            # the CNN parser names a bad spec; the meta-device build finds one that shrinks the image to nothing
            check_model_fits(parse_spec(text, "CNN"), "models")
        for text in self.mlp_models:
            check_model_fits(parse_spec(text, "MLP"), "mlp_models")


# CNN-1's recipe in each profile (common.CNN1_TRAINING), which Task 5 trains too.
PROFILES = {name: dict(CNN1_TRAINING[name]) for name in ("quick", "brief")}
