"""What Task 1's analysis measures, as numbers: PCA of the training images (explained variance, per-class
centroids and spreads), the 45 pair SVMs on the 2-D PCA embedding and on the 784 raw pixels, and PCA beside
t-SNE of a subset with three class-separation measures of each."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from mnistlab.data import load_arrays, pm1_flat
from mnistlab.models.linear_svm import class_pairs
from mnistlab.tasks.base import Context
from mnistlab.tasks.task1.config import Config
from mnistlab.tasks.task1.networks import fit_pca, project
from mnistlab.tasks.task1.plan import pair_svm_run, tsne_run
from mnistlab.viz.embedding import Gaussian2D, Separation, separation

Pair = tuple[int, int]


@dataclass(frozen=True)
class PairScores:
    """The 45 pair SVMs of one feature space: accuracies in `Findings.pairs` order, and the solver's effort."""

    train_acc: np.ndarray
    test_acc: np.ndarray
    seconds: float
    newton_steps: int
    converged: int

    @classmethod
    def of(cls, record: dict) -> PairScores:
        return cls(np.array(record["train_acc"]), np.array(record["test_acc"]), float(record["seconds"]),
                   int(record["newton_steps"]), int(record["converged"]))

    def at_least(self, pairs: tuple[Pair, ...], threshold: float) -> list[Pair]:
        return [pairs[i] for i in np.flatnonzero(self.test_acc >= threshold)]


@dataclass(frozen=True)
class Findings:
    """Everything Task 1 reports, as numbers: PCA, the pair SVMs in two spaces, PCA and t-SNE of a subset."""

    n_train: int                          # images PCA and the pair SVMs were fitted on
    ev: np.ndarray                        # explained-variance ratio of every component
    pca_seconds: float
    ink_corr: float                       # correlation of PC 1 with the mean pixel value (the amount of ink)
    z: np.ndarray                         # (n_train, 2) PCA embedding of the training images
    y: np.ndarray                         # their labels
    gaussians: tuple[Gaussian2D, ...]     # per digit, in that embedding
    pairs: tuple[Pair, ...]
    pca2d: PairScores
    pixels: PairScores
    y_sub: np.ndarray                     # labels of the t-SNE subset
    z_sub: np.ndarray                     # the subset on the first two components
    z_tsne: np.ndarray
    tsne_seconds: float
    pca_sep: Separation
    tsne_sep: Separation

    @property
    def cum(self) -> np.ndarray:
        return np.cumsum(self.ev)

    def components_for(self, share: float) -> int:
        return int(np.searchsorted(self.cum, share)) + 1

    def pair_name(self, i: int) -> str:
        return f"{self.pairs[i][0]}-{self.pairs[i][1]}"


def compute_findings(config: Config, ctx: Context) -> Findings:
    images, y = load_arrays("mnist", "train", ctx.data_dir)
    n = config.train_limit or len(y)
    x, y_fit = pm1_flat(images[:n]), y[:n]
    pca, pca_part = _pca_findings(x, y_fit)
    svms = {space: PairScores.of(ctx.trained(pair_svm_run(config, space)).record) for space in ("pca2d", "pixels")}
    tsne_part = _tsne_findings(ctx, config, pca, images, y)
    return Findings(n_train=n, y=y_fit, pairs=tuple(class_pairs(10)), pca2d=svms["pca2d"], pixels=svms["pixels"],
                    **pca_part, **tsne_part)


def _pca_findings(x: np.ndarray, y: np.ndarray) -> tuple[PCA, dict]:
    start = time.perf_counter()
    pca = fit_pca(x)
    z = project(pca, x, 2)
    seconds = time.perf_counter() - start
    return pca, {"ev": pca.explained_variance_ratio_, "pca_seconds": seconds, "z": z,
                 "ink_corr": float(np.corrcoef(z[:, 0], x.mean(1))[0, 1]),
                 "gaussians": tuple(Gaussian2D.fit(z[y == c]) for c in range(10))}


def _tsne_findings(ctx: Context, config: Config, pca: PCA, images: np.ndarray, y: np.ndarray) -> dict:
    """t-SNE and PCA of the first `tsne_subset` training images, and the separation measures of both."""
    sub = pm1_flat(images[:config.tsne_subset])
    y_sub = y[:config.tsne_subset]
    tsne = ctx.trained(tsne_run(config, ctx.seed))
    z_tsne = tsne.arrays["embedding"]
    z_sub = project(pca, sub, 2)
    seps = [separation(pts, y_sub, k=config.neighbours, hull_keep=config.hull_keep,
                       ellipse_radius=config.ellipse_sigma) for pts in (z_sub, z_tsne)]
    return {"y_sub": y_sub, "z_sub": z_sub, "z_tsne": z_tsne, "tsne_seconds": float(tsne.record["seconds"]),
            "pca_sep": seps[0], "tsne_sep": seps[1]}


def metrics(f: Findings, config: Config) -> dict[str, float]:
    """The flat metrics: PCA's variance shares, every pair's test accuracy in both spaces and their summary,
    the solver's effort and the separation measures of PCA and t-SNE."""
    thr = config.separable_threshold
    m: dict[str, float] = {
        "pca_explained_variance_pc1": float(f.ev[0]), "pca_explained_variance_pc2": float(f.ev[1]),
        "pca_explained_variance_2d": float(f.cum[1]), "pca_components_for_90pct": f.components_for(0.9),
        "pca_components_for_95pct": f.components_for(0.95), "pca_seconds": f.pca_seconds,
        "train_images": f.n_train, "pca_pc1_ink_correlation": f.ink_corr,
    }
    for (a, b), v2, vp in zip(f.pairs, f.pca2d.test_acc, f.pixels.test_acc, strict=True):
        m[f"pca2d_pair_acc_{a}_{b}"] = float(v2)
        m[f"pixel_pair_acc_{a}_{b}"] = float(vp)
    acc2, accp = f.pca2d.test_acc, f.pixels.test_acc
    p, t = f.pca_sep, f.tsne_sep
    m.update({
        "pca2d_pair_acc_mean": float(acc2.mean()), "pca2d_pair_acc_min": float(acc2.min()),
        "pca2d_pair_acc_max": float(acc2.max()), "pixel_pair_acc_mean": float(accp.mean()),
        "pixel_pair_acc_min": float(accp.min()), "pixel_pair_acc_max": float(accp.max()),
        "pca2d_pairs_separable": len(f.pca2d.at_least(f.pairs, thr)),
        "pixel_pairs_separable": len(f.pixels.at_least(f.pairs, thr)),
        "pixel_pairs_train_acc_1": int((f.pixels.train_acc >= 1.0).sum()),
        "pca2d_pair_svm_seconds": f.pca2d.seconds, "pixel_pair_svm_seconds": f.pixels.seconds,
        "pixel_pair_svm_newton_steps": f.pixels.newton_steps,
        "pair_svms_converged": f.pca2d.converged + f.pixels.converged,
        "pca_neighbourhood_hit": p.mean_hit, "tsne_neighbourhood_hit": t.mean_hit,
        "pca_hull_purity": float(p.hull_purity.mean()), "tsne_hull_purity": float(t.hull_purity.mean()),
        "pca_ellipse_purity": float(p.ellipse_purity.mean()), "tsne_ellipse_purity": float(t.ellipse_purity.mean()),
        "tsne_seconds": f.tsne_seconds, "tsne_points": config.tsne_subset,
    })
    return m
