"""Task 1: PCA, the batched pair SVMs, the separation measures, config checks, the prose by paragraph id,
and the task end to end."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

from mnistlab.data import load_arrays, pm1_flat
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.execution.runner import run_in_context
from mnistlab.models.linear_svm import class_pairs, fit_pairwise_svm
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.task1 import TASK
from mnistlab.tasks.task1.config import Config
from mnistlab.tasks.task1.findings import Findings, PairScores, compute_findings, fit_pca, project
from mnistlab.tasks.task1.prose import prose
from mnistlab.viz.embedding import (
    Gaussian2D,
    class_hull,
    confidence_radius,
    inside_polygon,
    neighbourhood_hit,
    polygon_area,
    separation,
)


@pytest.fixture(scope="module")
def mnist_slice():
    images, y = load_arrays("mnist", "train")
    images_t, yt = load_arrays("mnist", "test")
    return pm1_flat(images[:1500]), y[:1500], pm1_flat(images_t[:1000]), yt[:1000]


def svm_objective(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray, c: float) -> float:
    """LinearSVC's primal with an unpenalised bias, computed independently of the solver."""
    slack = np.maximum(0, 1 - y * (x @ w + b))
    return 0.5 * float(w @ w) + c * float((slack ** 2).sum())


# ----------------------------------------------------------------------------------------------- PCA

def test_pca_embedding_shape_and_explained_variance(mnist_slice):
    x = mnist_slice[0][:500]
    pca = fit_pca(x)
    z = project(pca, x, 2)
    assert z.shape == (500, 2)
    ev = pca.explained_variance_ratio_
    assert ev.shape == (500,)  # min(n, 784) components
    assert ev.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(ev) <= 1e-7), "components come in decreasing order of variance"
    # the ratio is the variance of the projected coordinates over the total pixel variance
    total = x.var(axis=0, ddof=1).sum()
    assert z.var(axis=0, ddof=1) / total == pytest.approx(ev[:2], rel=1e-3)
    assert 0.1 < ev[:2].sum() < 0.4  # MNIST: two components hold about a sixth of the variance


# ------------------------------------------------------------------------------------------ pair SVMs

def test_pairs_are_45_with_a_below_b():
    pairs = class_pairs(10)
    assert len(pairs) == 45 == len(set(pairs))
    assert all(0 <= a < b <= 9 for a, b in pairs)


def test_pairwise_svm_shapes_and_beats_chance(mnist_slice):
    x, y, xt, yt = mnist_slice
    model = fit_pairwise_svm(x, y, c=0.01)
    assert model.weights.shape == (784, 45) and model.bias.shape == (45,)
    assert model.converged.all()
    acc = model.pair_accuracy(xt, yt)
    assert acc.shape == (45,)
    assert acc.mean() > 0.95 and acc.min() > 0.8  # chance is 0.5 for each pair
    # training lowered every pair's objective below its value at w = 0 (C times the pair's size)
    sizes = np.array([((y == a) | (y == b)).sum() for a, b in model.pairs])
    assert np.all(model.objective < 0.5 * 0.01 * sizes)


def test_pairwise_svm_reaches_liblinear_optimum(mnist_slice):
    x, y, _, _ = mnist_slice
    keep = (y == 3) | (y == 5)
    xs, ys = x[keep].astype(np.float64), np.where(y[keep] == 3, 1.0, -1.0)
    c = 0.05
    ours = fit_pairwise_svm(x[keep], y[keep], [(3, 5)], c=c, tol=1e-6, dtype=torch.float64)
    ref = LinearSVC(C=c, dual=False, tol=1e-8, intercept_scaling=100, max_iter=5000).fit(xs, ys)
    ours_obj = svm_objective(ours.weights[:, 0], ours.bias[0], xs, ys, c)
    ref_obj = svm_objective(ref.coef_[0], ref.intercept_[0], xs, ys, c)
    # liblinear's answer is a feasible point of our objective, so ours can only be lower (or equal)
    assert ours_obj <= ref_obj * (1 + 1e-4)
    assert ours_obj == pytest.approx(ref_obj, rel=2e-3)
    agree = np.mean((xs @ ours.weights[:, 0] + ours.bias[0] >= 0) == (ref.decision_function(xs) >= 0))
    assert agree > 0.99


def test_pairwise_svm_separates_toy_2d_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    y = np.repeat(np.arange(3), 100)
    x = centres[y] + rng.normal(size=(300, 2))
    model = fit_pairwise_svm(x, y)
    assert model.pairs == [(0, 1), (0, 2), (1, 2)]
    assert np.all(model.pair_accuracy(x, y) == 1.0)


def test_pairwise_svm_rejects_a_missing_class():
    x = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(MnistlabError, match="no training samples"):
        fit_pairwise_svm(x, np.zeros(20, dtype=int), [(0, 1)])


