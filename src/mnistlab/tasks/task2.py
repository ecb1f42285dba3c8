"""Task 2: the single-layer perceptron from scratch (NumPy), on pair (0, 1) in full and on all 45 digit pairs.

The algorithm lives in `mnistlab.models.perceptron` (predict, optimise, optimise_pairs); this module
prepares the brief's data (pm1, flat 784, label -1 for the first digit of a pair and +1 for the
second), trains every pair in one batched sweep (cached as one sub-run), cross-checks each pair
against scikit-learn's Perceptron on the same split, and writes the figures, tables and answers.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.data import load_arrays, normalise_images
from mnistlab.errors import ConfigError
from mnistlab.models.perceptron import RULES, optimise_pairs, pair_labels, predict
from mnistlab.tasks.base import Context, Reference, Result, Table, Task
from mnistlab.viz import CLASS_COLOURS

Pair = tuple[int, int]


@dataclass(frozen=True)
class Config:
    digits: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)  # every pair of these digits is trained
    detail_pair: tuple[int, int] = (0, 1)  # the brief's pair, shown in full
    lr: float = 0.01
    max_iter: int = 1000
    tol: float = 1e-3
    rule: Literal["batch", "online"] = "batch"  # see mnistlab.models.perceptron
    init_scale: float = 0.01  # standard deviation of the random initial w and b
    pocket: bool = True  # evaluate the (w, b) with the lowest training error seen, not the last iterate
    train_per_class: int | None = None  # None: every training image of both digits
    test_per_class: int | None = None
    compare_rules: bool = True  # also train the detail pair with the other rule, for its error curve
    sklearn_check: bool = True
    sklearn_max_iter: int = 1000
    weight_images: int = 10  # weight vectors shown on the grid

    def validate(self) -> None:
        if len(self.digits) < 2 or len(set(self.digits)) != len(self.digits) or \
                not all(0 <= d <= 9 for d in self.digits):
            raise ConfigError(f"digits must be at least two different digits 0-9, got {self.digits}")
        if len(self.detail_pair) != 2 or self.detail_pair[0] not in self.digits or \
                self.detail_pair[1] not in self.digits or not self.detail_pair[0] < self.detail_pair[1]:
            raise ConfigError(f"detail_pair must be two digits (a, b) with a < b, both among digits; "
                              f"got {self.detail_pair}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        for name in ("max_iter", "sklearn_max_iter"):
            if not 1 <= getattr(self, name) <= 1_000_000:
                raise ConfigError(f"{name} must be between 1 and 1,000,000, got {getattr(self, name)}")
        if not 0 <= self.tol < 1:
            raise ConfigError(f"tol is a classification error and must lie in [0, 1), got {self.tol}")
        if self.rule not in RULES:
            raise ConfigError(f"rule must be one of {', '.join(RULES)}, got {self.rule!r}")
        if not (np.isfinite(self.init_scale) and self.init_scale >= 0):
            raise ConfigError(f"init_scale must be a non-negative number, got {self.init_scale}")
        for name in ("train_per_class", "test_per_class"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be positive (or none for all images), got {value}")
        if not 1 <= self.weight_images <= 100:
            raise ConfigError(f"weight_images must be between 1 and 100, got {self.weight_images}")

    @property
    def pairs(self) -> list[Pair]:
        return list(combinations(sorted(self.digits), 2))


PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"train_per_class": 400, "test_per_class": 300, "max_iter": 80, "sklearn_max_iter": 100},
    "brief": {},
}


def pm1_flat(split: str, per_class: int | None, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The brief's Task 2 data: x/127.5 - 1, flat (n, 784) float32; optionally the first `per_class` of each digit."""
    images, labels = load_arrays("mnist", split, data_dir)
    if per_class is not None:
        keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
        keep.sort()  # keep the file's (already shuffled) order
        images, labels = images[keep], labels[keep]
    x = normalise_images(images.reshape(len(images), 784).astype(np.float32), "pm1")
    return x.astype(np.float32, copy=False), labels


