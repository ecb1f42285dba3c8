"""Extension: one fixed permutation of the 784 pixels, and the brief's MLP and CNN-1 retrained on it.

A fully connected network has no notion of which pixels are neighbours, so shuffling the pixel positions
the same way in every image changes nothing it can use; a CNN's small kernels and pooling assume that
neighbouring pixels belong together, and lose that once the positions are shuffled. The unshuffled
networks are trained with exactly Task 3's and Task 4's recipes, so after those tasks they are cache hits.

The analysis reads the networks into `Findings` (compute_findings, with ctx.compare's verdicts); metrics,
tables, the figures (mnistlab.viz.permutation) and the prose (`prose`: paragraph id -> text) come from them;
the prose also judges Report C's two claims about the permutation on our numbers (`REPORT_C_CLAIMS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from mnistlab.claims import ClaimVerdict, PublishedClaim, claims_paragraph
from mnistlab.constraints import Constrained, Constraints, Distinct, Interval, Members, MinItems, rules_of
from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.models import CNN1, parse_cnn, parse_mlp
from mnistlab.seeds import ONE_RUN, Arm, Contrast
from mnistlab.stats import ALPHA, p_text
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import (
    CNN1_TRAINING,
    DATA_LIMITS,
    MLP_SWEEP_TRAINING,
    check_model_fits,
    classifier_run,
)
from mnistlab.train import BATCH_SIZE, Precision, TrainConfig, evaluate
from mnistlab.viz.permutation import plot_accuracy, plot_examples

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
    datasets: tuple[str, ...] = opt(("mnist", "fashion-mnist"), "data sets studied (mnist, fashion-mnist)")

    CONSTRAINTS: ClassVar[Constraints] = {
        "datasets": [MinItems(message=_EACH_DATASET_ONCE), Distinct(message=_EACH_DATASET_ONCE),
                     Members(("mnist", "fashion-mnist"),
                             message="unknown dataset {item!r} in {name}; choose mnist or fashion-mnist")],
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


def rewired_mlp_accuracy(model: nn.Sequential, permutation: torch.Tensor, x_perm: torch.Tensor, y: torch.Tensor,
                         cfg: TrainConfig) -> float:
    """Accuracy on permuted images of the unpermuted MLP with its first layer's input columns permuted
    to match: the very same function, which proves that an MLP loses nothing to the shuffle."""
    first = next(m for m in model if isinstance(m, nn.Linear))
    with torch.no_grad():
        original = first.weight.detach().clone()
        first.weight.copy_(original[:, permutation.to(original.device)])
        try:
            return evaluate(model, x_perm, y, batch_size=cfg.eval_batch_size, precision=cfg.precision)["acc"]
        finally:
            first.weight.copy_(original)


def _runs(config: Config, seed: int) -> list[tuple[str, str, bool, SubRun]]:
    """(dataset, family, permuted, sub-run) of the four networks per dataset. The unpermuted MNIST ones are
    the very sub-runs of Tasks 3 and 4 where the settings agree (the default): trained once for all three."""
    limits = {"train_limit": config.train_limit, "test_limit": config.test_limit, "seed": seed}
    models = [("MLP", parse_mlp(config.mlp), config.mlp_config()), ("CNN", parse_cnn(config.cnn), config.cnn_config())]
    return [(dataset, family, permuted, classifier_run(
        spec, cfg, dataset=dataset, **limits, permutation_seed=config.permutation_seed if permuted else None,
        keep_checkpoint=family == "MLP" and not permuted,  # rewired below
        name=f"{spec.name} on {dataset} ({'permuted' if permuted else 'original'})"))
        for dataset in config.datasets for family, spec, cfg in models for permuted in (False, True)]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in _runs(config, seed)]


def _prefix(dataset: str) -> str:
    """Metric names: MNIST's keep the plain names; Fashion-MNIST's carry its name."""
    return "" if dataset == "mnist" else "fashion_mnist_"


def contrasts(config: Config) -> list[Contrast]:
    """Each network on original against permuted pixels, per dataset."""
    def arm(i: int) -> Arm:
        dataset, family, permuted, run = _runs(config, 0)[i]
        return Arm(f"{run.model.name} on {dataset} ({'permuted' if permuted else 'original'})",
                   f"{_prefix(dataset)}{family.lower()}_{'permuted_' if permuted else ''}test_acc",
                   run=lambda seed: _runs(config, seed)[i][3])

    return [Contrast(arm(i), arm(i + 1), f"{_runs(config, 0)[i][0]} {_runs(config, 0)[i][1]}: original vs permuted")
            for i in range(0, 4 * len(config.datasets), 2)]


# ------------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class NetFindings:
    """One network trained on original and on permuted pixels, and the test of the difference."""

    family: str  # "MLP" or "CNN"
    name: str  # the spec's name, e.g. "CNN 32k4s1-64k4s2-128k4s2"
    params: int
    train_acc: float
    test_acc: float
    permuted_train_acc: float
    permuted_test_acc: float
    permuted_train_seconds: float
    history: list[dict[str, Any]]
    permuted_history: list[dict[str, Any]]
    verdict: str = ""  # ctx.compare's sentence on original vs permuted (this seed's test predictions)
    p: float = math.nan  # its p-value, adjusted over the section's comparisons; nan when not tested

    @property
    def change_pp(self) -> float:
        return 100 * (self.permuted_test_acc - self.test_acc)


@dataclass(frozen=True)
class DatasetFindings:
    dataset: str
    mlp: NetFindings
    cnn: NetFindings
    rewired: float  # the original MLP, first-layer columns permuted, on the permuted test images
    n_test: int
    examples: tuple[np.ndarray, np.ndarray, np.ndarray]  # eight test images, permuted, their labels

    @property
    def prefix(self) -> str:
        return _prefix(self.dataset)

    @property
    def noise_pp(self) -> float:
        """Half-width of the 95% sampling interval of the MLP's accuracy on these test images."""
        acc = self.mlp.test_acc
        return 100 * 1.96 * float(np.sqrt(acc * (1 - acc) / self.n_test))

    def detected(self, net: NetFindings) -> bool:
        """Whether the shuffle changed `net`'s test accuracy beyond chance: its McNemar test where it ran, else a
        change wider than the sampling interval of one accuracy (the MLP's)."""
        return net.p < ALPHA if not math.isnan(net.p) else abs(net.change_pp) > self.noise_pp


