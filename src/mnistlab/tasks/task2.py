"""Task 2: the single-layer perceptron from scratch (NumPy), on pair (0, 1) in full and on all 45 digit pairs.

The algorithm lives in `mnistlab.models.perceptron` (predict, optimise, optimise_pairs); this module
prepares the brief's data (pm1, flat 784, label -1 for the first digit of a pair and +1 for the
second), trains every pair in one batched sweep (cached as one sub-run), cross-checks each pair
against scikit-learn's Perceptron on the same split, and writes the figures, tables and answers.

The analysis computes a `Findings` (numbers only, `compute_findings`); metrics, tables and figures
(`mnistlab.viz.task2`) are drawn from it, and `prose(findings, config)` writes the answers, one
paragraph per id, every claim decided by a comparison of the findings' numbers.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar, Literal

import numpy as np

from mnistlab.constraints import Constrained, Constraints, Distinct, Each, Interval, MinItems, OneOf
from mnistlab.data import load_arrays, normalise_images
from mnistlab.errors import ConfigError
from mnistlab.models.perceptron import RULES, optimise_pairs, pair_labels_first_negative, predict
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.viz.task2 import error_figure, pair_heatmap, sklearn_scatter, weight_figure, weight_grid

Pair = tuple[int, int]


_DIGITS = "{name} must be at least two different digits 0-9, got {value}"
_PER_CLASS = Interval(1, None, message="{name} must be positive (or none for all images), got {value}")


@dataclass(frozen=True)
class Config(Constrained):
    digits: tuple[int, ...] = opt((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), "every pair of these digits is trained")
    detail_pair: tuple[int, int] = opt((0, 1), "the brief's pair, shown in full")
    lr: float = opt(0.01, "perceptron learning rate")
    max_iter: int = opt(1000, "most passes (batch rule) or epochs (online rule) per perceptron")
    tol: float = opt(1e-3, "training stops once the training error is at most this share")
    rule: Literal["batch", "online"] = opt("batch",
        "perceptron update: batch (all misclassified at once) or online (one at a time)")
    init_scale: float = opt(0.01, "standard deviation of the random initial w and b")
    pocket: bool = opt(True, "evaluate the (w, b) with the lowest training error seen, not the last iterate")
    train_per_class: int | None = opt(None, "training images per digit (None: all of both digits)")
    test_per_class: int | None = opt(None, "test images per digit (None: all of both digits)")
    compare_rules: bool = opt(True, "also train the detail pair with the other rule, for its error curve")
    sklearn_check: bool = opt(True, "also fit scikit-learn's Perceptron on each pair as a cross-check")
    sklearn_max_iter: int = opt(1000, "most epochs of scikit-learn's Perceptron")
    weight_images: int = opt(10, "weight vectors shown on the grid")

    CONSTRAINTS: ClassVar[Constraints] = {
        "digits": [MinItems(2, message=_DIGITS), Distinct(message=_DIGITS), Each(Interval(0, 9), message=_DIGITS)],
        "lr": [Interval(0, None, closed="neither")],
        "max_iter": [Interval(1, 1_000_000)],
        "sklearn_max_iter": [Interval(1, 1_000_000)],
        "tol": [Interval(0, 1, closed="left",
                         message="{name} is a classification error and must lie in [0, 1), got {value}")],
        "rule": [OneOf(RULES, message="{name} must be one of {choices}, got {value!r}")],
        "init_scale": [Interval(0, None)],
        "train_per_class": [_PER_CLASS],
        "test_per_class": [_PER_CLASS],
        "weight_images": [Interval(1, 100)],
    }

    def cross_check(self) -> None:
        if len(self.detail_pair) != 2 or self.detail_pair[0] not in self.digits or \
                self.detail_pair[1] not in self.digits or not self.detail_pair[0] < self.detail_pair[1]:
            raise ConfigError(f"detail_pair must be two digits (a, b) with a < b, both among digits; "
                              f"got {self.detail_pair}")

    @property
    def pairs(self) -> list[Pair]:
        return list(combinations(sorted(self.digits), 2))


PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"train_per_class": 400, "test_per_class": 300, "max_iter": 80, "sklearn_max_iter": 100},
    "brief": {},
}


def load_pm1_flat(split: str, per_class: int | None, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The brief's Task 2 data: x/127.5 - 1, flat (n, 784) float32; optionally the first `per_class` of each digit."""
    images, labels = load_arrays("mnist", split, data_dir)
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
        keep.sort()  # keep the file's (already shuffled) order
        images, labels = images[keep], labels[keep]
    x = normalise_images(images.reshape(len(images), 784).astype(np.float32), "pm1")
    return x.astype(np.float32, copy=False), labels


