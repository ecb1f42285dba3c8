"""What Task 2 computes in place of training networks. Its perceptrons are NumPy models
(`mnistlab.models.perceptron`), not sub-runs of the engine, so `plan` returns none; the analysis trains
them through the sub-run cache (`ctx.memo`), each entry keyed by the parameters its helper here names:

- `perceptron_sweep` ("perceptron-sweep"): one perceptron per digit pair with one rule, all pairs in one
  batched sweep (every pair's last and pocket parameters, error curve and convergence, saved as .npz);
  the analysis runs it for every pair with the configured rule and for the brief's pair with the other rule;
- `sklearn_check` ("sklearn-perceptron"): scikit-learn's Perceptron on each pair, the same split and labels.

`data_key` is the part of both keys that names the images they train on.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from mnistlab.execution.subrun import SubRun
from mnistlab.models.perceptron import optimise_pairs, pair_labels_second_positive
from mnistlab.tasks.base import Context
from mnistlab.tasks.task2.config import Config, Pair


def plan(config: Config, seed: int) -> list[SubRun]:
    """No networks of the engine: the perceptron sweeps and the scikit-learn check are memoised by the analysis."""
    return []


def data_key(config: Config) -> dict[str, Any]:
    """The images a sweep or check trains on, as its cache key names them."""
    return {"dataset": "mnist", "normalise": "pm1", "train_per_class": config.train_per_class,
            "test_per_class": config.test_per_class}


def perceptron_sweep(ctx: Context, config: Config, pairs: list[Pair], x: np.ndarray, labels: np.ndarray, rule: str,
                     desc: str) -> dict[str, Any]:
    """Train one perceptron per pair with `rule` (one cached sub-run); returns W, B, error lists and seconds."""
    params = {"data": data_key(config), "pairs": pairs, "rule": rule, "lr": config.lr, "max_iter": config.max_iter,
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


def sklearn_check(ctx: Context, config: Config, pairs: list[Pair], x: np.ndarray, labels: np.ndarray,
                  xt: np.ndarray, lt: np.ndarray) -> dict:
    """scikit-learn's Perceptron on each pair, same split and labels (a cached sub-run)."""
    params = {"data": data_key(config), "pairs": pairs, "max_iter": config.sklearn_max_iter, "tol": config.tol,
              "seed": ctx.seed}

    def compute(_folder) -> dict:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Perceptron

        out: dict[str, list] = {"train_acc": [], "test_acc": [], "n_iter": []}
        start = time.perf_counter()
        for pair in ctx.progress(pairs, desc="task2: sklearn Perceptron"):
            rows, y = pair_labels_second_positive(labels, pair)
            # sklearn's tol is not ours: it stops when the loss has not improved by tol for 5 epochs.
            model = Perceptron(max_iter=config.sklearn_max_iter, tol=config.tol, random_state=ctx.seed)
            with warnings.catch_warnings():  # hitting max_iter is expected and shown in the table (its epochs)
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[rows], y)
            rows_t, yt = pair_labels_second_positive(lt, pair)
            out["train_acc"].append(float(model.score(x[rows], y)))
            out["test_acc"].append(float(model.score(xt[rows_t], yt)))
            out["n_iter"].append(int(model.n_iter_))
        out["seconds"] = time.perf_counter() - start
        return out

    return ctx.memo("sklearn-perceptron", params, compute, label=f"{len(pairs)} scikit-learn perceptrons")[0]
