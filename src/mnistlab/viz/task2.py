"""Task 2's figures: error curves, learned weights as images, the pair heatmap and the scikit-learn
cross-check. Each takes plain arrays (the task's findings) and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz import CLASS_COLOURS, bare
from mnistlab.viz.task1 import pair_matrix

Pair = tuple[int, int]


def error_figure(curves: dict[str, list[float]], picked: dict[str, list[float]], detail: Pair, n_train: int,
                  rule: str, tol: float):
    """Left: the detail pair's training error per iteration (each rule). Right: the five chosen pairs."""
    floor = 0.5 / n_train  # an error of 0 cannot sit on a log axis: drawn at half a sample
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4))
    for ax, lines, title in ((axes[0], curves, f"pair {detail[0]} vs {detail[1]}: training error"),
                             (axes[1], picked, f"five chosen pairs ({rule} rule)")):
        for i, (name, errors) in enumerate(lines.items()):
            it = np.arange(1, len(errors) + 1)
            ax.plot(it, np.maximum(errors, floor), "-", color=CLASS_COLOURS[i % len(CLASS_COLOURS)], lw=1.3,
                    marker="o" if len(errors) < 15 else None, ms=4, label=f"{name} ({len(errors)} it.)")
        ax.axhline(max(tol, floor), color="grey", ls=":", lw=1, label=f"tol = {tol:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(floor * 0.7, 1.0)
        ax.set_xlabel("iteration")
        ax.set_ylabel("training classification error")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower left")  # below the tolerance line the axes are empty
    return fig


def weight_figure(w: np.ndarray, mean_a: np.ndarray, mean_b: np.ndarray, pair: Pair):
    """Mean image of each digit, the learned w and the difference of the means; diverging maps centred on 0."""
    a, b = pair
    mean_a, mean_b = mean_a.reshape(28, 28), mean_b.reshape(28, 28)
    panels = [(mean_a, f"mean '{a}' (label -1)", "gray", (-1, 1)),
              (mean_b, f"mean '{b}' (label +1)", "gray", (-1, 1)),
              (w.reshape(28, 28), "learned w", "RdBu_r", None),
              (mean_b - mean_a, f"mean '{b}' - mean '{a}'", "RdBu_r", None)]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    for ax, (img, title, cmap, lim) in zip(axes, panels, strict=True):
        if lim is None:
            m = float(np.abs(img).max()) or 1.0
            lim = (-m, m)
        shown = ax.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1], interpolation="nearest")
        ax.set_title(title, fontsize=10)
        bare(ax)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle(f"Pair {a} vs {b}: red pixels push towards '{b}', blue towards '{a}'")
    return fig


def weight_grid(ws: np.ndarray, pairs: list[Pair], accs: list[float]):
    """Several weight vectors as images, each scaled by its own largest |w| so one colour bar serves all."""
    n = len(pairs)
    ncols = min(5, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols + 0.8, 2.5 * nrows), squeeze=False)
    shown = None
    for i, ax in enumerate(axes.flat):
        bare(ax)
        if i >= n:
            ax.axis("off")
            continue
        w = ws[i] / (np.abs(ws[i]).max() or 1.0)
        shown = ax.imshow(w.reshape(28, 28), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{pairs[i][0]} (blue) vs {pairs[i][1]} (red)\ntest acc {accs[i]:.1%}", fontsize=9)
    fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.02, label="w / max |w|")
    return fig


def pair_heatmap(acc: dict[Pair, float], digits: list[int], title: str):
    """A symmetric digit-by-digit map of test accuracy, annotated in percent."""
    sub = pair_matrix(np.array(list(acc.values())), list(acc))[np.ix_(digits, digits)]
    vmin = float(np.nanmin(sub))
    fig, ax = plt.subplots(figsize=(7.2, 6))
    shown = ax.imshow(sub, cmap="viridis", vmin=vmin, vmax=1.0)
    ax.set_xticks(range(len(digits)), digits)
    ax.set_yticks(range(len(digits)), digits)
    ax.grid(False)
    ax.set_xlabel("digit")
    ax.set_ylabel("digit")
    mid = (vmin + 1.0) / 2
    for i in range(len(digits)):
        for j in range(len(digits)):
            if not np.isnan(sub[i, j]):
                ax.text(j, i, f"{100 * sub[i, j]:.1f}", ha="center", va="center", fontsize=7.5,
                        color="black" if sub[i, j] > mid else "white")
    fig.colorbar(shown, ax=ax, label="test accuracy")
    ax.set_title(title)
    return fig


def sklearn_scatter(ours: list[float], theirs: list[float], pairs: list[Pair]):
    fig, ax = plt.subplots(figsize=(5.4, 5))
    ax.scatter(theirs, ours, s=22, color=CLASS_COLOURS[0], zorder=3)
    lo = min(min(ours), min(theirs)) - 0.005
    ax.plot([lo, 1], [lo, 1], color="grey", ls="--", lw=1, label="equal accuracy")
    gaps = np.argsort(-np.abs(np.array(ours) - np.array(theirs)))[:3]
    for i in sorted(set(gaps.tolist()) | {int(np.argmin(ours))}):
        ax.annotate(f"{pairs[i][0]}-{pairs[i][1]}", (theirs[i], ours[i]), textcoords="offset points",
                    xytext=(5, -10), fontsize=8)
    ax.set_xlim(lo, 1.002)
    ax.set_ylim(lo, 1.002)
    ax.set_xlabel("scikit-learn Perceptron: test accuracy")
    ax.set_ylabel("ours (from scratch): test accuracy")
    ax.set_title("Cross-check on the same pairs and split")
    ax.legend(loc="lower right")
    return fig
