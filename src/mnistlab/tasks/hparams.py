"""Extension: hyperparameter studies, one variable at a time against a reference model.

Two references, one small MLP and one small CNN, are trained on MNIST and Fashion-MNIST; each study
changes exactly one thing about a reference (the weight initialisation, the optimiser, the pooling, ...)
and lists the values it tries, the reference's own value among them, so every study has a baseline row.
Every run holds out the last `val_fraction` of the training images, stops once the validation loss has
not improved for `patience` epochs (or at `max_epochs`), restores the weights of its best epoch, and only
then meets the test set, once.

A study value that equals the reference is the very same sub-run (same cache key), so the reference is
trained once per dataset however many studies list it, and an interrupted study resumes where it stopped.

The analysis reads the runs into `Findings` (compute_findings, McNemar p-values included); metrics, tables,
the figures (mnistlab.viz.studies) and the prose (`prose`: paragraph id -> text) are drawn from those alone.
The prose also sets Report C's qualitative findings against ours (`REPORT_C_CLAIMS`: each claim with the
study it maps to and the rule that judges it on our numbers; mnistlab.claims).
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from mnistlab.claims import ClaimVerdict, PublishedClaim, claims_paragraph
from mnistlab.constraints import Constrained, Constraints, Distinct, Interval, Members, MinItems
from mnistlab.data import DATASETS, load
from mnistlab.errors import ConfigError
from mnistlab.losses import LABEL_SMOOTHING, PenalisedLoss
from mnistlab.models import CNNSpec, MLPSpec, ModelSpec, spec_forward_macs
from mnistlab.runtime import PRECISION
from mnistlab.seeds import ONE_RUN, Arm, Contrast
from mnistlab.stats import ALPHA, MANY, p_text
from mnistlab.subrun import Env, SubRun, SubRunKind
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import DATA_LIMITS, VAL_FRACTION, check_validation_split, slug
from mnistlab.train import MAX_EPOCHS, Precision, TrainConfig, count_parameters, evaluate, fit, predict_logits
from mnistlab.viz.studies import plot_curves, plot_effects


@dataclass(frozen=True)
class Recipe:
    """Everything about one run that a study may change: the network, how it starts, what it minimises
    and how. The data, the epoch cap, patience and precision come from the Config and are the same for
    every run of a profile. The network's initialisation and pooling kind are fields of its spec."""

    spec: ModelSpec
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
# Each family's reference recipe, by the family its spec declares.
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


# ---------------------------------------------------------------------------------------------- models


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
    cost = 6.0 * spec_forward_macs(recipe.spec) * n_train * config.max_epochs
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


KIND_HPARAMS = SubRunKind(build=lambda run: run.model.spec.build(), train=_train_recipe)


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

def describe_training(recipe: Recipe) -> str:
    loss = {"ce": "cross-entropy", "ce-smooth": "label-smoothed cross-entropy", "mse": "MSE"}[recipe.loss]
    return (f"{recipe.optimizer} lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.spec.init} init, "
            f"{recipe.output} outputs, {loss}, no regularisation")


# -------------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class FamilyFindings:
    """One model family on one dataset: its reference, how far each study moved test accuracy, and which
    values differed from the reference beyond chance (McNemar's test on the same test images, p < ALPHA)."""

    dataset: str
    family: str
    ref_acc: float
    ref_best_epoch: int
    ref_epochs_run: int
    noise_pp: float  # half-width of the 95% sampling interval of the reference's accuracy
    spreads: dict[str, tuple[float, str, str]]  # study -> (max - min test accuracy in pp, best value, worst value)
    moved: frozenset[str]  # studies with at least one value that differed detectably
    hurt: list[tuple[str, str, float]]  # (study, value, change in pp) detectably worse, worst first
    helped: list[tuple[str, str, float]]  # ... for the better, best first

    @property
    def ranked(self) -> list[str]:
        """The studies by spread, widest first, those that moved test accuracy detectably before the rest."""
        by_spread = sorted(self.spreads, key=lambda name: -self.spreads[name][0])
        return [n for n in by_spread if n in self.moved] + [n for n in by_spread if n not in self.moved]

    @property
    def widest(self) -> str:
        """The study with the widest spread, detected or not."""
        return max(self.spreads, key=lambda name: self.spreads[name][0])


