"""Task 1: PCA and t-SNE views of MNIST, and which digit pairs a linear classifier can separate.

The brief asks why PCA suits visualisation, what the 2-D plots show, and which classes can be
linearly separated. The answers here are numbers from this run: explained variance, per-class
centroids and spreads, a linear SVM for each of the 45 digit pairs on the 2-D PCA embedding and on
the 784 raw pixels (test accuracy), and three class-separation measures on PCA and t-SNE of the
same subset.

The analysis computes a `Findings` (numbers only, `compute_findings`); metrics, tables and figures
(`mnistlab.viz.task1`) are drawn from it, and `prose(findings, config)` writes the answers, one
paragraph per id, every claim decided by a comparison of the findings' numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from sklearn.decomposition import PCA

from mnistlab.constraints import AnyOf, Constrained, Constraints, Interval, OneOf
from mnistlab.data import CLASS_NAMES, load_arrays, normalise_images
from mnistlab.errors import ConfigError
from mnistlab.models.linear_svm import class_pairs, fit_pairwise_svm
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import tsne_2d
from mnistlab.viz.embedding import Gaussian2D, Separation, confidence_radius, separation, separation_figure
from mnistlab.viz.task1 import (
    heatmap_figure,
    histogram_figure,
    pca_figure,
    scree_figure,
    side_by_side_figure,
    sorted_pairs_figure,
)

N_TRAIN = 60_000
DIGITS = list(CLASS_NAMES["mnist"])


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


# ------------------------------------------------------------------------------------------ pieces

Pair = tuple[int, int]
FLAT = 0.5        # below this share of the variance in two components the 2-D picture is "heavily flattened"
ISLANDS = 0.9     # t-SNE neighbourhood hit from which its classes form "distinct islands"


def pm1_flat(images: np.ndarray) -> np.ndarray:
    """The brief's x/127.5 - 1, vectorised to (n, 784) float32."""
    return normalise_images(images.reshape(len(images), 784).astype(np.float32), "pm1")


def fit_pca(x: np.ndarray) -> PCA:
    """All 784 components: the covariance eigendecomposition is exact and takes seconds for 60,000 images."""
    return PCA(svd_solver="covariance_eigh").fit(x)


def project(pca: PCA, x: np.ndarray, dims: int) -> np.ndarray:
    return (x - pca.mean_) @ pca.components_[:dims].T


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


# ---------------------------------------------------------------------------------------- findings

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
    bar = ctx.progress(total=5, desc="task1")
    images, y = load_arrays("mnist", "train", ctx.data_dir)
    images_t, yt = load_arrays("mnist", "test", ctx.data_dir)
    n = config.train_limit or len(y)
    x, y_fit, xt = pm1_flat(images[:n]), y[:n], pm1_flat(images_t)
    bar.set_postfix_str("PCA")
    pca, pca_part = _pca_findings(x, y_fit)
    bar.update()
    bar.set_postfix_str("45 pair SVMs on 2-D PCA")
    rec2 = pair_accuracies(ctx, config, "pca2d", pca_part["z"], y_fit, project(pca, xt, 2), yt,
                           {"pca": "covariance_eigh"})
    bar.update()
    bar.set_postfix_str("45 pair SVMs on 784-D pixels")
    recp = pair_accuracies(ctx, config, "pixels", x, y_fit, xt, yt, {})
    bar.update()
    bar.set_postfix_str(f"t-SNE of {config.tsne_subset:,} images")
    tsne_part = _tsne_findings(ctx, config, pca, images, y)
    bar.update()
    bar.close()
    return Findings(n_train=n, y=y_fit, pairs=tuple(class_pairs(10)), pca2d=PairScores.of(rec2),
                    pixels=PairScores.of(recp), **pca_part, **tsne_part)


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
    features = project(pca, sub, config.tsne_pca_dims) if config.tsne_pca_dims else sub
    z_tsne, record = tsne_embedding(ctx, config, features)
    z_sub = project(pca, sub, 2)
    seps = [separation(pts, y_sub, k=config.neighbours, hull_keep=config.hull_keep,
                       ellipse_radius=config.ellipse_sigma) for pts in (z_sub, z_tsne)]
    return {"y_sub": y_sub, "z_sub": z_sub, "z_tsne": z_tsne, "tsne_seconds": float(record["seconds"]),
            "pca_sep": seps[0], "tsne_sep": seps[1]}


