"""What Task 1 computes in place of training networks. It trains none, so `plan` returns no sub-run; its
costly pieces are memoised in the sub-run cache (`ctx.memo`) by the analysis, each entry keyed by the
parameters its helper here names:

- `pair_accuracies` ("pair-svm"): a linear SVM for each of the 45 digit pairs in one feature space (the 2-D
  PCA embedding or the 784 raw pixels), its train and test accuracy per pair and the solver's effort;
- `tsne_embedding` ("tsne"): the t-SNE embedding of the first `tsne_subset` training images, saved as .npy.
"""

from __future__ import annotations

import time

import numpy as np

from mnistlab.execution.subrun import SubRun
from mnistlab.models.linear_svm import class_pairs, fit_pairwise_svm
from mnistlab.tasks.base import Context
from mnistlab.tasks.common import tsne_2d
from mnistlab.tasks.task1.config import Config


def plan(config: Config, seed: int) -> list[SubRun]:
    """No networks: the pair SVMs and t-SNE are computed (and memoised) by the analysis."""
    return []


def pair_accuracies(ctx: Context, config: Config, space: str, x: np.ndarray, y: np.ndarray,
                    xt: np.ndarray, yt: np.ndarray, key_extra: dict) -> dict:
    """Train/test accuracy of the 45 pair SVMs in one feature space, through the sub-run cache."""
    params = {"space": space, "c": config.svm_c, "tol": config.svm_tol, "max_newton": config.svm_max_newton,
              "train_limit": config.train_limit, "normalise": "pm1", "solver": 1, **key_extra}

    def compute(_folder) -> dict:
        model = fit_pairwise_svm(x, y, class_pairs(10), c=config.svm_c, tol=config.svm_tol,
                                 max_newton=config.svm_max_newton, threads=config.svm_threads,
                                 device=ctx.device)
        return {"pairs": model.pairs, "train_acc": model.pair_accuracy(x, y), "test_acc": model.pair_accuracy(xt, yt),
                "seconds": model.seconds, "newton_steps": model.newton_steps,
                "converged": int(model.converged.sum())}

    return ctx.memo("pair-svm", params, compute, label=f"45 pair SVMs on {space}")[0]


def tsne_embedding(ctx: Context, config: Config, features: np.ndarray) -> tuple[np.ndarray, dict]:
    """The t-SNE embedding of `features` (cached as .npy beside the sub-run record)."""
    params = {"source": "task1", "impl": config.tsne_impl, "n": config.tsne_subset,
              "perplexity": config.tsne_perplexity, "pca_dims": config.tsne_pca_dims,
              "pca_fit_limit": config.train_limit, "jobs": config.tsne_jobs, "seed": ctx.seed}

    def compute(folder) -> dict:
        start = time.perf_counter()
        emb = tsne_2d(features, impl=config.tsne_impl, perplexity=config.tsne_perplexity, seed=ctx.seed,
                      jobs=config.tsne_jobs)
        np.save(folder / "embedding.npy", emb.astype(np.float64))
        return {"seconds": time.perf_counter() - start, "impl": config.tsne_impl, "n": len(emb)}

    record, folder = ctx.memo("tsne", params, compute, label=f"t-SNE of {config.tsne_subset:,} digits")
    return np.load(folder / "embedding.npy"), record
