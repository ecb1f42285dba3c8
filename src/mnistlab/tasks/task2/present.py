"""Task 2's findings as the report shows them: metrics, tables (every pair, the brief's five) and figures
(drawn by `mnistlab.viz.task2`), and the published figures that stand beside ours."""

from __future__ import annotations

import numpy as np

from mnistlab.analysis.published import cite
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.task2.config import Config, Pair
from mnistlab.tasks.task2.findings import Findings, choose_five, metrics
from mnistlab.viz.task2 import error_figure, pair_heatmap, sklearn_scatter, weight_figure, weight_grid

PUBLISHED = (
    cite("perceptron, pair 0-1: test accuracy", "99.8%", "Report A", "pair_test_acc_0_1",
         "train 100%, 9 iterations to a training error of 0.003"),
    cite("perceptron, pair 1-9: test accuracy", "99.5%", "Report A", "pair_test_acc_1_9"),
    cite("perceptron, pair 2-8: test accuracy", "96.2%", "Report A", "pair_test_acc_2_8"),
    cite("perceptron, pair 3-6: test accuracy", "99.3%", "Report A", "pair_test_acc_3_6"),
    cite("perceptron, pair 4-5: test accuracy", "98.1%", "Report A", "pair_test_acc_4_5"),
    cite("perceptron, pair 0-9: test accuracy", "99.0%", "Report A", "pair_test_acc_0_9"),
    cite("perceptron, pair 0-1: test accuracy", "99.9%", "Report B", "pair_test_acc_0_1", "781 iterations"),
    cite("perceptron, pair 3-8: test accuracy", "96.7%", "Report B", "pair_test_acc_3_8", "1,000 iterations"),
    cite("perceptron, pair 4-9: test accuracy", "96.9%", "Report B", "pair_test_acc_4_9", "1,000 iterations"),
    cite("perceptron, pair 7-8: test accuracy", "96.9%", "Report B", "pair_test_acc_7_8", "1,000 iterations"),
    cite("perceptron, pair 2-9: test accuracy", "98.3%", "Report B", "pair_test_acc_2_9", "1,000 iterations"),
)


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Task 2's metrics, tables (every pair; the brief's five) and figures."""
    return Result(metrics=metrics(findings), tables=_tables(findings, config),
                  figures=_figures(ctx, findings, config))


def _tables(f: Findings, config: Config) -> dict[str, Table]:
    columns = ["pair (-1 vs +1)", "train images", "test images", "iterations", "reached tol", "train acc", "test acc",
               "test acc, last iterate"] + (["sklearn test acc", "sklearn epochs"] if f.sklearn is not None else [])
    rows = []
    for i, p in enumerate(f.pairs):
        row = [f"{p[0]} vs {p[1]}", f.n_train[p], f.n_test[p], f.iters[p], "yes" if f.converged[p] else "no",
               round(f.train_acc[p], 4), round(f.test_acc[p], 4), round(f.last_test_acc[p], 4)]
        if f.sklearn is not None:
            row += [round(f.sklearn.test_acc[i], 4), f.sklearn.n_iter[i]]
        rows.append(row)
    five = [[role, f"{p[0]} vs {p[1]}", round(f.train_acc[p], 4), round(f.test_acc[p], 4), f.iters[p],
             round(f.mean_gap[p], 2)] for role, p in choose_five(f.test_acc, f.detail)]
    return {
        "all_pairs": Table(
            columns, rows,
            f"Every digit pair: our perceptron ({config.rule} rule, lr {config.lr:g}, up to {config.max_iter} "
            f"iterations, tol {config.tol:g}; train/test acc of the "
            f"{'pocket (lowest training error) parameters' if config.pocket else 'last iterate'}, and the test acc "
            f"of the last iterate) and scikit-learn's Perceptron on the same images."),
        "five_pairs": Table(
            ["role", "pair", "train acc", "test acc", "iterations", "distance between class means"], five,
            "The brief's table of five pairs, chosen from this run's numbers: the brief's pair, the easiest other "
            "pair, the median pair and the two hardest. Distance: Euclidean, between the two mean training "
            "images (pm1 pixels)."),
    }


def _grid_pairs(f: Findings, config: Config) -> list[Pair]:
    """The five pairs of the table, then pairs spread evenly over the ranking, up to `weight_images`; easiest first."""
    ranked = f.ranked
    chosen = [p for _, p in choose_five(f.test_acc, f.detail)]
    for p in [ranked[int(k)] for k in np.rint(np.linspace(0, len(ranked) - 1, config.weight_images))]:
        if len(chosen) >= config.weight_images:
            break
        if p not in chosen:
            chosen.append(p)
    return sorted(chosen[:config.weight_images], key=lambda p: (-f.test_acc[p], p))


def _figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    (a, b), curves = f.detail, {f"{config.rule} rule": list(f.errors[f.detail])}
    if f.other is not None:
        curves[f"{f.other.rule} rule"] = list(f.other.errors)
    picked = {f"{p[0]} vs {p[1]}": list(f.errors[p]) for _, p in choose_five(f.test_acc, f.detail)}
    grid = _grid_pairs(f, config)
    out = [
        ctx.figure(error_figure(curves, picked, f.detail, f.n_train[f.detail], config.rule, config.tol),
                   "error_curves",
                   f"Training classification error after each iteration (log-log; an error of 0 is drawn at half a "
                   f"sample). Left: pair {a} vs {b}; right: the five pairs of the table."),
        ctx.figure(weight_figure(f.weights[f.detail], f.means[a], f.means[b], f.detail), "weights_detail",
                   f"The learned w of pair {a} vs {b} as a 28x28 image (diverging map centred on 0), beside "
                   "the two class means and their difference."),
        ctx.figure(pair_heatmap(f.test_acc, sorted(config.digits),
                                f"Perceptron test accuracy (%) per digit pair, {config.rule} rule"), "pair_heatmap",
                   "Test accuracy of the perceptron for every digit pair (symmetric; the diagonal is empty)."),
        ctx.figure(weight_grid(np.stack([f.weights[p] for p in grid]), grid, [f.test_acc[p] for p in grid]),
                   "weights_grid",
                   "Learned w of several pairs, easiest first, each divided by its largest |w|: red pixels vote for "
                   "the second digit of the pair, blue for the first."),
    ]
    if f.sklearn is not None:
        out.append(ctx.figure(
            sklearn_scatter([f.test_acc[p] for p in f.pairs], list(f.sklearn.test_acc), list(f.pairs)),
            "sklearn_scatter", "Each dot is a digit pair: scikit-learn's Perceptron (x) against ours (y) on the "
                               "same split."))
    return out
