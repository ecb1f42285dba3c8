"""Plots for architecture sweeps (Tasks 3 and 4): learning curves per model, accuracy vs size."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz import CLASS_COLOURS, seed_errorbars


def curves_per_model(rows: list[dict[str, Any]], title: str) -> plt.Figure:
    """One column per model: accuracy (top) and loss (bottom), train dashed and test solid, per epoch.

    The training values are running means over each epoch's batches (as Keras reports them), so after
    the first epoch they lag behind a model that is still improving.
    """
    n = len(rows)
    fig, axes = plt.subplots(2, n, figsize=(max(2.9 * n + 0.6, 6.0), 5.6), squeeze=False, sharex=True)
    acc_lo = min(min(h["train_acc"], h["test_acc"]) for r in rows for h in r["history"])
    loss_hi = max(max(h["train_loss"], h["test_loss"]) for r in rows for h in r["history"])
    for j, row in enumerate(rows):
        hist = row["history"]
        epochs = [h["epoch"] for h in hist]
        colour = CLASS_COLOURS[j % len(CLASS_COLOURS)]
        for i, metric in enumerate(("acc", "loss")):
            ax = axes[i, j]
            ax.plot(epochs, [h[f"train_{metric}"] for h in hist], "--o", color=colour, ms=4, mfc="white",
                    label="train")
            ax.plot(epochs, [h[f"test_{metric}"] for h in hist], "-o", color=colour, ms=3, label="test")
            if metric == "acc":
                ax.set_ylim(max(acc_lo - 0.005, 0.0), 1.001)
                ax.set_title(f"{row['name']}\n{row['params']:,} params", fontsize=9)
            else:
                ax.set_ylim(0, loss_hi * 1.05)
                ax.set_xlabel("epoch")
            if j == 0:
                ax.set_ylabel("accuracy" if metric == "acc" else "cross-entropy loss")
                ax.legend(fontsize=8, loc="lower right" if metric == "acc" else "upper right")
            ax.set_xlim(0.5, max(epochs) + 0.5)
            if len(epochs) <= 12:
                ax.set_xticks(epochs)
            else:
                ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_vs_size(families: dict[str, list[dict[str, Any]]], title: str,
                     per_seed: Mapping[str, Mapping[str, Sequence[float]]] | None = None) -> plt.Figure:
    """Test accuracy against parameter count (log scale), each model labelled with its depth; one
    marker per family, so the MLP and CNN sweeps can share the axes. Right: training seconds per epoch.

    With `per_seed` (model name -> {"test_acc": ..., "seconds_per_epoch": ...}, one value per seed) each
    point is the mean over the seeds with its 95% t-interval as error bars, and each seed a small dot."""
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2))
    markers = ("o", "s", "^", "D")
    for f, (family, rows) in enumerate(families.items()):
        params = np.array([r["params"] for r in rows])
        colour, marker = CLASS_COLOURS[f % len(CLASS_COLOURS)], markers[f % 4]
        if per_seed is None:
            accs = np.array([r["test_acc"] for r in rows]) * 100
            secs = np.array([r["train_seconds"] / max(len(r["history"]), 1) for r in rows])
            ax.scatter(params, accs, s=55, marker=marker, color=colour, label=family, zorder=3)
            ax_t.scatter(params, secs, s=55, marker=marker, color=colour, label=family, zorder=3)
        else:
            style = {"colour": colour, "fmt": marker, "ms": 7, "label": family}
            accs = np.array([i.mean for i in seed_errorbars(
                ax, params, [100 * np.asarray(per_seed[r["name"]]["test_acc"]) for r in rows], **style)])
            secs = np.array([i.mean for i in seed_errorbars(
                ax_t, params, [per_seed[r["name"]]["seconds_per_epoch"] for r in rows], **style)])
        for r, p, a in zip(rows, params, accs, strict=True):
            ax.annotate(f"{r['depth']} layers", (p, a), textcoords="offset points", xytext=(6, -3), fontsize=8)
        for r, p, s in zip(rows, params, secs, strict=True):
            ax_t.annotate(r["name"].removeprefix("MLP ").removeprefix("CNN "), (p, s), textcoords="offset points",
                          xytext=(6, -3), fontsize=7)
    for a in (ax, ax_t):
        a.set_xscale("log")
        a.set_xlabel("parameters (log scale)")
        a.margins(x=0.25, y=0.15)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("accuracy vs parameters (labels: weight layers)")
    ax_t.set_ylabel("training seconds per epoch")
    ax_t.set_title("training time vs parameters")
    # One legend for both panels, above them, where it cannot cover a point.
    handles, labels = ax.get_legend_handles_labels()
    fig.suptitle(title)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, 0.93))
    fig.subplots_adjust(top=0.80)
    return fig