def _accuracy(x: np.ndarray, labels: np.ndarray, pair: Pair, w: np.ndarray, b: float) -> float:
    rows, y = pair_labels(labels, pair)
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
            rows, y = pair_labels(labels, pair)
            # sklearn's tol is not ours: it stops when the loss has not improved by tol for 5 epochs.
            model = Perceptron(max_iter=config.sklearn_max_iter, tol=config.tol, random_state=ctx.seed)
            with warnings.catch_warnings():  # hitting max_iter is expected and shown in the table (its epochs)
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[rows], y)
            rows_t, yt = pair_labels(lt, pair)
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


def _error_figure(curves: dict[str, list[float]], picked: dict[str, list[float]], detail: Pair, n_train: int,
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


def _weight_figure(w: np.ndarray, xa: np.ndarray, xb: np.ndarray, pair: Pair):
    """Mean image of each digit, the learned w and the difference of the means; diverging maps centred on 0."""
    a, b = pair
    mean_a, mean_b = xa.mean(axis=0).reshape(28, 28), xb.mean(axis=0).reshape(28, 28)
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
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.spines[:].set_visible(False)
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle(f"Pair {a} vs {b}: red pixels push towards '{b}', blue towards '{a}'")
    return fig


def _weight_grid(ws: np.ndarray, pairs: list[Pair], accs: list[float]):
    """Several weight vectors as images, each scaled by its own largest |w| so one colour bar serves all."""
    n = len(pairs)
    ncols = min(5, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols + 0.8, 2.5 * nrows), squeeze=False)
    shown = None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        ax.spines[:].set_visible(False)
        if i >= n:
            ax.axis("off")
            continue
        w = ws[i] / (np.abs(ws[i]).max() or 1.0)
        shown = ax.imshow(w.reshape(28, 28), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{pairs[i][0]} (blue) vs {pairs[i][1]} (red)\ntest acc {accs[i]:.1%}", fontsize=9)
    fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.02, label="w / max |w|")
    return fig


def _heatmap(acc: dict[Pair, float], digits: list[int], title: str):
    """A symmetric digit-by-digit map of test accuracy, annotated in percent."""
    grid = np.full((10, 10), np.nan)
    for (a, b), v in acc.items():
        grid[a, b] = grid[b, a] = v
    sub = grid[np.ix_(digits, digits)]
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


def _scatter(ours: list[float], theirs: list[float], pairs: list[Pair]):
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


