"""Extension (SPEC 8.1): hyperparameter studies, one variable at a time against a reference model.

Two references, one small MLP and one small CNN, are trained on MNIST and Fashion-MNIST; each study
changes exactly one thing about a reference (the weight initialisation, the optimiser, the pooling, ...)
and lists the values it tries, the reference's own value among them, so every study has a baseline row.
Every run holds out the last `val_fraction` of the training images, stops once the validation loss has
not improved for `patience` epochs (or at `max_epochs`), restores the weights of its best epoch, and only
then meets the test set, once.

A study value that equals the reference is the very same sub-run (same cache key), so the reference is
trained once per dataset however many studies list it, and an interrupted study resumes where it stopped.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import ticker
from torch import Tensor, nn

from mnistlab.data import DATASETS, load
from mnistlab.errors import ConfigError
from mnistlab.losses import LABEL_SMOOTHING, PenalisedLoss
from mnistlab.models import CNNSpec, MLPSpec, forward_macs
from mnistlab.runtime import PRECISIONS
from mnistlab.seeds import Arm, Contrast
from mnistlab.stats import ALPHA
from mnistlab.subrun import Env, SubRun, SubRunKind
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import check_data_limits, slug
from mnistlab.train import MAX_EPOCHS, Precision, TrainConfig, count_parameters, evaluate, fit, predict_logits
from mnistlab.viz import CLASS_COLOURS


@dataclass(frozen=True)
class Recipe:
    """Everything about one run that a study may change: the network, how it starts, what it minimises
    and how. The data, the epoch cap, patience and precision come from the Config and are the same for
    every run of a profile. The network's initialisation and pooling kind are fields of its spec."""

    spec: MLPSpec | CNNSpec
    output: str = "softmax"  # output activation; the network itself always ends in the linear logits
    loss: str = "ce"         # the cross-entropy that matches `output`, its label-smoothed form, or MSE
    kernel_l1: float = 0.0   # penalties added to the loss, Keras-style: l1 * sum|w| on weights only...
    kernel_l2: float = 0.0   # ...l2 * sum w^2 on weights only...
    bias_l2: float = 0.0     # ...and l2 * sum b^2 on biases only
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    batch_size: int = 128

    @property
    def family(self) -> str:
        return self.spec.family

    def objective(self, model: nn.Module) -> PenalisedLoss:
        """The loss this recipe trains `model` on: its output's data loss plus its penalties."""
        return PenalisedLoss(model, output=self.output, loss=self.loss, kernel_l1=self.kernel_l1,
                             kernel_l2=self.kernel_l2, bias_l2=self.bias_l2)


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
        ref = MLP_REFERENCE if self.family == "MLP" else CNN_REFERENCE
        return next(label for label, recipe in self.values.items() if recipe == ref)


def _study(name: str, title: str, values: dict[str, Recipe]) -> Study:
    ref = MLP_REFERENCE if next(iter(values.values())).family == "MLP" else CNN_REFERENCE
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


