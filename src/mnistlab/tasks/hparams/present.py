"""The hyperparameter studies' findings as the report shows them: metrics, the table of every value and of the
references, the figures (validation curves per family and dataset, and every value's effect; drawn by
mnistlab.viz.studies), and the published figures that stand beside ours."""

from __future__ import annotations

from typing import Any

import numpy as np

from mnistlab.analysis.published import QUALITATIVE, cite
from mnistlab.execution.runtime import environment, machine_text
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.hparams.config import REFERENCES, Config, Study
from mnistlab.tasks.hparams.findings import Findings, metrics, reference_noise_pp
from mnistlab.tasks.hparams.networks import Recipe
from mnistlab.tasks.hparams.plan import metric_slug
from mnistlab.tasks.sweeps import slug
from mnistlab.train import count_parameters
from mnistlab.viz.studies import plot_curves, plot_effects

PUBLISHED = (
    cite("MLP, zero weight initialisation: test accuracy", "fails (zero or constant init)", "Report C",
         "mnist_mlp_init_zeros_test_acc", QUALITATIVE),
    cite("MLP dropout: spread of test accuracy", "dropout 0-0.5 alike; 0.9 underfits", "Report C",
         "mnist_mlp_dropout_spread_pp", f"{QUALITATIVE}; ours: 0, 0.2 and 0.5", unit="pp"),
    cite("MLP optimisers", "RMSprop, Adam, Nadam about 3x faster than SGD", "Report C", "", QUALITATIVE),
    cite("MLP losses", "Poisson loss worst", "Report C", "", QUALITATIVE),
    cite("MLP batch size", "accuracy falls as the batch grows (32 best of 32-1000)", "Report C", "",
         QUALITATIVE),
    cite("MLP depth", "100 layers of width 10 fail to learn", "Report C", "", QUALITATIVE),
    cite("CNN kernel size", "larger kernels converge faster but end lower", "Report C", "", QUALITATIVE),
    cite("CNN stride", "stride 8 about 5 points below stride 1 (Fashion-MNIST)", "Report C", "",
         f"{QUALITATIVE}; our stride study compares stride 2 with stride 1 + max-pool"),
    cite("CNN padding: spread of test accuracy", "0.4 points or less", "Report C", "mnist_cnn_padding_spread_pp",
         QUALITATIVE, unit="pp"),
    cite("CNN pooling: spread of test accuracy", "0.4 points or less", "Report C", "mnist_cnn_pooling_spread_pp",
         QUALITATIVE, unit="pp"),
    cite("CNN depth: spread of test accuracy", "one conv + pool layer within 0.2 points of deeper nets",
         "Report C", "mnist_cnn_depth_spread_pp", f"{QUALITATIVE}; ours: 1-4 conv layers", unit="pp"),
)


def describe_training(recipe: Recipe) -> str:
    loss = {"ce": "cross-entropy", "ce-smooth": "label-smoothed cross-entropy", "mse": "MSE"}[recipe.loss]
    return (f"{recipe.optimizer} lr {recipe.lr:g}, batch {recipe.batch_size}, {recipe.spec.init} init, "
            f"{recipe.output} outputs, {loss}, no regularisation")


def _tables(f: Findings, config: Config, machine: str) -> dict[str, Table]:
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
        f"run (seed {f.seed}, the same first weights for every value of the same architecture). {machine}")
    references = Table(
        ["model", "network", "parameters", "recipe"],
        [[family, ref.spec.describe(), count_parameters(ref.spec.build()), describe_training(ref)]
         for family, ref in REFERENCES.items() if any(s.family == family for s in config.studies())],
        "The two reference models that every study changes one thing about.")
    return {"summary": summary, "references": references}


def _curve_figures(f: Findings, ctx: Context) -> list[Figure]:
    out = []
    for x in f.families:
        family_rows = [r for r in f.rows if r["dataset"] == x.dataset and r["family"] == x.family]
        out.append(ctx.figure(
            plot_curves(family_rows, f"{x.dataset}: {x.family} studies, validation error and loss per epoch"),
            f"curves_{slug(x.dataset)}_{x.family.lower()}",
            f"{x.family} studies on {x.dataset}: validation error (top, log scale) and validation loss "
            f"(bottom, log scale) per epoch, one panel per study and one line per value (black: the "
            f"reference); the dot marks the restored best epoch, the legend gives the test accuracy."))
    return out


def _effects_figure(ctx: Context, rows: list[dict[str, Any]], config: Config, n_test: int,
                    per_seed: dict[tuple[str, str, str], list[float]] | None = None) -> Figure:
    noise = reference_noise_pp(rows, n_test)
    return ctx.figure(
        plot_effects(rows, list(config.datasets), noise, per_seed), "effects",
        f"Change in test accuracy against the reference for every non-reference value (symmetric log scale, "
        f"linear within +-1 pp); the grey band is +-{noise:.2f} pp, the 95% sampling interval of one "
        f"reference accuracy on {n_test:,} test images.")


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Metrics, the summary and references tables, the curves of each family on each dataset and the effects."""
    machine = machine_text(environment(ctx.device))
    figures = [*_curve_figures(findings, ctx), _effects_figure(ctx, findings.rows, config, findings.n_test)]
    return Result(metrics=metrics(findings, config), tables=_tables(findings, config, machine), figures=figures)


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
