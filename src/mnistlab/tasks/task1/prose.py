"""Task 1's discussion, paragraphs by id, written from its findings: the brief's three questions (why PCA,
what the 2-D plots show, which digit pairs a linear classifier separates), each answer led by its finding
and every claim decided by a comparison of the findings' numbers."""

from __future__ import annotations

import numpy as np

from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.task1.config import Config
from mnistlab.tasks.task1.findings import Findings

FLAT = 0.5        # below this share of the variance in two components the 2-D picture is "heavily flattened"
ISLANDS = 0.9     # t-SNE neighbourhood hit from which its classes form "distinct islands"


def prose(f: Findings, config: Config) -> dict[str, str]:
    """The brief's three questions, answered from the findings, by id: 'pca' (why PCA; its finding: the
    variance two components keep), 'plots' (what the plots show; its finding: t-SNE against PCA on the same
    images) and 'pairs' (which classes are linearly separable; its finding: how many pairs, in each space)."""
    return {"pca": _pca_text(f), "plots": _plots_text(f, config), "pairs": _pairs_text(f, config)}


def _pca_text(f: Findings) -> Paragraph:
    ev, two = f.ev, f.cum[1]
    flat = two < FLAT
    speed = "in seconds" if f.pca_seconds < 60 else f"in {f.pca_seconds / 60:.0f} minutes"
    return Paragraph(
        f"The first two principal components carry {'only ' if flat else ''}{ev[0]:.1%} + {ev[1]:.1%} = "
        f"{two:.1%} of the variance of the {f.n_train:,} training images, and {f.components_for(0.9)} "
        f"components are needed for 90%" + (", so the 2-D picture is a heavily flattened shadow of the data."
                                             if flat else "."),
        "Why PCA. PCA is the linear map to 2-D that keeps the most variance (the top eigenvectors of the "
        "pixel covariance), so distances in the plot are faithful projections of distances between images; "
        f"it is deterministic, has no tuning knobs, is computed exactly {speed}, and the same projection "
        "applies to new images (we project the test set with it). Its axes are directions in pixel space "
        "that can be shown as images. Its limit is the share of the variance above, shown by the scree plot.")


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


def _plots_text(f: Findings, config: Config) -> Paragraph:
    centres = np.array([g.mean for g in f.gaussians])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    far = np.unravel_index(np.argmax(dist), dist.shape)
    spread = np.array([np.trace(g.cov) for g in f.gaussians])
    return Paragraph(
        _tsne_text(f, config),
        f"What the plots show. Digits {far[0]} and {far[1]} sit at opposite ends of the PCA plot (centroids "
        f"{dist[far]:.1f} units apart); the first component correlates at r = {f.ink_corr:+.2f} with the amount "
        f"of ink in an image. Digit {int(spread.argmin())} forms the tightest cloud (total variance "
        f"{spread.min():.1f}) and digit {int(spread.argmax())} the widest ({spread.max():.1f}). "
        + _overlap_text(f, config)
        + "t-SNE keeps neighbourhoods, not distances: gaps between its islands and their sizes carry no meaning, "
        "and unlike PCA it has no formula for new points: placing one means optimising again.")


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
    """The finding: t-SNE against PCA on the same images, by the three separation measures."""
    p, t = f.pca_sep, f.tsne_sep
    measures = [(p.mean_hit, t.mean_hit), (float(p.hull_purity.mean()), float(t.hull_purity.mean())),
                (float(p.ellipse_purity.mean()), float(t.ellipse_purity.mean()))]
    better = all(after > before for before, after in measures)
    verdict = ("separates the digits into distinct islands" if better and t.mean_hit >= ISLANDS else
               "separates the digits more clearly than PCA" if better else
               "does not separate the digits better than PCA on every measure")
    moves = _changes(measures, labels=(" for PCA", " for t-SNE"))
    return (f"On the first {len(f.y_sub):,} training images t-SNE {verdict}: the neighbourhood hit "
            f"(k={config.neighbours}) {moves[0]}, hull purity {moves[1]} and ellipse purity {moves[2]}.")


def _pairs_text(f: Findings, config: Config) -> Paragraph:
    thr, total = config.separable_threshold, len(f.pairs)
    acc2, accp, trp = f.pca2d.test_acc, f.pixels.test_acc, f.pixels.train_acc
    sep2, sepp = f.pca2d.at_least(f.pairs, thr), f.pixels.at_least(f.pairs, thr)
    i2_best, i2_worst, ip_worst = int(acc2.argmax()), int(acc2.argmin()), int(accp.argmin())
    below_p = [f.pairs[i] for i in np.argsort(accp, kind="stable") if accp[i] < thr]
    return Paragraph(
        _separable_conclusion(len(sep2), len(sepp), total, 1 - accp.min(), thr),
        "Which classes can be linearly separated. In the 2-D PCA plane a linear SVM reaches a test accuracy "
        f"of at least {thr:g} for {len(sep2)} of the {total} pairs"
        + (f" ({', '.join(f'{a}-{b}' for a, b in sep2)})" if sep2 else "")
        + f"; the best is {f.pair_name(i2_best)} ({acc2[i2_best]:.2%}), the worst {f.pair_name(i2_worst)} "
        f"({acc2[i2_worst]:.2%}), and the mean is {acc2.mean():.2%}. In the full 784-pixel space the same "
        f"classifier does {_pixels_versus_2d(acc2, accp)}: mean "
        f"{accp.mean():.2%}, worst {f.pair_name(ip_worst)} ({accp[ip_worst]:.2%}), with {len(sepp)} of {total} "
        f"pairs at {thr:g} or more"
        + (f"; the pairs below are {', '.join(f'{a}-{b}' for a, b in below_p)}" if below_p else "")
        + f". On their own training images the regularised classifier is perfect for {int((trp >= 1.0).sum())} "
        f"pairs and at least {thr:g} for {int((trp >= thr).sum())}.")


def _pixels_versus_2d(acc2: np.ndarray, accp: np.ndarray) -> str:
    if np.all(accp > acc2):
        return "better on every pair"
    if np.all(accp >= acc2):
        return "at least as well on every pair"
    return "better on average" if accp.mean() > acc2.mean() else "no better on average"


def _separable_conclusion(n2: int, npix: int, total: int, worst_error: float, thr: float) -> str:
    """The finding: how many pairs a linear SVM separates (test accuracy >= thr) in each space."""
    separable = f"(near-)linearly separable in pixel space (linear SVM test accuracy >= {thr:g})"
    start = (f"All {total} digit pairs are {separable}" if npix == total else
             f"{npix} of the {total} digit pairs are {separable} and the rest come within {worst_error:.1%} of it")
    if n2 >= npix:
        return f"{start}, and {n2} in the 2-D PCA projection."
    return (f"{start}, but only {n2} in the 2-D PCA projection: the linear boundaries exist in 784-D"
            + (", and PCA's two directions of largest variance are not the directions that separate most pairs."
               if n2 < total / 2 else "."))
