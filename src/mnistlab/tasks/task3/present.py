"""Task 3's findings as the report shows them: metrics, tables and figures, and the published figures
that stand beside ours."""

from __future__ import annotations

from typing import Any

from mnistlab.analysis.published import BRIEF_MLP, cite
from mnistlab.execution.runtime import environment, machine_text
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.sweeps import (
    epoch_table,
    per_epoch_seconds,
    size_figure,
    summary_table,
    sweep_curve_figures,
    sweep_table,
)
from mnistlab.tasks.task3.config import Config
from mnistlab.tasks.task3.findings import Findings, metrics
from mnistlab.tasks.task3.plan import sweep

PUBLISHED = (
    cite(f"{BRIEF_MLP}: train accuracy", "98.19%", "Report A", "first_train_acc", "batch 300, 10 epochs"),
    cite(f"{BRIEF_MLP}: test accuracy", "97.36%", "Report A", "first_test_acc", "batch 300, 10 epochs"),
    cite("best two-hidden-layer variant: test accuracy", "97.70%", "Report A", "",
         "their variant; not one of our networks"),
    cite(f"{BRIEF_MLP}: train accuracy", "99.19%", "Report B", "first_train_acc", "batch and epochs not stated"),
    cite(f"{BRIEF_MLP}: test accuracy", "95.44%", "Report B", "first_test_acc", "batch and epochs not stated"),
    cite("depth sweep, best test accuracy", "96.14%", "Report B", "",
         "five hidden layers of 1,000, not in our sweep"),
    cite(f"{BRIEF_MLP}: training time", "41 s", "Report B", "first_train_seconds",
         "their hardware and epochs", unit="s"),
)


def _precision_table(first: dict[str, Any], fp32: dict[str, Any], machine: str) -> Table:
    return Table(
        ["precision", "train acc", "test acc", "test loss", "train s/epoch", "inference img/s"],
        [[words, r["train_acc"], r["test_acc"], r["test_loss"], per_epoch_seconds(r), r["infer_images_per_second"]]
         for words, r in (("bf16 autocast", first), ("fp32", fp32))],
        f"{first['name']} trained twice from the same first weights, in bf16 autocast and in fp32. {machine}")


SIZE_TITLE = "MLPs: depth vs parameters vs accuracy"
SIZE_CAPTION = ("Test accuracy and training time per epoch against parameter count; labels give the number of "
                "weight layers.")


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Task 3's metrics, tables (the first MLP's layers and epochs, the sweep, bf16 against fp32) and figures."""
    rows, first = list(findings.rows), findings.first
    result = Result(metrics=metrics(rows, findings.fp32))
    result.tables["summary"] = summary_table(first["spec"], f"Layers of {first['name']} (Task 3.1).")
    result.tables["epochs"] = epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                                 f"({findings.n_train:,} training images, batch {config.batch_size}).")
    machine = machine_text(environment(ctx.device))
    result.tables["sweep"] = sweep_table(rows, "Task 3.2: accuracy vs depth (weight layers = hidden + 1) vs "
                                               f"parameters. {machine}")
    if findings.fp32 is not None:
        result.tables["precision"] = _precision_table(first, findings.fp32, machine)
    result.figures += sweep_curve_figures(ctx, rows, "MLP")
    result.figures.append(size_figure(ctx, {"MLP": [sweep(config, ctx.seed)]}, SIZE_TITLE, SIZE_CAPTION))
    return result


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: accuracy and time against size as means over the seeds, with 95% t-intervals."""
    return [size_figure(ctx, {"MLP": [sweep(config, s) for s in per_seed_metrics]}, SIZE_TITLE, SIZE_CAPTION)]