# ------------------------------------------------------------------------------ metrics and tables

def metrics(f: Findings, config: Config) -> dict[str, float]:
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


def pca_tables(f: Findings, config: Config) -> dict[str, Table]:
    radius = confidence_radius(config.confidence)
    stats = []
    for c, g in enumerate(f.gaussians):
        corr = g.cov[0, 1] / np.sqrt(g.cov[0, 0] * g.cov[1, 1])
        stats.append([DIGITS[c], int((f.y == c).sum()), round(float(g.mean[0]), 3), round(float(g.mean[1]), 3),
                      round(float(g.cov[0, 0]), 3), round(float(g.cov[1, 1]), 3), round(float(corr), 3),
                      round(g.area(radius), 2)])
    cum = f.cum
    return {
        "pca_class_stats": Table(
            ["digit", "train images", "centroid PC1", "centroid PC2", "variance PC1", "variance PC2",
             "correlation", f"{config.confidence:.0%} ellipse area"], stats,
            "Per-class centroid and spread in the 2-D PCA embedding (pm1-scaled pixels)."),
        "pca_variance": Table(
            ["component", "explained variance ratio", "cumulative"],
            [[i + 1, round(float(f.ev[i]), 5), round(float(cum[i]), 5)] for i in range(10)],
            f"The first ten principal components; {f.components_for(0.9)} components reach 90% and "
            f"{f.components_for(0.95)} reach 95%."),
    }


def pair_tables(f: Findings, config: Config) -> dict[str, Table]:
    thr = config.separable_threshold
    acc2, accp = f.pca2d.test_acc, f.pixels.test_acc
    order = np.lexsort((-accp, -acc2))
    yes = lambda v: "yes" if v >= thr else "no"  # noqa: E731
    rows = [[f"{f.pairs[i][0]} vs {f.pairs[i][1]}", round(float(f.pca2d.train_acc[i]), 4), round(float(acc2[i]), 4),
             round(float(f.pixels.train_acc[i]), 4), round(float(accp[i]), 4), yes(acc2[i]), yes(accp[i])]
            for i in order]
    summary = []
    for space, scores in (("2-D PCA", f.pca2d), ("784-D pixels", f.pixels)):
        sep, worst = scores.at_least(f.pairs, thr), int(scores.test_acc.argmin())
        summary.append([space, ", ".join(f"{a}-{b}" for a, b in sep) or "none", len(sep),
                        round(float(scores.test_acc.mean()), 4),
                        f"{f.pair_name(worst)} ({scores.test_acc[worst]:.4f})"])
    return {
        "pairs": Table(
            ["pair", "2-D PCA train", "2-D PCA test", "784-D train", "784-D test", f"2-D >= {thr:g}",
             f"784-D >= {thr:g}"], rows,
            "All 45 digit pairs, sorted by test accuracy on the 2-D PCA embedding (linear SVM per pair, trained "
            "on the training split, scored on the test split)."),
        "separable_pairs": Table(
            ["space", "pairs with test accuracy >= " + f"{thr:g}", "count", "mean accuracy", "worst pair"], summary,
            "The (near-)linearly separable pairs in each space."),
    }


def separation_table(f: Findings, config: Config) -> Table:
    p, t = f.pca_sep, f.tsne_sep
    rows = [[DIGITS[c], round(float(p.hit_per_class[i]), 4), round(float(t.hit_per_class[i]), 4),
             round(float(p.hull_purity[i]), 4), round(float(t.hull_purity[i]), 4),
             round(float(p.ellipse_purity[i]), 4), round(float(t.ellipse_purity[i]), 4)]
            for i, c in enumerate(p.classes)]
    rows.append(["all", round(p.mean_hit, 4), round(t.mean_hit, 4), round(float(p.hull_purity.mean()), 4),
                 round(float(t.hull_purity.mean()), 4), round(float(p.ellipse_purity.mean()), 4),
                 round(float(t.ellipse_purity.mean()), 4)])
    return Table(
        ["digit", "PCA hit", "t-SNE hit", "PCA hull purity", "t-SNE hull purity", "PCA ellipse purity",
         "t-SNE ellipse purity"], rows,
        f"Class separation on the {config.tsne_subset:,}-image subset (neighbourhood hit with k="
        f"{config.neighbours}; hull and ellipse purity as in the figure). 'all' is the mean over points "
        "(hit) or classes (purity).")