@dataclass(frozen=True)
class Config:
    datasets: tuple[str, ...] = DATASETS
    mlp_studies: tuple[str, ...] = tuple(MLP_STUDIES)
    cnn_studies: tuple[str, ...] = tuple(CNN_STUDIES)
    max_epochs: int = 30
    patience: int = 5           # epochs without a new best validation loss before a run stops
    val_fraction: float = 0.1   # the last 10% of the training images are the validation set
    precision: Precision = "auto"
    train_limit: int | None = None  # the first n training images (validation included)
    test_limit: int | None = None

    def validate(self) -> None:
        if not self.datasets:
            raise ConfigError(f"datasets must name at least one of {', '.join(DATASETS)}")
        for name in self.datasets:
            if name not in DATASETS:
                raise ConfigError(f"unknown dataset {name!r} in datasets; choose from {', '.join(DATASETS)}")
        if len(set(self.datasets)) != len(self.datasets):
            raise ConfigError(f"datasets lists a dataset twice: {', '.join(self.datasets)}")
        for option, names, known in (("mlp_studies", self.mlp_studies, MLP_STUDIES),
                                     ("cnn_studies", self.cnn_studies, CNN_STUDIES)):
            for name in names:
                if name not in known:
                    raise ConfigError(f"unknown study {name!r} in {option}; choose from {', '.join(known)}")
            if len(set(names)) != len(names):
                raise ConfigError(f"{option} lists a study twice: {', '.join(names)}")
        if not self.mlp_studies and not self.cnn_studies:
            raise ConfigError("mlp_studies and cnn_studies are both empty: name at least one study")
        if not 1 <= self.max_epochs <= MAX_EPOCHS:
            raise ConfigError(f"max_epochs must be at least 1 and at most {MAX_EPOCHS:,}, got {self.max_epochs}")
        if not 1 <= self.patience <= MAX_EPOCHS:
            raise ConfigError(f"patience must be at least 1 and at most {MAX_EPOCHS:,}, got {self.patience}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        check_data_limits(self.train_limit, self.test_limit)
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be between 0 and 1 (exclusive), got {self.val_fraction}")
        n_train, n_val = self.split_sizes()
        if n_val < 1 or n_train < 1:
            raise ConfigError(f"val_fraction {self.val_fraction} of {n_train + n_val:,} training images leaves "
                              f"{n_train:,} for training and {n_val:,} for validation; both must be at least 1")

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
                           channels_last=recipe.family == "CNN", patience=self.patience)

    def studies(self) -> list[Study]:
        return [MLP_STUDIES[n] for n in self.mlp_studies] + [CNN_STUDIES[n] for n in self.cnn_studies]


PROFILES = {
    # MNIST only, 2,000 training images (1,800 + 200 for validation), at most 2 epochs: a smoke test of
    # every study, whose numbers say little (batch 1024 gets 4 steps in all; nothing can stop early).
    "quick": {"datasets": ("mnist",), "max_epochs": 2, "train_limit": 2000, "test_limit": 2000},
    "brief": {"max_epochs": 30},
}


# ---------------------------------------------------------------------------------------------- models


def build_net(recipe: Recipe) -> nn.Sequential:
    """The recipe's network, built and initialised by its spec."""
    return recipe.spec.build()


Split = tuple[Tensor, Tensor]


def fit_recipe(model: nn.Module, recipe: Recipe, train: Split, val: Split, test: Split, cfg: TrainConfig, *,
               seed: int, desc: str = "", show_progress: bool | None = None) -> dict[str, Any]:
    """Train with early stopping on `val`, then (best weights restored) evaluate `test` once.

    The validation loss, which early stopping watches and the curves show, is the cross-entropy of the
    softmax of the outputs for every recipe, also those trained on MSE, sigmoid outputs or penalties: one
    yardstick, so that best epochs and curves compare across studies.
    """
    result = fit(model, train, None, cfg, seed=seed, objective=recipe.objective(model), val=val,
                 desc=desc, show_progress=show_progress)
    best = result.best_epoch or len(result.history)
    at_best = result.history[best - 1]
    tested = evaluate(model, test[0], test[1], batch_size=cfg.eval_batch_size, precision=cfg.precision,
                      channels_last=cfg.channels_last)
    return {
        "params": count_parameters(model),
        "history": result.history,
        "best_epoch": best,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "val_loss": at_best["val_loss"],
        "val_acc": at_best["val_acc"],
        "test_loss": tested["loss"],
        "test_acc": tested["acc"],
        "train_seconds": result.train_seconds,
    }


@dataclass(frozen=True)
class StudyData:
    """A dataset split three ways: the first n_train training images, the next n_val for validation
    (early stopping, best epoch), and the test set, scored once after the best weights are restored."""

    dataset: str
    view: str
    n_train: int
    n_val: int
    test_limit: int | None = None

    def load(self, device: torch.device, data_dir) -> tuple[Split, Split, Split]:
        kw = {"normalise": "unit", "view": self.view, "device": device, "data_dir": data_dir}
        x, y = load(self.dataset, "train", limit=self.n_train + self.n_val, **kw)
        xt, yt = load(self.dataset, "test", limit=self.test_limit, **kw)
        return (x[:self.n_train], y[:self.n_train]), (x[self.n_train:], y[self.n_train:]), (xt, yt)


