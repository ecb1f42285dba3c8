"""2-D embeddings (PCA, t-SNE) of labelled points: class-separation measures and the plots that show them.

Three views of how well classes separate in a 2-D embedding, each with a number:

- neighbourhood hit: the share of each point's k nearest neighbours that have its label;
- convex hulls: the hull of (the core of) each class, and the hull's purity, the share of all
  points inside it that belong to the class;
- Gaussian ellipses: a Gaussian fitted to each class, its r-sigma ellipse (Mahalanobis radius r),
  and the ellipse's purity.

Shared by Task 1 and the 'manifold untangling' extension, which apply them to PCA, t-SNE and
hidden-layer embeddings alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse
from matplotlib.path import Path as PolyPath
from scipy.spatial import ConvexHull, QhullError
from scipy.stats import chi2
from sklearn.neighbors import NearestNeighbors

from mnistlab.errors import MnistlabError
from mnistlab.viz import CLASS_COLOURS


def confidence_radius(level: float) -> float:
    """Mahalanobis radius of the ellipse that holds `level` of a 2-D Gaussian (0.95 -> 2.448)."""
    return float(np.sqrt(chi2.ppf(level, df=2)))


def neighbourhood_hit(points: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per point, the share of its k nearest neighbours (itself excluded) with the same label."""
    points, labels = np.asarray(points), np.asarray(labels)
    if not 1 <= k < len(points):
        raise MnistlabError(f"neighbourhood hit needs 1 <= k < number of points ({len(points)}), got k={k}")
    # kneighbors() without a query leaves each point out of its own neighbour list, duplicates included
    _, idx = NearestNeighbors(n_neighbors=k).fit(points).kneighbors()
    return (labels[idx] == labels[:, None]).mean(axis=1)


@dataclass(frozen=True)
class Gaussian2D:
    """A Gaussian fitted to a class: mean (2,), covariance (2, 2)."""

    mean: np.ndarray
    cov: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray) -> Gaussian2D:
        points = np.asarray(points, dtype=np.float64)
        if len(points) < 3:
            raise MnistlabError(f"fitting a 2-D Gaussian needs at least 3 points, got {len(points)}")
        return cls(points.mean(0), np.cov(points, rowvar=False))

    def mahalanobis_sq(self, points: np.ndarray) -> np.ndarray:
        diff = np.asarray(points, dtype=np.float64) - self.mean
        return np.einsum("ni,ij,nj->n", diff, np.linalg.pinv(self.cov), diff)

    def inside(self, points: np.ndarray, radius: float) -> np.ndarray:
        """Which points lie inside the ellipse of Mahalanobis radius `radius`."""
        return self.mahalanobis_sq(points) <= radius * radius

    def ellipse(self, radius: float) -> tuple[float, float, float]:
        """(width, height, angle in degrees) of the radius-`radius` ellipse, as matplotlib's Ellipse takes them."""
        values, vectors = np.linalg.eigh(self.cov)
        values = np.clip(values, 0, None)
        major = vectors[:, 1]
        angle = float(np.degrees(np.arctan2(major[1], major[0])))
        return 2 * radius * float(np.sqrt(values[1])), 2 * radius * float(np.sqrt(values[0])), angle

    def area(self, radius: float) -> float:
        return float(np.pi * radius * radius * np.sqrt(max(np.linalg.det(self.cov), 0.0)))


