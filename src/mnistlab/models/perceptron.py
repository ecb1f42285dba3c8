"""The single-layer perceptron of the brief's Task 2, from scratch in NumPy.

    >>> w, b, errors = optimise(x, y)            # labels y in {-1, +1}
    >>> accuracy = np.mean(predict(x_test, w, b) == y_test)

Two update rules, both the perceptron learning rule (w <- w + lr * y_i * x_i,
b <- b + lr * y_i for a misclassified sample i); they differ only in when the
update is applied. One *iteration* is:

- ``"online"`` (the classic rule): one pass over the training set in a fresh
  random order, updating after each misclassified sample. Implemented exactly
  (the same sequence of updates as a per-sample Python loop) but vectorised: the
  scores of a chunk of upcoming samples are computed in one matrix product, and
  only recomputed from the first misclassified sample on after an update.
- ``"batch"`` (the batch perceptron of Duda & Hart, *Pattern Classification*,
  5.5): all samples misclassified by the current (w, b) contribute one summed
  update per iteration, i.e. gradient descent with a fixed step on the perceptron
  criterion. One matrix product per iteration, so it vectorises over samples and
  over many classifiers at once (`optimise_pairs`), which is what makes all 45
  digit pairs fast.

Both iterate while ``iter <= max_iter`` and the training classification error is
above ``tol``, as the brief's loop does, and record that error after every
iteration. Runs are deterministic under the seed.

On data that is not linearly separable the perceptron never settles, and the
batch rule in particular can jump to a poor iterate at any step. Besides the
last iterate, every fit therefore keeps the *pocket* parameters (Gallant's
pocket algorithm): the (w, b) with the lowest training error seen so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mnistlab.errors import ConfigError

Rule = Literal["batch", "online"]
RULES = ("batch", "online")


@dataclass
class PerceptronFit:
    """One trained perceptron: the last (w, b), the training error after each iteration, whether it reached tol,
    and the pocket (w, b): those with the lowest training error seen (including the initial ones)."""

    w: np.ndarray
    b: float
    errors: list[float]
    converged: bool
    pocket_w: np.ndarray
    pocket_b: float
    pocket_error: float

    @property
    def iterations(self) -> int:
        return len(self.errors)


def predict(x: np.ndarray, w: np.ndarray, b: float | np.ndarray) -> np.ndarray:
    """Class predictions in {-1, +1}: the step function of x.w + b, with step(0) = +1.

    x is (n, m) and w is (m,) with a scalar b, giving (n,); a matrix w (m, k) with b (k,)
    classifies with k perceptrons at once, giving (n, k).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 2:
        raise ConfigError(f"predict needs x of shape (n, m); got shape {x.shape}")
    if w.ndim not in (1, 2) or w.shape[0] != x.shape[1]:
        raise ConfigError(f"predict needs w with {x.shape[1]} rows to match x {x.shape}; got shape {w.shape}")
    return np.where(x @ w + b >= 0, 1.0, -1.0)


def initial_parameters(m: int, rng: np.random.Generator, scale: float = 0.01,
                       dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, float]:
    """Small random (w, b): normal with standard deviation `scale`, so no feature starts out favoured."""
    w = rng.normal(0.0, scale, m).astype(dtype)
    b = float(rng.normal(0.0, scale))
    return w, b


def _check_settings(lr: float, max_iter: int, tol: float, rule: str) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise ConfigError(f"the learning rate must be a positive number, got {lr}")
    if max_iter < 1:
        raise ConfigError(f"max_iter must be at least 1, got {max_iter}")
    if not 0 <= tol < 1:
        raise ConfigError(f"tol is a classification error and must lie in [0, 1), got {tol}")
    if rule not in RULES:
        raise ConfigError(f"unknown perceptron rule {rule!r}; choose one of {', '.join(RULES)}")