@dataclass(frozen=True)
class Findings:
    datasets: list[DatasetFindings]
    smoke_test: bool = False  # the quick profile: its numbers test the machinery and state no findings


def _net(family: str, nets: dict[bool, tuple[SubRun, dict[str, Any]]]) -> NetFindings:
    (run, orig), (_, perm) = nets[False], nets[True]
    return NetFindings(family, run.model.name, orig["params"], orig["train_acc"], orig["test_acc"], perm["train_acc"],
                       perm["test_acc"], perm["train_seconds"], orig["history"], perm["history"])


def _dataset_metrics(d: DatasetFindings) -> dict[str, float]:
    m = {}
    for net in (d.mlp, d.cnn):
        key = d.prefix + net.family.lower()
        m[f"{key}_test_acc"], m[f"{key}_permuted_test_acc"] = net.test_acc, net.permuted_test_acc
        m[f"{key}_change_pp"], m[f"{key}_params"] = net.change_pp, net.params
        m[f"{key}_permuted_train_seconds"] = net.permuted_train_seconds
    m[f"{d.prefix}mlp_rewired_permuted_test_acc"] = d.rewired
    return m


def _dataset(config: Config, ctx: Context, dataset: str, permutation: torch.Tensor) -> DatasetFindings:
    nets = {(family, permuted): (run, ctx.trained(run).record)
            for d, family, permuted, run in _runs(config, ctx.seed) if d == dataset}
    xt, yt = load(dataset, "test", view="flat", limit=config.test_limit, device=ctx.device, data_dir=ctx.data_dir)
    xt_perm = permute_pixels(xt, permutation)
    rewired = rewired_mlp_accuracy(ctx.trained(nets[("MLP", False)][0]).model(ctx.device), permutation, xt_perm, yt,
                                   config.mlp_config())
    sample = np.arange(8)
    d = DatasetFindings(dataset, *(_net(fam, {q: nets[(fam, q)] for q in (False, True)}) for fam in ("MLP", "CNN")),
                        rewired, len(yt), (xt[sample].cpu().numpy(), xt_perm[sample].cpu().numpy(),
                                           yt[sample].cpu().numpy()))
    return d


def _tested(config: Config, ctx: Context, datasets: list[DatasetFindings]) -> list[DatasetFindings]:
    """Each data set's findings with original vs permuted, MLP then CNN, tested on this seed's test predictions as
    one family (the p-values that Report C's claims are judged by, adjusted together: mnistlab.stats.adjust)."""
    family = contrasts(config)
    measured = {k: v for d in datasets for k, v in _dataset_metrics(d).items()}
    outcomes = dict(zip((c.about for c in family), ctx.compare_family(family, measured), strict=True))
    out = []
    for d in datasets:
        mlp, cnn = (o for about, o in outcomes.items() if about.startswith(d.dataset + " "))
        p = [o.p_adjusted if o.comparison is not None else math.nan for o in (mlp, cnn)]
        out.append(replace(d, mlp=replace(d.mlp, verdict=mlp.text, p=p[0]),
                           cnn=replace(d.cnn, verdict=cnn.text, p=p[1])))
    return out


