"""What Task 2's analysis measures, as numbers: every pair's perceptron (accuracies of the evaluated and
the last parameters, error curve, convergence, weights), the brief's pair with the other rule, how its w
relates to the two classes, and scikit-learn's Perceptron on the same pairs.

The data are the brief's: pm1 pixels, flat 784, label -1 for the first digit of a pair and +1 for the
second (`mnistlab.models.perceptron.pair_labels_second_positive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mnistlab.execution.subrun import Trained
from mnistlab.models.perceptron import pair_labels_second_positive, predict
from mnistlab.tasks.base import Context
from mnistlab.tasks.task2.config import Config, Pair
from mnistlab.tasks.task2.plan import data, other_rule, other_rule_run, sklearn_run, sweep_run


def _accuracy(x: np.ndarray, labels: np.ndarray, pair: Pair, w: np.ndarray, b: float) -> float:
    rows, y = pair_labels_second_positive(labels, pair)
    return float(np.mean(predict(x[rows], w, b) == y))


def choose_five(accs: dict[Pair, float], detail: Pair) -> list[tuple[str, Pair]]:
    """The brief's pair, the easiest other pair, the median pair, the second-hardest and the hardest."""
    ranked = sorted(accs, key=lambda p: (-accs[p], p))  # easiest first; ties by pair order
    picks: list[tuple[str, Pair]] = [("the brief's pair", detail)]
    candidates = [("easiest", next((p for p in ranked if p != detail), None)),
                  ("middle (median)", ranked[len(ranked) // 2]),
                  ("second hardest", ranked[-2] if len(ranked) > 1 else None),
                  ("hardest", ranked[-1])]
    for role, pair in candidates:
        if pair is not None and pair not in [p for _, p in picks]:
            picks.append((role, pair))
    return picks


@dataclass(frozen=True)
class OtherRule:
    """The detail pair trained with the rule the sweep did not use (for its error curve)."""

    rule: str
    errors: tuple[float, ...]
    train_acc: float
    test_acc: float


@dataclass(frozen=True)
class SklearnCheck:
    """scikit-learn's Perceptron on every pair (in `Findings.pairs` order)."""

    test_acc: tuple[float, ...]
    n_iter: tuple[int, ...]
    seconds: float


@dataclass(frozen=True)
class Findings:
    """Everything Task 2 reports, as numbers. Per-pair dicts are keyed by (a, b), a < b."""

    pairs: tuple[Pair, ...]
    detail: Pair
    n_train: dict[Pair, int]
    n_test: dict[Pair, int]
    train_acc: dict[Pair, float]          # of the evaluated parameters (pocket or last iterate, per config)
    test_acc: dict[Pair, float]
    last_test_acc: dict[Pair, float]      # of the last iterate
    errors: dict[Pair, tuple[float, ...]]  # training error after each iteration
    converged: dict[Pair, bool]
    weights: dict[Pair, np.ndarray]       # the evaluated w
    means: dict[int, np.ndarray]          # mean training image of each digit (pm1)
    sweep_seconds: float
    corr_w: float                         # detail pair: corr(w, mean b - mean a)
    share_on_ink: float                   # detail pair: share of |w| on pixels with ink in >= 5% of either class
    rho: float                            # Spearman: distance of the class means vs test accuracy, over pairs
    other: OtherRule | None = None
    sklearn: SklearnCheck | None = None

    @property
    def iters(self) -> dict[Pair, int]:
        return {p: len(e) for p, e in self.errors.items()}

    @property
    def mean_gap(self) -> dict[Pair, float]:
        return {(a, b): float(np.linalg.norm(self.means[a] - self.means[b])) for a, b in self.pairs}

    @property
    def ranked(self) -> list[Pair]:
        """Easiest first; ties in pair order."""
        return sorted(self.pairs, key=lambda p: (-self.test_acc[p], p))

    def mean_test_acc(self, last: bool = False) -> float:
        acc = self.last_test_acc if last else self.test_acc
        return float(np.mean([acc[p] for p in self.pairs]))


def compute_findings(config: Config, ctx: Context) -> Findings:
    pairs = config.pairs
    detail = (int(config.detail_pair[0]), int(config.detail_pair[1]))
    images = data(config)
    x, labels = images.load("train", ctx.data_dir)
    xt, lt = images.load("test", ctx.data_dir)
    sweep = _fits(ctx.trained(sweep_run(config, ctx.seed)), config.pocket)
    ws = {p: (sweep["w"][i], sweep["b"][i]) for i, p in enumerate(pairs)}
    last = {p: (sweep["last_w"][i], sweep["last_b"][i]) for i, p in enumerate(pairs)}
    means = {c: x[labels == c].mean(axis=0) for c in sorted(config.digits)}
    test_acc = {p: _accuracy(xt, lt, p, *ws[p]) for p in pairs}
    other = None
    if config.compare_rules:
        alt = _fits(ctx.trained(other_rule_run(config, ctx.seed)), config.pocket)
        other = OtherRule(other_rule(config), tuple(alt["errors"][0]),
                          _accuracy(x, labels, detail, alt["w"][0], alt["b"][0]),
                          _accuracy(xt, lt, detail, alt["w"][0], alt["b"][0]))
    sk = ctx.trained(sklearn_run(config, ctx.seed)).record if config.sklearn_check else None
    mean_gap = [float(np.linalg.norm(means[a] - means[b])) for a, b in pairs]
    return Findings(
        pairs=tuple(pairs), detail=detail,
        n_train={p: int(np.sum((labels == p[0]) | (labels == p[1]))) for p in pairs},
        n_test={p: int(np.sum((lt == p[0]) | (lt == p[1]))) for p in pairs},
        train_acc={p: _accuracy(x, labels, p, *ws[p]) for p in pairs}, test_acc=test_acc,
        last_test_acc={p: _accuracy(xt, lt, p, *last[p]) for p in pairs},
        errors={p: tuple(sweep["errors"][i]) for i, p in enumerate(pairs)},
        converged={p: bool(sweep["converged"][i]) for i, p in enumerate(pairs)},
        weights={p: ws[p][0] for p in pairs}, means=means, sweep_seconds=float(sweep["seconds"]),
        **_weight_findings(ws[detail][0], x[labels == detail[0]], x[labels == detail[1]]),
        rho=_spearman(mean_gap, [test_acc[p] for p in pairs]), other=other,
        sklearn=None if sk is None else SklearnCheck(tuple(sk["test_acc"]), tuple(sk["n_iter"]), float(sk["seconds"])))


def _fits(trained: Trained, pocket: bool) -> dict[str, Any]:
    """A perceptron sweep's parameters and curves: "w", "b" what the task evaluates (the pocket or the last
    iterate, per config), "last_w", "last_b" the last iterate, each pair's error list, its convergence."""
    arrays = trained.arrays
    errors = [list(row[:n]) for row, n in zip(arrays["curves"], arrays["iterations"], strict=True)]
    chosen = ("pocket_w", "pocket_b") if pocket else ("w", "b")
    return {"w": arrays[chosen[0]], "b": arrays[chosen[1]], "last_w": arrays["w"], "last_b": arrays["b"],
            "errors": errors, "converged": trained.record["converged"], "seconds": trained.record["seconds"]}


def _weight_findings(w: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> dict[str, float]:
    """How the detail pair's w relates to its two classes: correlation with the difference of the means, and
    the share of |w| on pixels that carry ink in at least 5% of either class."""
    ink = ((xa > 0).mean(axis=0) > 0.05) | ((xb > 0).mean(axis=0) > 0.05)
    return {"corr_w": float(np.corrcoef(w, xb.mean(axis=0) - xa.mean(axis=0))[0, 1]),
            "share_on_ink": float(np.abs(w[ink]).sum() / np.abs(w).sum())}


def _spearman(u: list[float], v: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(u) < 3:
        return float("nan")
    return float(spearmanr(u, v).statistic)


def metrics(f: Findings) -> dict[str, float]:
    """The flat metrics: every pair's accuracies and iterations, their summary, the other rule on the brief's
    pair, its w against the classes, scikit-learn's accuracies and the rank correlation."""
    m: dict[str, float] = {}
    for a, b in f.pairs:
        m.update({f"pair_test_acc_{a}_{b}": f.test_acc[(a, b)], f"pair_train_acc_{a}_{b}": f.train_acc[(a, b)],
                  f"pair_iters_{a}_{b}": f.iters[(a, b)]})
    last = [f.last_test_acc[p] for p in f.pairs]
    m.update({
        "pair_test_acc_mean": f.mean_test_acc(),
        "pair_test_acc_min": float(min(f.test_acc.values())),
        "pair_train_acc_mean": float(np.mean([f.train_acc[p] for p in f.pairs])),
        "pair_test_acc_mean_last_iterate": f.mean_test_acc(last=True),
        "pair_test_acc_min_last_iterate": float(np.min(last)),
        "pairs_converged": int(sum(f.converged.values())),
        "sweep_seconds": round(f.sweep_seconds, 2),
    })
    if f.other is not None:
        m.update({f"detail_{f.other.rule}_test_acc": f.other.test_acc,
                  f"detail_{f.other.rule}_train_acc": f.other.train_acc,
                  f"detail_{f.other.rule}_iters": len(f.other.errors)})
    m.update({"detail_w_mean_difference_corr": f.corr_w, "detail_w_share_on_ink": f.share_on_ink})
    if f.sklearn is not None:
        for (a, b), acc in zip(f.pairs, f.sklearn.test_acc, strict=True):
            m[f"sklearn_pair_test_acc_{a}_{b}"] = acc
        m.update({"sklearn_pair_test_acc_mean": float(np.mean(f.sklearn.test_acc)),
                  "sklearn_pair_test_acc_min": float(np.min(f.sklearn.test_acc)),
                  "sklearn_seconds": round(f.sklearn.seconds, 2)})
    m["spearman_mean_distance_vs_test_acc"] = f.rho
    return m
