"""Plots for architecture sweeps (Tasks 3 and 4): learning curves per model, accuracy vs size."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz import CLASS_COLOURS


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


def accuracy_vs_size(families: dict[str, list[dict[str, Any]]], title: str) -> plt.Figure:
    """Test accuracy against parameter count (log scale), each model labelled with its depth; one
    marker per family, so the MLP and CNN sweeps can share the axes. Right: training seconds per epoch."""
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(11, 4.2))
    markers = ("o", "s", "^", "D")
    for f, (family, rows) in enumerate(families.items()):
        params = np.array([r["params"] for r in rows])
        accs = np.array([r["test_acc"] for r in rows]) * 100
        secs = np.array([r["train_seconds"] / max(len(r["history"]), 1) for r in rows])
        colour = CLASS_COLOURS[f % len(CLASS_COLOURS)]
        ax.scatter(params, accs, s=55, marker=markers[f % 4], color=colour, label=family, zorder=3)
        ax_t.scatter(params, secs, s=55, marker=markers[f % 4], color=colour, label=family, zorder=3)
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
