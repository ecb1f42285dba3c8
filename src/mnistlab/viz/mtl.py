"""Task 6's figures: accuracy against the loss weight lambda, test curves per network, and where the errors are.

Each is drawn from plain numbers (the task's `Findings`): rows of accuracies, histories, confusion counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.analysis.stats import t_interval
from mnistlab.data import CLASS_NAMES, FASHION_GROUP_NAMES, FASHION_GROUP_OF_ITEM
from mnistlab.models.mtl import GROUP_CLASSES, ITEM_CLASSES
from mnistlab.viz import CLASS_COLOURS, interval_ends, plot_points
from mnistlab.viz.confusion import plot_confusion
from mnistlab.weighting import weighting_class

# (network name, task) -> that network's test accuracy on that task in every seed
SeedValues = Mapping[tuple[str, str], Sequence[float]]

# The learned weightings' points: the palette's colours not used for the lines, less its yellow, which
# is hard to see on white as a lone marker.
LEARNED_COLOURS = tuple(CLASS_COLOURS[k] for k in (4, 5, 8, 9, 2))

# The ten items ordered by the brief's groups (shoes, gendered, unisex), for the outlined confusion matrix.
GROUP_ORDER = [c for g in range(GROUP_CLASSES) for c in range(ITEM_CLASSES) if FASHION_GROUP_OF_ITEM[c] == g]


def _axis_range(accs: np.ndarray, untrained: np.ndarray, others: list[float]) -> tuple[float, float, float, float]:
    """(lowest, highest value shown, y-axis bottom, top): the trained range, not an untrained head's score."""
    trained = accs[~untrained] if np.any(~untrained) else accs
    values = np.concatenate([trained, others])
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.01, 0.15 * (hi - lo))
    return lo, hi, lo - pad, min(1.0, hi + pad)


def _seeds(per_seed: SeedValues | None, task: str, names: list[str]) -> list[Sequence[float]] | None:
    """Each named network's accuracy on `task` in every seed (None without seeds)."""
    return None if per_seed is None else [per_seed[(name, task)] for name in names]


def _interval_ends(per_seed: SeedValues | None, task: str, names: list[str]) -> list[float]:
    """The ends of the 95% t-intervals of these networks' accuracies, so that the axis shows the bars."""
    return [end for values in _seeds(per_seed, task, names) or [] for end in interval_ends(values)]


def _lambda_panel(ax: plt.Axes, task: str, colour: str, fixed: list[dict], learned: list[dict],
                  single: float, per_seed: SeedValues | None = None) -> None:
    lams = np.array([r["lambda"] for r in fixed])
    accs = np.array([r[task] for r in fixed])
    # A head whose loss weight is 0 (item at lambda 0, group at lambda 1) is never trained and sits near
    # chance; keep the axis on the trained range and mark such points on the lower edge instead of
    # squashing every other difference into a sliver.
    untrained = lams == (0.0 if task == "item" else 1.0)
    trained_names = [r["name"] for r, dead in zip(fixed, untrained, strict=True) if not dead]
    lo, hi, ylo, yhi = _axis_range(accs, untrained, [single] + [r[task] for r in learned] + _interval_ends(
        per_seed, task, ["single", *trained_names, *(r["name"] for r in learned)]))
    shown = accs >= ylo  # off-scale points get a marker on the edge, not a fake line segment
    shown_names = [r["name"] for r, s in zip(fixed, shown, strict=True) if s]
    plot_points(ax, lams[shown], accs[shown], _seeds(per_seed, task, shown_names), colour=colour, fmt="-o",
                label="MTL, fixed lambda")
    off_scale = [(lam, acc, dead) for lam, acc, dead in zip(lams, accs, untrained, strict=True) if acc < ylo]
    for k, (lam, acc, dead) in enumerate(off_scale):
        ax.plot(lam, ylo, "v", color="0.35", ms=9, zorder=4, clip_on=False)
        ax.annotate(f"{100 * acc:.1f}% ({'head untrained' if dead else 'off scale'})", (lam, ylo),
                    textcoords="offset points", xytext=(0, 12 + 13 * (k % 2)),
                    ha="center" if 0 < lam < 1 else ("left" if lam == 0 else "right"),
                    fontsize=8, color="0.25", bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
    ax.axhline(single, color="0.3", ls="--", lw=1.2, label="single-task CNN of that task")
    if per_seed is not None:  # the single-task CNN's 95% t-interval as a band around its line
        band = t_interval(per_seed[("single", task)])
        ax.axhspan(band.low, band.high, color="0.3", alpha=0.12, lw=0, zorder=1)
    for i, r in enumerate(learned):
        method = weighting_class(r["strategy"])
        plot_points(ax, [r["eff_lambda"]], [r[task]], _seeds(per_seed, task, [r["name"]]),
                    colour=LEARNED_COLOURS[i % len(LEARNED_COLOURS)], fmt=method.marker, ms=8, zorder=5,
                    label=f"{method.title} (at its effective lambda)")
    ax.set_ylim(ylo, yhi)
    ax.set_xlim(-0.05, 1.05)
    ax.set_xlabel("lambda (weight of the item loss)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{task} task ({ITEM_CLASSES if task == 'item' else GROUP_CLASSES} classes)")
    decimals = 0 if hi - lo > 0.05 else 1
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _, d=decimals: f"{100 * v:.{d}f}%"))