# ----------------------------------------------------------------------------------------- figures

def pca_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    radius = confidence_radius(config.confidence)
    return [
        ctx.figure(
            pca_figure(f.z, f.y, list(f.gaussians), radius, config.confidence, f.ev, ctx.seed), "pca_scatter",
            f"Left: the {f.n_train:,} training images projected on the first two principal components, one colour "
            f"per digit. Right: each digit's centroid (numbered disc) and {config.confidence:.0%} confidence "
            f"ellipse (Mahalanobis radius {radius:.3f}) of a Gaussian fitted to its points."),
        ctx.figure(
            scree_figure(f.ev, config.scree_components), "pca_scree",
            f"Explained-variance ratio of the first {config.scree_components} principal components (bars) and "
            "its cumulative sum (line)."),
    ]


def pair_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    acc2, accp, pairs, thr = f.pca2d.test_acc, f.pixels.test_acc, list(f.pairs), config.separable_threshold
    return [
        ctx.figure(
            heatmap_figure(acc2, accp, pairs), "pair_heatmaps",
            f"Test accuracy of a linear SVM (squared hinge, C={config.svm_c:g}) trained on each pair of digits: "
            "left on the 2-D PCA coordinates, right on all 784 pixels. Each panel has its own colour scale."),
        ctx.figure(
            histogram_figure(acc2, accp, thr), "pair_histogram",
            f"Distribution of the 45 pair accuracies in each space; the dashed line is the {thr:g} threshold."),
        ctx.figure(
            sorted_pairs_figure(acc2, accp, pairs, thr), "pair_sorted",
            "Every digit pair, sorted by its 2-D accuracy, with its 784-D accuracy above it."),
    ]


def tsne_figures(ctx: Context, f: Findings, config: Config) -> list[Figure]:
    label = "t-SNE (openTSNE)" if config.tsne_impl == "opentsne" else "t-SNE (scikit-learn)"
    source = (f" on the top {config.tsne_pca_dims} principal components" if config.tsne_pca_dims
              else " on the raw pixels")
    return [
        ctx.figure(
            side_by_side_figure(f.z_sub, f.z_tsne, f.y_sub, ctx.seed, label), "tsne_vs_pca",
            f"The first {config.tsne_subset:,} training images: PCA (left) and {label} with perplexity "
            f"{config.tsne_perplexity:g}{source} (right)."),
        ctx.figure(
            separation_figure({"PCA": f.z_sub, "t-SNE": f.z_tsne}, f.y_sub, {"PCA": f.pca_sep, "t-SNE": f.tsne_sep},
                              DIGITS, seed=ctx.seed), "separation_views",
            f"Three views of class separation on the same {config.tsne_subset:,} images, PCA (top) and t-SNE "
            f"(bottom). Left: each point coloured by its neighbourhood hit (share of its {config.neighbours} "
            f"nearest neighbours with its label). Middle: convex hull of the {config.hull_keep:.0%} of each class "
            f"nearest its centre; purity = share of the points inside a hull that belong to its class. Right: "
            f"{config.ellipse_sigma:g}-sigma ellipse of a Gaussian fitted to each class, and its purity."),
    ]


# -------------------------------------------------------------------------------------------- prose

def prose(f: Findings, config: Config) -> dict[str, str]:
    """The brief's three questions, answered from the findings: {paragraph id: text}."""
    return {"pca": _pca_text(f), "plots": _plots_text(f, config), "pairs": _pairs_text(f, config)}