def compute_findings(config: Config, ctx: Context) -> Findings:
    permutation = pixel_permutation(config.permutation_seed)
    datasets = [_dataset(config, ctx, dataset, permutation) for dataset in config.datasets]
    return Findings(_tested(config, ctx, datasets), smoke_test=ctx.profile == "quick")


# ------------------------------------------------------------------------ metrics, tables, figures


def metrics(f: Findings) -> dict[str, float]:
    return {k: v for d in f.datasets for k, v in _dataset_metrics(d).items()}


def tables(f: Findings, config: Config) -> dict[str, Table]:
    rows = [[d.dataset, net.name, net.params, round(net.train_acc, 4), round(net.test_acc, 4),
             round(net.permuted_train_acc, 4), round(net.permuted_test_acc, 4), f"{net.change_pp:+.2f}"]
            for d in f.datasets for net in (d.mlp, d.cnn)]
    n_test = config.test_limit or 10_000
    return {"accuracy": Table(
        ["dataset", "model", "parameters", "train acc (original)", "test acc (original)", "train acc (permuted)",
         "test acc (permuted)", "test change, pp"], rows,
        f"The brief's MLP and CNN-1 trained on original and on permuted pixels ({config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {n_test:,} test images, permutation seed "
        f"{config.permutation_seed}).")}


def figures(f: Findings, ctx: Context) -> list[Figure]:
    first = f.datasets[0]
    out = [ctx.figure(plot_examples(*first.examples), "examples",
                      f"Eight {first.dataset} test images and the same images after the fixed pixel permutation "
                      "that both networks were retrained on.")]
    for d in f.datasets:
        rows = [{"family": net.family, "name": net.name, "permuted": permuted,
                 "history": net.permuted_history if permuted else net.history}
                for net in (d.mlp, d.cnn) for permuted in (False, True)]
        out.append(_accuracy_figure(ctx, d.dataset, rows))
    return out