@dataclass(frozen=True)
class StoppingFindings:
    """Early stopping over the distinct runs (a reference shared by several studies counts once)."""

    runs: int
    stopped: int
    median_best_epoch: float | None  # of the runs that stopped early
    capped: int  # runs that reached max_epochs
    capped_best_last: int  # of those, how many had their best validation loss in the last epoch


@dataclass(frozen=True)
class Findings:
    rows: list[dict[str, Any]]  # one per dataset, study and value: the run's record, delta_pp and (not reference) p
    n_test: int
    seed: int
    families: list[FamilyFindings]  # per dataset and family, in config order
    stopping: StoppingFindings
    typical_pp: dict[str, float]  # median |change from the reference| per dataset (the first two, when two ran)
    smoke_test: bool = False  # the quick profile: its numbers test the machinery and state no findings

    @property
    def noise_pp(self) -> float:
        """The widest 95% sampling interval of any reference accuracy (the effects figure's grey band)."""
        return reference_noise_pp(self.rows, self.n_test)


def reference_noise_pp(rows: list[dict[str, Any]], n_test: int) -> float:
    """The widest 95% sampling interval, in pp, of the reference accuracies among `rows`."""
    return max(accuracy_noise_pp(r["test_acc"], n_test) for r in rows if r["reference"])


def _label(r: dict[str, Any], value: str) -> str:
    return f"{r['dataset']} {r['family']} {r['study'].name}={value}"


def _rows(config: Config, ctx: Context) -> list[dict[str, Any]]:
    """Every (dataset, study, value) with its run's record, its change from the reference and, for a
    non-reference value, McNemar's p against the reference on this seed's test predictions."""
    rows = [{"dataset": dataset, "study": study, "label": label, "family": study.family, "recipe": run.model,
             "reference": label == study.reference, **ctx.trained(run).record}
            for dataset, study, label, run in _runs(config, ctx.seed)]
    for r in rows:
        ref = next(x for x in rows if x["dataset"] == r["dataset"] and x["study"] is r["study"] and x["reference"])
        r["delta_pp"] = 100 * (r["test_acc"] - ref["test_acc"])
    # Which values differ from their reference beyond chance: McNemar's test on the two networks' test-set
    # predictions (this seed); across several seeds the runner adds paired t-tests.
    accs = {metric_slug(r["dataset"], r["family"], r["study"].name, r["label"]) + "_test_acc": r["test_acc"]
            for r in rows}
    # All values of all studies form one family: their p-values are adjusted together (Benjamini-Hochberg for a
    # family this large, mnistlab.stats.adjust), so a run of dozens of values does not "find" effects from noise.
    family = contrasts(config)
    tested = {(c.a.label, c.b.label): o for c, o in zip(family, ctx.compare_family(family, accs), strict=True)}
    for r in rows:
        if not r["reference"]:
            outcome = tested[(_label(r, r["label"]), _label(r, r["study"].reference))]
            r["comparison"] = outcome.comparison  # value - reference, its interval and p; None when untested
            r["p"] = outcome.p_adjusted if outcome.comparison is not None else math.nan
    return rows


def _family(rows: list[dict[str, Any]], dataset: str, family: str, n_test: int) -> FamilyFindings | None:
    fam = [r for r in rows if r["dataset"] == dataset and r["family"] == family]
    if not fam:
        return None
    ref = next(r for r in fam if r["reference"])
    spreads = {}
    for s in dict.fromkeys(r["study"] for r in fam):
        accs = {r["label"]: r["test_acc"] for r in fam if r["study"] is s}
        spreads[s.name] = (100 * (max(accs.values()) - min(accs.values())), max(accs, key=accs.get),
                           min(accs, key=accs.get))
    # An effect is a difference McNemar's test finds on the same test images (adjusted p < ALPHA).
    detected = [r for r in fam if not r["reference"] and r.get("p", math.nan) < ALPHA]
    hurt = sorted((r for r in detected if r["delta_pp"] < 0), key=lambda r: r["delta_pp"])
    helped = sorted((r for r in detected if r["delta_pp"] > 0), key=lambda r: -r["delta_pp"])
    return FamilyFindings(dataset, family, ref["test_acc"], ref["best_epoch"], ref["epochs_run"],
                          accuracy_noise_pp(ref["test_acc"], n_test), spreads,
                          frozenset(r["study"].name for r in detected),
                          [(r["study"].name, r["label"], r["delta_pp"]) for r in hurt],
                          [(r["study"].name, r["label"], r["delta_pp"]) for r in helped])