def _pca_text(f: Findings) -> str:
    ev, two = f.ev, f.cum[1]
    flat = two < FLAT
    speed = "in seconds" if f.pca_seconds < 60 else f"in {f.pca_seconds / 60:.0f} minutes"
    return (
        f"Why PCA. PCA is the linear map to 2-D that keeps the most variance (the top eigenvectors of the "
        f"pixel covariance), so distances in the plot are faithful projections of distances between images; "
        f"it is deterministic, has no tuning knobs, is computed exactly {speed}, and the same projection "
        f"applies to new images (we project the test set with it). Its axes are directions in pixel space "
        f"that can be shown as images. Its limit shows in the scree plot: the first two components carry "
        f"{'only ' if flat else ''}{ev[0]:.1%} + {ev[1]:.1%} = {two:.1%} of the variance, and "
        f"{f.components_for(0.9)} components are needed for 90%"
        + (", so the 2-D picture is a heavily flattened shadow of the data." if flat else "."))


def _changes(pairs: list[tuple[float, float]], labels: tuple[str, str] = ("", "")) -> list[str]:
    """Each (before, after) as 'rises from a to b', 'falls from a to b' or 'stays at a' (compared to 3 places);
    a verb that repeats the one before it is left out ('rises from a to b, ... from c to d')."""
    out, last = [], None
    for i, (before, after) in enumerate(pairs):
        a, b = f"{before:.3f}", f"{after:.3f}"
        first, second = labels if i == 0 else ("", "")
        verb = "stays" if a == b else "rises" if after > before else "falls"
        tail = f"at {a}" if verb == "stays" else f"from {a}{first} to {b}{second}"
        out.append(tail if verb == last and verb != "stays" else f"{verb} {tail}")
        last = verb
    return out


def _plots_text(f: Findings, config: Config) -> str:
    centres = np.array([g.mean for g in f.gaussians])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    far = np.unravel_index(np.argmax(dist), dist.shape)
    spread = np.array([np.trace(g.cov) for g in f.gaussians])
    return (
        f"What the plots show. Digits {far[0]} and {far[1]} sit at opposite ends of the plot (centroids "
        f"{dist[far]:.1f} units apart); the first component correlates at r = {f.ink_corr:+.2f} with the amount "
        f"of ink in an image. Digit {int(spread.argmin())} forms the tightest cloud (total variance "
        f"{spread.min():.1f}) and digit {int(spread.argmax())} the widest ({spread.max():.1f}). "
        + _overlap_text(f, config) + _tsne_text(f, config))


def _overlap_text(f: Findings, config: Config) -> str:
    """The (up to five) pairs that overlap most in 2-D: those below the separability threshold."""
    acc2 = f.pca2d.test_acc
    overlap = [i for i in np.argsort(acc2, kind="stable")[:5] if acc2[i] < config.separable_threshold]
    listed = ", ".join(f"{f.pair_name(i)} ({acc2[i]:.1%})" for i in overlap)
    if len(overlap) > 1:
        return ("The middle of the plot is a dense overlap of several digits; the pairs that overlap most in 2-D "
                f"are {listed}. ")
    if overlap:
        return f"Only one pair overlaps in 2-D: {listed}. "
    return f"No pair overlaps much in 2-D: every pair's linear SVM reaches {config.separable_threshold:g}. "


def _tsne_text(f: Findings, config: Config) -> str:
    p, t = f.pca_sep, f.tsne_sep
    measures = [(p.mean_hit, t.mean_hit), (float(p.hull_purity.mean()), float(t.hull_purity.mean())),
                (float(p.ellipse_purity.mean()), float(t.ellipse_purity.mean()))]
    better = all(after > before for before, after in measures)
    verdict = ("separates the digits into distinct islands" if better and t.mean_hit >= ISLANDS else
               "separates the digits more clearly than PCA" if better else
               "does not separate the digits better than PCA on every measure")
    moves = _changes(measures, labels=(" for PCA", " for t-SNE"))
    return (
        f"On the same subset t-SNE {verdict}: the neighbourhood hit (k={config.neighbours}) {moves[0]}, hull "
        f"purity {moves[1]} and ellipse purity {moves[2]}. t-SNE keeps neighbourhoods, not distances: gaps between its "
        "islands and their sizes carry no meaning, and unlike PCA it has no formula for new points: placing one "
        "means optimising again.")


