"""What Task 1 runs before its analysis. It trains no neural network; its slow pieces are sub-runs of its own
kinds (networks.py), so `mnistlab plan` lists them and an executor spreads them over workers:

- the 45 pair SVMs on the 2-D PCA embedding and on the 784 raw pixels (one sub-run each, the same for every
  seed: the solver is deterministic);
- the t-SNE embedding of the first `tsne_subset` training images (one per seed).
"""

from __future__ import annotations

from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.task1.config import Config
from mnistlab.tasks.task1.networks import KIND_PAIR_SVM, KIND_TSNE, TSNE, PairSVMs, Pixels


def plan(config: Config, seed: int) -> list[SubRun]:
    """The pair SVMs in both spaces and the t-SNE of this seed."""
    return [pair_svm_run(config, "pca2d"), pair_svm_run(config, "pixels"), tsne_run(config, seed)]


def pair_svm_run(config: Config, space: str) -> SubRun:
    """The 45 pair SVMs in `space` ("pca2d" or "pixels")."""
    spec = PairSVMs(space=space, c=config.svm_c, tol=config.svm_tol, max_newton=config.svm_max_newton,
                    threads=config.svm_threads)
    return SubRun(kind=KIND_PAIR_SVM.name, model=spec, data=Pixels(config.train_limit), train=None,
                  name=f"task1: 45 pair SVMs on {'2-D PCA' if space == 'pca2d' else '784-D pixels'}")


def tsne_run(config: Config, seed: int) -> SubRun:
    """The t-SNE embedding of the first `tsne_subset` training images, with `seed`."""
    spec = TSNE(n=config.tsne_subset, perplexity=config.tsne_perplexity, pca_dims=config.tsne_pca_dims,
                impl=config.tsne_impl, jobs=config.tsne_jobs)
    return SubRun(kind=KIND_TSNE.name, model=spec, data=Pixels(config.train_limit), train=None, seed=seed,
                  name=f"task1: t-SNE of {config.tsne_subset:,} digits")
