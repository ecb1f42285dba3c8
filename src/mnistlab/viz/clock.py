"""The clock task's figures: test clocks with their readings, each variant's errors, and the error curves.

Each is drawn from plain numbers (the task's `Findings`): images, minutes, errors and histories, keyed by
the variant's title.
"""

from __future__ import annotations

import textwrap
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.data.clocks import common_sense_error
from mnistlab.viz import CLASS_COLOURS, bare

LATE = 15  # minutes: a reading further off than this is drawn in red


def clock_text(minutes: float) -> str:
    """Minutes since 12 -> 'h:mm' as a dial shows it (12, not 0)."""
    m = round(float(minutes)) % 720
    return f"{(m // 60) or 12}:{m % 60:02d}"


def plot_samples(images: np.ndarray, true: np.ndarray, pred: np.ndarray, title: str) -> plt.Figure:
    """Each clock with its true time and its reading (red when more than 15 minutes off)."""
    n = len(images)
    cols = min(n, 6)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.1 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, img, t, p in zip(axes.flat, images, true, pred, strict=False):
        ax.set_visible(True)
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        bare(ax)
        err = float(common_sense_error(p, t))
        ax.set_title(f"true {clock_text(t)}\npred {clock_text(p)} ({err:.0f} min)", fontsize=8,
                     color="#D55E00" if err > LATE else "black")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_errors(errors: dict[str, np.ndarray]) -> plt.Figure:
    """Box plot of each variant's errors (symlog axis: most errors are small, a few are hours) and the
    share of test clocks within x minutes; `errors` maps a variant's title to its errors in minutes."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    titles = list(errors)
    ax1.boxplot([errors[t] for t in titles], whis=(5, 95), showmeans=True, flierprops={"markersize": 2})
    ax1.set_xticks(range(1, len(titles) + 1), [textwrap.fill(t, 14) for t in titles], fontsize=8)
    ax1.set_yscale("symlog", linthresh=10)
    ax1.set_ylim(0, 400)
    ax1.set_ylabel("common-sense error, minutes")
    ax1.set_title("Errors per variant (box: quartiles, whiskers: 5-95%, triangle: mean)", fontsize=9)
    grid = np.linspace(0, 360, 721)
    for i, t in enumerate(titles):
        share = (np.sort(errors[t])[None, :] <= grid[:, None]).mean(1)
        ax2.plot(grid, share, color=CLASS_COLOURS[i % len(CLASS_COLOURS)], label=t)
    ax2.set_xscale("symlog", linthresh=10)
    ax2.set_xlim(0, 360)
    ax2.set_xlabel("error at most x minutes")
    ax2.set_ylabel("share of test clocks")
    ax2.legend(fontsize=8)
    ax2.set_title("Share of test clocks read within x minutes", fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(histories: dict[str, list[dict[str, Any]]], chance: float) -> plt.Figure:
    """Per epoch and variant (`histories`: title -> history): the mean error on the test clocks (solid) and
    on the training clocks while the epoch trained on them (dashed), and the training loss."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (title, hist) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in hist]
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        ax1.plot(epochs, [h["test_mae"] for h in hist], "-o", ms=3, color=colour, label=title)
        ax1.plot(epochs, [h["train_mae"] for h in hist], "--", lw=1, color=colour)
        ax2.plot(epochs, [h["train_loss"] / hist[0]["train_loss"] for h in hist], "-o", ms=3, color=colour)
    ax1.axhline(chance, color="grey", ls=":", lw=1)
    ax1.set_ylabel("mean common-sense error, minutes")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax2.set_ylabel("training loss / first epoch's")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax1.set_title(f"Test (solid) and training (dashed) error after each epoch (dotted: chance, {chance:.0f} min)",
                  fontsize=9)
    ax2.set_title("Training loss (each variant in its own units)", fontsize=9)
    fig.tight_layout()
    return fig
