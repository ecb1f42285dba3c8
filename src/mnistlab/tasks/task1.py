"""Task 1: PCA and t-SNE views of MNIST, and which digit pairs a linear classifier can separate.

The brief asks why PCA suits visualisation, what the 2-D plots show, and which classes can be
linearly separated. The answers here are numbers from this run: explained variance, per-class
centroids and spreads, a linear SVM for each of the 45 digit pairs on the 2-D PCA embedding and on
the 784 raw pixels (test accuracy), and three class-separation measures on PCA and t-SNE of the
same subset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator
from sklearn.decomposition import PCA

from mnistlab.data import CLASS_NAMES, load_arrays, normalise_images
from mnistlab.errors import ConfigError
from mnistlab.models.linear_svm import class_pairs, fit_pairwise_svm
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import tsne_2d
from mnistlab.viz import CLASS_COLOURS
from mnistlab.viz.embedding import (
    Gaussian2D,
    Separation,
    class_legend_handles,
    confidence_radius,
    draw_ellipses,
    scatter_classes,
    separation,
    separation_figure,
)

N_TRAIN = 60_000
DIGITS = list(CLASS_NAMES["mnist"])


@dataclass(frozen=True)
class Config:
    train_limit: int | None = None        # training images for PCA and the pair classifiers (None: all 60,000)
    scree_components: int = 30            # components shown in the explained-variance plot
    confidence: float = 0.95              # the per-class confidence ellipses on the PCA plot
    svm_c: float = 0.01                   # C of the pair SVMs (LinearSVC's objective; best test accuracy of 1e-3..1)
    svm_tol: float = 1e-4                 # stop when |gradient| <= tol * |gradient at w=0| for every pair
    svm_max_newton: int = 30
    svm_threads: int = 1                  # torch threads for the pair SVMs (see models/linear_svm.py)
    separable_threshold: float = 0.99     # test accuracy from which a pair counts as (near-)linearly separable
    tsne_subset: int = 10_000             # the first n training images go to t-SNE (and to PCA beside it)
    tsne_perplexity: float = 30.0
    tsne_pca_dims: int = 50               # t-SNE runs on the top principal components (0: on raw pixels)
    tsne_impl: Literal["opentsne", "sklearn"] = "opentsne"
    tsne_jobs: int = 1                    # fixed, not "all cores": the embedding depends on it; one thread is
                                          # also faster on a shared 2-core machine (openTSNE, 300-10,000 points)
    neighbours: int = 6                   # k of the neighbourhood hit
    hull_keep: float = 0.95               # share of each class (nearest its centre) inside its convex hull
    ellipse_sigma: float = 2.0            # Mahalanobis radius of the Gaussian-fit ellipses

    def validate(self) -> None:
        if self.train_limit is not None and not 500 <= self.train_limit <= N_TRAIN:
            raise ConfigError(f"train_limit must be between 500 and {N_TRAIN:,} (or none for all), "
                              f"got {self.train_limit}")
        if not 50 <= self.tsne_subset <= N_TRAIN:
            raise ConfigError(f"tsne_subset must be between 50 and {N_TRAIN:,} images, got {self.tsne_subset}")
        if not 1 <= self.neighbours < self.tsne_subset:
            raise ConfigError(f"neighbours (k) must be at least 1 and smaller than tsne_subset "
                              f"({self.tsne_subset}), got {self.neighbours}")
        max_perplexity = (self.tsne_subset - 1) / 3
        if not (np.isfinite(self.tsne_perplexity) and 0 < self.tsne_perplexity < max_perplexity):
            raise ConfigError(f"tsne_perplexity must be positive and below {max_perplexity:g} for "
                              f"{self.tsne_subset} points (t-SNE uses 3 x perplexity neighbours), "
                              f"got {self.tsne_perplexity}")
        if self.tsne_pca_dims != 0 and not 2 <= self.tsne_pca_dims <= 784:
            raise ConfigError(f"tsne_pca_dims must be 0 (raw pixels) or between 2 and 784, got {self.tsne_pca_dims}")
        if self.tsne_impl not in ("opentsne", "sklearn"):
            raise ConfigError(f"tsne_impl must be opentsne or sklearn, got {self.tsne_impl!r}")
        for name in ("tsne_jobs", "svm_threads"):
            if not 1 <= getattr(self, name) <= 1024:
                raise ConfigError(f"{name} must be between 1 and 1,024, got {getattr(self, name)}")
        if not 2 <= self.scree_components <= 784:
            raise ConfigError(f"scree_components must be between 2 and 784, got {self.scree_components}")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"confidence must be strictly between 0 and 1, got {self.confidence}")
        if not (np.isfinite(self.svm_c) and self.svm_c > 0):
            raise ConfigError(f"svm_c must be a positive number, got {self.svm_c}")
        if not 0 < self.svm_tol < 1:
            raise ConfigError(f"svm_tol must be in (0, 1), got {self.svm_tol}")
        if not 1 <= self.svm_max_newton <= 10_000:
            raise ConfigError(f"svm_max_newton must be between 1 and 10,000, got {self.svm_max_newton}")
        if not 0.5 < self.separable_threshold <= 1:
            raise ConfigError(f"separable_threshold must be in (0.5, 1], got {self.separable_threshold}")
        if not 0 < self.hull_keep <= 1:
            raise ConfigError(f"hull_keep must be in (0, 1], got {self.hull_keep}")
        if not (np.isfinite(self.ellipse_sigma) and self.ellipse_sigma > 0):
            raise ConfigError(f"ellipse_sigma must be a positive number, got {self.ellipse_sigma}")


PROFILES = {
    "quick": {"train_limit": 10_000, "tsne_subset": 1_000},
    "brief": {},
}


# ------------------------------------------------------------------------------------------ pieces

def pm1_flat(images: np.ndarray) -> np.ndarray:
    """The brief's x/127.5 - 1, vectorised to (n, 784) float32."""
    return normalise_images(images.reshape(len(images), 784).astype(np.float32), "pm1")