def _accuracy_figure(ctx: Context, dataset: str, rows: list[dict[str, Any]],
                     per_seed: dict[tuple[str, bool], list[list[float]]] | None = None) -> Figure:
    prefix = _prefix(dataset)
    return ctx.figure(plot_accuracy(rows, dataset, per_seed), f"accuracy{'_' + prefix.rstrip('_') if prefix else ''}",
                      f"{dataset}: test accuracy after each epoch on original and permuted pixels.")


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: each dataset's test accuracy per epoch as the mean over the seeds, with 95%
    t-intervals."""
    runs = [_runs(config, s) for s in per_seed_metrics]
    out = []
    for dataset in config.datasets:
        rows, per_seed = [], {}
        for i, (d, family, permuted, run) in enumerate(runs[0]):
            if d == dataset:
                histories = [ctx.trained(seed_runs[i][3]).record["history"] for seed_runs in runs]
                rows.append({"family": family, "name": run.model.name, "permuted": permuted, "history": histories[0]})
                per_seed[(run.model.name, permuted)] = [[h["test_acc"] for h in history] for history in histories]
        out.append(_accuracy_figure(ctx, dataset, rows, per_seed))
    return out


def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    return Result(metrics=metrics(f), tables=tables(f, config), figures=figures(f, ctx),
                  paragraphs=prose(f, config))


# ------------------------------------------------------------------------------------------- prose


def _mlp_text(d: DatasetFindings) -> str:
    mlp = d.mlp
    detected = d.detected(mlp)
    same = abs(d.rewired - mlp.test_acc) * d.n_test <= 1  # at most one image, which rounding can flip
    return (
        f"{d.dataset}: the MLP scored {mlp.test_acc:.2%} on original and {mlp.permuted_test_acc:.2%} on permuted "
        f"pixels ({mlp.change_pp:+.2f} pp; the 95% sampling interval of one such accuracy on {d.n_test:,} test "
        f"images is about +/-{d.noise_pp:.1f} pp). "
        + ("As it should be: a permutation of the inputs is a permutation of the first layer's weight columns, so "
           "both data sets offer the MLP the same set of functions. " if not detected else
           "The difference is detectable on this seed (tested below), yet both data sets offer the MLP the same "
           "set of functions: a permutation of the inputs is a permutation of the first layer's weight columns. ")
        + f"This run checks it directly: the MLP trained on original pixels, with its first-layer columns permuted "
        f"the same way, scores {d.rewired:.2%} on the permuted test images against {mlp.test_acc:.2%} before - "
        + ("the same function. " if same else "the same function up to the rounding of a reordered sum. ")
        + "The two trained MLPs differ only because the same initial weights meet the pixels in another order, "
        "which amounts to another random initialisation.")


def _kernel_words(config: Config) -> tuple[str, str]:
    """('4x4', 'each kernel sees 16'): the CNN's kernel sizes in words, and how many pixels a first-layer
    kernel sees."""
    kernels = parse_cnn(config.cnn).kernels
    if len(set(kernels)) == 1:
        return f"{kernels[0]}x{kernels[0]}", f"each kernel sees {kernels[0] ** 2}"
    return " then ".join(f"{k}x{k}" for k in kernels), f"each first-layer kernel sees {kernels[0] ** 2}"


def _cnn_text(d: DatasetFindings, config: Config) -> str:
    cnn = d.cnn
    name = "CNN-1" if parse_cnn(config.cnn) == CNN1 else cnn.name
    kernel, sees = _kernel_words(config)
    return (
        f"{d.dataset}: {name} scored {cnn.test_acc:.2%} on original and {cnn.permuted_test_acc:.2%} on permuted pixels "
        f"({cnn.change_pp:+.2f} pp). Tested on this seed's test predictions: {cnn.verdict} (the MLP: "
        f"{d.mlp.verdict}). Why a CNN should lose: its {kernel} kernels look at small neighbourhoods and share "
        "weights across positions, an inductive bias that is right for images and wrong once neighbouring pixels "
        f"are unrelated. After the shuffle {sees} scattered pixels and the same filter is applied "
        "to unrelated pixel groups at every position, so the CNN has less usable structure than an MLP of similar "
        "size.")


# ------------------------------------------------------------------- beside Report C's qualitative findings

CHANCE = 0.1  # ten classes in both data sets
# "Well above chance": on permuted pixels the CNN keeps at least this share of its margin over chance on
# original pixels - a loss of less than half the way down to guessing.
WELL_ABOVE_CHANCE_SHARE = 0.5


def _shuffle_words(net: NetFindings) -> str:
    test = f"McNemar, {ONE_RUN}, adjusted {p_text(net.p)}" if not math.isnan(net.p) else "not tested"
    return (f"the {net.family} scored {net.test_acc:.2%} on original and {net.permuted_test_acc:.2%} on permuted "
            f"pixels ({net.change_pp:+.2f} pp, {test})")


def _mlp_unaffected(d: DatasetFindings) -> ClaimVerdict:
    return ClaimVerdict.of(not d.detected(d.mlp), _shuffle_words(d.mlp))


def _cnn_degrades_above_chance(d: DatasetFindings) -> ClaimVerdict:
    cnn = d.cnn
    margin, kept = 100 * (cnn.test_acc - CHANCE), 100 * (cnn.permuted_test_acc - CHANCE)
    well_above = margin > 0 and kept >= WELL_ABOVE_CHANCE_SHARE * margin
    return ClaimVerdict.of(d.detected(cnn) and cnn.change_pp < 0 and well_above,
                      f"{_shuffle_words(cnn)}; its margin over chance ({CHANCE:.0%}) went from {margin:.1f} to "
                      f"{kept:.1f} points, {'at least' if well_above else 'less than'} the "
                      f"{WELL_ABOVE_CHANCE_SHARE:.0%} that 'well above chance' asks")


_OURS = "our {} trained on original and on permuted pixels, McNemar's test on the same test images"
REPORT_C_CLAIMS: tuple[PublishedClaim[DatasetFindings], ...] = (
    PublishedClaim("mlp", "Report C", "MLP unaffected", _OURS.format("MLP"), _mlp_unaffected),
    PublishedClaim("cnn", "Report C", "CNN degrades on both data sets but stays well above chance",
                   _OURS.format("CNN"), _cnn_degrades_above_chance, datasets=("mnist", "fashion-mnist")),
)


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: '<dataset> mlp' and '<dataset> cnn' for each dataset, then 'report-c'."""
    out = {}
    for d in f.datasets:
        out[f"{d.dataset} mlp"] = _mlp_text(d)
        out[f"{d.dataset} cnn"] = _cnn_text(d, config)
    out["report-c"] = claims_paragraph("Beside Report C", REPORT_C_CLAIMS, {d.dataset: d for d in f.datasets},
                                       smoke_test=f.smoke_test)
    return out


TASK = Task(
    name="permutation",
    title="Extension: a fixed pixel permutation, MLP vs CNN",
    key_table="accuracy",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    seed_figures=seed_figures,
    description="the brief's MLP and CNN-1 retrained on pixel-permuted MNIST and Fashion-MNIST: MLP against CNN",
    # Figures and tables (not measured apart from training; a few seconds).
    analysis_cost=lambda config: 5.0,
)