def _stopping(rows: list[dict[str, Any]]) -> StoppingFindings:
    runs = list({(r["dataset"], r["recipe"]): r for r in rows}.values())  # a shared reference is one run
    stopped = [r for r in runs if r["stopped_early"]]
    capped = [r for r in runs if not r["stopped_early"]]
    return StoppingFindings(len(runs), len(stopped),
                            statistics.median(r["best_epoch"] for r in stopped) if stopped else None,
                            len(capped), sum(r["best_epoch"] == r["epochs_run"] for r in capped))


def compute_findings(config: Config, ctx: Context) -> Findings:
    rows = _rows(config, ctx)
    n_test = config.test_limit or 10_000
    families = [f for d in config.datasets for fam in ("MLP", "CNN") if (f := _family(rows, d, fam, n_test))]
    # the median, so that one broken value (zero init) does not stand for the typical change
    typical = ({d: statistics.median(abs(r["delta_pp"]) for r in rows if r["dataset"] == d and not r["reference"])
                for d in config.datasets[:2]} if len(config.datasets) > 1 else {})
    return Findings(rows, n_test, ctx.seed, families, _stopping(rows), typical, smoke_test=ctx.profile == "quick")


# ---------------------------------------------------------------------- metrics, tables, figures


def metrics(f: Findings, config: Config) -> dict[str, float]:
    m = {metric_slug(r["dataset"], r["family"], r["study"].name, r["label"]) + "_test_acc": r["test_acc"]
         for r in f.rows}
    for dataset in config.datasets:
        fams = {x.family: x for x in f.families if x.dataset == dataset}
        for family in fams:
            m[metric_slug(dataset, family, "reference") + "_test_acc"] = fams[family].ref_acc
        for study in config.studies():
            m[metric_slug(dataset, study.family, study.name) + "_spread_pp"] = fams[study.family].spreads[study.name][0]
    return m


def tables(f: Findings, config: Config) -> dict[str, Table]:
    n_train, n_val = config.split_sizes()
    summary = Table(
        ["dataset", "model", "study", "value", "parameters", "best epoch", "epochs run", "val loss", "test acc",
         "vs reference, pp", "train s"],
        [[r["dataset"], r["family"], r["study"].name, r["label"], r["params"], r["best_epoch"], r["epochs_run"],
          round(r["val_loss"], 4), round(r["test_acc"], 4),
          "reference" if r["reference"] else f"{r['delta_pp']:+.2f}", round(r["train_seconds"], 1)] for r in f.rows],
        f"Every study value on every dataset: {n_train:,} training and {n_val:,} validation images (the last "
        f"{config.val_fraction:.0%} of the training set), {f.n_test:,} test images; early stopping after "
        f"{config.patience} epochs without a lower validation loss, at most {config.max_epochs} epochs; the "
        f"weights of the best epoch are restored before the test set is used. 'val loss' is the softmax "
        f"cross-entropy at the best epoch for every run. The reference row of each study is one and the same "
        f"run (seed {f.seed}, the same first weights for every value of the same architecture).")
    references = Table(
        ["model", "network", "parameters", "recipe"],
        [[family, ref.spec.describe(), count_parameters(ref.spec.build()), describe_training(ref)]
         for family, ref in (("MLP", MLP_REFERENCE), ("CNN", CNN_REFERENCE))
         if any(s.family == family for s in config.studies())],
        "The two reference models that every study changes one thing about.")
    return {"summary": summary, "references": references}


def figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    out = []
    for x in f.families:
        family_rows = [r for r in f.rows if r["dataset"] == x.dataset and r["family"] == x.family]
        out.append(ctx.figure(
            plot_curves(family_rows, f"{x.dataset}: {x.family} studies, validation error and loss per epoch"),
            f"curves_{slug(x.dataset)}_{x.family.lower()}",
            f"{x.family} studies on {x.dataset}: validation error (top, log scale) and validation loss "
            f"(bottom, log scale) per epoch, one panel per study and one line per value (black: the "
            f"reference); the dot marks the restored best epoch, the legend gives the test accuracy."))
    out.append(_effects_figure(ctx, f.rows, config, f.n_test))
    return out