def run(config: Config, ctx: Context) -> Result:
    result = Result()
    pairs = config.pairs
    detail = (int(config.detail_pair[0]), int(config.detail_pair[1]))
    x, labels = pm1_flat("train", config.train_per_class, ctx.data_dir)
    xt, lt = pm1_flat("test", config.test_per_class, ctx.data_dir)
    key_data = {"dataset": "mnist", "normalise": "pm1", "train_per_class": config.train_per_class,
                "test_per_class": config.test_per_class}

    sweep = _sweep(ctx, config, pairs, x, labels, key_data, config.rule, f"task2: {len(pairs)} perceptrons")
    train_acc = {p: _accuracy(x, labels, p, sweep["w"][i], sweep["b"][i]) for i, p in enumerate(pairs)}
    test_acc = {p: _accuracy(xt, lt, p, sweep["w"][i], sweep["b"][i]) for i, p in enumerate(pairs)}
    last_test_acc = {p: _accuracy(xt, lt, p, sweep["last_w"][i], sweep["last_b"][i]) for i, p in enumerate(pairs)}
    iters = {p: len(sweep["errors"][i]) for i, p in enumerate(pairs)}
    converged = {p: bool(sweep["converged"][i]) for i, p in enumerate(pairs)}
    index = {p: i for i, p in enumerate(pairs)}
    means = {c: x[labels == c].mean(axis=0) for c in sorted(config.digits)}
    mean_gap = {(a, b): float(np.linalg.norm(means[a] - means[b])) for a, b in pairs}

    for (a, b) in pairs:
        result.metrics[f"pair_test_acc_{a}_{b}"] = test_acc[(a, b)]
        result.metrics[f"pair_train_acc_{a}_{b}"] = train_acc[(a, b)]
        result.metrics[f"pair_iters_{a}_{b}"] = iters[(a, b)]
    accs = np.array([test_acc[p] for p in pairs])
    result.metrics.update({
        "pair_test_acc_mean": float(accs.mean()),
        "pair_test_acc_min": float(accs.min()),
        "pair_train_acc_mean": float(np.mean([train_acc[p] for p in pairs])),
        "pair_test_acc_mean_last_iterate": float(np.mean([last_test_acc[p] for p in pairs])),
        "pair_test_acc_min_last_iterate": float(np.min([last_test_acc[p] for p in pairs])),
        "pairs_converged": int(sum(converged.values())),
        "sweep_seconds": round(float(sweep["seconds"]), 2),
    })

    # --- the brief's pair in full -----------------------------------------------------------------
    d = index[detail]
    curves = {f"{config.rule} rule": sweep["errors"][d]}
    if config.compare_rules:
        other = "online" if config.rule == "batch" else "batch"
        alt = _sweep(ctx, config, [detail], x, labels, key_data, other, f"task2: {other} rule on {detail}")
        curves[f"{other} rule"] = alt["errors"][0]
        result.metrics[f"detail_{other}_test_acc"] = _accuracy(xt, lt, detail, alt["w"][0], alt["b"][0])
        result.metrics[f"detail_{other}_train_acc"] = _accuracy(x, labels, detail, alt["w"][0], alt["b"][0])
        result.metrics[f"detail_{other}_iters"] = len(alt["errors"][0])
    picks = _choose_five(test_acc, detail)
    picked_curves = {f"{p[0]} vs {p[1]}": sweep["errors"][index[p]] for _, p in picks}
    n_detail = int(np.sum((labels == detail[0]) | (labels == detail[1])))
    result.figures.append(ctx.figure(
        _error_figure(curves, picked_curves, detail, n_detail, config.rule, config.tol), "error_curves",
        f"Training classification error after each iteration (log-log; an error of 0 is drawn at half a "
        f"sample). Left: pair {detail[0]} vs {detail[1]}; right: the five pairs of the table."))
    w_detail = sweep["w"][d]
    xa, xb = x[labels == detail[0]], x[labels == detail[1]]
    result.figures.append(ctx.figure(
        _weight_figure(w_detail, xa, xb, detail), "weights_detail",
        f"The learned w of pair {detail[0]} vs {detail[1]} as a 28x28 image (diverging map centred on 0), beside "
        "the two class means and their difference."))
    corr_w = float(np.corrcoef(w_detail, means[detail[1]] - means[detail[0]])[0, 1])
    ink = ((xa > 0).mean(axis=0) > 0.05) | ((xb > 0).mean(axis=0) > 0.05)
    share_on_ink = float(np.abs(w_detail[ink]).sum() / np.abs(w_detail).sum())
    result.metrics.update({"detail_w_mean_difference_corr": corr_w, "detail_w_share_on_ink": share_on_ink})

    # --- all pairs ----------------------------------------------------------------------------------
    sk = _sklearn(ctx, config, pairs, x, labels, xt, lt, key_data) if config.sklearn_check else None
    if sk is not None:
        for i, (a, b) in enumerate(pairs):
            result.metrics[f"sklearn_pair_test_acc_{a}_{b}"] = sk["test_acc"][i]
        result.metrics["sklearn_pair_test_acc_mean"] = float(np.mean(sk["test_acc"]))
        result.metrics["sklearn_pair_test_acc_min"] = float(np.min(sk["test_acc"]))
        result.metrics["sklearn_seconds"] = round(float(sk["seconds"]), 2)

    n_train = {p: int(np.sum((labels == p[0]) | (labels == p[1]))) for p in pairs}
    n_test = {p: int(np.sum((lt == p[0]) | (lt == p[1]))) for p in pairs}
    columns = ["pair (-1 vs +1)", "train images", "test images", "iterations", "reached tol", "train acc", "test acc",
               "test acc, last iterate"]
    if sk is not None:
        columns += ["sklearn test acc", "sklearn epochs"]
    rows = []
    for i, p in enumerate(pairs):
        row = [f"{p[0]} vs {p[1]}", n_train[p], n_test[p], iters[p], "yes" if converged[p] else "no",
               round(train_acc[p], 4), round(test_acc[p], 4), round(last_test_acc[p], 4)]
        if sk is not None:
            row += [round(sk["test_acc"][i], 4), sk["n_iter"][i]]
        rows.append(row)
    result.tables["all_pairs"] = Table(
        columns, rows,
        f"Every digit pair: our perceptron ({config.rule} rule, lr {config.lr:g}, up to {config.max_iter} "
        f"iterations, tol {config.tol:g}; train/test acc of the "
        f"{'pocket (lowest training error) parameters' if config.pocket else 'last iterate'}, and the test acc of "
        f"the last iterate) and scikit-learn's Perceptron on the same images.")

    five_rows = [[role, f"{p[0]} vs {p[1]}", round(train_acc[p], 4), round(test_acc[p], 4), iters[p],
                  round(mean_gap[p], 2)] for role, p in picks]
    result.tables["five_pairs"] = Table(
        ["role", "pair", "train acc", "test acc", "iterations", "distance between class means"], five_rows,
        "The brief's table of five pairs, chosen from this run's numbers: the brief's pair, the easiest other "
        "pair, the median pair and the two hardest. Distance: Euclidean, between the two mean training "
        "images (pm1 pixels).")

    result.figures.append(ctx.figure(
        _heatmap(test_acc, sorted(config.digits), f"Perceptron test accuracy (%) per digit pair, {config.rule} rule"),
        "pair_heatmap", "Test accuracy of the perceptron for every digit pair (symmetric; the diagonal is empty)."))
    ranked = sorted(pairs, key=lambda p: (-test_acc[p], p))
    grid_pairs = [p for _, p in picks]
    for p in [ranked[int(k)] for k in np.rint(np.linspace(0, len(ranked) - 1, config.weight_images))]:
        if len(grid_pairs) >= config.weight_images:
            break
        if p not in grid_pairs:
            grid_pairs.append(p)
    grid_pairs = sorted(grid_pairs[:config.weight_images], key=lambda p: (-test_acc[p], p))
    result.figures.append(ctx.figure(
        _weight_grid(np.stack([sweep["w"][index[p]] for p in grid_pairs]), grid_pairs,
                     [test_acc[p] for p in grid_pairs]), "weights_grid",
        "Learned w of several pairs, easiest first, each divided by its largest |w|: red pixels vote for the "
        "second digit of the pair, blue for the first."))
    if sk is not None:
        result.figures.append(ctx.figure(
            _scatter([test_acc[p] for p in pairs], sk["test_acc"], pairs), "sklearn_scatter",
            "Each dot is a digit pair: scikit-learn's Perceptron (x) against ours (y) on the same split."))

    # --- answers from this run's numbers ----------------------------------------------------------------
    a, b = detail
    e = sweep["errors"][d]
    result.text.append(
        f"Pair {a} vs {b} (labels -1 and +1, {n_detail:,} training images): with the {config.rule} rule the "
        f"training error fell from {e[0]:.2%} after the first iteration to {e[-1]:.2%} after {len(e)} "
        f"iteration(s) ({'within' if converged[detail] else 'not within'} the tolerance {config.tol:g}); "
        f"train accuracy {train_acc[detail]:.2%}, test accuracy {test_acc[detail]:.2%}."
        + (f" The {other} rule on the same pair and initial weights took {len(alt['errors'][0])} iteration(s) "
           f"to a training error of {alt['errors'][0][-1]:.2%} (test accuracy "
           f"{result.metrics[f'detail_{other}_test_acc']:.2%})." if config.compare_rules else "")
        + (" Reaching the tolerance shows the training images of this pair are (almost) linearly separable, "
           "the case in which the perceptron convergence theorem guarantees that the rule stops after a finite "
           "number of mistakes." if converged[detail] else
           f" The rule did not reach the tolerance within {config.max_iter} iterations: either the images are "
           "not linearly separable, or the margin is so small that the convergence theorem's bound on the "
           "number of mistakes, (R / margin)^2, is not yet reached."))
    result.text.append(
        f"The learned w is a template of where the two digits differ: its correlation with the difference of "
        f"the class means (mean '{b}' minus mean '{a}') is {corr_w:.2f}, and {share_on_ink:.0%} of its total "
        f"|w| sits on pixels that carry ink in at least 5% of either class. Pixels where '{b}' usually has ink "
        f"and '{a}' does not get positive weight, the reverse negative weight: a misclassified '{b}' adds its "
        f"own image to w, a misclassified '{a}' subtracts its image. A pixel that is blank (-1) in every image "
        f"moves only opposite to the bias, so the blank border carries no information about the class.")
    hardest, easiest = ranked[-1], ranked[0]
    rho = _spearman([mean_gap[p] for p in pairs], [test_acc[p] for p in pairs])
    result.metrics["spearman_mean_distance_vs_test_acc"] = rho
    worst5 = ", ".join(f"{p[0]}-{p[1]} ({test_acc[p]:.1%})" for p in ranked[-5:][::-1])
    result.text.append(
        f"Over all {len(pairs)} pairs the mean test accuracy is {accs.mean():.2%} (lowest {hardest[0]} vs "
        f"{hardest[1]} at {test_acc[hardest]:.2%}, highest {easiest[0]} vs {easiest[1]} at "
        f"{test_acc[easiest]:.2%}); {result.metrics['pairs_converged']} of {len(pairs)} pairs reached a training "
        f"error of at most {config.tol:g} within {config.max_iter} iterations. The whole sweep took "
        f"{sweep['seconds']:.1f} s ({config.rule} rule, all pairs batched into one matrix product per class "
        f"block per iteration). The hardest pairs are {worst5}: digits that share most of their strokes "
        f"(a 4 closed at the top is a 9, a 3 and a 5 differ in one short stroke), so no single hyperplane "
        f"in pixel space separates their test images cleanly. Across pairs, the distance between the two "
        f"class-mean images and the test accuracy have Spearman correlation {rho:.2f}: pairs whose average "
        f"images are far apart are easier.")
    last_mean = result.metrics["pair_test_acc_mean_last_iterate"]
    worst_last = min(pairs, key=lambda p: (last_test_acc[p], p))
    result.text.append(
        ("The accuracies above are those of the pocket parameters, the (w, b) with the lowest training error "
         "seen during the run. " if config.pocket else "The accuracies above are those of the last iterate, "
         "as the brief's loop returns it. ")
        + f"The last iterate of every pair gives a mean test accuracy of {last_mean:.2%}, lowest "
        f"{last_test_acc[worst_last]:.2%} on {worst_last[0]} vs {worst_last[1]}: on images that are not linearly "
        f"separable the perceptron rule never settles, and an iteration that misclassifies many images moves w "
        f"far, so the last iterate can land on a poor hyperplane even after a good one was found.")
    if sk is not None:
        diff = np.array([test_acc[p] for p in pairs]) - np.array(sk["test_acc"])
        big = pairs[int(np.argmax(np.abs(diff)))]
        result.text.append(
            f"Cross-check: scikit-learn's Perceptron on the same pairs and images reaches a mean test accuracy of "
            f"{np.mean(sk['test_acc']):.2%} against our {accs.mean():.2%} (mean difference ours minus theirs "
            f"{diff.mean():+.2%}, largest gap {abs(diff).max():.2%} on {big[0]} vs {big[1]}). The two are the "
            f"same learning rule with different schedules: scikit-learn runs online epochs from w = 0 with its "
            f"own stopping test (no improvement of its loss by tol for 5 epochs), so single pairs differ by "
            f"where each run happened to stop on data that is not separable.")
    result.references.extend(REFERENCES)
    return result


def _spearman(u: list[float], v: list[float]) -> float:
    from scipy.stats import spearmanr

    if len(u) < 3:
        return float("nan")
    return float(spearmanr(u, v).statistic)


# Numbers that published solutions of this same assignment reported (theirs, with their settings).
REFERENCES: list[Reference] = []


TASK = Task(
    name="task2",
    title="Task 2: the single-layer perceptron from scratch, on all 45 digit pairs",
    config_cls=Config,
    profiles=PROFILES,
    analyse=run,
    description="NumPy perceptron (predict/optimise), pair 0-1 in full, all 45 pairs, sklearn cross-check",
)