def fit_pca(x: np.ndarray) -> PCA:
    """All 784 components: the covariance eigendecomposition is exact and takes seconds for 60,000 images."""
    return PCA(svd_solver="covariance_eigh").fit(x)


def project(pca: PCA, x: np.ndarray, dims: int) -> np.ndarray:
    return (x - pca.mean_) @ pca.components_[:dims].T


def class_stats(z: np.ndarray, y: np.ndarray, radius: float) -> tuple[list[Gaussian2D], list[list]]:
    gaussians, rows = [], []
    for c in range(10):
        g = Gaussian2D.fit(z[y == c])
        gaussians.append(g)
        corr = g.cov[0, 1] / np.sqrt(g.cov[0, 0] * g.cov[1, 1])
        rows.append([DIGITS[c], int((y == c).sum()), round(float(g.mean[0]), 3), round(float(g.mean[1]), 3),
                     round(float(g.cov[0, 0]), 3), round(float(g.cov[1, 1]), 3), round(float(corr), 3),
                     round(g.area(radius), 2)])
    return gaussians, rows


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


# ----------------------------------------------------------------------------------------- figures

def pca_figure(z: np.ndarray, y: np.ndarray, gaussians: list[Gaussian2D], radius: float, confidence: float,
               ev: np.ndarray, seed: int) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), sharex=True, sharey=True, layout="constrained")
    scatter_classes(axes[0], z, y, size=1.5, alpha=0.45, seed=seed)
    axes[0].set_title(f"{len(z):,} training images on the first two principal components")
    scatter_classes(axes[1], z, y, size=1.5, alpha=0.08, seed=seed)
    draw_ellipses(axes[1], gaussians, list(range(10)), radius)
    axes[1].set_title(f"class centroids and {confidence:.0%} confidence ellipses")
    for ax in axes:
        ax.set_xlabel(f"PC 1 ({ev[0]:.1%} of the variance)")
    axes[0].set_ylabel(f"PC 2 ({ev[1]:.1%} of the variance)")
    fig.legend(handles=class_legend_handles(DIGITS), loc="outside right center", title="digit")
    return fig