def recipe_run(config: Config, dataset: str, recipe: Recipe, seed: int, name: str = "") -> SubRun:
    """One run of a study: the key holds everything that determines the weights. The same first weights
    (seed) for every value with the same architecture."""
    n_train, n_val = config.split_sizes()
    data = StudyData(dataset, recipe.spec.view, n_train, n_val, config.test_limit)
    # Cost at the epoch cap (early stopping usually ends sooner): an upper bound for plans.
    cost = 6.0 * forward_macs(build_net(recipe), recipe.spec.input_shape) * n_train \
        * config.max_epochs
    return SubRun(kind="hparams", model=recipe, data=data, train=config.train_config(recipe), seed=seed,
                  name=name or f"{dataset} {recipe.family}", cost=cost)


def _train_recipe(run: SubRun, model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    train, val, test = run.data.load(env.device, env.data_dir)
    record = fit_recipe(model, run.model, train, val, test, run.train, seed=run.seed, desc=run.label,
                        show_progress=env.show_progress)
    cfg = run.train
    pred = predict_logits(model, test[0], batch_size=cfg.eval_batch_size, precision=cfg.precision,
                          channels_last=cfg.channels_last)[0].argmax(1)
    return record, {"test_correct": (pred == test[1]).cpu().numpy()}


KIND_HPARAMS = SubRunKind(build=lambda run: build_net(run.model), train=_train_recipe)


def _runs(config: Config, seed: int) -> list[tuple[str, Study, str, SubRun]]:
    return [(d, s, label, recipe_run(config, d, recipe, seed, f"{d} {s.family} {s.name}={label}"))
            for d in config.datasets for s in config.studies() for label, recipe in s.values.items()]


def contrasts(config: Config) -> list[Contrast]:
    """Every value of every study against its reference, per dataset."""
    out = []
    for dataset in config.datasets:
        for study in config.studies():
            ref = study.values[study.reference]

            def arm(label: str, recipe: Recipe, study: Study = study, dataset: str = dataset) -> Arm:
                return Arm(f"{dataset} {study.family} {study.name}={label}",
                           metric_slug(dataset, study.family, study.name, label) + "_test_acc",
                           run=lambda seed: recipe_run(config, dataset, recipe, seed))

            out += [Contrast(arm(label, recipe), arm(study.reference, ref), f"{dataset} {study.family} {study.name}")
                    for label, recipe in study.values.items() if label != study.reference]
    return out


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in _runs(config, seed)]


# ----------------------------------------------------------------------------------------------- task


def metric_slug(*parts: str) -> str:
    """'fashion-mnist', 'MLP', 'init', 'N(0, 1)' -> 'fashion_mnist_mlp_init_n_0_1'."""
    return re.sub(r"_+", "_", "_".join(slug(p) for p in parts))


def accuracy_noise_pp(acc: float, n: int) -> float:
    """Half-width, in pp, of the 95% sampling interval of one accuracy measured on n test images."""
    return 100 * 1.96 * math.sqrt(max(acc * (1 - acc), 1e-12) / n)


