"""Task 4's findings as the report shows them: metrics, tables and figures, and the published figures
that stand beside ours."""

from __future__ import annotations

from typing import Any

from mnistlab.analysis.published import CNN1, cite
from mnistlab.execution.runtime import environment, machine_text
from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.sweeps import (
    epoch_table,
    per_epoch_seconds,
    size_figure,
    summary_table,
    sweep_curve_figures,
    sweep_table,
)
from mnistlab.tasks.task4.config import Config
from mnistlab.tasks.task4.findings import Findings, metrics
from mnistlab.tasks.task4.plan import sweeps

PUBLISHED = (
    cite(f"{CNN1}: train accuracy", "99.87%", "Report B", "first_train_acc", "batch and epochs not stated"),
    cite(f"{CNN1}: test accuracy", "99.08%", "Report B", "first_test_acc", "batch and epochs not stated"),
    cite(f"{CNN1}: training time", "183 s", "Report B", "first_train_seconds", "their hardware and epochs",
         unit="s"),
    cite("CNN [128, 128, 128]: test accuracy", "99.25%", "Report B", "", "not one of our networks"),
    cite("CNN [16, 32] (71,226 parameters): test accuracy", "98.84%", "Report B", "",
         "not one of our networks"),
    cite("max-pool variant (185,066 parameters): test accuracy", "98.61%", "Report A", "",
         "not one of our networks"),
    cite("two conv layers (85,226 parameters): test accuracy", "98.72%", "Report A", "",
         "their two-layer net; ours (CNN 32k4s1-64k4s2) has a different size"),
)


def _cnn_vs_mlp_table(f: Findings, config: Config, machine: str) -> Table:
    return Table(
        ["model", "parameters", "forward MFLOP/image", "test acc", "train s/epoch", "inference img/s"],
        [[r["name"], r["params"], r["mflops"], r["test_acc"], per_epoch_seconds(r), r["infer_images_per_second"]]
         for r in f.cnns + f.mlps],
        f"CNNs (batch {config.batch_size}) beside MLPs (batch {config.mlp_batch_size}), same data, epochs and "
        f"optimiser. Inference: the whole test set in batches of 5,000, best of several passes. {machine}")


SIZE_TITLE = "CNNs and MLPs: depth vs parameters vs accuracy"
SIZE_CAPTION = ("Test accuracy and training time per epoch against parameter count, CNNs and MLPs on the same axes; "
                "labels give the number of weight layers.")


def _size_figure(ctx: Context, sweeps_by_seed: list[tuple[list[SubRun], list[SubRun]]]) -> Figure:
    """Accuracy and time against size of the CNNs and MLPs, from one seed's networks or (several) their means."""
    return size_figure(ctx, {"CNN": [cnns for cnns, _ in sweeps_by_seed], "MLP": [mlps for _, mlps in sweeps_by_seed]},
                       SIZE_TITLE, SIZE_CAPTION)


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Task 4's metrics, tables (CNN-1's layers and epochs, the CNN sweep, CNNs beside MLPs) and figures."""
    first, cnns = findings.first, list(findings.cnns)
    result = Result(metrics=metrics(findings.cnns, findings.mlps))
    result.tables["summary"] = summary_table(first["spec"], f"Layers of {first['name']} (Task 4.1): 'same' padding "
                                                            "with a 4x4 kernel pads 1 before and 2 after.")
    result.tables["epochs"] = epoch_table(first, f"{first['name']}: per-epoch loss, accuracy and wall time "
                                                 f"({findings.n_train:,} training images, batch {config.batch_size}).")
    machine = machine_text(environment(ctx.device))
    result.tables["sweep"] = sweep_table(cnns, "Task 4.2: accuracy vs depth (weight layers = conv + dense) vs "
                                               f"parameters. {machine}")
    result.tables["cnn_vs_mlp"] = _cnn_vs_mlp_table(findings, config, machine)
    result.figures += sweep_curve_figures(ctx, cnns, "CNN")
    result.figures.append(_size_figure(ctx, [sweeps(config, ctx.seed)]))
    return result


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: accuracy and time against size as means over the seeds, with 95% t-intervals."""
    return [_size_figure(ctx, [sweeps(config, s) for s in per_seed_metrics])]