def _effects_figure(ctx: Context, rows: list[dict[str, Any]], config: Config, n_test: int,
                    per_seed: dict[tuple[str, str, str], list[float]] | None = None) -> Figure:
    noise = reference_noise_pp(rows, n_test)
    return ctx.figure(
        plot_effects(rows, list(config.datasets), noise, per_seed), "effects",
        f"Change in test accuracy against the reference for every non-reference value (symmetric log scale, "
        f"linear within +-1 pp); the grey band is +-{noise:.2f} pp, the 95% sampling interval of one "
        f"reference accuracy on {n_test:,} test images.")


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: each study value's change from its reference as the mean over the seeds (each seed's
    change measured against that seed's reference) with its 95% t-interval."""
    seeds = list(per_seed_metrics.values())

    def accuracy(dataset: str, study: Study, label: str) -> list[float]:
        """That study value's test accuracy in every seed."""
        return [m[metric_slug(dataset, study.family, study.name, label) + "_test_acc"] for m in seeds]

    rows: list[dict[str, Any]] = []
    per_seed: dict[tuple[str, str, str], list[float]] = {}
    for dataset in config.datasets:
        for study in config.studies():
            reference = accuracy(dataset, study, study.reference)
            for label in study.values:
                value = accuracy(dataset, study, label)
                per_seed[(dataset, study.name, label)] = [100 * (a - r) for a, r in zip(value, reference, strict=True)]
                rows.append({"dataset": dataset, "study": study, "label": label, "family": study.family,
                             "reference": label == study.reference, "test_acc": float(np.mean(value)),
                             "delta_pp": float(np.mean(per_seed[(dataset, study.name, label)]))})
    return [_effects_figure(ctx, rows, config, config.test_limit or 10_000, per_seed)]


def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    return Result(metrics=metrics(f, config), tables=tables(f, config), figures=figures(f, config, ctx),
                  paragraphs=prose(f, config))


# ------------------------------------------------------------------------------------------- discussion


def _points_text(points: float) -> str:
    """A difference already in percentage points, signed: '+1.25 pp'."""
    return f"{points:+.2f} pp"


def _values(effects: list[tuple[str, str, float]]) -> str:
    return ", ".join(f"{study} '{label}' ({_points_text(delta)})" for study, label, delta in effects)


def _family_text(x: FamilyFindings, n_test: int) -> str:
    """Which study moved test accuracy most, and which values helped or hurt beyond chance."""
    ranked = x.ranked
    text = (f"{x.dataset}, {x.family}: the reference scored {x.ref_acc:.2%} on the test set (best epoch "
            f"{x.ref_best_epoch} of {x.ref_epochs_run}; one accuracy on {n_test:,} test images carries a "
            f"95% sampling interval of about +-{x.noise_pp:.2f} pp). Each value is tested against the reference "
            f"with McNemar's test on the same test images (this seed, {ONE_RUN}: seed variation comes on top), and "
            f"only differences whose p, adjusted over every value of the run (Holm; Benjamini-Hochberg from {MANY} "
            f"values on), is below {ALPHA:g} are read as effects of these networks. ")
    if ranked[0] in x.moved:
        top_spread, top_hi, top_lo = x.spreads[ranked[0]]
        text += (f"The variable that mattered most was {ranked[0]}: test accuracy ranged over {top_spread:.2f} "
                 f"pp, from '{top_lo}' to '{top_hi}'")
        runners = [f"{name} ({x.spreads[name][0]:.2f} pp)" for name in ranked[1:3] if name in x.moved]
        text += (f"; next came {' and '.join(runners)}. " if runners else ". ")
    else:
        text += "No value of any study changed test accuracy detectably. "
    if x.hurt:
        text += f"Values that hurt: {_values(x.hurt)}. "
    if x.helped:
        text += f"Values whose network scored detectably above the reference's: {_values(x.helped)}. "
    elif x.hurt:
        text += "No value's network scored detectably above the reference's. "
    quiet = [name for name in ranked if name not in x.moved]
    if quiet and len(quiet) < len(ranked):
        text += f"No detectable change throughout: {', '.join(quiet)}."
    return text.strip()