def class_hull(points: np.ndarray, keep: float = 1.0) -> np.ndarray | None:
    """Vertices (m, 2), in order, of the convex hull of the `keep` share of points nearest the class centre.

    'Nearest' is by Mahalanobis distance from the class mean, so a handful of strays (which t-SNE
    scatters into other clusters) do not stretch the hull over the whole plot. None when the points
    span no area (fewer than 3, or all on a line).
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 3:
        return None
    if keep < 1.0:
        d2 = Gaussian2D.fit(points).mahalanobis_sq(points)
        n_keep = max(3, int(np.ceil(keep * len(points))))
        points = points[np.argsort(d2, kind="stable")[:n_keep]]
    try:
        hull = ConvexHull(points)
    except QhullError:
        return None
    return points[hull.vertices]


def polygon_area(vertices: np.ndarray) -> float:
    x, y = vertices[:, 0], vertices[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def inside_polygon(points: np.ndarray, vertices: np.ndarray | None) -> np.ndarray:
    if vertices is None:
        return np.zeros(len(points), dtype=bool)
    return PolyPath(vertices).contains_points(np.asarray(points, dtype=np.float64))


@dataclass
class Separation:
    """The three separation views of one embedding, per class and overall."""

    classes: list[int]
    hit: np.ndarray                      # per point
    hit_per_class: np.ndarray
    hulls: list[np.ndarray | None]
    hull_purity: np.ndarray              # per class: share of the points inside the hull that are of the class
    hull_area: np.ndarray
    gaussians: list[Gaussian2D]
    ellipse_purity: np.ndarray
    ellipse_coverage: np.ndarray         # per class: share of its own points inside its ellipse
    ellipse_radius: float
    k: int
    hull_keep: float

    @property
    def mean_hit(self) -> float:
        return float(self.hit.mean())


def separation(points: np.ndarray, labels: np.ndarray, *, k: int = 6, hull_keep: float = 0.95,
               ellipse_radius: float = 2.0) -> Separation:
    """Neighbourhood hit, hull purity and ellipse purity of a labelled 2-D embedding."""
    points, labels = np.asarray(points, dtype=np.float64), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise MnistlabError(f"expected 2-D points (n, 2) and n labels, got {points.shape} and {labels.shape}")
    classes = sorted(int(c) for c in np.unique(labels))
    hit = neighbourhood_hit(points, labels, k)
    hulls, hull_purity, hull_area, gaussians, ell_purity, ell_cover = [], [], [], [], [], []
    for c in classes:
        own = labels == c
        hull = class_hull(points[own], hull_keep)
        inside = inside_polygon(points, hull)
        hulls.append(hull)
        hull_purity.append(inside[own].sum() / max(inside.sum(), 1))
        hull_area.append(polygon_area(hull) if hull is not None else 0.0)
        g = Gaussian2D.fit(points[own])
        inside = g.inside(points, ellipse_radius)
        gaussians.append(g)
        ell_purity.append(inside[own].sum() / max(inside.sum(), 1))
        ell_cover.append(inside[own].mean())
    return Separation(
        classes=classes, hit=hit, hit_per_class=np.array([hit[labels == c].mean() for c in classes]),
        hulls=hulls, hull_purity=np.array(hull_purity), hull_area=np.array(hull_area), gaussians=gaussians,
        ellipse_purity=np.array(ell_purity), ellipse_coverage=np.array(ell_cover),
        ellipse_radius=ellipse_radius, k=k, hull_keep=hull_keep)


# ----------------------------------------------------------------------------------------- plotting

def class_legend_handles(names: list[str]) -> list[Line2D]:
    return [Line2D([], [], ls="", marker="o", ms=7, color=CLASS_COLOURS[i % len(CLASS_COLOURS)], label=n)
            for i, n in enumerate(names)]


def scatter_classes(ax: plt.Axes, points: np.ndarray, labels: np.ndarray, *, size: float = 2.0,
                    alpha: float = 0.5, seed: int = 0) -> None:
    """All points in one call, drawn in a random order so that no class hides under the others."""
    order = np.random.default_rng(seed).permutation(len(points))
    colours = np.array(CLASS_COLOURS)[np.asarray(labels)[order] % len(CLASS_COLOURS)]
    ax.scatter(points[order, 0], points[order, 1], c=colours, s=size, alpha=alpha, linewidths=0,
               rasterized=True)


def draw_ellipses(ax: plt.Axes, gaussians: list[Gaussian2D], classes: list[int], radius: float, *,
                  label_centres: bool = True) -> None:
    for g, c in zip(gaussians, classes, strict=True):
        colour = CLASS_COLOURS[c % len(CLASS_COLOURS)]
        width, height, angle = g.ellipse(radius)
        ax.add_patch(Ellipse(g.mean, width, height, angle=angle, fill=False, lw=1.8, ec=colour))
        if label_centres:
            _centre_label(ax, g.mean, str(c), colour)


def draw_hulls(ax: plt.Axes, hulls: list[np.ndarray | None], classes: list[int]) -> None:
    for hull, c in zip(hulls, classes, strict=True):
        if hull is None:
            continue
        colour = CLASS_COLOURS[c % len(CLASS_COLOURS)]
        closed = np.vstack([hull, hull[:1]])
        ax.plot(closed[:, 0], closed[:, 1], color=colour, lw=1.6)
        _centre_label(ax, hull.mean(0), str(c), colour)


def _centre_label(ax: plt.Axes, xy: np.ndarray, text: str, colour: str) -> None:
    ax.text(xy[0], xy[1], text, color="white", fontsize=9, fontweight="bold", ha="center", va="center",
            bbox={"boxstyle": "circle,pad=0.25", "fc": colour, "ec": "white", "lw": 0.8})


def separation_figure(embeddings: dict[str, np.ndarray], labels: np.ndarray, seps: dict[str, Separation],
                      class_names: list[str], *, seed: int = 0) -> plt.Figure:
    """One row per embedding; columns: neighbourhood hit per point, class hulls, Gaussian ellipses."""
    rows = list(embeddings)
    fig, axes = plt.subplots(len(rows), 3, figsize=(15, 4.9 * len(rows)), squeeze=False,
                             layout="constrained")
    hit_image = None
    size = 2.0 if len(labels) > 5000 else 6.0
    for r, name in enumerate(rows):
        pts, sep = embeddings[name], seps[name]
        ax = axes[r, 0]
        order = np.argsort(-sep.hit, kind="stable")  # mixed points (low hit) drawn last, on top
        hit_image = ax.scatter(pts[order, 0], pts[order, 1], c=sep.hit[order], cmap="cividis", vmin=0, vmax=1,
                               s=1.5 * size, linewidths=0, rasterized=True)
        ax.set_title(f"{name}: neighbourhood hit (k={sep.k}), mean {sep.mean_hit:.3f}")
        ax = axes[r, 1]
        scatter_classes(ax, pts, labels, size=size, alpha=0.3, seed=seed)
        draw_hulls(ax, sep.hulls, sep.classes)
        ax.set_title(f"{name}: convex hulls of {sep.hull_keep:.0%} core, purity {sep.hull_purity.mean():.3f}")
        ax = axes[r, 2]
        scatter_classes(ax, pts, labels, size=size, alpha=0.3, seed=seed)
        draw_ellipses(ax, sep.gaussians, sep.classes, sep.ellipse_radius)
        ax.set_title(f"{name}: {sep.ellipse_radius:g}-sigma Gaussian ellipses, purity "
                     f"{sep.ellipse_purity.mean():.3f}")
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.title.set_fontsize(10)
    if hit_image is not None:
        fig.colorbar(hit_image, ax=axes[:, 0], location="left", shrink=0.7, label="share of same-class neighbours")
    fig.legend(handles=class_legend_handles(class_names), loc="outside right center", title="class")
    return fig