def analyse(config: Config, ctx: Context) -> Result:
    result = Result()
    records: dict[tuple[str, Recipe], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for dataset, study, label, run in _runs(config, ctx.seed):
        records[(dataset, run.model)] = ctx.trained(run).record
        rows.append({"dataset": dataset, "study": study, "label": label, "family": study.family,
                     "recipe": run.model, "reference": label == study.reference, **records[(dataset, run.model)]})
    n_test = config.test_limit or 10_000
    for r in rows:
        ref = next(x for x in rows if x["dataset"] == r["dataset"] and x["study"] is r["study"] and x["reference"])
        r["delta_pp"] = 100 * (r["test_acc"] - ref["test_acc"])
        result.metrics[metric_slug(r["dataset"], r["family"], r["study"].name, r["label"]) + "_test_acc"] = \
            r["test_acc"]
    for dataset in config.datasets:
        for family in ("MLP", "CNN"):
            ref_recipe = MLP_REFERENCE if family == "MLP" else CNN_REFERENCE
            if (dataset, ref_recipe) in records:
                result.metrics[metric_slug(dataset, family, "reference") + "_test_acc"] = \
                    records[(dataset, ref_recipe)]["test_acc"]
        for study in config.studies():
            accs = [r["test_acc"] for r in rows if r["dataset"] == dataset and r["study"] is study]
            result.metrics[metric_slug(dataset, study.family, study.name) + "_spread_pp"] = \
                100 * (max(accs) - min(accs))

    n_train, n_val = config.split_sizes()
    result.tables["summary"] = Table(
        ["dataset", "model", "study", "value", "parameters", "best epoch", "epochs run", "val loss", "test acc",
         "vs reference, pp", "train s"],
        [[r["dataset"], r["family"], r["study"].name, r["label"], r["params"], r["best_epoch"], r["epochs_run"],
          round(r["val_loss"], 4), round(r["test_acc"], 4),
          "reference" if r["reference"] else f"{r['delta_pp']:+.2f}", round(r["train_seconds"], 1)] for r in rows],
        f"Every study value on every dataset: {n_train:,} training and {n_val:,} validation images (the last "
        f"{config.val_fraction:.0%} of the training set), {n_test:,} test images; early stopping after "
        f"{config.patience} epochs without a lower validation loss, at most {config.max_epochs} epochs; the "
        f"weights of the best epoch are restored before the test set is used. 'val loss' is the softmax "
        f"cross-entropy at the best epoch for every run. The reference row of each study is one and the same "
        f"run (seed {ctx.seed}, the same first weights for every value of the same architecture).")
    result.tables["references"] = Table(
        ["model", "network", "parameters", "recipe"],
        [[family, ref.spec.describe(), count_parameters(build_net(ref)), describe_training(ref)]
         for family, ref in (("MLP", MLP_REFERENCE), ("CNN", CNN_REFERENCE))
         if any(s.family == family for s in config.studies())],
        "The two reference models that every study changes one thing about.")

    for dataset in config.datasets:
        for family in ("MLP", "CNN"):
            family_rows = [r for r in rows if r["dataset"] == dataset and r["family"] == family]
            if family_rows:
                result.figures.append(ctx.figure(
                    plot_curves(family_rows, f"{dataset}: {family} studies, validation error and loss per epoch"),
                    f"curves_{slug(dataset)}_{family.lower()}",
                    f"{family} studies on {dataset}: validation error (top, log scale) and validation loss "
                    f"(bottom, log scale) per epoch, one panel per study and one line per value (black: the "
                    f"reference); the dot marks the restored best epoch, the legend gives the test accuracy."))
    noise = max(accuracy_noise_pp(r["test_acc"], n_test) for r in rows if r["reference"])
    result.figures.append(ctx.figure(
        plot_effects(rows, list(config.datasets), noise), "effects",
        f"Change in test accuracy against the reference for every non-reference value (symmetric log scale, "
        f"linear within +-1 pp); the grey band is +-{noise:.2f} pp, the 95% sampling interval of one "
        f"reference accuracy on {n_test:,} test images."))
    # Which values differ from their reference beyond chance: McNemar's test on the two networks' test-set
    # predictions (this seed); across several seeds the runner adds paired t-tests.
    tested = {(c.a.label, c.b.label): ctx.compare(c, result.metrics) for c in contrasts(config)}
    for r in rows:
        if not r["reference"]:
            outcome = tested[(f"{r['dataset']} {r['family']} {r['study'].name}={r['label']}",
                              f"{r['dataset']} {r['family']} {r['study'].name}={r['study'].reference}")]
            r["p"] = outcome.comparison.p if outcome.comparison is not None else math.nan
    result.text += discussion(rows, config, n_test)
    return result


def describe_training(recipe: Recipe) -> str:
    loss = {"ce": "cross-entropy", "ce-smooth": "label-smoothed cross-entropy", "mse": "MSE"}[recipe.loss]
    return (f"{recipe.optimizer} lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.spec.init} init, "
            f"{recipe.output} outputs, {loss}, no regularisation")


# ------------------------------------------------------------------------------------------------ plots


def _value_colours(study: Study) -> dict[str, str]:
    """Black for the reference, the palette's other colours in order for the rest."""
    palette = [c for c in CLASS_COLOURS if c != "#000000"]
    others = iter(palette)
    return {label: "#000000" if label == study.reference else next(others) for label in study.values}


class _PlainLogLabels(ticker.Formatter):
    """Plain numbers (0.2, 30) on a log axis rather than 2x10^-1. As minor labels: all of them on an axis
    spanning under half a decade, the 2s and 5s under a decade and a half, none on a wider one."""

    def __init__(self, minor: bool):
        self.minor = minor

    def __call__(self, x: float, pos: int | None = None) -> str:
        if x <= 0:
            return ""
        if self.minor:
            lo, hi = sorted(self.axis.get_view_interval())
            decades = math.log10(hi / lo) if lo > 0 else math.inf
            mantissa = round(x / 10 ** math.floor(math.log10(x) + 1e-9), 6)
            if decades > 1.5 or (decades > 0.5 and mantissa not in (2, 5)):
                return ""
        return f"{x:g}"


def _log_axis(ax: plt.Axes) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PlainLogLabels(minor=False))
    ax.yaxis.set_minor_formatter(_PlainLogLabels(minor=True))