def _stopping_text(s: StoppingFindings, config: Config) -> str:
    epochs = f"{config.patience} epoch" + ("s" if config.patience != 1 else "")
    text = f"Early stopping: {s.stopped} of the {s.runs} distinct runs stopped after {epochs} without a lower " \
           "validation loss"
    if s.median_best_epoch is not None:
        text += f" (median best epoch {s.median_best_epoch:g})"
    text += f"; {s.capped} reached the cap of {config.max_epochs} epochs"
    if config.max_epochs <= config.patience:
        text += (f" - with a cap of {config.max_epochs} and patience {config.patience} none could stop early, "
                 f"though each still returns the weights of its best epoch")
    elif s.capped:
        text += (f", {s.capped_best_last} of them with their best validation loss in the last epoch, so they might "
                 f"have improved with more epochs")
    return text + "."


def _datasets_text(f: Findings) -> str:
    if len(f.typical_pp) < 2:
        return ""
    a, b = f.typical_pp
    bigger, smaller = (a, b) if f.typical_pp[a] >= f.typical_pp[b] else (b, a)
    text = (f"Across datasets: the median absolute change from the reference was {f.typical_pp[bigger]:.2f} pp on "
            f"{bigger} and {f.typical_pp[smaller]:.2f} pp on {smaller}.")
    for family in ("MLP", "CNN"):
        tops = [x.widest for d in (a, b) for x in f.families if (x.dataset, x.family) == (d, family)]
        if len(tops) == 2:
            text += (f" For the {family} the study with the widest spread was the same on both ({tops[0]})."
                     if tops[0] == tops[1] else
                     f" For the {family} the study with the widest spread was {tops[0]} on {a} but {tops[1]} on {b}.")
    return text


# ------------------------------------------------------------------- beside Report C's qualitative findings

Values = dict[str, dict[str, Any]]  # one study on one dataset: value label -> its row (the reference's included)
StudyRows = dict[str, Values]  # one family on one dataset: study name -> its values
Rule = Callable[[Values], ClaimVerdict]


def _reference_label(values: Values) -> str:
    return next(label for label, r in values.items() if r["reference"])


def _half_pp(r: dict[str, Any]) -> float:
    """Half-width, in pp, of the 95% interval of this value's difference from the reference (0 for the reference)."""
    if r["reference"]:
        return 0.0
    return 100 * r["comparison"].half_width if r.get("comparison") is not None else math.nan


@dataclass(frozen=True)
class Gap:
    """Test accuracy of value a minus that of value b of one study, in pp, with its 95% interval. Against the
    reference it is the McNemar test of `_rows` (p); between two other values, whose difference no test
    compared, the interval combines their two intervals against the reference (p is nan): the shared
    reference correlates them positively, so this overstates the width and understates a detection."""

    a: str
    b: str
    acc_a: float
    acc_b: float
    half_pp: float
    p: float

    @property
    def diff_pp(self) -> float:
        return 100 * (self.acc_a - self.acc_b)

    @property
    def detected(self) -> bool:
        return self.p < ALPHA if not math.isnan(self.p) else abs(self.diff_pp) > self.half_pp

    def beyond(self, threshold_pp: float) -> bool:
        """Whether the difference is larger than `threshold_pp` by more than its interval."""
        return abs(self.diff_pp) - self.half_pp > threshold_pp

    def __str__(self) -> str:
        how = (f"McNemar, adjusted {p_text(self.p)}" if not math.isnan(self.p) else
               "not tested" if math.isnan(self.half_pp) else "interval from both values' tests against the reference")
        half = "" if math.isnan(self.half_pp) else f" +- {self.half_pp:.2f}"
        return f"'{self.a}' {self.acc_a:.2%} vs '{self.b}' {self.acc_b:.2%}: {self.diff_pp:+.2f}{half} pp ({how})"


def _gap(values: Values, a: str, b: str) -> Gap:
    ra, rb = values[a], values[b]
    tested = rb if ra["reference"] else ra  # the one with a test against the reference, if either has one
    p = tested.get("p", math.nan) if ra["reference"] or rb["reference"] else math.nan
    return Gap(a, b, ra["test_acc"], rb["test_acc"], math.hypot(_half_pp(ra), _half_pp(rb)), p)


def _against_reference(values: Values) -> list[Gap]:
    ref = _reference_label(values)
    return [_gap(values, label, ref) for label in values if label != ref]


