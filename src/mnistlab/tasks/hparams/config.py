"""The hyperparameter studies' options: the two reference recipes, the studies (each one variable and the
values it tries, the reference's own among them) and the Config that picks datasets and studies and sets
the early stopping every run shares, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from mnistlab.constraints import Constrained, Constraints, Distinct, Interval, Members, MinItems
from mnistlab.data import DATASETS
from mnistlab.errors import ConfigError
from mnistlab.execution.runtime import PRECISION
from mnistlab.losses import LABEL_SMOOTHING
from mnistlab.models import CNNSpec, MLPSpec
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import DATA_LIMITS, VAL_FRACTION, check_validation_split
from mnistlab.tasks.hparams.networks import Recipe
from mnistlab.train import MAX_EPOCHS, Precision, TrainConfig

# The references are chosen to be small and standard, so that some 40 variants x 2 datasets x up to
# `max_epochs` epochs stay affordable on a CPU, yet good enough that a change can hurt visibly.
# MLP: [784, 256, 256, 10] ReLU with Adam 1e-3 and batch 128 - the usual textbook MLP (270 k parameters,
# a seventh of Task 3's), whose depth and width are in the middle of the values the studies try.
# CNN: two 3x3 'same' convolutions with 16 and 32 filters, each followed by 2x2 max-pooling, and a linear
# layer on the 32x7x7 maps (20 k parameters) - the classic small convnet; per image about 1.1 M
# multiply-adds, a twelfth of CNN-1's, so the filters study can double it and the depth study add layers.
MLP_REFERENCE = Recipe(spec=MLPSpec(hidden=(256, 256)))
CNN_REFERENCE = Recipe(spec=CNNSpec(channels=(16, 32), kernels=(3, 3), strides=(1, 1), padding="same",
                                    pool_after=(0, 1)))
# Each family's reference recipe, by the family its spec declares (MLPSpec.family, CNNSpec.family), in the
# order the findings, tables and prose take the families.
REFERENCES: dict[str, Recipe] = {r.family: r for r in (MLP_REFERENCE, CNN_REFERENCE)}


def _arch(reference: Recipe, **changes: Any) -> Recipe:
    """The reference with its network spec changed."""
    return replace(reference, spec=replace(reference.spec, **changes))


@dataclass(frozen=True)
class Study:
    """One variable, its values (label -> recipe) in plotting order, and a title for figures."""

    name: str
    title: str
    values: dict[str, Recipe] = field(hash=False)

    @property
    def family(self) -> str:
        return next(iter(self.values.values())).family

    @property
    def reference(self) -> str:
        """The label of the value that is the family's reference recipe."""
        ref = REFERENCES[self.family]
        return next(label for label, recipe in self.values.items() if recipe == ref)


def _study(name: str, title: str, values: dict[str, Recipe]) -> Study:
    ref = REFERENCES[next(iter(values.values())).family]
    if sum(recipe == ref for recipe in values.values()) != 1 or len(set(values.values())) != len(values):
        raise ValueError(f"study {name!r} must list the reference exactly once and no value twice")
    return Study(name, title, values)


_M, _C = MLP_REFERENCE, CNN_REFERENCE
MLP_STUDIES: dict[str, Study] = {s.name: s for s in (
    _study("init", "weight initialisation", {
        "default": _M, "glorot": _arch(_M, init="glorot"), "he": _arch(_M, init="he"),
        "N(0, 1)": _arch(_M, init="normal"), "zeros": _arch(_M, init="zeros")}),
    _study("dropout", "dropout after each hidden layer", {
        "0": _M, "0.2": _arch(_M, dropout=0.2), "0.5": _arch(_M, dropout=0.5)}),
    # Each optimiser at its customary learning rate (Keras' defaults; Adagrad at PyTorch's 0.01, since at
    # Keras' 0.001 it barely moves in a few epochs): the study compares optimisers as people use them.
    _study("optimizer", "optimiser (learning rate)", {
        "adam 1e-3": _M, "sgd 0.01": replace(_M, optimizer="sgd", lr=0.01),
        "sgd 0.01 m0.9": replace(_M, optimizer="sgd", lr=0.01, momentum=0.9),
        "rmsprop 1e-3": replace(_M, optimizer="rmsprop"), "adagrad 0.01": replace(_M, optimizer="adagrad", lr=0.01)}),
    _study("kernel_reg", "kernel (weight) regulariser", {
        "none": _M, "L2 1e-4": replace(_M, kernel_l2=1e-4), "L2 1e-3": replace(_M, kernel_l2=1e-3),
        "L1 1e-5": replace(_M, kernel_l1=1e-5), "L1 1e-4": replace(_M, kernel_l1=1e-4)}),
    _study("bias_reg", "bias regulariser", {
        "none": _M, "L2 1e-2": replace(_M, bias_l2=1e-2), "L2 1": replace(_M, bias_l2=1.0)}),
    _study("loss", "loss on the softmax outputs", {
        "cross-entropy": _M, f"CE, smoothing {LABEL_SMOOTHING:g}": replace(_M, loss="ce-smooth"),
        "MSE": replace(_M, loss="mse")}),
    _study("batch_size", "batch size", {
        "16": replace(_M, batch_size=16), "128": _M, "1024": replace(_M, batch_size=1024)}),
    _study("width", "hidden widths", {
        "64-64": _arch(_M, hidden=(64, 64)), "256-256": _M, "1024-1024": _arch(_M, hidden=(1024, 1024))}),
    _study("output", "output activation (with its cross-entropy)", {
        "softmax + CE": _M, "sigmoid + BCE": replace(_M, output="sigmoid")}),
    _study("depth", "hidden layers of 256", {
        str(d): _arch(_M, hidden=(256,) * d) for d in (1, 2, 3, 4)}),
)}