def _accuracy(x: np.ndarray, labels: np.ndarray, pair: Pair, w: np.ndarray, b: float) -> float:
    rows, y = pair_labels_first_negative(labels, pair)
    return float(np.mean(predict(x[rows], w, b) == y))


def _sweep(ctx: Context, config: Config, pairs: list[Pair], x, labels, key_data: dict, rule: str,
           desc: str) -> dict[str, Any]:
    """Train one perceptron per pair with `rule` (one cached sub-run); returns W, B, error lists and seconds."""
    params = {"data": key_data, "pairs": pairs, "rule": rule, "lr": config.lr, "max_iter": config.max_iter,
              "tol": config.tol, "init_scale": config.init_scale, "seed": ctx.seed}

    def compute(folder) -> dict:
        total = config.max_iter if rule == "batch" else len(pairs)
        bar = ctx.progress(total=total, desc=desc)
        last = [0]

        def callback(step: int, active: int) -> None:
            bar.update(step - last[0])
            last[0] = step
            bar.set_postfix(still_training=active, refresh=False)

        start = time.perf_counter()
        fits = optimise_pairs(x, labels, pairs, lr=config.lr, max_iter=config.max_iter, tol=config.tol, rule=rule,
                              seed=ctx.seed, init_scale=config.init_scale, callback=callback)
        seconds = time.perf_counter() - start
        bar.close()
        longest = max(1, max(f.iterations for f in fits))
        curves = np.full((len(fits), longest), np.nan)
        for i, f in enumerate(fits):
            curves[i, :f.iterations] = f.errors
        np.savez(folder / "fits.npz", w=np.stack([f.w for f in fits]), b=np.array([f.b for f in fits]),
                 pocket_w=np.stack([f.pocket_w for f in fits]), pocket_b=np.array([f.pocket_b for f in fits]),
                 curves=curves, iterations=np.array([f.iterations for f in fits]))
        return {"seconds": seconds, "converged": [f.converged for f in fits]}

    record, folder = ctx.memo("perceptron-sweep", params, compute, label=f"{len(pairs)} perceptrons, {rule} rule")
    with np.load(folder / "fits.npz") as data:
        arrays = {k: data[k] for k in data.files}
    errors = [list(row[:n]) for row, n in zip(arrays["curves"], arrays["iterations"], strict=True)]
    # "w", "b": what the task evaluates (pocket or last iterate, per config); "last_*": the last iterate.
    chosen = ("pocket_w", "pocket_b") if config.pocket else ("w", "b")
    return {"w": arrays[chosen[0]], "b": arrays[chosen[1]], "last_w": arrays["w"], "last_b": arrays["b"],
            "errors": errors, "converged": record["converged"], "seconds": record["seconds"]}


