"""Several seeds and honest comparisons: aggregate per-seed results, and test what the prose compares.

A task declares its comparisons as `Contrast`s between two `Arm`s (a metric, and the sub-run whose
test-set predictions stand behind it). With several seeds each contrast is a paired t-test across
seeds; with one seed, McNemar's test on the two networks' per-image correctness. Every verdict in
the report comes from here, never from a sentence typed by hand.

What a verdict may say depends on the seeds. Across seeds a contrast compares two configurations, and
only a difference whose p-value survives the section's adjustment (`compare_family`: Holm, or
Benjamini-Hochberg for a large family) is worded "A beat B". With one seed it compares two trained
networks on one test set, which says nothing about run-to-run spread: the sentence is about "the two
trained networks ... (one training run each)" (`ONE_RUN`, which keeps it out of the report's findings).
A contrast with a `margin` asks "the same?" and is answered by TOST: equivalent within the margin,
different, or undecided.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mnistlab.analysis.stats import (
    ALPHA,
    Comparison,
    Equivalence,
    adjust,
    mcnemar,
    p_text,
    paired_test,
    t_interval,
    tost,
    verdict,
)
from mnistlab.execution.subrun import SubRun, Trained


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
    # Where the question is "the same?": the equivalence margin, as a difference of the metric (0.003 = 0.3
    # points of accuracy). TOST then answers equivalent within +-margin, different or undecided.
    margin: float | None = None


# The margin of a "the same?" contrast (bf16 against fp32, an MTL network against the single-task one): 0.3
# points of test accuracy, about the 95% sampling half-width of a ~98% accuracy on 10,000 images.
SAME_MARGIN = 0.003

# Every sentence about one-seed comparisons carries this phrase: it says what such a test is about, and the
# report leaves such sentences out of a section's findings.
ONE_RUN = "one training run each"
# The runner's paragraph of a section's tested comparisons starts with this word; the report takes that
# section's findings about comparisons from the stored table instead of from the paragraph.
COMPARISONS_LABEL = "Comparisons"
EQUIVALENT, DIFFERENT, UNDECIDED = "equivalent", "different", "undecided"


@dataclass
class ContrastResult:
    """One contrast tested: the test, its p-value adjusted within the section's family, the equivalence test
    where the contrast declares a margin, and the sentence the report quotes."""

    contrast: Contrast
    comparison: Comparison | None
    text: str = ""
    seeds: int = 1
    p_adjusted: float = math.nan
    adjustment: str = ""  # "Holm" or "Benjamini-Hochberg"; "" for a family of one
    family: int = 1       # tested comparisons in the family
    equivalence: Equivalence | None = None
    p_equivalence_adjusted: float = math.nan

    @property
    def across_seeds(self) -> bool:
        """A test across seeds (about configurations), not on one pair of trained networks."""
        return self.comparison is not None and self.comparison.test == "paired t"

    @property
    def detected(self) -> bool:
        """A difference that survives the family's adjustment (networks with one seed, configurations across seeds)."""
        c = self.comparison
        return c is not None and c.difference != 0 and self.p_adjusted < ALPHA

    @property
    def beat(self) -> bool:
        """The first arm beat the second as a configuration: across seeds, after adjustment."""
        return self.across_seeds and self.detected and self.comparison.difference > 0

    @property
    def equivalence_word(self) -> str:
        """equivalent / different / undecided, for a contrast with a margin; '' without one."""
        if self.contrast.margin is None or self.equivalence is None:
            return ""
        if self.p_equivalence_adjusted < ALPHA:
            return EQUIVALENT
        return DIFFERENT if self.detected else UNDECIDED

    @property
    def finding(self) -> bool:
        """Whether it may stand among a section's findings: a result about configurations (across seeds) that
        survived the adjustment, as a difference or as an equivalence."""
        return self.across_seeds and (self.detected or self.equivalence_word == EQUIVALENT)


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
            finished: Mapping[SubRun, Trained]) -> ContrastResult:
    """Test one contrast, alone (a family of one), over the seeds (paired t) or, with one seed, on the
    predictions (McNemar)."""
    return compare_family([contrast], seeds, per_seed, finished)[0]


def compare_family(contrasts: Sequence[Contrast], seeds: Sequence[int], per_seed: Mapping[int, Mapping[str, Any]],
                   finished: Mapping[SubRun, Trained]) -> list[ContrastResult]:
    """Test a section's contrasts as one family: each over the seeds (paired t) or, with one seed, on the two
    networks' test predictions (McNemar); p-values adjusted together (`mnistlab.analysis.stats.adjust`), and the
    equivalence tests of the contrasts with a margin adjusted as a family of their own."""
    results = [_tested(c, seeds, per_seed, finished) for c in contrasts]
    tested = [r for r in results if r.comparison is not None and not math.isnan(r.comparison.p)]
    adjusted, method = adjust([r.comparison.p for r in tested])
    for r, p in zip(tested, adjusted, strict=True):
        r.p_adjusted, r.family, r.adjustment = p, len(tested), method if len(tested) > 1 else ""
    with_margin = [r for r in results if r.equivalence is not None]
    adjusted, _ = adjust([r.equivalence.p for r in with_margin])
    for r, p in zip(with_margin, adjusted, strict=True):
        r.p_equivalence_adjusted = p
    for r in results:
        r.text = r.text or words(r)
    return results


