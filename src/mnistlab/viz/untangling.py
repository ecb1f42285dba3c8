"""Figures of the baselines' "manifold untangling" (mnistlab.tasks.baselines): t-SNE of each representation
and the separation measures from pixels to logits."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.data import CLASS_NAMES
from mnistlab.viz import CLASS_COLOURS
from mnistlab.viz.embedding import class_legend_handles, scatter_classes


def plot_embeddings(embeddings: dict[str, np.ndarray], labels: np.ndarray, hits: dict[str, float],
                    seed: int) -> plt.Figure:
    """One panel per representation: its 2-D t-SNE coloured by digit, titled with its neighbourhood hit."""
    n = len(embeddings)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.4 * rows), squeeze=False, layout="constrained")
    size = 2.0 if len(labels) > 3000 else 5.0
    for ax, (name, pts) in zip(axes.flat, embeddings.items(), strict=False):
        scatter_classes(ax, pts, labels, size=size, alpha=0.6, seed=seed)
        ax.set_title(f"{name}\nneighbourhood hit {hits[name]:.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.legend(handles=class_legend_handles(list(CLASS_NAMES["mnist"])), loc="outside right center",
               title="digit")
    fig.suptitle("t-SNE of the same test digits as each network represents them")
    return fig


def plot_measures(names: list[str], measures: dict[str, list[float]]) -> plt.Figure:
    """Each separation measure (label -> one value per representation) along the representations `names`."""
    fig, ax = plt.subplots(figsize=(max(6.5, 1.2 * len(names)), 4))
    x = np.arange(len(names))
    for j, (label, values) in enumerate(measures.items()):
        ax.plot(x, values, "-o", color=CLASS_COLOURS[j], label=label)
    ax.set_xticks(x, names, rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("separation of the ten classes (1 = perfect)")
    ax.legend(fontsize=8)
    ax.set_title("Manifold untangling: class separation in t-SNE of each representation")
    fig.tight_layout()
    return fig