def plot_lambda(rows: list[dict], single: dict[str, float], per_seed: SeedValues | None = None) -> plt.Figure:
    """Item and group test accuracy against lambda, with single-task lines and learned strategies.

    With `per_seed` ((network name, task) -> its accuracy in every seed; "single" names the single-task CNN)
    the rows hold means over the seeds, drawn with 95% t-interval bars (a band around the single-task line)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    fixed = [r for r in rows if r["strategy"] == "fixed"]
    learned = [r for r in rows if r["strategy"] != "fixed"]
    for ax, task, colour in zip(axes, ("item", "group"), (CLASS_COLOURS[0], CLASS_COLOURS[3]), strict=True):
        _lambda_panel(ax, task, colour, fixed, learned, single[task], per_seed)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Task 6: test accuracy of both tasks against the loss weight lambda")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_curves(histories: dict[str, tuple[list[dict], dict[str, str]]]) -> plt.Figure:
    """Test accuracy per epoch of every network, one panel per task; `histories` maps a network's name to
    (its per-epoch history, {task: the history key of that task's test accuracy}) for its trained heads."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    seen: dict[str, Any] = {}
    for i, (name, (history, heads)) in enumerate(histories.items()):
        colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
        epochs = [h["epoch"] for h in history]
        for ax, task in zip(axes, ("item", "group"), strict=True):
            key = heads.get(task)
            if key is None:
                continue
            style = "--" if name.startswith("single") else "-"
            (line,) = ax.plot(epochs, [h[key] for h in history], style + "o", color=colour, ms=3, label=name)
            seen.setdefault(name, line)
    for ax, task in zip(axes, ("item", "group"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{task} task")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.1f}%"))
    fig.legend(list(seen.values()), list(seen), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.suptitle("Test accuracy after each epoch (untrained heads omitted)")
    fig.tight_layout()
    return fig


def plot_errors(name: str, item_counts: np.ndarray, group_counts: np.ndarray,
                single_group_counts: np.ndarray) -> plt.Figure:
    """Item confusions of one MTL network with the brief's groups outlined, and group confusions beside
    those of the single-task group CNN (each a confusion matrix of counts, rows the true class)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), gridspec_kw={"width_ratios": [1.5, 1, 1]})
    plot_confusion(axes[0], item_counts, CLASS_NAMES["fashion-mnist"], order=GROUP_ORDER,
                   blocks=np.bincount(FASHION_GROUP_OF_ITEM).tolist(), title=f"{name}: items by group (outlined)")
    plot_confusion(axes[1], group_counts, FASHION_GROUP_NAMES, title=f"{name}: group head")
    plot_confusion(axes[2], single_group_counts, FASHION_GROUP_NAMES, title="single-task group CNN")
    fig.suptitle("Where the errors are: test-set confusion matrices (colour: share of the true class)")
    fig.tight_layout()
    return fig
