"""Plotting helpers shared by the tasks. Matplotlib only, headless (Agg), one consistent look."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.analysis.stats import MeanInterval, t_interval
from mnistlab.execution.atomic import atomic_file

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


# Without a creation date (and, for svg, with a fixed salt for its element ids), the same figure saves to the
# same bytes; svg and pdf stamp a date and svg random ids by default.
_REPRODUCIBLE = {".svg": {"Date": None}, ".pdf": {"CreationDate": None}}


def save_figure(fig: plt.Figure, path: Path, dpi: int = 130) -> None:
    """Write a figure atomically (temp file then rename) in the format its suffix names (.png, .svg or .pdf);
    a failed save leaves no temp file behind."""
    with atomic_file(path, "wb", fsync=False) as tmp, plt.rc_context({"svg.hashsalt": "mnistlab"}):
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi, bbox_inches="tight",
                    metadata=_REPRODUCIBLE.get(path.suffix.lower()))


def bare(ax: plt.Axes) -> None:
    """No ticks, grid or frame: for image cells."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def interval_ends(values: Sequence[float]) -> list[float]:
    """The two ends of the 95% t-interval of `values` (none for a single value), for axis limits that show
    the bars."""
    interval = t_interval(values)
    return [end for end in (interval.low, interval.high) if math.isfinite(end)]


def seed_errorbars(ax: plt.Axes, positions: Sequence[float], per_seed: Sequence[Sequence[float]], *, colour: str,
                   fmt: str = "o", horizontal: bool = False, dot_colour: str | None = None, dot_shift: float = 0.0,
                   ms: float = 6, zorder: float = 3, **style: Any) -> list[MeanInterval]:
    """Point i at `positions[i]`: the mean of `per_seed[i]` (its value in every seed) with the 95% t-interval
    as error bars, and each seed's value as a small dot (in `dot_colour`, "none" for no dots, shifted by
    `dot_shift` along the position axis). `horizontal` puts the values on the x axis. Returns the intervals,
    so a caller can label the means."""
    intervals = [t_interval(values) for values in per_seed]
    means = [i.mean for i in intervals]
    halves = [i.half_width for i in intervals]
    # One seed has no interval (NaN): draw the point without a bar rather than a bar of unknown length.
    err = None if all(math.isnan(h) for h in halves) else halves
    at = np.asarray(positions, dtype=float)
    points, bars = ((means, at), {"xerr": err}) if horizontal else ((at, means), {"yerr": err})
    ax.errorbar(*points, **bars, fmt=fmt, color=colour, capsize=4, ms=ms, zorder=zorder, **style)
    if dot_colour != "none":
        for p, values in zip(at + dot_shift, per_seed, strict=True):
            spot = np.full(len(values), p)
            ax.scatter(*((values, spot) if horizontal else (spot, values)), s=14, color=dot_colour or colour,
                       alpha=1.0 if dot_colour else 0.45, linewidths=0, zorder=zorder - 1)
    return intervals


def plot_points(ax: plt.Axes, positions: Sequence[float], values: Sequence[float],
                per_seed: Sequence[Sequence[float]] | None = None, *, colour: str, fmt: str = "o",
                horizontal: bool = False, ms: float = 6, zorder: float = 3, dot_colour: str | None = None,
                **style: Any) -> None:
    """Points `values` at `positions` drawn in `fmt`; or, given `per_seed` (each point's value in every seed),
    their means with 95% t-interval bars and a dot per seed in `dot_colour` (`seed_errorbars`)."""
    if per_seed is not None:
        seed_errorbars(ax, positions, per_seed, colour=colour, fmt=fmt, horizontal=horizontal, dot_colour=dot_colour,
                       ms=ms, zorder=zorder, **style)
        return
    ax.plot(*((values, positions) if horizontal else (positions, values)), fmt, color=colour, ms=ms, zorder=zorder,
            **style)