@dataclass(frozen=True)
class Speedup:
    """Epochs two runs took to the lowest validation loss both reach (the higher of their two minima)."""

    fast: str
    slow: str
    target: float
    fast_epochs: int
    slow_epochs: int

    @property
    def factor(self) -> float:
        return self.slow_epochs / self.fast_epochs

    def __str__(self) -> str:
        return (f"to the validation loss both reach ({self.target:.4f}) '{self.fast}' took {self.fast_epochs} and "
                f"'{self.slow}' {self.slow_epochs} epochs ({self.factor:.1f}x)")


def _speedup(values: Values, fast: str, slow: str) -> Speedup:
    losses = {label: [h["val_loss"] for h in values[label]["history"]] for label in (fast, slow)}
    target = max(min(curve) for curve in losses.values())
    first = {label: next(i for i, loss in enumerate(curve, 1) if loss <= target) for label, curve in losses.items()}
    return Speedup(fast, slow, target, first[fast], first[slow])


def _detectably_worse(label: str) -> Rule:
    """The claim that `label` fails: it holds when `label` scores detectably below the reference."""
    def rule(values: Values) -> ClaimVerdict:
        gap = _gap(values, label, _reference_label(values))
        return ClaimVerdict.of(gap.detected and gap.diff_pp < 0, str(gap))
    return rule


def _alike(values: Values) -> ClaimVerdict:
    """The claim that the study's values are alike: no value differs detectably from the reference."""
    gaps = _against_reference(values)
    return ClaimVerdict.of(not any(g.detected for g in gaps), "; ".join(map(str, gaps)))


def _within(threshold_pp: float, base: str | None = None) -> Rule:
    """The claim that every value is within `threshold_pp` of `base` (the reference when None): it fails only
    where a difference exceeds the threshold by more than its interval."""
    def rule(values: Values) -> ClaimVerdict:
        anchor = base or _reference_label(values)
        gaps = [_gap(values, label, anchor) for label in values if label != anchor]
        beyond = [f"'{g.a}'" for g in gaps if g.beyond(threshold_pp)]
        return ClaimVerdict.of(not beyond, "; ".join(map(str, gaps)) + f"; more than {threshold_pp:g} pp from "
                               f"'{anchor}' beyond its interval: {', '.join(beyond) or 'none'}")
    return rule


def _faster(fast: tuple[str, ...], slow: str, factor: float) -> Rule:
    """The claim that each of `fast` converges `factor` times faster than `slow`, in epochs to a common loss."""
    def rule(values: Values) -> ClaimVerdict:
        speedups = [_speedup(values, label, slow) for label in fast]
        return ClaimVerdict.of(all(s.factor >= factor for s in speedups), "; ".join(map(str, speedups)))
    return rule


def _falls_as_batch_grows(values: Values) -> ClaimVerdict:
    """The claim that accuracy falls as the batch grows: the smallest batch detectably beats the largest, and no
    larger batch detectably beats the next smaller one."""
    by_size = sorted(values, key=lambda label: values[label]["recipe"].batch_size)
    steps = [_gap(values, big, small) for small, big in itertools.pairwise(by_size)]
    ends = _gap(values, by_size[-1], by_size[0])
    holds = ends.detected and ends.diff_pp < 0 and not any(g.detected and g.diff_pp > 0 for g in steps)
    return ClaimVerdict.of(holds, "; ".join(map(str, [*steps, ends])))


def _larger_kernels_faster_but_lower(values: Values) -> ClaimVerdict:
    """The claim that larger kernels converge faster but end lower: the largest against the smallest kernel
    reaches their common validation loss in fewer epochs and scores detectably lower on the test set."""
    by_size = sorted(values, key=lambda label: values[label]["recipe"].spec.kernels[0])
    speed, end = _speedup(values, by_size[-1], by_size[0]), _gap(values, by_size[-1], by_size[0])
    return ClaimVerdict.of(speed.factor > 1 and end.detected and end.diff_pp < 0, f"{speed}; {end}")


def _not_studied(values: Values) -> ClaimVerdict:
    """A claim about values we did not try: not compared; what our study found instead is the evidence."""
    return ClaimVerdict("not compared", "our values instead: " + "; ".join(map(str, _against_reference(values))))


def _study_words(study: Study) -> str:
    values = ", ".join(f"'{label}'" + (" (reference)" if label == study.reference else "") for label in study.values)
    return f"our {study.family} {study.name} study ({values})"