def plot_curves(rows: list[dict[str, Any]], title: str) -> plt.Figure:
    """Per study a pair of panels, validation error above validation loss, one line per value. Log scales,
    because a value that breaks training (zero init, say) sits an order of magnitude away from the rest."""
    studies: list[Study] = list(dict.fromkeys(r["study"] for r in rows))
    blocks = -(-len(studies) // 5)
    cols = -(-len(studies) // blocks)  # 10 studies: 2 x 5 panels, 6 studies: 2 x 3
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(3.3 * cols, 4.6 * blocks), squeeze=False, sharex="col")
    for i, study in enumerate(studies):
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        colours = _value_colours(study)
        for r in (r for r in rows if r["study"] is study):
            hist = r["history"]
            epochs = [h["epoch"] for h in hist]
            style = {"color": colours[r["label"]], "lw": 2.0 if r["reference"] else 1.3}
            best = r["best_epoch"] - 1
            err = [max(100 * (1 - h["val_acc"]), 0.01) for h in hist]
            top.plot(epochs, err, label=f"{r['label']}: {r['test_acc']:.1%}", **style)
            top.plot(epochs[best], err[best], "o", ms=4, color=style["color"])
            loss = [h["val_loss"] for h in hist]
            bottom.plot(epochs, loss, **style)
            bottom.plot(epochs[best], loss[best], "o", ms=4, color=style["color"])
        top.set_title(study.title, fontsize=9)
        top.legend(fontsize=7, loc="best", handlelength=1.2)
        for ax in (top, bottom):
            _log_axis(ax)
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            ax.tick_params(labelsize=7, which="both")
        bottom.set_xlabel("epoch", fontsize=8)
        if i % cols == 0:
            top.set_ylabel("validation error, %", fontsize=8)
            bottom.set_ylabel("validation loss", fontsize=8)
    for j in range(len(studies), blocks * cols):
        axes[2 * (j // cols), j % cols].set_visible(False)
        axes[2 * (j // cols) + 1, j % cols].set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_effects(rows: list[dict[str, Any]], datasets: list[str], noise: float) -> plt.Figure:
    """One row per non-reference study value, one marker per dataset: the change in test accuracy."""
    families = [f for f in ("MLP", "CNN") if any(r["family"] == f for r in rows)]
    labels = {f: list(dict.fromkeys((r["study"].name, r["label"]) for r in rows
                                    if r["family"] == f and not r["reference"])) for f in families}
    heights = [max(len(labels[f]), 1) for f in families]
    fig, axes = plt.subplots(len(families), 1, figsize=(7.5, 1.4 + 0.24 * sum(heights)), squeeze=False,
                             sharex=True, gridspec_kw={"height_ratios": heights})
    markers = ("o", "s", "^", "D")
    lowest = min([r["delta_pp"] for r in rows] + [-noise])
    highest = max([r["delta_pp"] for r in rows] + [noise])
    for ax, family in zip(axes[:, 0], families, strict=True):
        y = {key: len(labels[family]) - 1 - i for i, key in enumerate(labels[family])}
        ax.axvspan(-noise, noise, color="0.88", zorder=0)
        ax.axvline(0, color="0.3", lw=0.8)
        keys = labels[family]
        for before, after in itertools.pairwise(keys):
            if before[0] != after[0]:  # a thin rule between studies
                ax.axhline(y[after] + 0.5, color="0.6", lw=0.6)
        for d, dataset in enumerate(datasets):
            pts = [(r["delta_pp"], y[(r["study"].name, r["label"])]) for r in rows
                   if r["family"] == family and r["dataset"] == dataset and not r["reference"]]
            if pts:
                ax.plot(*zip(*pts, strict=True), markers[d % len(markers)], color=CLASS_COLOURS[d], ms=5,
                        ls="none", label=dataset if ax is axes[0, 0] else None)
        ax.set_yticks(list(y.values()), [f"{s}: {v}" for s, v in y], fontsize=8)
        ax.set_ylim(-0.7, len(y) - 0.3)
        ax.grid(axis="y", visible=False)
        ax.set_title(f"{family} studies", fontsize=10)
    ax = axes[-1, 0]
    ax.set_xscale("symlog", linthresh=1.0)
    ticks = [t for t in (-100, -30, -10, -3, -1, 0, 1, 3, 10, 30, 100) if lowest * 1.5 - 1 <= t <= highest * 1.5 + 1]
    ax.set_xticks(ticks, [f"{t:+g}" if t else "0" for t in ticks])
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("test accuracy minus the reference's, pp (symmetric log scale)")
    fig.suptitle("What each change did, one variable at a time", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.legend(loc="upper right", fontsize=8, ncols=len(datasets))
    return fig


# ------------------------------------------------------------------------------------------- discussion


def _pp(value: float) -> str:
    return f"{value:+.2f} pp"


def discussion(rows: list[dict[str, Any]], config: Config, n_test: int) -> list[str]:
    """Paragraphs computed from this run's numbers: per dataset and family, which study moved test accuracy
    most and which values helped or hurt beyond the sampling noise; early stopping; datasets compared."""
    paragraphs = []
    spreads: dict[str, dict[str, float]] = {}
    for dataset in config.datasets:
        for family in ("MLP", "CNN"):
            fam = [r for r in rows if r["dataset"] == dataset and r["family"] == family]
            if not fam:
                continue
            ref = next(r for r in fam if r["reference"])
            noise = accuracy_noise_pp(ref["test_acc"], n_test)
            studies: list[Study] = list(dict.fromkeys(r["study"] for r in fam))
            spread = {}
            for s in studies:
                accs = {r["label"]: r["test_acc"] for r in fam if r["study"] is s}
                spread[s.name] = (100 * (max(accs.values()) - min(accs.values())), max(accs, key=accs.get),
                                  min(accs, key=accs.get))
            spreads[f"{dataset} {family}"] = {k: v[0] for k, v in spread.items()}
            ranked = sorted(spread.items(), key=lambda kv: -kv[1][0])
            others = [r for r in fam if not r["reference"]]
            # An effect is a difference McNemar's test finds on the same test images (p < 0.05).
            detected = [r for r in others if r.get("p", math.nan) < ALPHA]
            hurt = sorted((r for r in detected if r["delta_pp"] < 0), key=lambda r: r["delta_pp"])
            helped = sorted((r for r in detected if r["delta_pp"] > 0), key=lambda r: -r["delta_pp"])
            moved = {r["study"].name for r in detected}
            ranked = [(name, v) for name, v in ranked if name in moved] + [(n, v) for n, v in ranked if n not in moved]
            top_name, (top_spread, top_hi, top_lo) = ranked[0]
            quiet = [name for name, _ in ranked if name not in moved]
            text = (f"{dataset}, {family}: the reference scored {ref['test_acc']:.2%} on the test set (best epoch "
                    f"{ref['best_epoch']} of {ref['epochs_run']}; one accuracy on {n_test:,} test images carries a "
                    f"95% sampling interval of about +-{noise:.2f} pp). Each value is tested against the reference "
                    f"with McNemar's test on the same test images (this seed; seed variation comes on top), and only "
                    f"differences with p < 0.05 are read as effects. ")
            if top_name in moved:
                text += (f"The variable that mattered most was {top_name}: test accuracy ranged over {top_spread:.2f} "
                         f"pp, from '{top_lo}' to '{top_hi}'")
                runners = [f"{name} ({value:.2f} pp)" for name, (value, _, _) in ranked[1:3] if name in moved]
                text += (f"; next came {' and '.join(runners)}. " if runners else ". ")
            else:
                text += "No value of any study changed test accuracy detectably. "
            if hurt:
                text += "Values that hurt: " + ", ".join(f"{r['study'].name} '{r['label']}' ({_pp(r['delta_pp'])})"
                                                         for r in hurt) + ". "
            if helped:
                text += "Values that beat the reference: " + ", ".join(
                    f"{r['study'].name} '{r['label']}' ({_pp(r['delta_pp'])})" for r in helped) + ". "
            elif hurt:
                text += "No value beat the reference detectably. "
            if quiet and len(quiet) < len(ranked):
                text += f"No detectable change throughout: {', '.join(quiet)}."
            paragraphs.append(text.strip())

    runs = list({(r["dataset"], r["recipe"]): r for r in rows}.values())  # a shared reference is one run
    stopped = [r for r in runs if r["stopped_early"]]
    capped = [r for r in runs if not r["stopped_early"]]
    text = (f"Early stopping: {len(stopped)} of the {len(runs)} distinct runs stopped after {config.patience} "
            f"epochs without a lower validation loss")
    if stopped:
        text += f" (median best epoch {statistics.median(r['best_epoch'] for r in stopped):g})"
    text += f"; {len(capped)} reached the cap of {config.max_epochs} epochs"
    if config.max_epochs <= config.patience:
        text += (f" - with a cap of {config.max_epochs} and patience {config.patience} none could stop early, "
                 f"though each still returns the weights of its best epoch")
    elif capped:
        still = sum(r["best_epoch"] == r["epochs_run"] for r in capped)
        text += (f", {still} of them with their best validation loss in the last epoch, so they might have "
                 f"improved with more epochs")
    paragraphs.append(text + ".")

    if len(config.datasets) > 1:
        a, b = config.datasets[:2]
        # the median, so that one broken value (zero init) does not stand for the typical change
        typical = {d: statistics.median(abs(r["delta_pp"]) for r in rows if r["dataset"] == d and not r["reference"])
                   for d in (a, b)}
        bigger, smaller = (a, b) if typical[a] >= typical[b] else (b, a)
        text = (f"Across datasets: the median absolute change from the reference was {typical[bigger]:.2f} pp on "
                f"{bigger} and {typical[smaller]:.2f} pp on {smaller}.")
        for family in ("MLP", "CNN"):
            tops = [max(spreads[k], key=spreads[k].get) for k in (f"{a} {family}", f"{b} {family}") if k in spreads]
            if len(tops) == 2:
                text += (f" For the {family} the study with the widest spread was the same on both ({tops[0]})."
                         if tops[0] == tops[1] else
                         f" For the {family} the study with the widest spread was {tops[0]} on {a} but {tops[1]} "
                         f"on {b}.")
        paragraphs.append(text)
    return paragraphs


TASK = Task(
    name="hparams",
    title="Extension: hyperparameter studies, one variable at a time",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="an MLP and a CNN reference, each study changing one variable; early stopping on validation loss",
)
