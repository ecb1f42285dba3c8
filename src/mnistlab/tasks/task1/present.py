"""Task 1's findings as the report shows them: metrics, tables (PCA's variance and classes, the pair SVMs,
the separation measures) and figures (drawn by `mnistlab.viz.task1`), and the published figures that stand
beside ours."""

from __future__ import annotations

import numpy as np

from mnistlab.analysis.published import cite
from mnistlab.data import CLASS_NAMES
from mnistlab.tasks.base import Context, Figure, Result, Table
from mnistlab.tasks.task1.config import Config
from mnistlab.tasks.task1.findings import Findings, metrics
from mnistlab.viz.embedding import confidence_radius, separation_figure
from mnistlab.viz.task1 import (
    heatmap_figure,
    histogram_figure,
    pca_figure,
    scree_figure,
    side_by_side_figure,
    sorted_pairs_figure,
)

DIGITS = list(CLASS_NAMES["mnist"])

PUBLISHED = (
    cite("2-D PCA, linear SVM per digit pair: mean test accuracy over the 45 pairs", "0.841", "Report B",
         "pca2d_pair_acc_mean", "LinearSVC", unit=""),
    cite("2-D PCA, linear SVM: pair 0-1", "near 1.0", "Report B", "pca2d_pair_acc_0_1", unit=""),
    cite("2-D PCA, linear SVM: pair 0-7", "near 1.0", "Report B", "pca2d_pair_acc_0_7", unit=""),
    cite("2-D PCA, linear SVM: pair 1-4", "near 1.0", "Report B", "pca2d_pair_acc_1_4", unit=""),
    cite("2-D PCA, linear SVM: pair 3-5", "about 0.6", "Report B", "pca2d_pair_acc_3_5", unit=""),
    cite("2-D PCA, linear SVM: pair 3-8", "about 0.6", "Report B", "pca2d_pair_acc_3_8", unit=""),
    cite("2-D PCA, linear SVM: pair 7-9", "about 0.6", "Report B", "pca2d_pair_acc_7_9", unit=""),
    cite("neighbourhood hit, t-SNE", "77.92%", "Report D", "tsne_neighbourhood_hit",
         "first 1,000 test images, k not stated (ours: k and images in the separation table)"),
    cite("neighbourhood hit, PCA", "36.72%", "Report D", "pca_neighbourhood_hit",
         "first 1,000 test images, k not stated (ours: k and images in the separation table)"),
)


def present(findings: Findings, config: Config, ctx: Context) -> Result:
    """Task 1's metrics, tables (PCA, the pair SVMs, the separation measures) and figures."""
    f = findings
    result = Result(metrics=metrics(f, config))
    result.tables.update(_pca_tables(f, config))
    result.tables.update(_pair_tables(f, config))
    result.tables["separation"] = _separation_table(f, config)
    result.figures += _pca_figures(ctx, f, config) + _pair_figures(ctx, f, config) + _tsne_figures(ctx, f, config)
    return result


def _pca_tables(f: Findings, config: Config) -> dict[str, Table]:
    radius = confidence_radius(config.confidence)
    stats = []
    for c, g in enumerate(f.gaussians):
        corr = g.cov[0, 1] / np.sqrt(g.cov[0, 0] * g.cov[1, 1])
        stats.append([DIGITS[c], int((f.y == c).sum()), round(float(g.mean[0]), 3), round(float(g.mean[1]), 3),
                      round(float(g.cov[0, 0]), 3), round(float(g.cov[1, 1]), 3), round(float(corr), 3),
                      round(g.area(radius), 2)])
    cum = f.cum
    return {
        "pca_class_stats": Table(
            ["digit", "train images", "centroid PC1", "centroid PC2", "variance PC1", "variance PC2",
             "correlation", f"{config.confidence:.0%} ellipse area"], stats,
            "Per-class centroid and spread in the 2-D PCA embedding (pm1-scaled pixels)."),
        "pca_variance": Table(
            ["component", "explained variance ratio", "cumulative"],
            [[i + 1, round(float(f.ev[i]), 5), round(float(cum[i]), 5)] for i in range(10)],
            f"The first ten principal components; {f.components_for(0.9)} components reach 90% and "
            f"{f.components_for(0.95)} reach 95%."),
    }


def _pair_tables(f: Findings, config: Config) -> dict[str, Table]:
    thr = config.separable_threshold
    acc2, accp = f.pca2d.test_acc, f.pixels.test_acc
    order = np.lexsort((-accp, -acc2))
    yes = lambda v: "yes" if v >= thr else "no"  # noqa: E731
    rows = [[f"{f.pairs[i][0]} vs {f.pairs[i][1]}", round(float(f.pca2d.train_acc[i]), 4), round(float(acc2[i]), 4),
             round(float(f.pixels.train_acc[i]), 4), round(float(accp[i]), 4), yes(acc2[i]), yes(accp[i])]
            for i in order]
    summary = []
    for space, scores in (("2-D PCA", f.pca2d), ("784-D pixels", f.pixels)):
        sep, worst = scores.at_least(f.pairs, thr), int(scores.test_acc.argmin())
        summary.append([space, ", ".join(f"{a}-{b}" for a, b in sep) or "none", len(sep),
                        round(float(scores.test_acc.mean()), 4),
                        f"{f.pair_name(worst)} ({scores.test_acc[worst]:.4f})"])
    return {
        "pairs": Table(
            ["pair", "2-D PCA train", "2-D PCA test", "784-D train", "784-D test", f"2-D >= {thr:g}",
             f"784-D >= {thr:g}"], rows,
            "All 45 digit pairs, sorted by test accuracy on the 2-D PCA embedding (linear SVM per pair, trained "
            "on the training split, scored on the test split)."),
        "separable_pairs": Table(
            ["space", "pairs with test accuracy >= " + f"{thr:g}", "count", "mean accuracy", "worst pair"], summary,
            "The (near-)linearly separable pairs in each space."),
    }