# ----------------------------------------------------------------------------------- separation views

def test_neighbourhood_hit_is_one_for_separated_clusters_and_chance_for_shuffled_labels():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]])
    y = np.repeat(np.arange(4), 250)
    pts = centres[y] + rng.normal(size=(1000, 2))
    assert neighbourhood_hit(pts, y, 6).mean() == 1.0
    shuffled = rng.permutation(y)
    assert neighbourhood_hit(pts, shuffled, 6).mean() == pytest.approx(1 / 4, abs=0.03)
    with pytest.raises(MnistlabError):
        neighbourhood_hit(pts, y, 1000)


def test_gaussian_ellipse_geometry():
    rng = np.random.default_rng(2)
    angle = np.radians(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    cov = rot @ np.diag([4.0, 1.0]) @ rot.T
    pts = rng.multivariate_normal([3, -1], cov, size=20000)
    g = Gaussian2D.fit(pts)
    width, height, deg = g.ellipse(2.0)
    assert g.mean == pytest.approx([3, -1], abs=0.05)
    assert width == pytest.approx(2 * 2 * 2.0, rel=0.03)   # 2 sigma each side of the major axis (sigma 2)
    assert height == pytest.approx(2 * 2 * 1.0, rel=0.03)
    assert deg % 180 == pytest.approx(30, abs=1.5)
    assert confidence_radius(0.95) == pytest.approx(2.4477, abs=1e-4)
    assert g.inside(pts, confidence_radius(0.95)).mean() == pytest.approx(0.95, abs=0.01)
    assert g.area(1.0) == pytest.approx(np.pi * 2 * 1, rel=0.03)


def test_convex_hull_geometry_and_trimming():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    interior = np.random.default_rng(3).uniform(0.1, 0.9, size=(200, 2))
    hull = class_hull(np.vstack([square, interior]))
    assert polygon_area(hull) == pytest.approx(1.0)
    assert inside_polygon(np.array([[0.5, 0.5], [2, 2]]), hull).tolist() == [True, False]
    # one far stray point stretches the full hull, but not the hull of the 95% core
    with_stray = np.vstack([square, interior, [[40, 40]]])
    assert polygon_area(class_hull(with_stray)) > 10
    assert polygon_area(class_hull(with_stray, keep=0.95)) < 1.0
    assert class_hull(np.array([[0, 0], [1, 1], [2, 2], [3, 3]], dtype=float)) is None  # collinear: no area


def test_separation_of_distinct_and_overlapping_clusters():
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(3), 200)
    far = np.array([[0, 0], [30, 0], [0, 30]])[y] + rng.normal(size=(600, 2))
    sep = separation(far, y, k=5)
    assert sep.mean_hit == 1.0
    assert np.all(sep.hull_purity == 1.0) and np.all(sep.ellipse_purity == 1.0)
    assert sep.ellipse_coverage.mean() == pytest.approx(1 - np.exp(-2), abs=0.05)  # 2-sigma holds 86.5%
    mixed = separation(rng.normal(size=(600, 2)), y, k=5)
    assert mixed.hull_purity.mean() < 0.5 and mixed.mean_hit < 0.5


# --------------------------------------------------------------------------------------- config checks

@pytest.mark.parametrize("overrides, message", [
    ({"tsne_subset": 10}, "tsne_subset"),
    ({"tsne_subset": 100, "neighbours": 100}, "neighbours"),
    ({"tsne_subset": 100, "tsne_perplexity": 40.0}, "perplexity"),
    ({"tsne_perplexity": 0.0}, "perplexity"),
    ({"tsne_perplexity": float("nan")}, "perplexity"),
    ({"train_limit": 100}, "train_limit"),
    ({"svm_c": -1.0}, "svm_c"),
    ({"hull_keep": 0.0}, "hull_keep"),
])
def test_bad_config_is_one_clear_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        TASK.config("quick", overrides)


def test_registered_with_both_profiles():
    assert REGISTRY["task1"] is TASK
    assert TASK.config("quick").tsne_subset == 1000
    assert TASK.config("brief").train_limit is None and TASK.config("brief").tsne_subset == 10_000


# ------------------------------------------------------------------------------------------ end to end