def _sklearn(ctx: Context, config: Config, pairs: list[Pair], x, labels, xt, lt, key_data: dict) -> dict:
    """scikit-learn's Perceptron on each pair, same split and labels (a cached sub-run)."""
    params = {"data": key_data, "pairs": pairs, "max_iter": config.sklearn_max_iter, "tol": config.tol,
              "seed": ctx.seed}

    def compute(_folder) -> dict:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Perceptron

        out: dict[str, list] = {"train_acc": [], "test_acc": [], "n_iter": []}
        start = time.perf_counter()
        for pair in ctx.progress(pairs, desc="task2: sklearn Perceptron"):
            rows, y = pair_labels_first_negative(labels, pair)
            # sklearn's tol is not ours: it stops when the loss has not improved by tol for 5 epochs.
            model = Perceptron(max_iter=config.sklearn_max_iter, tol=config.tol, random_state=ctx.seed)
            with warnings.catch_warnings():  # hitting max_iter is expected and shown in the table (its epochs)
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[rows], y)
            rows_t, yt = pair_labels_first_negative(lt, pair)
            out["train_acc"].append(float(model.score(x[rows], y)))
            out["test_acc"].append(float(model.score(xt[rows_t], yt)))
            out["n_iter"].append(int(model.n_iter_))
        out["seconds"] = time.perf_counter() - start
        return out

    return ctx.memo("sklearn-perceptron", params, compute, label=f"{len(pairs)} scikit-learn perceptrons")[0]


def _choose_five(accs: dict[Pair, float], detail: Pair) -> list[tuple[str, Pair]]:
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


# ---------------------------------------------------------------------------------------- findings

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
    x, labels = load_pm1_flat("train", config.train_per_class, ctx.data_dir)
    xt, lt = load_pm1_flat("test", config.test_per_class, ctx.data_dir)
    key_data = {"dataset": "mnist", "normalise": "pm1", "train_per_class": config.train_per_class,
                "test_per_class": config.test_per_class}
    sweep = _sweep(ctx, config, pairs, x, labels, key_data, config.rule, f"task2: {len(pairs)} perceptrons")
    ws = {p: (sweep["w"][i], sweep["b"][i]) for i, p in enumerate(pairs)}
    last = {p: (sweep["last_w"][i], sweep["last_b"][i]) for i, p in enumerate(pairs)}
    means = {c: x[labels == c].mean(axis=0) for c in sorted(config.digits)}
    test_acc = {p: _accuracy(xt, lt, p, *ws[p]) for p in pairs}
    other = None
    if config.compare_rules:
        rule = "online" if config.rule == "batch" else "batch"
        alt = _sweep(ctx, config, [detail], x, labels, key_data, rule, f"task2: {rule} rule on {detail}")
        other = OtherRule(rule, tuple(alt["errors"][0]), _accuracy(x, labels, detail, alt["w"][0], alt["b"][0]),
                          _accuracy(xt, lt, detail, alt["w"][0], alt["b"][0]))
    sk = _sklearn(ctx, config, pairs, x, labels, xt, lt, key_data) if config.sklearn_check else None
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


# ------------------------------------------------------------------------------ metrics and tables

def metrics(f: Findings) -> dict[str, float]:
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


def tables(f: Findings, config: Config) -> dict[str, Table]:
    columns = ["pair (-1 vs +1)", "train images", "test images", "iterations", "reached tol", "train acc", "test acc",
               "test acc, last iterate"] + (["sklearn test acc", "sklearn epochs"] if f.sklearn is not None else [])
    rows = []
    for i, p in enumerate(f.pairs):
        row = [f"{p[0]} vs {p[1]}", f.n_train[p], f.n_test[p], f.iters[p], "yes" if f.converged[p] else "no",
               round(f.train_acc[p], 4), round(f.test_acc[p], 4), round(f.last_test_acc[p], 4)]
        if f.sklearn is not None:
            row += [round(f.sklearn.test_acc[i], 4), f.sklearn.n_iter[i]]
        rows.append(row)
    five = [[role, f"{p[0]} vs {p[1]}", round(f.train_acc[p], 4), round(f.test_acc[p], 4), f.iters[p],
             round(f.mean_gap[p], 2)] for role, p in _choose_five(f.test_acc, f.detail)]
    return {
        "all_pairs": Table(
            columns, rows,
            f"Every digit pair: our perceptron ({config.rule} rule, lr {config.lr:g}, up to {config.max_iter} "
            f"iterations, tol {config.tol:g}; train/test acc of the "
            f"{'pocket (lowest training error) parameters' if config.pocket else 'last iterate'}, and the test acc "
            f"of the last iterate) and scikit-learn's Perceptron on the same images."),
        "five_pairs": Table(
            ["role", "pair", "train acc", "test acc", "iterations", "distance between class means"], five,
            "The brief's table of five pairs, chosen from this run's numbers: the brief's pair, the easiest other "
            "pair, the median pair and the two hardest. Distance: Euclidean, between the two mean training "
            "images (pm1 pixels)."),
    }


