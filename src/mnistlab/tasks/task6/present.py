"""Task 6's findings as the report shows them: metrics, tables and figures (drawn by mnistlab.viz.mtl), and
the published figures that stand beside ours."""

from __future__ import annotations

from typing import Any

import numpy as np

from mnistlab.analysis.published import cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.task6.config import TASK_NAMES, Config, lam_name
from mnistlab.tasks.task6.findings import CHANCE, Findings, metrics
from mnistlab.tasks.task6.prose import pp_of_fraction_gap
from mnistlab.viz.mtl import plot_curves, plot_errors, plot_lambda
from mnistlab.weighting import weighting_class

PUBLISHED = (
    cite("single-task CNN, items: test accuracy", "90.85%", "Report B", "single_item_test_acc"),
    cite("single-task CNN, groups: test accuracy", "94.70%", "Report B", "single_group_test_acc"),
    cite("MTL lambda 0.25, items", "91.95%", "Report B", "mtl_lambda_0.25_item_test_acc"),
    cite("MTL lambda 0.25, groups", "95.16%", "Report B", "mtl_lambda_0.25_group_test_acc"),
    cite("MTL lambda 0.5, items", "91.39%", "Report B", "mtl_lambda_0.5_item_test_acc"),
    cite("MTL lambda 0.5, groups", "94.74%", "Report B", "mtl_lambda_0.5_group_test_acc"),
    cite("MTL lambda 0.75, items", "91.23%", "Report B", "mtl_lambda_0.75_item_test_acc"),
    cite("MTL lambda 0.75, groups", "94.48%", "Report B", "mtl_lambda_0.75_group_test_acc"),
    cite("MTL lambda 0, items (untrained head)", "13.75%", "Report B", "mtl_lambda_0_item_test_acc"),
    cite("MTL lambda 1, groups (untrained head)", "24.87%", "Report B", "mtl_lambda_1_group_test_acc"),
    cite("training time per network (single-task items here)", "about 310-340 s", "Report B",
         "single_item_train_seconds", "their hardware, batch and epochs", unit="s"),
    cite("single-task CNN, items: test accuracy", "91.4%", "Report A", "single_item_test_acc"),
    cite("single-task CNN, groups: test accuracy", "92.9%", "Report A", "single_group_test_acc"),
    cite("MTL weight 0.5, items", "89.9%", "Report A", "mtl_lambda_0.5_item_test_acc"),
    cite("MTL weight 0.5, groups", "94.0%", "Report A", "mtl_lambda_0.5_group_test_acc"),
)


def _accuracy_table(f: Findings, config: Config) -> Table:
    single = f.single
    acc_rows: list[list[Any]] = [
        ["single-task item CNN", "-", round(f.s_item, 4), "-", f"{single['item_as_group']:.4f} (via items)", "-",
         single["item"]["params"], round(single["item"]["train_seconds"], 1),
         round(single["item"]["seconds_per_epoch"], 1)],
        ["single-task group CNN", "-", "-", "-", round(f.s_group, 4), "-", single["group"]["params"],
         round(single["group"]["train_seconds"], 1), round(single["group"]["seconds_per_epoch"], 1)],
    ]
    for r in f.rows:
        method = weighting_class(r["strategy"])
        label = (f"MTL lambda = {lam_name(r['lambda'])}" if r["strategy"] == "fixed" else f"MTL {method.title}")
        acc_rows.append([label, method.weights_label(r["state"]), round(r["item"], 4),
                         pp_of_fraction_gap(r["item"] - f.s_item), round(r["group"], 4),
                         pp_of_fraction_gap(r["group"] - f.s_group), r["params"], round(r["seconds"], 1),
                         round(r["spe"], 1)])
    return Table(
        ["network", "weights item / group", "item test acc", "item vs single", "group test acc",
         "group vs single", "parameters", "train s", "s / epoch"], acc_rows,
        f"Test accuracy of both tasks for every network, {config.epochs} epoch(s), batch {config.batch_size}, "
        f"Adam lr {config.lr:g} ({config.lr_schedule} schedule), augmentation {config.augment}, {config.precision}. "
        f"Chance: {CHANCE['item']:.0%} (items), "
        f"{CHANCE['group']:.0%} uniform / {f.majority_group:.0%} majority (groups). pp: percentage points.")