def test_task_runs_end_to_end_and_reruns_from_the_cache(ctx):
    config = TASK.config("quick", {"train_limit": 1000, "tsne_subset": 300, "tsne_perplexity": 15.0,
                                   "scree_components": 10})
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    for key in ("pca_explained_variance_2d", "pca2d_pair_acc_mean", "pca2d_pair_acc_min", "pixel_pair_acc_mean",
                "pixel_pair_acc_min", "pca_neighbourhood_hit", "tsne_neighbourhood_hit"):
        assert np.isfinite(m[key]), key
    assert len([k for k in m if k.startswith("pca2d_pair_acc_") and k.count("_") == 4]) == 45
    assert len([k for k in m if k.startswith("pixel_pair_acc_") and k.count("_") == 4]) == 45
    assert "pixel_pair_acc_3_5" in m and "pixel_pair_acc_5_3" not in m
    assert m["pixel_pair_acc_mean"] > m["pca2d_pair_acc_mean"] > 0.6
    assert m["tsne_neighbourhood_hit"] > m["pca_neighbourhood_hit"]
    assert len(result.tables["pairs"].rows) == 45
    names = {f.file for f in result.figures}
    assert names == {"pca_scatter.png", "pca_scree.png", "pair_heatmaps.png", "pair_histogram.png",
                     "pair_sorted.png", "tsne_vs_pca.png", "separation_views.png"}
    assert all((ctx.out_dir / f).stat().st_size > 10_000 for f in names)
    assert list(result.paragraphs) == ["pca", "plots", "pairs"]
    assert f"{m['pixel_pair_acc_mean']:.2%}" in result.paragraphs["pairs"]
    # each paragraph leads with its finding; the method ("Why PCA", the question) follows it
    found = {key: finding_of(paragraph) for key, paragraph in result.paragraphs.items()}
    assert all(found.values()) and all(result.paragraphs[key].startswith(found[key]) for key in found)
    assert "Why PCA" in result.paragraphs["pca"] and "Why PCA" not in found["pca"]
    assert "Which classes" in result.paragraphs["pairs"] and "Which classes" not in found["pairs"]
    assert f"{m['pixel_pairs_separable']} of the 45 digit pairs" in found["pairs"] or m["pixel_pairs_separable"] == 45
    json.dumps(m)  # flat and JSON-able
    assert (ctx.cache.hits, ctx.cache.misses) == (0, 3)  # 2-D SVMs, pixel SVMs, t-SNE

    again = run_in_context(TASK, config, ctx)
    assert (ctx.cache.hits, ctx.cache.misses) == (3, 3)  # all three sub-runs skipped
    timing = {"pca_seconds"}  # the only number measured afresh; the rest must repeat exactly
    assert {k: v for k, v in again.metrics.items() if k not in timing} == {k: v for k, v in m.items()
                                                                         if k not in timing}

    config = for_device(config, ctx.device)  # the config as the runner ran it
    findings = compute_findings(config, ctx)  # from the cache: the report's text is the prose, in id order
    assert list(result.paragraphs.values()) == list(prose(findings, config).values())
    assert m["pca2d_pairs_separable"] == len(findings.pca2d.at_least(findings.pairs, config.separable_threshold))


# ----------------------------------------------------------------------------------- prose, by paragraph id

def fake_findings(seed: int = 0) -> Findings:
    """Findings made by hand (no MNIST, no SVM): ten 2-D clusters, a t-SNE that separates them better, and
    pair accuracies in which 784-D beats 2-D on every pair."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), 40)
    centres = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 10, endpoint=False)]) * 4
    z = centres[y] + rng.normal(size=(400, 2)) * 1.5
    z_tsne = centres[y] * 5 + rng.normal(size=(400, 2))
    ev = np.full(784, 0.7 / 782)
    ev[:2] = [0.18, 0.12]
    acc2 = np.linspace(0.5, 0.995, 45)
    accp = np.minimum(acc2 + 0.03, 0.999)
    scores = lambda acc: PairScores(np.minimum(acc + 0.01, 1.0), acc, 1.0, 10, 45)  # noqa: E731
    return Findings(
        n_train=400, ev=ev, pca_seconds=2.0, ink_corr=0.8, z=z, y=y,
        gaussians=tuple(Gaussian2D.fit(z[y == c]) for c in range(10)), pairs=tuple(class_pairs(10)),
        pca2d=scores(acc2), pixels=scores(accp), y_sub=y, z_sub=z, z_tsne=z_tsne, tsne_seconds=1.0,
        pca_sep=separation(z, y, k=6), tsne_sep=separation(z_tsne, y, k=6))


def test_prose_has_its_three_paragraphs_by_id():
    assert list(prose(fake_findings(), Config())) == ["pca", "plots", "pairs"]


def test_every_paragraph_leads_with_its_finding():
    """The findings the report lists: each paragraph's lead, a result with its numbers, never its method."""
    f, config = fake_findings(), Config()
    text = prose(f, config)
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert all(found.values()), "each of the three answers states a finding"
    assert all(text[key].startswith(found[key]) and len(found[key]) <= 320 for key in text)
    assert f"{f.ev[0]:.1%} + {f.ev[1]:.1%} = {f.cum[1]:.1%}" in found["pca"] and "Why PCA" not in found["pca"]
    assert found["plots"].startswith(f"On the first {len(f.y_sub)} training images t-SNE separates the digits")
    assert f"from {f.pca_sep.mean_hit:.3f} for PCA to {f.tsne_sep.mean_hit:.3f} for t-SNE" in found["plots"]
    assert "What the plots show" not in found["plots"] and "What the plots show" in text["plots"]
    sepp = f.pixels.at_least(f.pairs, config.separable_threshold)
    sep2 = f.pca2d.at_least(f.pairs, config.separable_threshold)
    assert found["pairs"].startswith(f"{len(sepp)} of the 45 digit pairs are (near-)linearly separable")
    assert f"but only {len(sep2)} in the 2-D PCA projection" in found["pairs"]
    assert "Which classes" not in found["pairs"]


