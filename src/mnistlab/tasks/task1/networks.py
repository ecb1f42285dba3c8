"""Task 1's sub-run kinds. It trains no neural network, but two of its computations are slow enough to be
planned, cached and spread over workers as networks are (sub-runs whose model is `no_model`):

- "pair-svm": a linear SVM for each of the 45 digit pairs in one feature space (the 2-D PCA embedding or the
  784 raw pixels), with each pair's train and test accuracy and the solver's effort;
- "tsne": the t-SNE embedding of the first `n` training images, on their top principal components.

PCA is exact (a covariance eigendecomposition, about 2 s on 60,000 images), so a sub-run that needs it fits it
again from the same images rather than receiving it, and computes exactly what the analysis plots.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.decomposition import PCA
from torch import nn

from mnistlab.data import load_arrays, pm1_flat
from mnistlab.execution.subrun import Env, SubRun, SubRunKind, no_model, register_kind
from mnistlab.models.linear_svm import class_pairs, fit_pairwise_svm
from mnistlab.tasks.common import tsne_2d


def fit_pca(x: np.ndarray) -> PCA:
    """All 784 components: the covariance eigendecomposition is exact and takes seconds for 60,000 images."""
    return PCA(svd_solver="covariance_eigh").fit(x)


def project(pca: PCA, x: np.ndarray, dims: int) -> np.ndarray:
    return (x - pca.mean_) @ pca.components_[:dims].T


@dataclass(frozen=True)
class Pixels:
    """Task 1's images: pm1 pixels, flat; PCA and the pair SVMs fit the first `train_limit` training images
    (None: all 60,000) and are tested on all 10,000 test images."""

    train_limit: int | None = None

    def load(self, data_dir: Path | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y) fitted on, (xt, yt) tested on, and every training image as uint8 (for t-SNE's subset)."""
        images, y = load_arrays("mnist", "train", data_dir)
        images_t, yt = load_arrays("mnist", "test", data_dir)
        n = self.train_limit or len(y)
        return pm1_flat(images[:n]), y[:n], pm1_flat(images_t), yt, images


@dataclass(frozen=True)
class PairSVMs:
    """The 45 pair SVMs in one feature space, and the options of their Newton solver."""

    space: Literal["pca2d", "pixels"]
    c: float
    tol: float
    max_newton: int
    threads: int


@dataclass(frozen=True)
class TSNE:
    """A t-SNE embedding of the first `n` training images, on their top `pca_dims` components (0: pixels)."""

    n: int
    perplexity: float
    pca_dims: int
    impl: str
    jobs: int


def _fit_pair_svms(run: SubRun, _model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    spec: PairSVMs = run.model
    x, y, xt, yt, _ = run.data.load(env.data_dir)
    if spec.space == "pca2d":
        pca = fit_pca(x)
        x, xt = project(pca, x, 2), project(pca, xt, 2)
    model = fit_pairwise_svm(x, y, class_pairs(10), c=spec.c, tol=spec.tol, max_newton=spec.max_newton,
                             threads=spec.threads, device=env.device)
    return {"pairs": model.pairs, "train_acc": model.pair_accuracy(x, y), "test_acc": model.pair_accuracy(xt, yt),
            "seconds": model.seconds, "newton_steps": model.newton_steps,
            "converged": int(model.converged.sum())}, {}


def _embed(run: SubRun, _model: nn.Module, env: Env) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    spec: TSNE = run.model
    x, _, _, _, images = run.data.load(env.data_dir)
    subset = pm1_flat(images[:spec.n])
    features = project(fit_pca(x), subset, spec.pca_dims) if spec.pca_dims else subset
    start = time.perf_counter()
    embedding = tsne_2d(features, impl=spec.impl, perplexity=spec.perplexity, seed=run.seed, jobs=spec.jobs)
    return ({"seconds": time.perf_counter() - start, "impl": spec.impl, "n": len(embedding)},
            {"embedding": embedding.astype(np.float64)})


def _svm_seconds(run: SubRun) -> float:
    """Measured on the brief profile (2-core AMD EPYC): 6.6 s on the 784 pixels, 0.5 s in 2-D plus 2 s of PCA."""
    share = (run.data.train_limit or 60_000) / 60_000
    return share * (6.6 if run.model.space == "pixels" else 2.5)


def _tsne_seconds(run: SubRun) -> float:
    """Measured on the brief profile (2-core AMD EPYC): 33 s for 10,000 images with openTSNE, plus 2 s of PCA."""
    return 33.0 * run.model.n / 10_000 + 2.0


KIND_PAIR_SVM = register_kind(SubRunKind("pair-svm", build=no_model, train=_fit_pair_svms, seconds=_svm_seconds))
KIND_TSNE = register_kind(SubRunKind("tsne", build=no_model, train=_embed, seconds=_tsne_seconds))