def _report_c(study: Study, claim: str, rule: Rule, not_here: str = "",
              datasets: tuple[str, ...] | None = None) -> PublishedClaim[StudyRows]:
    """Report C's `claim`, judged by `rule` on our `study` where this run made it."""
    def judge(rows: StudyRows) -> ClaimVerdict:
        if study.name not in rows:
            return ClaimVerdict("not compared", f"our {study.name} study was not part of this run")
        return rule(rows[study.name])
    return PublishedClaim(f"{study.family.lower()}-{study.name}", "Report C", claim, _study_words(study), judge,
                          datasets, not_here)


# "About 3x faster" is read as at least twice as many epochs for SGD: epochs are whole numbers, so a ratio
# near 3 is only resolved to about one epoch in the few an adaptive optimiser needs.
_ABOUT_3X = 2.0
_MS, _CS = MLP_STUDIES, CNN_STUDIES
REPORT_C_CLAIMS: dict[str, tuple[PublishedClaim[StudyRows], ...]] = {
    "MLP": (
        _report_c(_MS["init"], "zero or constant weight initialisation fails", _detectably_worse("zeros"),
                  "a constant non-zero initialisation"),
        _report_c(_MS["dropout"], "dropout 0.9 underfits, 0-0.5 alike", _alike, "dropout 0.9"),
        _report_c(_MS["optimizer"], "RMSprop/Adam/Nadam converge about 3x faster than SGD",
                  _faster(("adam 1e-3", "rmsprop 1e-3"), "sgd 0.01", _ABOUT_3X), "Nadam"),
        _report_c(_MS["loss"], "Poisson loss worst", _not_studied, "a Poisson loss"),
        _report_c(_MS["batch_size"], "accuracy falls as batch size grows (32 best of 32-1000)", _falls_as_batch_grows),
        _report_c(_MS["depth"], "a depth of 100 layers of width 10 fails to learn", _not_studied,
                  "100 layers of width 10"),
    ),
    "CNN": (
        _report_c(_CS["kernel"], "larger kernels converge faster but end lower", _larger_kernels_faster_but_lower),
        _report_c(_CS["stride"], "stride 8 about 5 points below stride 1 on Fashion-MNIST", _not_studied,
                  "stride 8", datasets=("fashion-mnist",)),
        _report_c(_CS["pooling"], "pooling changes accuracy by about 0.4 points or less", _within(0.4)),
        _report_c(_CS["padding"], "padding changes accuracy by about 0.4 points or less", _within(0.4)),
        _report_c(_CS["depth"], "one conv + pool layer within 0.2 points of deeper nets", _within(0.2, base="1")),
    ),
}


def _study_rows(f: Findings, family: str) -> dict[str, StudyRows]:
    """dataset -> study -> value label -> row, for the family's studies this run made."""
    out: dict[str, StudyRows] = {}
    for r in f.rows:
        if r["family"] == family:
            out.setdefault(r["dataset"], {}).setdefault(r["study"].name, {})[r["label"]] = r
    return out


def _report_c_texts(f: Findings) -> dict[str, str]:
    """'report-c mlp' and 'report-c cnn': Report C's claims on the family judged on each dataset it ran on."""
    return {f"report-c {family.lower()}": claims_paragraph(f"Beside Report C, {family}", claims, rows,
                                                           smoke_test=f.smoke_test)
            for family, claims in REPORT_C_CLAIMS.items() if (rows := _study_rows(f, family))}


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: one per dataset and family ('<dataset> <family>'), then 'stopping' and 'datasets', then
    'report-c mlp' and 'report-c cnn' for the families that ran."""
    out = {f"{x.dataset} {x.family}": _family_text(x, f.n_test) for x in f.families}
    out["stopping"] = _stopping_text(f.stopping, config)
    out["datasets"] = _datasets_text(f)
    out |= _report_c_texts(f)
    return {k: v for k, v in out.items() if v}


TASK = Task(
    name="hparams",
    title="Extension: hyperparameter studies, one variable at a time",
    key_table="summary",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    seed_figures=seed_figures,
    description="an MLP and a CNN reference, each study changing one variable; early stopping on validation loss",
    # Tables and figures of the studies (not measured apart from training; seconds).
    analysis_cost=lambda config: 10.0,
)