def test_prose_quotes_the_findings_numbers():
    f, config = fake_findings(), Config()
    text = prose(f, config)
    assert f"{f.ev[0]:.1%} + {f.ev[1]:.1%} = {f.cum[1]:.1%}" in text["pca"]
    assert f"{f.components_for(0.9)} components are needed for 90%" in text["pca"]
    assert f"r = {f.ink_corr:+.2f}" in text["plots"]
    assert f"rises from {f.pca_sep.mean_hit:.3f} for PCA to {f.tsne_sep.mean_hit:.3f} for t-SNE" in text["plots"]
    sep2 = f.pca2d.at_least(f.pairs, config.separable_threshold)
    sepp = f.pixels.at_least(f.pairs, config.separable_threshold)
    assert f"at least {config.separable_threshold:g} for {len(sep2)} of the 45 pairs" in text["pairs"]
    assert f"mean {f.pixels.test_acc.mean():.2%}" in text["pairs"]
    assert f"with {len(sepp)} of 45 pairs" in text["pairs"]
    worst = f.pair_name(int(f.pca2d.test_acc.argmin()))
    assert f"the worst {worst} ({f.pca2d.test_acc.min():.2%})" in text["pairs"]


def test_tsne_claims_follow_the_separation_measures():
    f, config = fake_findings(), Config()
    assert f.tsne_sep.mean_hit >= 0.9 > f.pca_sep.mean_hit
    assert "distinct islands" in prose(f, config)["plots"]
    swapped = prose(dataclasses.replace(f, pca_sep=f.tsne_sep, tsne_sep=f.pca_sep), config)["plots"]
    assert "does not separate the digits better" in swapped and "distinct islands" not in swapped
    assert "neighbourhood hit (k=6) falls from" in swapped and "rises" not in swapped
    same = prose(dataclasses.replace(f, tsne_sep=f.pca_sep), config)["plots"]
    assert f"stays at {f.pca_sep.mean_hit:.3f}" in same
    hit = (f.pca_sep.mean_hit + 0.9) / 2  # better than PCA, but below the "distinct islands" level
    clearer = dataclasses.replace(f.tsne_sep, hit=np.full_like(f.tsne_sep.hit, hit))
    text = prose(dataclasses.replace(f, tsne_sep=clearer), config)["plots"]
    assert "more clearly than PCA" in text and "distinct islands" not in text


def test_pixel_space_claims_follow_the_pair_accuracies():
    f, config = fake_findings(), Config()
    text = prose(f, config)["pairs"]
    assert "better on every pair" in text and "the rest come within" in text and "but only" in text
    perfect = dataclasses.replace(f.pixels, test_acc=np.full(45, 0.999))
    text = prose(dataclasses.replace(f, pixels=perfect), config)["pairs"]
    assert finding_of(text).startswith("All 45 digit pairs are (near-)linearly separable in pixel space")
    assert "the rest" not in text and "the pairs below" not in text
    worse = dataclasses.replace(f.pixels, test_acc=f.pca2d.test_acc - 0.01)
    text = prose(dataclasses.replace(f, pixels=worse), config)["pairs"]
    assert "no better on average" in text and "but only" not in text
    mixed = f.pixels.test_acc.copy()
    mixed[0] = f.pca2d.test_acc[0] - 0.01
    text = prose(dataclasses.replace(f, pixels=dataclasses.replace(f.pixels, test_acc=mixed)), config)["pairs"]
    assert "better on average" in text and "every pair" not in text


def test_pca_and_overlap_claims_follow_the_numbers():
    f, config = fake_findings(), Config()
    assert f.cum[1] < 0.5 and "heavily flattened" in prose(f, config)["pca"]
    steep = np.full(784, 0.2 / 782)
    steep[:2] = [0.5, 0.3]
    text = prose(dataclasses.replace(f, ev=steep), config)["pca"]
    assert "heavily flattened" not in text and "only" not in text and "80.0%" in text
    assert "dense overlap" in prose(f, config)["plots"]
    easy = dataclasses.replace(f.pca2d, test_acc=np.full(45, 0.999))
    text = prose(dataclasses.replace(f, pca2d=easy), config)["plots"]
    assert "dense overlap" not in text and "No pair overlaps" in text
