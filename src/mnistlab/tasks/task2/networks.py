"""Task 2's sub-run kinds. Its perceptrons are NumPy models (`mnistlab.models.perceptron`), not networks of the
engine, but they are trained as sub-runs (whose model is `no_model`), so `mnistlab plan` lists them, the
cache keeps them and an executor spreads them over workers:

- "perceptron-sweep": one perceptron per digit pair with one rule, all pairs in one batched sweep; its arrays
  are every pair's last and pocket parameters, error curve and number of passes;
- "sklearn-perceptron": scikit-learn's Perceptron on each pair, on the same split and labels, as a check.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from mnistlab.data import load_arrays, pm1_flat
from mnistlab.execution.progress import progress
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, no_model, register_kind
from mnistlab.models.perceptron import optimise_pairs, pair_labels_second_positive

Pair = tuple[int, int]


@dataclass(frozen=True)
class PairImages:
    """The brief's Task 2 data: MNIST as x/127.5 - 1, flat (n, 784) float32; optionally only the first
    `*_per_class` images of each digit (None: all)."""

    train_per_class: int | None = None
    test_per_class: int | None = None

    def load(self, split: str, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
        images, labels = load_arrays("mnist", split, data_dir)
        per_class = self.train_per_class if split == "train" else self.test_per_class
        if per_class is not None:
            keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
            keep.sort()  # keep the file's (already shuffled) order
            images, labels = images[keep], labels[keep]
        return pm1_flat(images), labels


@dataclass(frozen=True)
class PerceptronSweep:
    """One perceptron per pair, trained with `rule` and these options."""

    pairs: tuple[Pair, ...]
    rule: str
    lr: float
    max_iter: int
    tol: float
    init_scale: float


@dataclass(frozen=True)
class SklearnPerceptrons:
    """scikit-learn's Perceptron on each pair (its `tol` is not ours: it stops when the loss has not
    improved by tol for 5 epochs)."""

    pairs: tuple[Pair, ...]
    max_iter: int
    tol: float


def _sweep(run: SubRun, _model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    spec: PerceptronSweep = run.model
    x, labels = run.data.load("train", env.data_dir)
    bar = progress(total=spec.max_iter if spec.rule == "batch" else len(spec.pairs), desc=run.label,
                   enabled=env.show_progress)
    last = [0]

    def callback(step: int, active: int) -> None:
        bar.update(step - last[0])
        last[0] = step
        bar.set_postfix(still_training=active, refresh=False)

    start = time.perf_counter()
    fits = optimise_pairs(x, labels, list(spec.pairs), lr=spec.lr, max_iter=spec.max_iter, tol=spec.tol,
                          rule=spec.rule, seed=run.seed, init_scale=spec.init_scale, callback=callback)
    seconds = time.perf_counter() - start
    bar.close()
    longest = max(1, max(f.iterations for f in fits))
    curves = np.full((len(fits), longest), np.nan)
    for i, f in enumerate(fits):
        curves[i, :f.iterations] = f.errors
    arrays = {"w": np.stack([f.w for f in fits]), "b": np.array([f.b for f in fits]),
              "pocket_w": np.stack([f.pocket_w for f in fits]), "pocket_b": np.array([f.pocket_b for f in fits]),
              "curves": curves, "iterations": np.array([f.iterations for f in fits])}
    return {"seconds": seconds, "converged": [f.converged for f in fits]}, arrays


def _sklearn(run: SubRun, _model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Perceptron

    spec: SklearnPerceptrons = run.model
    x, labels = run.data.load("train", env.data_dir)
    xt, lt = run.data.load("test", env.data_dir)
    out: dict[str, Any] = {"train_acc": [], "test_acc": [], "n_iter": []}
    start = time.perf_counter()
    for pair in progress(spec.pairs, desc=run.label, enabled=env.show_progress):
        rows, y = pair_labels_second_positive(labels, pair)
        model = Perceptron(max_iter=spec.max_iter, tol=spec.tol, random_state=run.seed)
        with warnings.catch_warnings():  # hitting max_iter is expected and shown in the table (its epochs)
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[rows], y)
        rows_t, yt = pair_labels_second_positive(lt, pair)
        out["train_acc"].append(float(model.score(x[rows], y)))
        out["test_acc"].append(float(model.score(xt[rows_t], yt)))
        out["n_iter"].append(int(model.n_iter_))
    out["seconds"] = time.perf_counter() - start
    return out, {}


def _share_of_brief(run: SubRun) -> float:
    """The sub-run's pairs and images as a share of the brief's 45 pairs of about 6,000 images per digit."""
    return len(run.model.pairs) / 45 * (run.data.train_per_class or 6_000) / 6_000


def _sweep_seconds(run: SubRun) -> float:
    """Measured on the brief profile (2-core AMD EPYC): 23 s for the 45 pairs, batch rule, up to 1,000 passes;
    the online rule stops within a few epochs (0.03 s on one pair)."""
    if run.model.rule != "batch":
        return 1.5 * _share_of_brief(run)
    return 23.0 * _share_of_brief(run) * run.model.max_iter / 1000


def _sklearn_seconds(run: SubRun) -> float:
    """Measured on the brief profile (2-core AMD EPYC): 12 s for the 45 pairs."""
    return 12.0 * _share_of_brief(run)


KIND_PERCEPTRON_SWEEP = register_kind(SubRunKind("perceptron-sweep", build=no_model, train=_sweep,
                                                 seconds=_sweep_seconds))
KIND_SKLEARN_PERCEPTRON = register_kind(SubRunKind("sklearn-perceptron", build=no_model, train=_sklearn,
                                                   seconds=_sklearn_seconds))
