"""Several seeds and honest comparisons: aggregate per-seed results, and test what the prose compares.

A task declares its comparisons as `Contrast`s between two `Arm`s (a metric, and the sub-run whose
test-set predictions stand behind it). With several seeds each contrast is a paired t-test across
seeds; with one seed, McNemar's test on the two networks' per-image correctness. Every verdict in
the report comes from here, never from a sentence typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mnistlab.stats import Comparison, mcnemar, paired_test, t_interval, verdict
from mnistlab.subrun import SubRun, Trained


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label, the metric, and (for McNemar) the sub-run and its array of
    per-image correctness on the test set."""

    label: str
    metric: str
    run: Callable[[int], SubRun] | None = None   # seed -> the sub-run behind the metric
    correct: str = "test_correct"                # its array of per-image correctness


@dataclass(frozen=True)
class Contrast:
    a: Arm
    b: Arm
    about: str = ""  # the question it answers, as the report groups them ("depth sweep", ...)


@dataclass
class Outcome:
    contrast: Contrast
    comparison: Comparison | None
    text: str


def parse_seeds(text: str) -> list[int]:
    """'3' -> [0, 1, 2]; '0,5,7' -> [0, 5, 7]."""
    from mnistlab.errors import ConfigError

    raw = text.strip()
    try:
        if "," not in raw:
            n = int(raw, 10) if raw.isascii() else -1
            if not 1 <= n <= 100:
                raise ValueError
            return list(range(n))
        seeds = [int(part, 10) for part in raw.split(",") if part.strip().isascii()]
        if len(seeds) != len(raw.split(",")):
            raise ValueError
    except ValueError:
        raise ConfigError(f"--seeds expects a count (1-100) or a list of seeds like 0,1,2; got {text[:40]!r}") from None
    if len(set(seeds)) != len(seeds) or any(not 0 <= s < 2**63 for s in seeds):
        raise ConfigError(f"--seeds must list distinct seeds in [0, 2**63); got {text[:40]!r}")
    return seeds


def compare(contrast: Contrast, seeds: Sequence[int], per_seed: Mapping[int, Mapping[str, Any]],
            finished: Mapping[SubRun, Trained]) -> Outcome:
    """Test one contrast over the seeds (paired t) or, with one seed, on the predictions (McNemar)."""
    a, b = contrast.a, contrast.b
    values = [(per_seed[s].get(a.metric), per_seed[s].get(b.metric)) for s in seeds]
    if any(not _number(x) or not _number(y) for x, y in values):
        return Outcome(contrast, None, f"{a.label} vs {b.label}: not compared (a metric is missing)")
    comparison: Comparison | None = None
    if len(seeds) > 1:
        comparison = paired_test([x for x, _ in values], [y for _, y in values])
    elif a.run is not None and b.run is not None:
        ta, tb = finished.get(a.run(seeds[0])), finished.get(b.run(seeds[0]))
        if ta is not None and tb is not None and a.correct in ta.arrays and b.correct in tb.arrays:
            comparison = mcnemar(ta.arrays[a.correct], tb.arrays[b.correct])
    if comparison is None:
        diff = 100 * (values[0][0] - values[0][1])
        return Outcome(contrast, None, f"{a.label} - {b.label} = {diff:+.2f} points with one seed (not tested)")
    return Outcome(contrast, comparison, verdict(a.label, b.label, comparison))


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def aggregate_metrics(seeds: Sequence[int], per_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, float]:
    """Each metric numeric in every seed: its mean (under its own name) and _mean, _std, _ci95 (half-width)."""
    out: dict[str, float] = {}
    for key in per_seed[seeds[0]]:
        values = [per_seed[s].get(key) for s in seeds]
        if not all(_number(v) for v in values):
            continue
        interval = t_interval(values)
        out[key] = interval.mean
        out[f"{key}_mean"] = interval.mean
        out[f"{key}_std"] = interval.std
        out[f"{key}_ci95"] = interval.half_width
    return out


def key_metrics(contrasts: Sequence[Contrast], metrics: Mapping[str, Any], limit: int = 40) -> list[str]:
    """The metrics a task's comparisons use, in order (else its test accuracies), for tables and figures."""
    names = list(dict.fromkeys(m for c in contrasts for m in (c.a.metric, c.b.metric) if m in metrics))
    if not names:
        names = [k for k in metrics if k.endswith("test_acc") and _number(metrics[k])]
    return names[:limit]


def interval_figure(names: Sequence[str], seeds: Sequence[int], per_seed: Mapping[int, Mapping[str, Any]]):
    """Per-seed values (dots) and the mean with its 95% t-interval (bar) of each metric."""
    import matplotlib.pyplot as plt

    from mnistlab.viz import CLASS_COLOURS, seed_errorbars

    fig, ax = plt.subplots(figsize=(8, 0.42 * len(names) + 1.4))
    seed_errorbars(ax, [len(names) - 1 - i for i in range(len(names))],
                   [[float(per_seed[s][name]) for s in seeds] for name in names], colour=CLASS_COLOURS[0],
                   horizontal=True, dot_colour=CLASS_COLOURS[1], dot_shift=0.18)
    ax.set_yticks(range(len(names)), list(reversed(names)), fontsize=8)
    ax.set_xlabel("value (blue: mean with its 95% t-interval; orange: one dot per seed)")
    ax.set_title(f"{len(seeds)} seeds: mean, 95% interval and per-seed values")
    fig.tight_layout()
    return fig


def seed_caption(caption: str, seeds: int) -> str:
    """The caption of a figure a task drew from all its seeds (`Task.seed_figures`)."""
    return f"Mean of {seeds} seeds, bars: 95% t-interval (small dots: each seed). {caption}"


__all__ = ["Arm", "Contrast", "Outcome", "aggregate_metrics", "compare", "interval_figure", "key_metrics",
           "parse_seeds", "seed_caption"]