def _separation_table(f: Findings, config: Config) -> Table:
    p, t = f.pca_sep, f.tsne_sep
    rows = [[DIGITS[c], round(float(p.hit_per_class[i]), 4), round(float(t.hit_per_class[i]), 4),
             round(float(p.hull_purity[i]), 4), round(float(t.hull_purity[i]), 4),
             round(float(p.ellipse_purity[i]), 4), round(float(t.ellipse_purity[i]), 4)]
            for i, c in enumerate(p.classes)]
    rows.append(["all", round(p.mean_hit, 4), round(t.mean_hit, 4), round(float(p.hull_purity.mean()), 4),
                 round(float(t.hull_purity.mean()), 4), round(float(p.ellipse_purity.mean()), 4),
                 round(float(t.ellipse_purity.mean()), 4)])
    return Table(
        ["digit", "PCA hit", "t-SNE hit", "PCA hull purity", "t-SNE hull purity", "PCA ellipse purity",
         "t-SNE ellipse purity"], rows,
        f"Class separation on the {config.tsne_subset:,}-image subset (neighbourhood hit with k="
        f"{config.neighbours}; hull and ellipse purity as in the figure). 'all' is the mean over points "
        "(hit) or classes (purity).")


def _pca_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    radius = confidence_radius(config.confidence)
    return [
        ctx.figure(
            pca_figure(f.z, f.y, list(f.gaussians), radius, config.confidence, f.ev, ctx.seed), "pca_scatter",
            f"Left: the {f.n_train:,} training images projected on the first two principal components, one colour "
            f"per digit. Right: each digit's centroid (numbered disc) and {config.confidence:.0%} confidence "
            f"ellipse (Mahalanobis radius {radius:.3f}) of a Gaussian fitted to its points."),
        ctx.figure(
            scree_figure(f.ev, config.scree_components), "pca_scree",
            f"Explained-variance ratio of the first {config.scree_components} principal components (bars) and "
            "its cumulative sum (line)."),
    ]


def _pair_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    acc2, accp, pairs, thr = f.pca2d.test_acc, f.pixels.test_acc, list(f.pairs), config.separable_threshold
    return [
        ctx.figure(
            heatmap_figure(acc2, accp, pairs), "pair_heatmaps",
            f"Test accuracy of a linear SVM (squared hinge, C={config.svm_c:g}) trained on each pair of digits: "
            "left on the 2-D PCA coordinates, right on all 784 pixels. Each panel has its own colour scale."),
        ctx.figure(
            histogram_figure(acc2, accp, thr), "pair_histogram",
            f"Distribution of the 45 pair accuracies in each space; the dashed line is the {thr:g} threshold."),
        ctx.figure(
            sorted_pairs_figure(acc2, accp, pairs, thr), "pair_sorted",
            "Every digit pair, sorted by its 2-D accuracy, with its 784-D accuracy above it."),
    ]


def _tsne_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    label = "t-SNE (openTSNE)" if config.tsne_impl == "opentsne" else "t-SNE (scikit-learn)"
    source = (f" on the top {config.tsne_pca_dims} principal components" if config.tsne_pca_dims
              else " on the raw pixels")
    return [
        ctx.figure(
            side_by_side_figure(f.z_sub, f.z_tsne, f.y_sub, ctx.seed, label), "tsne_vs_pca",
            f"The first {config.tsne_subset:,} training images: PCA (left) and {label} with perplexity "
            f"{config.tsne_perplexity:g}{source} (right)."),
        ctx.figure(
            separation_figure({"PCA": f.z_sub, "t-SNE": f.z_tsne}, f.y_sub, {"PCA": f.pca_sep, "t-SNE": f.tsne_sep},
                              DIGITS, seed=ctx.seed), "separation_views",
            f"Three views of class separation on the same {config.tsne_subset:,} images, PCA (top) and t-SNE "
            f"(bottom). Left: each point coloured by its neighbourhood hit (share of its {config.neighbours} "
            f"nearest neighbours with its label). Middle: convex hull of the {config.hull_keep:.0%} of each class "
            f"nearest its centre; purity = share of the points inside a hull that belong to its class. Right: "
            f"{config.ellipse_sigma:g}-sigma ellipse of a Gaussian fitted to each class, and its purity."),
    ]
