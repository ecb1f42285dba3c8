"""Intervals and tests for the comparisons the report makes, so that every verdict is computed.

With several seeds a comparison is a paired t-test across seeds (each seed trains both networks from
the same seed, so their difference cancels what the seeds share). With one seed it is McNemar's exact
test on the test-set predictions of the two networks (which images one gets right and the other wrong):
a statement about those two trained networks, not about their configurations.

A section's comparisons form one family: `adjust` controls its error rate (Holm's step-down, or
Benjamini-Hochberg's false discovery rate for a family of `MANY` or more). Where the question is "the
same?", `tost` tests equivalence within a stated margin (two one-sided tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class MeanInterval:
    """Mean, sample standard deviation and the half-width of the t-interval of some per-seed values."""

    mean: float
    std: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def t_interval(values: Sequence[float], level: float = LEVEL) -> MeanInterval:
    """The `level` t-interval of the mean of `values` (half-width NaN for a single value)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no values")
    mean = float(x.mean())
    if n == 1:
        return MeanInterval(mean, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n))
    return MeanInterval(mean, std, half, n)


@dataclass(frozen=True)
class Comparison:
    """A - B: the mean difference, its interval half-width, the p-value and how it was tested."""

    difference: float
    half_width: float
    p: float
    n: int          # seeds (paired t) or test images (McNemar)
    test: str       # "paired t" or "McNemar"

    @property
    def significant(self) -> bool:
        return self.p < ALPHA


def paired_test(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Comparison:
    """Paired t-test of per-seed values a against b (same seeds, same order)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or len(a) < 2:
        raise ValueError("a paired test needs two equally long sequences of at least two seeds")
    d = a - b
    interval = t_interval(d, level)
    # Without spread the t statistic is undefined (scipy: NaN): identical results show no difference, and
    # a constant shift over a few seeds is reported as such, not as certainty.
    no_spread = bool(np.all(d == d[0]))
    p = (1.0 if d[0] == 0 else math.nan) if no_spread else float(stats.ttest_rel(a, b).pvalue)
    return Comparison(interval.mean, interval.half_width, p, len(a), "paired t")


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray, level: float = LEVEL) -> Comparison:
    """McNemar's exact test: do two classifiers' errors on the same test images differ?

    The difference in accuracy gets a Wald interval for paired proportions."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("McNemar's test needs two equally long 1-D arrays of per-image correctness")
    only_a, only_b, n = int(np.sum(a & ~b)), int(np.sum(~a & b)), len(a)
    p = 1.0 if only_a + only_b == 0 else float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    diff = (only_a - only_b) / n
    var = ((only_a + only_b) / n - diff**2) / n
    half = float(stats.norm.ppf(0.5 + level / 2) * math.sqrt(max(var, 0.0)))
    return Comparison(diff, half, p, n, "McNemar")


# A family of this many comparisons or more (a hyperparameter study's every value against its reference) is
# controlled for its false discovery rate (Benjamini-Hochberg): with dozens of values, Holm's family-wise
# control would hide every real effect. Smaller families are controlled family-wise (Holm).
MANY = 10


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the order given."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the order given."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")[::-1]  # largest first
    stepped = np.minimum.accumulate(m / np.arange(m, 0, -1) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out.tolist()


def adjustment_for(family_size: int) -> str:
    """The declared rule: 'Holm' for a family under `MANY` comparisons, 'Benjamini-Hochberg' from `MANY` on."""
    return "Benjamini-Hochberg" if family_size >= MANY else "Holm"


def adjust(p_values: Sequence[float]) -> tuple[list[float], str]:
    """The family's adjusted p-values (NaN, an untested comparison, stays NaN and is not counted) and the method
    `adjustment_for` chose by the family's size."""
    tested = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    method = adjustment_for(len(tested))
    out = [math.nan] * len(p_values)
    if tested:
        adjusted = (benjamini_hochberg if method == "Benjamini-Hochberg" else holm)([p_values[i] for i in tested])
        for i, p in zip(tested, adjusted, strict=True):
            out[i] = p
    return out, method


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests (TOST) of paired differences against the margin +-`margin`.

    `low`, `high`: the 90% t-interval of the mean difference (the interval TOST at 5% checks against the
    margin); `p`: the larger of the two one-sided p-values; `p_difference`: the two-sided t-test of no
    difference on the same values."""

    difference: float
    low: float
    high: float
    margin: float
    p: float
    p_difference: float
    n: int

    @property
    def equivalent(self) -> bool:
        return self.p < ALPHA


def tost(differences: Sequence[float], margin: float) -> Equivalence:
    """TOST on paired differences (per seed: A - B accuracies; one seed: per image, correct_A - correct_B in
    {-1, 0, 1}): equivalent within +-margin when both one-sided t-tests reject at ALPHA."""
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n < 2 or not margin > 0:
        raise ValueError("TOST needs at least two paired differences and a positive margin")
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0:  # no spread: inside the margin is certain, outside it never equivalent
        inside = abs(mean) < margin
        return Equivalence(mean, mean, mean, margin, 0.0 if inside else 1.0, 1.0 if mean == 0 else 0.0, n)
    df = n - 1
    p_lower = float(stats.t.sf((mean + margin) / se, df))   # H0: difference <= -margin
    p_upper = float(stats.t.cdf((mean - margin) / se, df))  # H0: difference >= +margin
    half = float(stats.t.ppf(1 - ALPHA, df)) * se
    p_difference = float(2 * stats.t.sf(abs(mean) / se, df))
    return Equivalence(mean, mean - half, mean + half, margin, max(p_lower, p_upper), p_difference, n)


def p_text(p: float) -> str:
    """A p-value as the report quotes it."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict(name_a: str, name_b: str, c: Comparison, scale: float = 100.0, unit: str = "points") -> str:
    """'A beat B by x ± y points (p = ...)' or 'no difference detectable ...', from the numbers alone."""
    what = f"with {c.n} seeds" if c.test == "paired t" else f"with one seed on {c.n:,} test images"
    half = "" if math.isnan(c.half_width) else f" ± {c.half_width * scale:.2f}"
    if math.isnan(c.p):
        return (f"{name_a} - {name_b} = {c.difference * scale:+.2f} {unit} in each of the {c.n} seeds (no spread "
                f"between seeds, so no t-test: more seeds would tell)")
    test = f"{c.test}, {p_text(c.p)}"
    if c.significant and c.difference != 0:
        winner, loser = (name_a, name_b) if c.difference > 0 else (name_b, name_a)
        return f"{winner} beat {loser} by {abs(c.difference) * scale:.2f}{half} {unit} ({test}, {what})"
    return (f"no difference between {name_a} and {name_b} is detectable {what} "
            f"({name_a} - {name_b} = {c.difference * scale:+.2f}{half} {unit}, {test})")


__all__ = ["ALPHA", "LEVEL", "MANY", "Comparison", "Equivalence", "MeanInterval", "adjust", "adjustment_for",
           "benjamini_hochberg", "holm", "mcnemar", "p_text", "paired_test", "t_interval", "tost", "verdict"]