# ----------------------------------------------------------------------------------------- figures

def _grid_pairs(f: Findings, config: Config) -> list[Pair]:
    """The five pairs of the table, then pairs spread evenly over the ranking, up to `weight_images`; easiest first."""
    ranked = f.ranked
    chosen = [p for _, p in _choose_five(f.test_acc, f.detail)]
    for p in [ranked[int(k)] for k in np.rint(np.linspace(0, len(ranked) - 1, config.weight_images))]:
        if len(chosen) >= config.weight_images:
            break
        if p not in chosen:
            chosen.append(p)
    return sorted(chosen[:config.weight_images], key=lambda p: (-f.test_acc[p], p))


def figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    (a, b), curves = f.detail, {f"{config.rule} rule": list(f.errors[f.detail])}
    if f.other is not None:
        curves[f"{f.other.rule} rule"] = list(f.other.errors)
    picked = {f"{p[0]} vs {p[1]}": list(f.errors[p]) for _, p in _choose_five(f.test_acc, f.detail)}
    grid = _grid_pairs(f, config)
    out = [
        ctx.figure(error_figure(curves, picked, f.detail, f.n_train[f.detail], config.rule, config.tol),
                   "error_curves",
                   f"Training classification error after each iteration (log-log; an error of 0 is drawn at half a "
                   f"sample). Left: pair {a} vs {b}; right: the five pairs of the table."),
        ctx.figure(weight_figure(f.weights[f.detail], f.means[a], f.means[b], f.detail), "weights_detail",
                   f"The learned w of pair {a} vs {b} as a 28x28 image (diverging map centred on 0), beside "
                   "the two class means and their difference."),
        ctx.figure(pair_heatmap(f.test_acc, sorted(config.digits),
                                f"Perceptron test accuracy (%) per digit pair, {config.rule} rule"), "pair_heatmap",
                   "Test accuracy of the perceptron for every digit pair (symmetric; the diagonal is empty)."),
        ctx.figure(weight_grid(np.stack([f.weights[p] for p in grid]), grid, [f.test_acc[p] for p in grid]),
                   "weights_grid",
                   "Learned w of several pairs, easiest first, each divided by its largest |w|: red pixels vote for "
                   "the second digit of the pair, blue for the first."),
    ]
    if f.sklearn is not None:
        out.append(ctx.figure(
            sklearn_scatter([f.test_acc[p] for p in f.pairs], list(f.sklearn.test_acc), list(f.pairs)),
            "sklearn_scatter", "Each dot is a digit pair: scikit-learn's Perceptron (x) against ours (y) on the "
                               "same split."))
    return out


# -------------------------------------------------------------------------------------------- prose