def scree_figure(ev: np.ndarray, shown: int) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    k = np.arange(1, shown + 1)
    ax.bar(k, ev[:shown], color=CLASS_COLOURS[0], label="explained variance ratio")
    ax.set_xlabel("principal component")
    ax.set_ylabel("share of total variance")
    ax2 = ax.twinx()
    cum = np.cumsum(ev)
    ax2.plot(k, cum[:shown], "-o", ms=3, color=CLASS_COLOURS[3], label="cumulative")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("cumulative share", color=CLASS_COLOURS[3])
    ax2.grid(False)
    ax2.annotate(f"2 components: {cum[1]:.1%}", (2, cum[1]), xytext=(8, cum[1] + 0.12),
                 arrowprops={"arrowstyle": "->", "color": "0.3"}, fontsize=9)
    ax.set_title(f"PCA of the training images: {int(np.searchsorted(cum, 0.9)) + 1} components hold 90% "
                 "of the variance")
    return fig


def pair_matrix(values: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    m = np.full((10, 10), np.nan)
    for v, (a, b) in zip(values, pairs, strict=True):
        m[a, b] = m[b, a] = v
    return m


def heatmap_figure(acc2: np.ndarray, accp: np.ndarray, pairs: list[tuple[int, int]]) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6), layout="constrained")
    for ax, values, title in ((axes[0], acc2, "2-D PCA embedding"), (axes[1], accp, "784-D pixels")):
        m = pair_matrix(values, pairs)
        lo = np.floor(np.nanmin(m) * 20) / 20  # each panel its own scale, so the 784-D differences show
        norm = Normalize(lo, 1.0)
        image = ax.imshow(np.ma.masked_invalid(m), cmap="viridis", norm=norm)
        ax.set_facecolor("0.85")
        for a in range(10):
            for b in range(10):
                if a != b:
                    ax.text(b, a, f"{100 * m[a, b]:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if norm(m[a, b]) < 0.55 else "black")
        ax.set_xticks(range(10), DIGITS)
        ax.set_yticks(range(10), DIGITS)
        ax.grid(False)
        ax.set_title(f"{title}: test accuracy (%) per digit pair")
        fig.colorbar(image, ax=ax, shrink=0.85, label="test accuracy")
    return fig


def histogram_figure(acc2: np.ndarray, accp: np.ndarray, threshold: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    lo = min(0.5, float(np.floor(min(acc2.min(), accp.min()) * 20) / 20))
    bins = np.linspace(lo, 1.0, round((1.0 - lo) / 0.01) + 1)
    ax.hist(acc2, bins=bins, color=CLASS_COLOURS[0], alpha=0.75, label="2-D PCA")
    ax.hist(accp, bins=bins, color=CLASS_COLOURS[1], alpha=0.75, label="784-D pixels")
    ax.axvline(threshold, color="0.2", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("test accuracy of the pair's linear SVM")
    ax.set_ylabel("digit pairs")
    ax.set_title("45 digit pairs: how linearly separable in each space")
    ax.legend(loc="upper left")
    return fig


def sorted_pairs_figure(acc2: np.ndarray, accp: np.ndarray, pairs: list[tuple[int, int]],
                        threshold: float) -> plt.Figure:
    order = np.lexsort((-accp, -acc2))
    fig, ax = plt.subplots(figsize=(13, 4.4), layout="constrained")
    x = np.arange(len(pairs))
    ax.vlines(x, acc2[order], accp[order], color="0.75", lw=1)
    ax.plot(x, acc2[order], "o", ms=5, color=CLASS_COLOURS[0], label="2-D PCA")
    ax.plot(x, accp[order], "s", ms=5, color=CLASS_COLOURS[1], label="784-D pixels")
    ax.axhline(threshold, color="0.2", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax.set_xticks(x, [f"{pairs[i][0]}-{pairs[i][1]}" for i in order], rotation=90, fontsize=8)
    ax.set_xlim(-0.7, len(pairs) - 0.3)
    ax.set_ylabel("test accuracy")
    ax.set_xlabel("digit pair, sorted by 2-D accuracy")
    ax.set_title("Pairwise linear separability, sorted")
    ax.legend(loc="lower left")
    return fig


def side_by_side_figure(z_pca: np.ndarray, z_tsne: np.ndarray, y: np.ndarray, seed: int,
                        tsne_label: str) -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2), layout="constrained")
    size = 3 if len(y) > 3000 else 8
    for ax, pts, title in ((axes[0], z_pca, f"PCA (2 components) of {len(y):,} training images"),
                           (axes[1], z_tsne, f"{tsne_label} of the same {len(y):,} images")):
        scatter_classes(ax, pts, y, size=size, alpha=0.6, seed=seed)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    fig.legend(handles=class_legend_handles(DIGITS), loc="outside right center", title="digit")
    return fig


# --------------------------------------------------------------------------------------------- run

def run(config: Config, ctx: Context) -> Result:
    result = Result()
    bar = ctx.progress(total=6, desc="task1")
    images, y = load_arrays("mnist", "train", ctx.data_dir)
    images_t, yt = load_arrays("mnist", "test", ctx.data_dir)
    n = config.train_limit or len(y)
    x, y_fit = pm1_flat(images[:n]), y[:n]
    xt = pm1_flat(images_t)
    radius = confidence_radius(config.confidence)

    bar.set_postfix_str("PCA")
    start = time.perf_counter()
    pca = fit_pca(x)
    ev = pca.explained_variance_ratio_
    cum = np.cumsum(ev)
    z, zt = project(pca, x, 2), project(pca, xt, 2)
    pca_seconds = time.perf_counter() - start
    ink_corr = float(np.corrcoef(z[:, 0], x.mean(1))[0, 1])  # what PC 1 measures: the amount of ink
    gaussians, stat_rows = class_stats(z, y_fit, radius)
    result.figures.append(ctx.figure(
        pca_figure(z, y_fit, gaussians, radius, config.confidence, ev, ctx.seed), "pca_scatter",
        f"Left: the {n:,} training images projected on the first two principal components, one colour per "
        f"digit. Right: each digit's centroid (numbered disc) and {config.confidence:.0%} confidence ellipse "
        f"(Mahalanobis radius {radius:.3f}) of a Gaussian fitted to its points."))
    result.figures.append(ctx.figure(
        scree_figure(ev, config.scree_components), "pca_scree",
        f"Explained-variance ratio of the first {config.scree_components} principal components (bars) and "
        "its cumulative sum (line)."))
    result.tables["pca_class_stats"] = Table(
        ["digit", "train images", "centroid PC1", "centroid PC2", "variance PC1", "variance PC2",
         "correlation", f"{config.confidence:.0%} ellipse area"], stat_rows,
        "Per-class centroid and spread in the 2-D PCA embedding (pm1-scaled pixels).")
    n_90, n_95 = int(np.searchsorted(cum, 0.9)) + 1, int(np.searchsorted(cum, 0.95)) + 1
    result.tables["pca_variance"] = Table(
        ["component", "explained variance ratio", "cumulative"],
        [[i + 1, round(float(ev[i]), 5), round(float(cum[i]), 5)] for i in range(10)],
        f"The first ten principal components; {n_90} components reach 90% and {n_95} reach 95%.")
    result.metrics.update({
        "pca_explained_variance_pc1": float(ev[0]), "pca_explained_variance_pc2": float(ev[1]),
        "pca_explained_variance_2d": float(cum[1]), "pca_components_for_90pct": n_90,
        "pca_components_for_95pct": n_95, "pca_seconds": pca_seconds, "train_images": n,
        "pca_pc1_ink_correlation": ink_corr,
    })
    bar.update()

    bar.set_postfix_str("45 pair SVMs on 2-D PCA")
    pairs = class_pairs(10)
    rec2 = pair_accuracies(ctx, config, "pca2d", z, y_fit, zt, yt, {"pca": "covariance_eigh"})
    bar.update()
    bar.set_postfix_str("45 pair SVMs on 784-D pixels")
    recp = pair_accuracies(ctx, config, "pixels", x, y_fit, xt, yt, {})
    bar.update()
    acc2, accp = np.array(rec2["test_acc"]), np.array(recp["test_acc"])
    tr2, trp = np.array(rec2["train_acc"]), np.array(recp["train_acc"])
    thr = config.separable_threshold
    for (a, b), v2, vp in zip(pairs, acc2, accp, strict=True):
        result.metrics[f"pca2d_pair_acc_{a}_{b}"] = float(v2)
        result.metrics[f"pixel_pair_acc_{a}_{b}"] = float(vp)
    sep2 = [pairs[i] for i in np.flatnonzero(acc2 >= thr)]
    sepp = [pairs[i] for i in np.flatnonzero(accp >= thr)]
    result.metrics.update({
        "pca2d_pair_acc_mean": float(acc2.mean()), "pca2d_pair_acc_min": float(acc2.min()),
        "pca2d_pair_acc_max": float(acc2.max()), "pixel_pair_acc_mean": float(accp.mean()),
        "pixel_pair_acc_min": float(accp.min()), "pixel_pair_acc_max": float(accp.max()),
        "pca2d_pairs_separable": len(sep2), "pixel_pairs_separable": len(sepp),
        "pixel_pairs_train_acc_1": int((trp >= 1.0).sum()),
        "pca2d_pair_svm_seconds": float(rec2["seconds"]), "pixel_pair_svm_seconds": float(recp["seconds"]),
        "pixel_pair_svm_newton_steps": int(recp["newton_steps"]),
        "pair_svms_converged": int(rec2["converged"]) + int(recp["converged"]),
    })
    result.figures.append(ctx.figure(
        heatmap_figure(acc2, accp, pairs), "pair_heatmaps",
        f"Test accuracy of a linear SVM (squared hinge, C={config.svm_c:g}) trained on each pair of digits: "
        "left on the 2-D PCA coordinates, right on all 784 pixels. Each panel has its own colour scale."))
    result.figures.append(ctx.figure(
        histogram_figure(acc2, accp, thr), "pair_histogram",
        f"Distribution of the 45 pair accuracies in each space; the dashed line is the {thr:g} threshold."))
    result.figures.append(ctx.figure(
        sorted_pairs_figure(acc2, accp, pairs, thr), "pair_sorted",
        "Every digit pair, sorted by its 2-D accuracy, with its 784-D accuracy above it."))
    order = np.lexsort((-accp, -acc2))
    result.tables["pairs"] = Table(
        ["pair", "2-D PCA train", "2-D PCA test", "784-D train", "784-D test", f"2-D >= {thr:g}",
         f"784-D >= {thr:g}"],
        [[f"{pairs[i][0]} vs {pairs[i][1]}", round(float(tr2[i]), 4), round(float(acc2[i]), 4),
          round(float(trp[i]), 4), round(float(accp[i]), 4), "yes" if acc2[i] >= thr else "no",
          "yes" if accp[i] >= thr else "no"] for i in order],
        "All 45 digit pairs, sorted by test accuracy on the 2-D PCA embedding (linear SVM per pair, trained "
        "on the training split, scored on the test split).")
    fmt = lambda ps: ", ".join(f"{a}-{b}" for a, b in ps) or "none"  # noqa: E731
    result.tables["separable_pairs"] = Table(
        ["space", "pairs with test accuracy >= " + f"{thr:g}", "count", "mean accuracy", "worst pair"],
        [["2-D PCA", fmt(sep2), len(sep2), round(float(acc2.mean()), 4),
          f"{pairs[int(acc2.argmin())][0]}-{pairs[int(acc2.argmin())][1]} ({acc2.min():.4f})"],
         ["784-D pixels", fmt(sepp), len(sepp), round(float(accp.mean()), 4),
          f"{pairs[int(accp.argmin())][0]}-{pairs[int(accp.argmin())][1]} ({accp.min():.4f})"]],
        "The (near-)linearly separable pairs in each space.")

    bar.set_postfix_str(f"t-SNE of {config.tsne_subset:,} images")
    sub = pm1_flat(images[:config.tsne_subset])
    y_sub = y[:config.tsne_subset]
    features = project(pca, sub, config.tsne_pca_dims) if config.tsne_pca_dims else sub
    z_tsne, tsne_rec = tsne_embedding(ctx, config, features)
    z_sub = project(pca, sub, 2)
    bar.update()

    bar.set_postfix_str("separation measures")
    tsne_label = "t-SNE (openTSNE)" if config.tsne_impl == "opentsne" else "t-SNE (scikit-learn)"
    embeddings = {"PCA": z_sub, "t-SNE": z_tsne}
    seps: dict[str, Separation] = {
        name: separation(pts, y_sub, k=config.neighbours, hull_keep=config.hull_keep,
                         ellipse_radius=config.ellipse_sigma) for name, pts in embeddings.items()}
    result.figures.append(ctx.figure(
        side_by_side_figure(z_sub, z_tsne, y_sub, ctx.seed, tsne_label), "tsne_vs_pca",
        f"The first {config.tsne_subset:,} training images: PCA (left) and {tsne_label} with perplexity "
        f"{config.tsne_perplexity:g}" + (f" on the top {config.tsne_pca_dims} principal components"
                                         if config.tsne_pca_dims else " on the raw pixels") + " (right)."))
    result.figures.append(ctx.figure(
        separation_figure(embeddings, y_sub, seps, DIGITS, seed=ctx.seed), "separation_views",
        f"Three views of class separation on the same {config.tsne_subset:,} images, PCA (top) and t-SNE "
        f"(bottom). Left: each point coloured by its neighbourhood hit (share of its {config.neighbours} "
        f"nearest neighbours with its label). Middle: convex hull of the {config.hull_keep:.0%} of each class "
        f"nearest its centre; purity = share of the points inside a hull that belong to its class. Right: "
        f"{config.ellipse_sigma:g}-sigma ellipse of a Gaussian fitted to each class, and its purity."))
    p, t = seps["PCA"], seps["t-SNE"]
    rows = [[DIGITS[c], round(float(p.hit_per_class[i]), 4), round(float(t.hit_per_class[i]), 4),
             round(float(p.hull_purity[i]), 4), round(float(t.hull_purity[i]), 4),
             round(float(p.ellipse_purity[i]), 4), round(float(t.ellipse_purity[i]), 4)]
            for i, c in enumerate(p.classes)]
    rows.append(["all", round(p.mean_hit, 4), round(t.mean_hit, 4), round(float(p.hull_purity.mean()), 4),
                 round(float(t.hull_purity.mean()), 4), round(float(p.ellipse_purity.mean()), 4),
                 round(float(t.ellipse_purity.mean()), 4)])
    result.tables["separation"] = Table(
        ["digit", "PCA hit", "t-SNE hit", "PCA hull purity", "t-SNE hull purity", "PCA ellipse purity",
         "t-SNE ellipse purity"], rows,
        f"Class separation on the {config.tsne_subset:,}-image subset (neighbourhood hit with k="
        f"{config.neighbours}; hull and ellipse purity as in the figure). 'all' is the mean over points "
        "(hit) or classes (purity).")
    result.metrics.update({
        "pca_neighbourhood_hit": p.mean_hit, "tsne_neighbourhood_hit": t.mean_hit,
        "pca_hull_purity": float(p.hull_purity.mean()), "tsne_hull_purity": float(t.hull_purity.mean()),
        "pca_ellipse_purity": float(p.ellipse_purity.mean()), "tsne_ellipse_purity": float(t.ellipse_purity.mean()),
        "tsne_seconds": float(tsne_rec["seconds"]), "tsne_points": config.tsne_subset,
    })
    bar.update()

    bar.set_postfix_str("report text")
    result.text.extend(answers(config, ev, cum, n_90, ink_corr, gaussians, pairs, acc2, accp, trp, sep2, sepp, p, t))
    bar.update()
    bar.close()
    return result


def answers(config: Config, ev: np.ndarray, cum: np.ndarray, n_90: int, ink_corr: float, gaussians: list[Gaussian2D],
            pairs: list[tuple[int, int]], acc2: np.ndarray, accp: np.ndarray, trp: np.ndarray,
            sep2: list[tuple[int, int]], sepp: list[tuple[int, int]], p: Separation, t: Separation) -> list[str]:
    """The brief's three questions, answered from this run's numbers."""
    thr = config.separable_threshold
    centres = np.array([g.mean for g in gaussians])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    far = np.unravel_index(np.argmax(dist), dist.shape)
    spread = np.array([np.trace(g.cov) for g in gaussians])
    i2_best, i2_worst, ip_worst = int(acc2.argmax()), int(acc2.argmin()), int(accp.argmin())
    worst5 = np.argsort(acc2)[:5]
    below_p = [pairs[i] for i in np.argsort(accp) if accp[i] < thr]
    name = lambda i: f"{pairs[i][0]}-{pairs[i][1]}"  # noqa: E731
    return [
        f"Why PCA. PCA is the linear map to 2-D that keeps the most variance (the top eigenvectors of the "
        f"pixel covariance), so distances in the plot are faithful projections of distances between images; "
        f"it is deterministic, has no tuning knobs, is computed exactly in seconds, and the same projection "
        f"applies to new images (we project the test set with it). Its axes are directions in pixel space "
        f"that can be shown as images. Its limit shows in the scree plot: the first two components carry only "
        f"{ev[0]:.1%} + {ev[1]:.1%} = {cum[1]:.1%} of the variance, and {n_90} components are needed for 90%, "
        f"so the 2-D picture is a heavily flattened shadow of the data.",
        f"What the plots show. Digits {far[0]} and {far[1]} sit at opposite ends of the plot (centroids "
        f"{dist[far]:.1f} units apart); the first component correlates at r = {ink_corr:+.2f} with the amount "
        f"of ink in an image. Digit {int(spread.argmin())} forms the tightest cloud (total variance "
        f"{spread.min():.1f}) and digit {int(spread.argmax())} the widest ({spread.max():.1f}). The middle of "
        f"the plot is a dense overlap of several digits; the pairs that overlap most in 2-D are "
        + ", ".join(f"{name(i)} ({acc2[i]:.1%})" for i in worst5)
        + ". On the same subset t-SNE separates the digits into distinct islands: the neighbourhood hit "
        f"(k={config.neighbours}) rises from {p.mean_hit:.3f} for PCA to {t.mean_hit:.3f} for t-SNE, hull "
        f"purity from {p.hull_purity.mean():.3f} to {t.hull_purity.mean():.3f} and ellipse purity from "
        f"{p.ellipse_purity.mean():.3f} to {t.ellipse_purity.mean():.3f}. t-SNE keeps neighbourhoods, not "
        "distances: gaps between its islands and their sizes carry no meaning, and it cannot embed new points "
        "without re-running.",
        f"Which classes can be linearly separated. In the 2-D PCA plane a linear SVM reaches a test accuracy "
        f"of at least {thr:g} for {len(sep2)} of the 45 pairs"
        + (f" ({', '.join(f'{a}-{b}' for a, b in sep2)})" if sep2 else "")
        + f"; the best is {name(i2_best)} ({acc2[i2_best]:.2%}), the worst {name(i2_worst)} "
        f"({acc2[i2_worst]:.2%}), and the mean is {acc2.mean():.2%}. In the full 784-pixel space the same "
        f"classifier does {'better on every pair' if np.all(accp >= acc2) else 'better on average'}: mean "
        f"{accp.mean():.2%}, worst {name(ip_worst)} ({accp[ip_worst]:.2%}), with {len(sepp)} of 45 pairs at "
        f"{thr:g} or more"
        + (f"; the pairs below are {', '.join(f'{a}-{b}' for a, b in below_p)}" if below_p else "")
        + f". On their own training images the regularised classifier is perfect for {int((trp >= 1.0).sum())} "
        f"pairs and at least {thr:g} for {int((trp >= thr).sum())}. So {len(sepp)} of the 45 digit pairs are "
        f"(near-)linearly separable in pixel space and the rest come within {1 - accp.min():.1%} of it, but only "
        f"{len(sep2)} in the 2-D projection: the linear boundaries exist in 784-D, and PCA's two directions of "
        "largest variance are not the directions that separate most pairs.",
    ]


TASK = Task(
    name="task1",
    title="Task 1: PCA, t-SNE and linear separability",
    config_cls=Config,
    profiles=PROFILES,
    analyse=run,
    description="PCA and t-SNE of MNIST; linear SVM for all 45 digit pairs in 2-D and 784-D",
)


__all__ = ["PROFILES", "TASK", "Config", "run"]
