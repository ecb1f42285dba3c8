"""Figures of the pixel-permutation extension (mnistlab.tasks.permutation): example images before and after the
shuffle, and test accuracy per epoch on original and permuted pixels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz import CLASS_COLOURS, bare, plot_points


def plot_examples(images: np.ndarray, permuted: np.ndarray, labels: np.ndarray) -> plt.Figure:
    """Each image (flat, 784 values) above its permuted copy, titled with its label."""
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), squeeze=False)
    for i in range(n):
        for row, img in enumerate((images[i], permuted[i])):
            ax = axes[row, i]
            ax.imshow(img.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            bare(ax)
        axes[0, i].set_title(str(int(labels[i])), fontsize=9)
    axes[0, 0].set_ylabel("original", fontsize=9)
    axes[1, 0].set_ylabel("permuted", fontsize=9)
    fig.suptitle("The same test images before and after the fixed pixel permutation")
    fig.tight_layout()
    return fig


def plot_accuracy(rows: list[dict[str, Any]], dataset: str = "mnist",
                  per_seed: Mapping[tuple[str, bool], Sequence[Sequence[float]]] | None = None) -> plt.Figure:
    """Test accuracy per epoch on original (solid) and permuted (dashed) pixels, one colour per model; `rows`
    are dicts with the network's family ("MLP", "CNN"), name, permuted (bool) and per-epoch history.

    With `per_seed` ((name, permuted) -> for every seed, the test accuracy after each epoch) each epoch's point
    is the mean over the seeds with its 95% t-interval as error bars (no per-seed dots: they would crowd the
    curves)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ordered = [r for family in ("MLP", "CNN") for r in rows if r["family"] == family]
    for k, r in enumerate(ordered):
        i = ("MLP", "CNN").index(r["family"])
        hist = r["history"]
        # each epoch's accuracy over the seeds; the curves' bars side by side, not on top of each other
        seeds = None if per_seed is None else [list(e) for e in zip(*per_seed[(r["name"], r["permuted"])], strict=True)]
        dodge = 0.0 if per_seed is None else 0.05 * (k - (len(ordered) - 1) / 2)
        plot_points(ax, [h["epoch"] + dodge for h in hist], [h["test_acc"] for h in hist], seeds,
                    colour=CLASS_COLOURS[i], fmt="-o" if not r["permuted"] else "--s", ms=4,
                    dot_colour="none", label=f"{r['name']}, {'permuted' if r['permuted'] else 'original'} pixels")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.1f}%"))
    ax.legend(fontsize=8)
    ax.set_title(f"{dataset}: shuffling the pixels, MLP against CNN")
    fig.tight_layout()
    return fig