# CNN depth d: 16, 32, 64, 128 filters for the first d layers (doubling as the maps halve), each pooled.
CNN_STUDIES: dict[str, Study] = {s.name: s for s in (
    _study("kernel", "kernel size (every conv layer)", {
        f"{k}x{k}": _arch(_C, kernels=(k, k)) for k in (3, 5, 7)}),
    _study("filters", "filters per layer", {
        "8-16": _arch(_C, channels=(8, 16)), "16-32": _C, "32-64": _arch(_C, channels=(32, 64))}),
    _study("stride", "downsampling: stride 1 + max-pool, or stride 2", {
        "1 + max-pool": _C, "2, no pool": _arch(_C, strides=(2, 2), pool_after=())}),
    _study("padding", "padding", {"same": _C, "valid": _arch(_C, padding="valid")}),
    _study("pooling", "2x2 pooling after each conv", {
        "max": _C, "avg": _arch(_C, pool="avg"), "none": _arch(_C, pool_after=())}),
    _study("depth", "conv layers (16, 32, 64, 128 filters)", {
        str(d): _arch(_C, channels=(16, 32, 64, 128)[:d], kernels=(3,) * d, strides=(1,) * d,
                      pool_after=tuple(range(d))) for d in (1, 2, 3, 4)}),
)}


_STUDY_TWICE = "{name} lists a study twice: {joined}"
_EPOCH_COUNT = Interval(1, MAX_EPOCHS, message=f"{{name}} must be at least 1 and at most {MAX_EPOCHS:,}, got {{value}}")


@dataclass(frozen=True)
class Config(Constrained):
    datasets: tuple[str, ...] = opt(DATASETS, "data sets studied (mnist, fashion-mnist)")
    mlp_studies: tuple[str, ...] = opt(tuple(MLP_STUDIES), "the MLP's hyperparameter studies to run")
    cnn_studies: tuple[str, ...] = opt(tuple(CNN_STUDIES), "the CNN's hyperparameter studies to run")
    max_epochs: int = opt(30, "most epochs per run (early stopping usually ends it sooner)")
    patience: int = opt(5, "epochs without a new best validation loss before a run stops")
    val_fraction: float = opt(0.1, "the last share of the training images is the validation set")
    precision: Precision = opt("auto", "auto, fp32 or bf16")
    train_limit: int | None = opt(None, "the first n training images, validation included (None: all)")
    test_limit: int | None = opt(None, "the first n test images (None: all)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "datasets": [MinItems(message=f"{{name}} must name at least one of {', '.join(DATASETS)}"),
                     Members(DATASETS, noun="dataset"), Distinct(message="{name} lists a dataset twice: {joined}")],
        "mlp_studies": [Members(tuple(MLP_STUDIES), noun="study"), Distinct(message=_STUDY_TWICE)],
        "cnn_studies": [Members(tuple(CNN_STUDIES), noun="study"), Distinct(message=_STUDY_TWICE)],
        "max_epochs": [_EPOCH_COUNT],
        "patience": [_EPOCH_COUNT],
        "precision": [PRECISION],
        **DATA_LIMITS,
        "val_fraction": [VAL_FRACTION],
    }

    def cross_check(self) -> None:
        if not self.mlp_studies and not self.cnn_studies:
            raise ConfigError("mlp_studies and cnn_studies are both empty: name at least one study")
        check_validation_split(self.val_fraction, *self.split_sizes())

    def split_sizes(self) -> tuple[int, int]:
        """(training, validation) image counts: validation is the last `val_fraction` of the training images."""
        total = self.train_limit or 60_000
        n_val = round(total * self.val_fraction)
        return total - n_val, n_val

    def train_config(self, recipe: Recipe) -> TrainConfig:
        # channels_last for the CNNs: with bf16 it trained the reference CNN about 1.4x and the 32-64 one
        # about 1.6x faster than the default layout on an AVX512-BF16 CPU (no change in fp32).
        return TrainConfig(epochs=self.max_epochs, batch_size=recipe.batch_size, lr=recipe.lr,
                           optimizer=recipe.optimizer, momentum=recipe.momentum, precision=self.precision,
                           channels_last=recipe.spec.view == "image", patience=self.patience)

    def studies(self) -> list[Study]:
        return [MLP_STUDIES[n] for n in self.mlp_studies] + [CNN_STUDIES[n] for n in self.cnn_studies]


PROFILES = {
    # MNIST only, 2,000 training images (1,800 + 200 for validation), at most 2 epochs: a smoke test of
    # every study, whose numbers say little (batch 1024 gets 4 steps in all; nothing can stop early).
    "quick": {"datasets": ("mnist",), "max_epochs": 2, "train_limit": 2000, "test_limit": 2000},
    "brief": {"max_epochs": 30},
}