TEMPLATE = 0.5  # correlation of w with the difference of the class means from which w "is a template" of it
RHO_CLEAR = 0.3  # |Spearman| from which the distance of the class means says which pairs are easier
LOOKALIKES = {(4, 9): "a 4 closed at the top is a 9", (3, 5): "a 3 and a 5 differ in one short stroke"}


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The answers, from the findings: {paragraph id: text}; "sklearn" only with the scikit-learn check."""
    text = {"detail": _detail_text(f, config), "weights": _weights_text(f), "pairs": _pairs_text(f, config),
            "pocket": _pocket_text(f, config)}
    if f.sklearn is not None:
        text["sklearn"] = _sklearn_text(f)
    return text


def _course(errors: tuple[float, ...]) -> str:
    first, last = f"{errors[0]:.2%}", f"{errors[-1]:.2%}"
    if len(errors) == 1:
        return f"was {first} after the single iteration"
    verb = "stayed at" if first == last else "fell from" if errors[-1] < errors[0] else "rose from"
    return (f"{verb} {first} from the first iteration to iteration {len(errors)}" if first == last else
            f"{verb} {first} after the first iteration to {last} after {len(errors)} iteration(s)")


def _detail_text(f: Findings, config: Config) -> str:
    (a, b), converged, o = f.detail, f.converged[f.detail], f.other
    return (
        f"Pair {a} vs {b} (labels -1 and +1, {f.n_train[f.detail]:,} training images): with the {config.rule} rule "
        f"the training error {_course(f.errors[f.detail])} ({'within' if converged else 'not within'} the "
        f"tolerance {config.tol:g}); train accuracy {f.train_acc[f.detail]:.2%}, test accuracy "
        f"{f.test_acc[f.detail]:.2%}."
        + (f" The {o.rule} rule on the same pair and initial weights took {len(o.errors)} iteration(s) "
           f"to a training error of {o.errors[-1]:.2%} (test accuracy {o.test_acc:.2%})." if o is not None else "")
        + (" Reaching the tolerance shows the training images of this pair are (almost) linearly separable, "
           "the case in which the perceptron convergence theorem guarantees that the rule stops after a finite "
           "number of mistakes." if converged else
           f" The rule did not reach the tolerance within {config.max_iter} iterations: either the images are "
           "not linearly separable, or the margin is so small that the convergence theorem's bound on the "
           "number of mistakes, (R / margin)^2, is not yet reached."))


def _weights_text(f: Findings) -> str:
    a, b = f.detail
    lead = ("The learned w is a template of where the two digits differ: its correlation" if f.corr_w >= TEMPLATE
            else "The learned w is only loosely a template of where the two digits differ: its correlation")
    return (
        f"{lead} with the difference of the class means (mean '{b}' minus mean '{a}') is {f.corr_w:.2f}, and "
        f"{f.share_on_ink:.0%} of its total |w| sits on pixels that carry ink in at least 5% of either class. "
        f"Pixels where '{b}' usually has ink and '{a}' does not get positive weight, the reverse negative weight: "
        f"a misclassified '{b}' adds its own image to w, a misclassified '{a}' subtracts its image. A pixel that "
        f"is blank (-1) in every image moves only opposite to the bias, so the blank border carries no "
        f"information about the class.")


def _pairs_text(f: Findings, config: Config) -> str:
    ranked, n = f.ranked, len(f.pairs)
    hardest, easiest = ranked[-1], ranked[0]
    how = ("all pairs batched into one matrix product per class block per iteration" if config.rule == "batch"
           else "one pair after another")
    return (
        f"Over all {n} pairs the mean test accuracy is {f.mean_test_acc():.2%} (lowest {hardest[0]} vs "
        f"{hardest[1]} at {f.test_acc[hardest]:.2%}, highest {easiest[0]} vs {easiest[1]} at "
        f"{f.test_acc[easiest]:.2%}); {sum(f.converged.values())} of {n} pairs reached a training "
        f"error of at most {config.tol:g} within {config.max_iter} iterations. The whole sweep took "
        f"{f.sweep_seconds:.1f} s ({config.rule} rule, {how})." + _hardest_text(f) + _distance_text(f.rho))


def _hardest_text(f: Findings) -> str:
    """The (up to five) hardest pairs that make test errors, and the look-alike strokes among them."""
    hardest = [p for p in f.ranked[-5:][::-1] if f.test_acc[p] < 1]
    if not hardest:
        return " Every pair's test images are classified without error."
    examples = [text for pair, text in LOOKALIKES.items() if pair in hardest]
    return (
        f" The hardest {'pairs are' if len(hardest) > 1 else 'pair is'} "
        + ", ".join(f"{p[0]}-{p[1]} ({f.test_acc[p]:.1%})" for p in hardest)
        + (f": digits that share most of their strokes ({', '.join(examples)}), so no single hyperplane in pixel "
           "space separates their test images cleanly." if examples else
           ": the learned hyperplane misclassifies some of their test images."))


def _distance_text(rho: float) -> str:
    if not np.isfinite(rho):
        return (" With fewer than three pairs there is no rank correlation between the distance of the "
                "class-mean images and the test accuracy.")
    meaning = ("pairs whose average images are far apart are easier" if rho >= RHO_CLEAR else
               "here pairs whose average images are far apart are harder" if rho <= -RHO_CLEAR else
               "the distance between the average images says little about which pairs are easier")
    return (" Across pairs, the distance between the two class-mean images and the test accuracy have Spearman "
            f"correlation {rho:.2f}: {meaning}.")


def _pocket_text(f: Findings, config: Config) -> str:
    last_mean, mean = f.mean_test_acc(last=True), f.mean_test_acc()
    worst = min(f.pairs, key=lambda p: (f.last_test_acc[p], p))
    gained_nothing = config.pocket and last_mean >= mean
    return (
        ("The accuracies above are those of the pocket parameters, the (w, b) with the lowest training error "
         "seen during the run. " if config.pocket else "The accuracies above are those of the last iterate, "
         "as the brief's loop returns it. ")
        + f"The last iterate of every pair gives a mean test accuracy of {last_mean:.2%}, lowest "
        f"{f.last_test_acc[worst]:.2%} on {worst[0]} vs {worst[1]}"
        + (f", no lower than the pocket parameters' {mean:.2%}: on this run keeping the best parameters seen "
           "gained nothing on the test set." if gained_nothing else
           ": on images that are not linearly separable the perceptron rule never settles, and an iteration that "
           "misclassifies many images moves w far, so the last iterate can land on a poor hyperplane even after "
           "a good one was found."))


def _sklearn_text(f: Findings) -> str:
    theirs = np.array(f.sklearn.test_acc)
    diff = np.array([f.test_acc[p] for p in f.pairs]) - theirs
    big = f.pairs[int(np.argmax(np.abs(diff)))]
    differ = bool(np.any(diff != 0))
    return (
        f"Cross-check: scikit-learn's Perceptron on the same pairs and images reaches a mean test accuracy of "
        f"{theirs.mean():.2%} against our {f.mean_test_acc():.2%} "
        + (f"(mean difference ours minus theirs {diff.mean():+.2%}, largest gap {abs(diff).max():.2%} on {big[0]} "
           f"vs {big[1]})" if differ else "(the same on every pair)")
        + ". The two are the same learning rule with different schedules: scikit-learn runs online epochs from "
        "w = 0 with its own stopping test (no improvement of its loss by tol for 5 epochs)"
        + (", so single pairs differ by where each run happened to stop on data that is not separable." if differ
           else "."))


# --------------------------------------------------------------------------------------------- run

def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    return Result(metrics=metrics(f), tables=tables(f, config), figures=figures(ctx, f, config),
                  paragraphs=prose(f, config))


TASK = Task(
    name="task2",
    title="Task 2: the single-layer perceptron from scratch, on all 45 digit pairs",
    key_table="five_pairs",
    config_cls=Config,
    profiles=PROFILES,
    analyse=analyse,
    description="NumPy perceptron (predict/optimise), pair 0-1 in full, all 45 pairs, sklearn cross-check",
    # Brief (45 pairs, up to 1,000 passes over about 6,000 images per digit): 33 s measured, 3 s of it figures.
    analysis_cost=lambda config: 3.0 + 30.0 * config.max_iter / 1000 * (config.train_per_class or 6000) / 6000,
)
