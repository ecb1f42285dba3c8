"""The permutation extension's findings as the report shows them: metrics, the accuracy table, the figures
(mnistlab.viz.permutation), and the published figures that stand beside ours."""

from __future__ import annotations

from typing import Any

from mnistlab.analysis.published import QUALITATIVE, cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.permutation.config import Config
from mnistlab.tasks.permutation.findings import Findings, metrics
from mnistlab.tasks.permutation.plan import metric_prefix, runs
from mnistlab.viz.permutation import plot_accuracy, plot_examples

PUBLISHED = (
    cite("MLP: change in test accuracy when the pixels are permuted", "unaffected", "Report C", "mlp_change_pp",
         QUALITATIVE, unit="pp"),
    cite("CNN: change in test accuracy when the pixels are permuted",
         "degrades on MNIST and Fashion-MNIST, well above chance", "Report C", "cnn_change_pp",
         QUALITATIVE, unit="pp"),
    cite("CNN on permuted pixels: test accuracy", "well above chance", "Report C", "cnn_permuted_test_acc",
         QUALITATIVE),
)


def _accuracy_table(f: Findings, config: Config) -> Table:
    rows = [[d.dataset, net.name, net.params, round(net.train_acc, 4), round(net.test_acc, 4),
             round(net.permuted_train_acc, 4), round(net.permuted_test_acc, 4), f"{net.change_pp:+.2f}"]
            for d in f.datasets for net in (d.mlp, d.cnn)]
    n_test = config.test_limit or 10_000
    return Table(
        ["dataset", "model", "parameters", "train acc (original)", "test acc (original)", "train acc (permuted)",
         "test acc (permuted)", "test change, pp"], rows,
        f"The brief's MLP and CNN-1 trained on original and on permuted pixels ({config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {n_test:,} test images, permutation seed "
        f"{config.permutation_seed}).")


def _accuracy_figure(ctx: Context, dataset: str, rows: list[dict[str, Any]],
                     per_seed: dict[tuple[str, bool], list[list[float]]] | None = None) -> Figure:
    prefix = metric_prefix(dataset)
    return ctx.figure(plot_accuracy(rows, dataset, per_seed), f"accuracy{'_' + prefix.rstrip('_') if prefix else ''}",
                      f"{dataset}: test accuracy after each epoch on original and permuted pixels.")


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """The metrics, the accuracy table, eight images before and after the shuffle, and each data set's test
    accuracy per epoch."""
    result = Result(metrics=metrics(findings), tables={"accuracy": _accuracy_table(findings, config)})
    first = findings.datasets[0]
    result.figures.append(ctx.figure(plot_examples(*first.examples), "examples",
                                     f"Eight {first.dataset} test images and the same images after the fixed pixel "
                                     "permutation that both networks were retrained on."))
    for d in findings.datasets:
        rows = [{"family": net.family, "name": net.name, "permuted": permuted,
                 "history": net.permuted_history if permuted else net.history}
                for net in (d.mlp, d.cnn) for permuted in (False, True)]
        result.figures.append(_accuracy_figure(ctx, d.dataset, rows))
    return result


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: each dataset's test accuracy per epoch as the mean over the seeds, with 95%
    t-intervals."""
    by_seed = [runs(config, s) for s in per_seed_metrics]
    out = []
    for dataset in config.datasets:
        rows, per_seed = [], {}
        for i, (d, family, permuted, run) in enumerate(by_seed[0]):
            if d == dataset:
                histories = [ctx.trained(seed_runs[i][3]).record["history"] for seed_runs in by_seed]
                rows.append({"family": family, "name": run.model.name, "permuted": permuted, "history": histories[0]})
                per_seed[(run.model.name, permuted)] = [[h["test_acc"] for h in history] for history in histories]
        out.append(_accuracy_figure(ctx, dataset, rows, per_seed))
    return out
