"""Confusion matrices: counted with NumPy, drawn row-normalised with the counts written in the cells."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import PowerNorm


def confusion_matrix(true: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    """counts[t, p]: how many images of class t were predicted as p."""
    true, pred = np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)
    return np.bincount(true * classes + pred, minlength=classes * classes).reshape(classes, classes)


def plot_confusion(ax: plt.Axes, counts: np.ndarray, names: Sequence[str], *, order: Sequence[int] | None = None,
                   blocks: Sequence[int] = (), title: str = "") -> None:
    """Row-normalised colours (a square root scale, so that 1% errors still show) with counts in the cells.

    `order` permutes the classes (e.g. to group them); `blocks` are the sizes of consecutive class blocks
    (in that order) to outline, so errors that cross a block boundary stand out.
    """
    order = list(range(len(names))) if order is None else list(order)
    counts = counts[np.ix_(order, order)]
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", norm=PowerNorm(0.4, vmin=0, vmax=1))
    k = len(order)
    for t in range(k):
        for p in range(k):
            if counts[t, p]:
                ax.text(p, t, str(counts[t, p]), ha="center", va="center", fontsize=7 if k > 5 else 9,
                        color="white" if share[t, p] > 0.5 else "0.15")
    labels = [names[i] for i in order]
    ax.set_xticks(range(k), labels, rotation=45 if k > 5 else 0, ha="right" if k > 5 else "center", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.grid(False)
    edge = -0.5
    for size in blocks:
        ax.add_patch(plt.Rectangle((edge, edge), size, size, fill=False, ec="#D55E00", lw=1.6))
        edge += size
    if title:
        ax.set_title(title, fontsize=10)