def _tested(contrast: Contrast, seeds: Sequence[int], per_seed: Mapping[int, Mapping[str, Any]],
            finished: Mapping[SubRun, Trained]) -> ContrastResult:
    a, b = contrast.a, contrast.b
    values = [(per_seed[s].get(a.metric), per_seed[s].get(b.metric)) for s in seeds]
    if any(not _number(x) or not _number(y) for x, y in values):
        return ContrastResult(contrast, None, f"{a.label} vs {b.label}: not compared (a metric is missing)", len(seeds))
    if len(seeds) > 1:
        xs, ys = [x for x, _ in values], [y for _, y in values]
        equivalence = tost([x - y for x, y in values], contrast.margin) if contrast.margin is not None else None
        return ContrastResult(contrast, paired_test(xs, ys), seeds=len(seeds), equivalence=equivalence)
    if a.run is not None and b.run is not None:
        ta, tb = finished.get(a.run(seeds[0])), finished.get(b.run(seeds[0]))
        if ta is not None and tb is not None and a.correct in ta.arrays and b.correct in tb.arrays:
            ca, cb = ta.arrays[a.correct], tb.arrays[b.correct]
            comparison = mcnemar(ca, cb)
            equivalence = None
            if contrast.margin is not None:
                equivalence = tost(ca.astype(float) - cb.astype(float), contrast.margin)
            return ContrastResult(contrast, comparison, equivalence=equivalence)
    diff = 100 * (values[0][0] - values[0][1])
    return ContrastResult(contrast, None, f"{a.label} - {b.label} = {diff:+.2f} points with one seed (not tested)")


def _adjusted_text(r: ContrastResult) -> str:
    return f", {r.adjustment}-adjusted over {r.family} comparisons {p_text(r.p_adjusted)}" if r.adjustment else ""


def words(r: ContrastResult, scale: float = 100.0, unit: str = "points") -> str:
    """The sentence the report quotes, from the numbers alone: across seeds, 'A beat B' only after the family's
    adjustment; with one seed, a statement about the two trained networks (`ONE_RUN`), never about A and B."""
    c, a, b = r.comparison, r.contrast.a.label, r.contrast.b.label
    if c is None:
        return r.text
    half = "" if math.isnan(c.half_width) else f" ± {c.half_width * scale:.2f}"
    eq = r.equivalence
    if r.across_seeds:
        if math.isnan(c.p):
            return verdict(a, b, c, scale, unit)
        test = f"paired t, {p_text(c.p)}{_adjusted_text(r)}, with {c.n} seeds"
        if eq is not None:
            margin = f"±{eq.margin * scale:.2f} {unit}"
            interval = (f"{a} - {b} = {eq.difference * scale:+.2f} {unit}, 90% interval [{eq.low * scale:+.2f}, "
                        f"{eq.high * scale:+.2f}]")
            tost_p = f"TOST {p_text(eq.p)}" + (f", adjusted {p_text(r.p_equivalence_adjusted)}"
                                               if r.p_equivalence_adjusted != eq.p else "")
            return {EQUIVALENT: f"{a} and {b} are equivalent within {margin} ({interval}; {tost_p}; {test})",
                    DIFFERENT: f"{a} and {b} are different ({interval}, outside what equivalence within {margin} "
                               f"allows; {test})",
                    UNDECIDED: f"undecided whether {a} and {b} are equivalent within {margin} ({interval}; {tost_p}; "
                               f"{test}): more seeds would tell"}[r.equivalence_word]
        if r.detected:
            winner, loser = (a, b) if c.difference > 0 else (b, a)
            return f"{winner} beat {loser} by {abs(c.difference) * scale:.2f}{half} {unit} ({test})"
        return (f"no difference between {a} and {b} is detectable ({a} - {b} = {c.difference * scale:+.2f}{half} "
                f"{unit}, {test})")
    networks = f"the two trained networks {a} and {b} ({ONE_RUN}, one seed)"
    test = f"McNemar on {c.n:,} test images, {p_text(c.p)}{_adjusted_text(r)}"
    gap = f"{a} - {b} = {c.difference * scale:+.2f}{half} {unit}"
    if eq is not None and r.equivalence_word == EQUIVALENT:
        return (f"{networks} are equivalent on the test set within ±{eq.margin * scale:.2f} {unit} ({gap}; TOST on the "
                f"per-image differences {p_text(eq.p)}; {test})")
    if r.detected:
        return f"{networks} differ on the test set ({gap}, {test})"
    undecided = (f"; equivalence within ±{eq.margin * scale:.2f} {unit} undecided, TOST {p_text(eq.p)}"
                 if eq is not None else "")
    return f"{networks} do not detectably differ on the test set ({gap}, {test}{undecided})"


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


__all__ = ["COMPARISONS_LABEL", "DIFFERENT", "EQUIVALENT", "ONE_RUN", "SAME_MARGIN", "UNDECIDED", "Arm", "Contrast",
           "ContrastResult", "aggregate_metrics", "compare", "compare_family", "interval_figure", "key_metrics",
           "parse_seeds", "seed_caption", "words"]