def _as_data(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
        raise ConfigError(f"optimise needs x (n, m) and y (n,) with n > 0; got shapes {x.shape} and {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        raise ConfigError("perceptron labels must be -1 or +1")
    dtype = np.float32 if x.dtype == np.float32 else np.float64  # float32 halves the memory traffic
    return x.astype(dtype, copy=False), y.astype(dtype)


def _online_pass(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lr: float, order: np.ndarray,
                 chunk: int) -> float:
    """One classic perceptron pass over x[order], updating w in place; returns the new b.

    Equivalent to `for i in order: if predict(x[i]) != y[i]: update`, but the scores of the next
    samples come from one matrix product, and are recomputed only from the sample after an update.
    The look-ahead adapts: it doubles (up to `chunk`) while no sample is misclassified and shrinks
    after an update, so few scores are wasted early on, when mistakes are frequent, and few
    products are needed later, when they are rare.
    """
    xs, ys = x[order], y[order]
    smallest = min(16, chunk)
    n, i, size = len(xs), 0, smallest
    while i < n:
        j = min(n, i + size)
        wrong = np.flatnonzero((xs[i:j] @ w + b >= 0) != (ys[i:j] > 0))
        if len(wrong) == 0:
            i = j
            size = min(chunk, 2 * size)
            continue
        k = i + int(wrong[0])
        w += (lr * ys[k]) * xs[k]
        b += lr * float(ys[k])
        i = k + 1
        size = max(smallest, size // 4)
    return b


def optimise(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    b: float | None = None,
    *,
    lr: float = 0.01,
    max_iter: int = 1000,
    tol: float = 1e-3,
    rule: Rule = "batch",
    seed: int = 0,
    init_scale: float = 0.01,
    chunk: int = 4096,
    pocket: bool = False,
) -> tuple[np.ndarray, float, list[float]]:
    """Train a perceptron on x (n, m) with labels y in {-1, +1}; returns (w, b, error_list).

    w and b are the initial parameters (drawn from `seed` when not given). One iteration is one
    update of the chosen rule (see the module docstring); the loop runs while iter <= max_iter and
    the training classification error is above tol. error_list[k] is the training error of the
    parameters after iteration k + 1, so the returned (w, b) have error error_list[-1], or, with
    pocket=True, the lowest error seen.
    """
    fit = fit_perceptron(x, y, w, b, lr=lr, max_iter=max_iter, tol=tol, rule=rule, seed=seed,
                         init_scale=init_scale, chunk=chunk)
    if pocket:
        return fit.pocket_w, fit.pocket_b, fit.errors
    return fit.w, fit.b, fit.errors


def fit_perceptron(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    b: float | None = None,
    *,
    lr: float = 0.01,
    max_iter: int = 1000,
    tol: float = 1e-3,
    rule: Rule = "batch",
    seed: int = 0,
    init_scale: float = 0.01,
    chunk: int = 4096,
) -> PerceptronFit:
    """`optimise`, returning the whole PerceptronFit (last and pocket parameters, errors, convergence)."""
    _check_settings(lr, max_iter, tol, rule)
    x, y = _as_data(x, y)
    rng = np.random.default_rng(seed)
    if w is None or b is None:
        w0, b0 = initial_parameters(x.shape[1], rng, init_scale, x.dtype)
        w = w0 if w is None else w
        b = b0 if b is None else b
    w = np.array(w, dtype=x.dtype)  # a copy: the caller's initial vector is never changed
    if w.shape != (x.shape[1],):
        raise ConfigError(f"the initial w must have shape ({x.shape[1]},); got {w.shape}")
    b = float(b)
    positive = y > 0

    wrong = (x @ w + b >= 0) != positive
    error = float(wrong.mean())
    error_list: list[float] = []
    best_w, best_b, best_error = w.copy(), b, error
    iteration = 1
    while iteration <= max_iter and error > tol:
        if rule == "batch":
            signed = np.where(wrong, y, 0).astype(x.dtype)
            w += lr * (signed @ x)
            b += lr * float(signed.sum())
        else:
            b = _online_pass(x, y, w, b, lr, rng.permutation(len(x)), chunk)
        wrong = (x @ w + b >= 0) != positive
        error = float(wrong.mean())
        error_list.append(error)
        if error < best_error:
            best_w, best_b, best_error = w.copy(), b, error
        iteration += 1
    return PerceptronFit(w, b, error_list, error <= tol, best_w, best_b, best_error)


def pair_labels_second_positive(labels: np.ndarray, pair: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The brief's binary labels for a digit pair (a, b): the rows of a or b, and -1 for a, +1 for b."""
    a, b = pair
    if a == b:
        raise ConfigError(f"a pair needs two different digits, got ({a}, {b})")
    rows = np.flatnonzero((labels == a) | (labels == b))
    y = np.where(labels[rows] == a, -1.0, 1.0)
    return rows, y


def optimise_pairs(
    x: np.ndarray,
    labels: np.ndarray,
    pairs: Sequence[tuple[int, int]],
    *,
    lr: float = 0.01,
    max_iter: int = 1000,
    tol: float = 1e-3,
    rule: Rule = "batch",
    seed: int = 0,
    init_scale: float = 0.01,
    callback: Callable[[int, int], None] | None = None,
) -> list[PerceptronFit]:
    """One perceptron per pair (a, b) on the rows of x labelled a (-> -1) or b (-> +1).

    The result for each pair is the same as `optimise` on that pair's rows with the initial (w, b)
    drawn by `initial_parameters(m, default_rng((seed, a, b)), init_scale)`. With the batch rule all
    pairs train together: the rows are grouped by class, and each class's block meets the weight
    vectors of every pair it belongs to in one matrix product per iteration; a pair stops (and is
    left out of the products) as soon as its error is within tol. `callback(iteration, active)`
    reports progress.
    """
    _check_settings(lr, max_iter, tol, rule)
    x = np.asarray(x)
    labels = np.asarray(labels)
    pairs = [(int(a), int(b)) for a, b in pairs]
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    inits = [initial_parameters(x.shape[1], np.random.default_rng((seed, a, b)), init_scale, dtype) for a, b in pairs]
    if rule == "online":
        fits = []
        for p, pair in enumerate(pairs):
            rows, y = pair_labels_second_positive(labels, pair)
            fits.append(fit_perceptron(x[rows], y, inits[p][0], inits[p][1], lr=lr, max_iter=max_iter, tol=tol,
                                       rule="online", seed=seed))
            if callback is not None:
                callback(p + 1, len(pairs) - p - 1)
        return fits
    return _batch_pairs(x.astype(dtype, copy=False), labels, pairs, inits, lr, max_iter, tol, callback)


def _batch_pairs(x, labels, pairs, inits, lr, max_iter, tol, callback) -> list[PerceptronFit]:
    n_pairs = len(pairs)
    for pair in pairs:
        pair_labels_second_positive(labels, pair)  # validates the pair
    classes = sorted({c for pair in pairs for c in pair})
    blocks = {c: np.ascontiguousarray(x[labels == c]) for c in classes}
    sizes = np.array([len(blocks[a]) + len(blocks[b]) for a, b in pairs])
    if np.any(sizes == 0):
        raise ConfigError("every pair needs at least one training example")
    # For each class: the pairs it belongs to and its label in each (-1 as first digit, +1 as second).
    member = {c: np.array([p for p, pair in enumerate(pairs) if c in pair]) for c in classes}
    sign = {c: np.array([-1.0 if pairs[p][0] == c else 1.0 for p in member[c]], dtype=x.dtype) for c in classes}

    W = np.stack([w for w, _ in inits], axis=1)  # (m, pairs)
    B = np.array([b for _, b in inits], dtype=np.float64)
    errors: list[list[float]] = [[] for _ in range(n_pairs)]
    active = np.ones(n_pairs, dtype=bool)

    def score(active: np.ndarray) -> tuple[dict, np.ndarray]:
        """Misclassification masks per class block (active pairs only) and the error of every active pair."""
        wrong_count = np.zeros(n_pairs)
        masks = {}
        for c in classes:
            sel = active[member[c]]
            if not sel.any():
                continue
            cols, s = member[c][sel], sign[c][sel]
            wrong = (blocks[c] @ W[:, cols] + B[cols].astype(x.dtype) >= 0) != (s > 0)
            masks[c] = (cols, s, wrong)
            np.add.at(wrong_count, cols, wrong.sum(axis=0))
        return masks, wrong_count / sizes

    masks, error = score(active)
    last_error = error.copy()
    best_W, best_B, best_error = W.copy(), B.copy(), error.copy()
    active &= error > tol
    iteration = 1
    while iteration <= max_iter and active.any():
        for c, (cols, s, wrong) in masks.items():
            keep = active[cols]
            if not keep.any():
                continue
            cols, wrong = cols[keep], wrong[:, keep]
            signed = wrong * s[keep]  # y_i for misclassified samples, 0 elsewhere
            rows = wrong.any(axis=1)  # only misclassified rows contribute: gather them
            if rows.any():
                W[:, cols] += lr * (blocks[c][rows].T @ signed[rows].astype(x.dtype))
                B[cols] += lr * signed.sum(axis=0).astype(np.float64)  # as optimise does: lr times an exact count
        masks, error = score(active)
        for p in np.flatnonzero(active):
            errors[p].append(float(error[p]))
        last_error[active] = error[active]
        better = active & (error < best_error)
        best_W[:, better], best_B[better], best_error[better] = W[:, better], B[better], error[better]
        active &= error > tol
        if callback is not None:
            callback(iteration, int(active.sum()))
        iteration += 1
    return [PerceptronFit(W[:, p].copy(), float(B[p]), errors[p], bool(last_error[p] <= tol), best_W[:, p].copy(),
                          float(best_B[p]), float(best_error[p])) for p in range(n_pairs)]


__all__ = ["RULES", "PerceptronFit", "fit_perceptron", "initial_parameters", "optimise", "optimise_pairs",
           "pair_labels_second_positive", "predict"]
