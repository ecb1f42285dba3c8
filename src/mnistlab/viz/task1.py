"""Task 1's figures: the PCA scatter and scree plot, the pair-SVM accuracies in three views, and PCA beside
t-SNE. Each takes plain arrays (the task's findings) and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from mnistlab.data import CLASS_NAMES
from mnistlab.viz import CLASS_COLOURS
from mnistlab.viz.embedding import Gaussian2D, class_legend_handles, draw_ellipses, scatter_classes

DIGITS = list(CLASS_NAMES["mnist"])


def pca_figure(z: np.ndarray, y: np.ndarray, gaussians: list[Gaussian2D], radius: float, confidence: float,
               ev: np.ndarray, seed: int) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), sharex=True, sharey=True, layout="constrained")
    scatter_classes(axes[0], z, y, size=1.5, alpha=0.45, seed=seed)
    axes[0].set_title(f"{len(z):,} training images on the first two principal components")
    scatter_classes(axes[1], z, y, size=1.5, alpha=0.08, seed=seed)
    draw_ellipses(axes[1], gaussians, list(range(10)), radius)
    axes[1].set_title(f"class centroids and {confidence:.0%} confidence ellipses")
    for ax in axes:
        ax.set_xlabel(f"PC 1 ({ev[0]:.1%} of the variance)")
    axes[0].set_ylabel(f"PC 2 ({ev[1]:.1%} of the variance)")
    fig.legend(handles=class_legend_handles(DIGITS), loc="outside right center", title="digit")
    return fig


def scree_figure(ev: np.ndarray, shown: int) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    k = np.arange(1, shown + 1)
    ax.bar(k, ev[:shown], color=CLASS_COLOURS[0], label="explained variance ratio")
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of total variance")
    ax2 = ax.twinx()
    cum = np.cumsum(ev)
    ax2.plot(k, cum[:shown], "-o", ms=3, color=CLASS_COLOURS[3], label="cumulative")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("cumulative share", color=CLASS_COLOURS[3])
    ax2.grid(False)
    ax2.annotate(f"2 components: {cum[1]:.1%}", (2, cum[1]), xytext=(8, cum[1] + 0.12),
                 arrowprops={"arrowstyle": "->", "color": "0.3"}, fontsize=9)
    ax.set_title(f"PCA of the training images: {int(np.searchsorted(cum, 0.9)) + 1} components hold 90% "
                 "of the variance")
    return fig


def pair_matrix(values: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    m = np.full((10, 10), np.nan)
    for v, (a, b) in zip(values, pairs, strict=True):
        m[a, b] = m[b, a] = v
    return m


def heatmap_figure(acc2: np.ndarray, accp: np.ndarray, pairs: list[tuple[int, int]]) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained")
    for ax, values, title in ((axes[0], acc2, "2-D PCA embedding"), (axes[1], accp, "784-D pixels")):
        m = pair_matrix(values, pairs)
        lo = np.floor(np.nanmin(m) * 20) / 20  # each panel its own scale, so the 784-D differences show
        norm = Normalize(lo, 1.0)
        image = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", norm=norm)
        ax.set_facecolor("0.85")
        for a in range(10):
            for b in range(10):
                if a != b:
                    ax.text(b, a, f"{100 * m[a, b]:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if norm(m[a, b]) < 0.55 else "black")
        ax.set_xticks(range(10), DIGITS)
        ax.set_yticks(range(10), DIGITS)
        ax.grid(False)
        ax.set_title(f"{title}: test accuracy (%) per digit pair")
        fig.colorbar(image, ax=ax, shrink=0.85, label="test accuracy")
    return fig


def histogram_figure(acc2: np.ndarray, accp: np.ndarray, threshold: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    lo = min(0.5, float(np.floor(min(acc2.min(), accp.min()) * 20) / 20))
    bins = np.linspace(lo, 1.0, round((1.0 - lo) / 0.01) + 1)
    ax.hist(acc2, bins=bins, color=CLASS_COLOURS[0], alpha=0.75, label="2-D PCA")
    ax.hist(accp, bins=bins, color=CLASS_COLOURS[1], alpha=0.75, label="784-D pixels")
    ax.axvline(threshold, color="0.2", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("test accuracy of the pair's linear SVM")
    ax.set_ylabel("digit pairs")
    ax.set_title("45 digit pairs: how linearly separable in each space")
    ax.legend(loc="upper left")
    return fig


def sorted_pairs_figure(acc2: np.ndarray, accp: np.ndarray, pairs: list[tuple[int, int]],
                        threshold: float) -> plt.Figure:
    order = np.lexsort((-accp, -acc2))
    fig, ax = plt.subplots(figsize=(13, 4.4), layout="constrained")
    x = np.arange(len(pairs))
    ax.vlines(x, acc2[order], accp[order], color="0.75", lw=1)
    ax.plot(x, acc2[order], "o", ms=5, color=CLASS_COLOURS[0], label="2-D PCA")
    ax.plot(x, accp[order], "s", ms=5, color=CLASS_COLOURS[1], label="784-D pixels")
    ax.axhline(threshold, color="0.2", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xticks(x, [f"{pairs[i][0]}-{pairs[i][1]}" for i in order], rotation=90, fontsize=8)
    ax.set_xlim(-0.7, len(pairs) - 0.3)
    ax.set_ylabel("test accuracy")
    ax.set_xlabel("digit pair, sorted by 2-D accuracy")
    ax.set_title("Pairwise linear separability, sorted")
    ax.legend(loc="lower left")
    return fig


def side_by_side_figure(z_pca: np.ndarray, z_tsne: np.ndarray, y: np.ndarray, seed: int,
                        tsne_label: str) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), layout="constrained")
    size = 3 if len(y) > 3000 else 8
    for ax, pts, title in ((axes[0], z_pca, f"PCA (2 components) of {len(y):,} training images"),
                           (axes[1], z_tsne, f"{tsne_label} of the same {len(y):,} images")):
        scatter_classes(ax, pts, y, size=size, alpha=0.6, seed=seed)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.legend(handles=class_legend_handles(DIGITS), loc="outside right center", title="digit")
    return fig
