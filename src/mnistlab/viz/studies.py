"""Figures of the hyperparameter studies (mnistlab.tasks.hparams): validation curves per study and the effect of
every study value, drawn from the task's rows (one dict per dataset, study and value).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib import ticker

from mnistlab.viz import CLASS_COLOURS, interval_ends, plot_points


def _value_colours(study: Any) -> dict[str, str]:
    """Black for the reference, the palette's other colours in order for the rest."""
    palette = [c for c in CLASS_COLOURS if c != "#000000"]
    others = iter(palette)
    return {label: "#000000" if label == study.reference else next(others) for label in study.values}


class _PlainLogLabels(ticker.Formatter):
    """Plain numbers (0.2, 30) on a log axis rather than 2x10^-1. As minor labels: all of them on an axis
    spanning under half a decade, the 2s and 5s under a decade and a half, none on a wider one."""

    def __init__(self, minor: bool):
        self.minor = minor

    def __call__(self, x: float, pos: int | None = None) -> str:
        if x <= 0:
            return ""
        if self.minor:
            lo, hi = sorted(self.axis.get_view_interval())
            decades = math.log10(hi / lo) if lo > 0 else math.inf
            mantissa = round(x / 10 ** math.floor(math.log10(x) + 1e-9), 6)
            if decades > 1.5 or (decades > 0.5 and mantissa not in (2, 5)):
                return ""
        return f"{x:g}"


def _log_axis(ax: plt.Axes) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PlainLogLabels(minor=False))
    ax.yaxis.set_minor_formatter(_PlainLogLabels(minor=True))


def plot_curves(rows: list[dict[str, Any]], title: str) -> plt.Figure:
    """Per study a pair of panels, validation error above validation loss, one line per value. Log scales,
    because a value that breaks training (zero init, say) sits an order of magnitude away from the rest."""
    studies: list[Any] = list(dict.fromkeys(r["study"] for r in rows))
    blocks = -(-len(studies) // 5)
    cols = -(-len(studies) // blocks)  # 10 studies: 2 x 5 panels, 6 studies: 2 x 3
    fig, axes = plt.subplots(2 * blocks, cols, figsize=(3.3 * cols, 4.6 * blocks), squeeze=False, sharex="col")
    for i, study in enumerate(studies):
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        colours = _value_colours(study)
        for r in (r for r in rows if r["study"] is study):
            hist = r["history"]
            epochs = [h["epoch"] for h in hist]
            style = {"color": colours[r["label"]], "lw": 2.0 if r["reference"] else 1.3}
            best = r["best_epoch"] - 1
            err = [max(100 * (1 - h["val_acc"]), 0.01) for h in hist]
            top.plot(epochs, err, label=f"{r['label']}: {r['test_acc']:.1%}", **style)
            top.plot(epochs[best], err[best], "o", ms=4, color=style["color"])
            loss = [h["val_loss"] for h in hist]
            bottom.plot(epochs, loss, **style)
            bottom.plot(epochs[best], loss[best], "o", ms=4, color=style["color"])
        top.set_title(study.title, fontsize=9)
        top.legend(fontsize=7, loc="best", handlelength=1.2)
        for ax in (top, bottom):
            _log_axis(ax)
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
            ax.tick_params(labelsize=7, which="both")
        bottom.set_xlabel("epoch", fontsize=8)
        if i % cols == 0:
            top.set_ylabel("validation error, %", fontsize=8)
            bottom.set_ylabel("validation loss", fontsize=8)
    for j in range(len(studies), blocks * cols):
        axes[2 * (j // cols), j % cols].set_visible(False)
        axes[2 * (j // cols) + 1, j % cols].set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_effects(rows: list[dict[str, Any]], datasets: list[str], noise: float,
                 per_seed: Mapping[tuple[str, str, str], Sequence[float]] | None = None) -> plt.Figure:
    """One row per non-reference study value, one marker per dataset: the change in test accuracy.

    With `per_seed` ((dataset, study name, value label) -> the change in every seed) the rows' changes are
    means over the seeds, drawn with 95% t-interval bars and a dot per seed."""
    families = [f for f in ("MLP", "CNN") if any(r["family"] == f for r in rows)]
    labels = {f: list(dict.fromkeys((r["study"].name, r["label"]) for r in rows
                                    if r["family"] == f and not r["reference"])) for f in families}
    heights = [max(len(labels[f]), 1) for f in families]
    fig, axes = plt.subplots(len(families), 1, figsize=(7.5, 1.4 + 0.24 * sum(heights)), squeeze=False,
                             sharex=True, gridspec_kw={"height_ratios": heights})
    markers = ("o", "s", "^", "D")
    spread = [v for values in (per_seed or {}).values() for v in interval_ends(values)]
    lowest = min([r["delta_pp"] for r in rows] + [-noise] + spread)
    highest = max([r["delta_pp"] for r in rows] + [noise] + spread)
    for ax, family in zip(axes[:, 0], families, strict=True):
        y = {key: len(labels[family]) - 1 - i for i, key in enumerate(labels[family])}
        ax.axvspan(-noise, noise, color="0.88", zorder=0)
        ax.axvline(0, color="0.3", lw=0.8)
        keys = labels[family]
        for before, after in itertools.pairwise(keys):
            if before[0] != after[0]:  # a thin rule between studies
                ax.axhline(y[after] + 0.5, color="0.6", lw=0.6)
        for d, dataset in enumerate(datasets):
            shown = [r for r in rows if r["family"] == family and r["dataset"] == dataset and not r["reference"]]
            if shown:
                seeds = (None if per_seed is None else
                         [per_seed[(dataset, r["study"].name, r["label"])] for r in shown])
                # with bars, the datasets side by side within a row, so that their bars do not overlap
                dodge = 0.0 if per_seed is None else 0.2 * (d - (len(datasets) - 1) / 2)
                at = [y[(r["study"].name, r["label"])] + dodge for r in shown]
                plot_points(ax, at, [r["delta_pp"] for r in shown], seeds, colour=CLASS_COLOURS[d],
                            fmt=markers[d % len(markers)], horizontal=True, ms=5, ls="none",
                            label=dataset if ax is axes[0, 0] else None)
        ax.set_yticks(list(y.values()), [f"{s}: {v}" for s, v in y], fontsize=8)
        ax.set_ylim(-0.7, len(y) - 0.3)
        ax.grid(axis="y", visible=False)
        ax.set_title(f"{family} studies", fontsize=10)
    ax = axes[-1, 0]
    ax.set_xscale("symlog", linthresh=1.0)
    ticks = [t for t in (-100, -30, -10, -3, -1, 0, 1, 3, 10, 30, 100) if lowest * 1.5 - 1 <= t <= highest * 1.5 + 1]
    ax.set_xticks(ticks, [f"{t:+g}" if t else "0" for t in ticks])
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set_xlabel("test accuracy minus the reference's, pp (symmetric log scale)")
    fig.suptitle("What each change did, one variable at a time", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.legend(loc="upper right", fontsize=8, ncols=len(datasets))
    return fig
