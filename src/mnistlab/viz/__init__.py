"""Plotting helpers shared by the tasks. Matplotlib only, headless (Agg), one consistent look."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

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


def image_grid(images: np.ndarray, ncols: int, *, titles: list[str] | None = None, cmap: str = "gray",
               vmin: float | None = None, vmax: float | None = None, cell: float = 1.0,
               suptitle: str = "") -> plt.Figure:
    """Images (n, h, w) on a grid with thin separators and no ticks."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + (0.4 if suptitle else 0)),
                             squeeze=False, gridspec_kw={"wspace": 0.05, "hspace": 0.3 if titles else 0.05})
    for i, ax in enumerate(axes.flat):
        bare(ax)
        if i < n:
            ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if titles:
                ax.set_title(titles[i], fontsize=8, pad=2)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_histories(histories: dict[str, list[dict]], metric: str = "acc", title: str = "") -> plt.Figure:
    """Train (dashed) and test (solid) curves per model against epoch, from the engine's history."""
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, (name, history) in enumerate(histories.items()):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        epochs = [h["epoch"] for h in history]
        ax.plot(epochs, [h[f"train_{metric}"] for h in history], "--", color=colour, alpha=0.8)
        ax.plot(epochs, [h[f"test_{metric}"] for h in history], "-o", color=colour, ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel({"acc": "accuracy", "loss": "cross-entropy loss"}.get(metric, metric))
    ax.set_title(title or f"{metric}: train (dashed) and test (solid)")
    ax.legend(fontsize=8)
    return fig
