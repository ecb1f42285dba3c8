"""Plotting helpers shared by the tasks. Matplotlib only, headless (Agg), one consistent look."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from mnistlab.atomic import atomic_file

# Ten colours that stay distinguishable for the common colour-vision deficiencies
# (Okabe-Ito's eight plus two from Paul Tol's "muted" scheme).
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
                 "#56B4E9", "#F0E442", "#000000", "#882255", "#999933")

plt.rcParams.update({
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 10,
    "legend.frameon": False,
})


def save_figure(fig: plt.Figure, path: Path, dpi: int = 130) -> None:
    """Write a PNG atomically (temp file then rename); a failed save leaves no temp file behind."""
    with atomic_file(path, "wb", fsync=False) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")


def bare(ax: plt.Axes) -> None:
    """No ticks, grid or frame: for image cells."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