def _pairs_text(f: Findings, config: Config) -> str:
    thr, total = config.separable_threshold, len(f.pairs)
    acc2, accp, trp = f.pca2d.test_acc, f.pixels.test_acc, f.pixels.train_acc
    sep2, sepp = f.pca2d.at_least(f.pairs, thr), f.pixels.at_least(f.pairs, thr)
    i2_best, i2_worst, ip_worst = int(acc2.argmax()), int(acc2.argmin()), int(accp.argmin())
    below_p = [f.pairs[i] for i in np.argsort(accp, kind="stable") if accp[i] < thr]
    return (
        f"Which classes can be linearly separated. In the 2-D PCA plane a linear SVM reaches a test accuracy "
        f"of at least {thr:g} for {len(sep2)} of the {total} pairs"
        + (f" ({', '.join(f'{a}-{b}' for a, b in sep2)})" if sep2 else "")
        + f"; the best is {f.pair_name(i2_best)} ({acc2[i2_best]:.2%}), the worst {f.pair_name(i2_worst)} "
        f"({acc2[i2_worst]:.2%}), and the mean is {acc2.mean():.2%}. In the full 784-pixel space the same "
        f"classifier does {_pixels_versus_2d(acc2, accp)}: mean "
        f"{accp.mean():.2%}, worst {f.pair_name(ip_worst)} ({accp[ip_worst]:.2%}), with {len(sepp)} of {total} "
        f"pairs at {thr:g} or more"
        + (f"; the pairs below are {', '.join(f'{a}-{b}' for a, b in below_p)}" if below_p else "")
        + f". On their own training images the regularised classifier is perfect for {int((trp >= 1.0).sum())} "
        f"pairs and at least {thr:g} for {int((trp >= thr).sum())}. "
        + _separable_conclusion(len(sep2), len(sepp), total, 1 - accp.min()))


def _pixels_versus_2d(acc2: np.ndarray, accp: np.ndarray) -> str:
    if np.all(accp > acc2):
        return "better on every pair"
    if np.all(accp >= acc2):
        return "at least as well on every pair"
    return "better on average" if accp.mean() > acc2.mean() else "no better on average"


def _separable_conclusion(n2: int, npix: int, total: int, worst_error: float) -> str:
    start = (f"So all {total} digit pairs are (near-)linearly separable in pixel space" if npix == total else
             f"So {npix} of the {total} digit pairs are (near-)linearly separable in pixel space and the rest "
             f"come within {worst_error:.1%} of it")
    if n2 >= npix:
        return f"{start}, and {n2} in the 2-D projection."
    return (f"{start}, but only {n2} in the 2-D projection: the linear boundaries exist in 784-D"
            + (", and PCA's two directions of largest variance are not the directions that separate most pairs."
               if n2 < total / 2 else "."))


# --------------------------------------------------------------------------------------------- run

def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    result = Result(metrics=metrics(f, config))
    result.tables.update(pca_tables(f, config))
    result.tables.update(pair_tables(f, config))
    result.tables["separation"] = separation_table(f, config)
    result.figures += pca_figures(ctx, f, config) + pair_figures(ctx, f, config) + tsne_figures(ctx, f, config)
    result.paragraphs = prose(f, config)
    return result


TASK = Task(
    name="task1",
    title="Task 1: PCA, t-SNE and linear separability",
    key_table="pairs",
    config_cls=Config,
    profiles=PROFILES,
    analyse=analyse,
    description="PCA and t-SNE of MNIST; linear SVM for all 45 digit pairs in 2-D and 784-D",
    # Brief (10,000 points of t-SNE, pair SVMs on 60,000 images): 36 s measured, taken as half each.
    analysis_cost=lambda config: 18.0 * config.tsne_subset / 10_000 + 18.0 * (config.train_limit or 60_000) / 60_000,
)


__all__ = ["PROFILES", "TASK", "Config", "Findings", "analyse", "compute_findings", "prose"]