def _tables(f: Findings, config: Config) -> dict[str, Table]:
    two, mtl = f.params_two, f.params_mtl
    out = {"accuracy": _accuracy_table(f, config), "parameters": Table(
        ["network", "parameters"],
        [["single-task item CNN", f.single["item"]["params"]], ["single-task group CNN", f.single["group"]["params"]],
         ["both single-task CNNs", two], ["one MTL network", mtl],
         ["saving of MTL", f"{two - mtl:,} ({100 * (two - mtl) / two:.1f}%)"]],
        "One hard-sharing MTL network against two single-task networks.")}
    if f.learned:
        out["strategies"] = Table(
            ["strategy", "effective lambda", "what it learned", "s / epoch"],
            [[weighting_class(r["strategy"]).title, round(r["eff_lambda"], 3),
              weighting_class(r["strategy"]).detail(r["state"], TASK_NAMES), round(r["spe"], 1)] for r in f.learned],
            "Learned weightings after training; effective lambda = w_item / (w_item + w_group).")
    if len(f.probes) > 1:
        out["probes"] = Table(
            ["variant", "batch", "lr schedule", "augmentation", "item test acc", "group test acc", "train s",
             "s / epoch"],
            [[p["label"], p["batch"], p["schedule"], p["augment"], round(p["item"], 4), round(p["group"], 4),
              round(p["seconds"], 1), round(p["spe"], 1)] for p in f.probes],
            "MTL lambda = 0.5 trained with this run's default settings and with each probed variant, otherwise "
            "the same: the evidence for the default batch size and training recipe.")
    return out


def _lambda_figure(ctx: Context, rows: list[dict], single: dict[str, float],
                   per_seed: dict[tuple[str, str], list[float]] | None = None) -> Figure:
    return ctx.figure(
        plot_lambda(rows, single, per_seed), "accuracy_vs_lambda",
        "Test accuracy of the item (left) and group (right) task against lambda; dashed: the single-task "
        "CNN; learned strategies are drawn at their effective lambda = w_item / (w_item + w_group).")


def _figures(f: Findings, config: Config, ctx: Context) -> list[Figure]:
    out = [_lambda_figure(ctx, f.rows, {"item": f.s_item, "group": f.s_group})]
    if (e := f.errors) is not None:
        out.append(ctx.figure(
            plot_errors(e.title, e.item_counts, e.group_counts, e.single_group_counts), "confusions",
            f"Test-set confusions of the best mixed-lambda network ({e.title}): items ordered by the brief's groups "
            "(shoes, gendered, unisex) with each group outlined, its group head, and the single-task group CNN."))
    if config.epochs > 1:  # one point per network says nothing a table does not
        out.append(ctx.figure(plot_curves(f.histories), "test_curves",
                              "Test accuracy after each epoch for every network of this run."))
    return out


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Task 6's metrics, tables (accuracy, parameters, learned weightings, probes) and figures (accuracy
    against lambda, the best mixed lambda's confusions, the test curves)."""
    return Result(metrics=metrics(findings), tables=_tables(findings, config),
                  figures=_figures(findings, config, ctx))


def seed_figures(config: Config, per_seed_metrics: dict[int, dict[str, Any]], ctx: Context) -> list[Figure]:
    """With several seeds: accuracy against lambda as means over the seeds with 95% t-intervals, the learned
    weightings at their mean effective lambda."""
    seeds = list(per_seed_metrics.values())
    per_seed = {("single", task): [m[f"single_{task}_test_acc"] for m in seeds] for task in TASK_NAMES}
    rows = []
    for kind, lam in [("fixed", lam) for lam in config.lambdas] + [(s, None) for s in config.strategies]:
        name = f"lambda_{lam_name(lam)}" if lam is not None else kind
        row = {"name": name, "strategy": kind, "lambda": lam}
        for task in TASK_NAMES:
            per_seed[(name, task)] = [m[f"mtl_{name}_{task}_test_acc"] for m in seeds]
            row[task] = float(np.mean(per_seed[(name, task)]))
        if kind != "fixed":
            row["eff_lambda"] = float(np.mean([m[f"mtl_{name}_effective_lambda"] for m in seeds]))
        rows.append(row)
    single = {task: float(np.mean(per_seed[("single", task)])) for task in TASK_NAMES}
    return [_lambda_figure(ctx, rows, single, per_seed)]
