"""The recipes experiment's figure: test accuracy per epoch, the brief's recipe against the full one, per network.

Drawn from plain numbers (the task's `Findings`): each network's mean accuracy per epoch, keyed by its name.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def plot_recipe_curves(curves: dict[str, dict[str, np.ndarray]]) -> plt.Figure:
    """One panel per network ({network: {recipe label: accuracy (0-1) after each epoch}}): its first recipe
    (the reference, the brief's) dashed, the others solid."""
    cols = min(3, max(1, len(curves)))  # rows of three panels, so that six stay readable on a page
    rows = max(1, -(-len(curves) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.set_visible(False)
    for ax, (network, recipes) in zip(axes.flat, curves.items(), strict=False):
        for i, (label, acc) in enumerate(recipes.items()):
            ax.plot(range(1, len(acc) + 1), 100 * acc, "--" if i == 0 else "-", marker="o", ms=3, label=label)
        ax.set_title(network, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.set_ylabel("test accuracy, %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
