"""Task 1's options: PCA and the pair SVMs on the training images, t-SNE of a subset and the separation
measures, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from mnistlab.constraints import AnyOf, Constrained, Constraints, Interval, OneOf
from mnistlab.errors import ConfigError
from mnistlab.tasks.base import opt

N_TRAIN = 60_000


@dataclass(frozen=True)
class Config(Constrained):
    train_limit: int | None = opt(None, "training images for PCA and the pair classifiers (None: all 60,000)")
    scree_components: int = opt(30, "components shown in the explained-variance plot")
    confidence: float = opt(0.95, "coverage of the per-class confidence ellipses on the PCA plot")
    svm_c: float = opt(0.01, "C of the pair SVMs (LinearSVC's objective)")
    svm_tol: float = opt(1e-4, "pair SVMs stop when |gradient| <= tol * |gradient at w=0|")
    svm_max_newton: int = opt(30, "most Newton steps per pair SVM")
    svm_threads: int = opt(1, "torch threads for the pair SVMs")
    separable_threshold: float = opt(0.99, "test accuracy from which a pair counts as (near-)linearly separable")
    tsne_subset: int = opt(10_000, "the first n training images go to t-SNE (and to PCA beside it)")
    tsne_perplexity: float = opt(30.0, "t-SNE perplexity (effective number of neighbours)")
    tsne_pca_dims: int = opt(50, "t-SNE runs on the top principal components (0: on raw pixels)")
    tsne_impl: Literal["opentsne", "sklearn"] = opt("opentsne", "t-SNE implementation: opentsne (fast) or sklearn")
    # Fixed, not "all cores": the embedding depends on it; one thread is also faster on a shared 2-core
    # machine (openTSNE, 300-10,000 points).
    tsne_jobs: int = opt(1, "t-SNE threads; fixed because the embedding depends on it")
    neighbours: int = opt(6, "k of the neighbourhood hit (share of k nearest neighbours in the same class)")
    hull_keep: float = opt(0.95, "share of each class (nearest its centre) inside its convex hull")
    ellipse_sigma: float = opt(2.0, "Mahalanobis radius of the Gaussian-fit ellipses")

    CONSTRAINTS: ClassVar[Constraints] = {
        "train_limit": [Interval(500, N_TRAIN, note=" (or none for all)")],
        "tsne_subset": [Interval(50, N_TRAIN, note=" images")],
        "tsne_pca_dims": [AnyOf((OneOf((0,)), Interval(2, 784)),
                                message="{name} must be 0 (raw pixels) or between 2 and 784, got {value}")],
        "tsne_impl": [OneOf(("opentsne", "sklearn"), message="{name} must be opentsne or sklearn, got {value!r}")],
        "tsne_jobs": [Interval(1, 1024)],
        "svm_threads": [Interval(1, 1024)],
        "scree_components": [Interval(2, 784)],
        "confidence": [Interval(0, 1, closed="neither",
                                message="{name} must be strictly between 0 and 1, got {value}")],
        "svm_c": [Interval(0, None, closed="neither")],
        "svm_tol": [Interval(0, 1, closed="neither")],
        "svm_max_newton": [Interval(1, 10_000)],
        "separable_threshold": [Interval(0.5, 1, closed="right")],
        "hull_keep": [Interval(0, 1, closed="right")],
        "ellipse_sigma": [Interval(0, None, closed="neither")],
    }

    def cross_check(self) -> None:
        if not 1 <= self.neighbours < self.tsne_subset:
            raise ConfigError(f"neighbours (k) must be at least 1 and smaller than tsne_subset "
                              f"({self.tsne_subset}), got {self.neighbours}")
        max_perplexity = (self.tsne_subset - 1) / 3
        if not (np.isfinite(self.tsne_perplexity) and 0 < self.tsne_perplexity < max_perplexity):
            raise ConfigError(f"tsne_perplexity must be positive and below {max_perplexity:g} for "
                              f"{self.tsne_subset} points (t-SNE uses 3 x perplexity neighbours), "
                              f"got {self.tsne_perplexity}")


PROFILES = {
    "quick": {"train_limit": 10_000, "tsne_subset": 1_000},
    "brief": {},
}
