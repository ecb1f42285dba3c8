"""Task 2: the NumPy perceptron (predict, optimise, optimise_pairs), the prose by paragraph id, and the task
on a few hundred images."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mnistlab.errors import ConfigError
from mnistlab.execution.runner import run_in_context
from mnistlab.models.perceptron import (
    initial_parameters,
    optimise,
    optimise_pairs,
    pair_labels_second_positive,
    predict,
)
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import finding_of
from mnistlab.tasks.task2 import TASK
from mnistlab.tasks.task2.config import Config
from mnistlab.tasks.task2.findings import Findings, OtherRule, SklearnCheck, compute_findings
from mnistlab.tasks.task2.networks import PairImages
from mnistlab.tasks.task2.prose import prose


def separable(n: int = 200, m: int = 20, margin: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points labelled by a random hyperplane, keeping only those at least `margin` away from it."""
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=m)
    w_true /= np.linalg.norm(w_true)
    x = rng.normal(size=(4 * n, m))
    s = x @ w_true + 0.3
    keep = np.abs(s) > margin
    x, s = x[keep][:n], s[keep][:n]
    return x, np.where(s > 0, 1.0, -1.0)


def naive_online(x, y, w, b, lr, max_iter, tol, seed):
    """The classic rule as a per-sample Python loop: the reference for the vectorised implementation."""
    rng = np.random.default_rng(seed)  # with (w, b) given, optimise uses its generator only for the shuffles
    w, errors = w.copy(), []
    error, iteration = np.mean(predict(x, w, b) != y), 1
    while iteration <= max_iter and error > tol:
        for i in rng.permutation(len(x)):
            if (1.0 if x[i] @ w + b >= 0 else -1.0) != y[i]:
                w += lr * y[i] * x[i]
                b += lr * y[i]
        error = float(np.mean(predict(x, w, b) != y))
        errors.append(error)
        iteration += 1
    return w, b, errors


def test_predict_on_hand_made_values():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [0.0, 0.0], [2.0, 1.0]])
    w = np.array([1.0, -1.0])
    # scores x.w + b with b = 0: 1, -1, 0, 0, 1 -> step(0) is +1
    assert predict(x, w, 0.0).tolist() == [1, -1, 1, 1, 1]
    # a bias of -0.5 moves the two ties and the first point's neighbours below zero
    assert predict(x, w, -0.5).tolist() == [1, -1, -1, -1, 1]
    # k perceptrons at once: w (m, k), b (k,)
    both = predict(x, np.stack([w, -w], axis=1), np.array([0.0, -0.5]))
    assert both.shape == (5, 2)
    assert both[:, 0].tolist() == [1, -1, 1, 1, 1]
    assert both[:, 1].tolist() == [-1, 1, -1, -1, -1]


def test_predict_rejects_mismatched_shapes():
    with pytest.raises(ConfigError, match="rows"):
        predict(np.zeros((3, 4)), np.zeros(5), 0.0)
    with pytest.raises(ConfigError, match="shape"):
        predict(np.zeros(4), np.zeros(4), 0.0)


@pytest.mark.parametrize("rule", ["batch", "online"])
def test_optimise_reaches_zero_error_on_separable_data_and_stops_early(rule):
    x, y = separable()
    w, b, errors = optimise(x, y, rule=rule, max_iter=1000, tol=1e-3, lr=0.01, seed=1)
    assert errors[-1] == 0.0
    assert len(errors) < 1000  # stopped as soon as the error was within tol, not at max_iter
    assert np.all(predict(x, w, b) == y)
    assert w.shape == (x.shape[1],) and isinstance(b, float)


def test_error_list_falls_on_average():
    x, y = separable(n=400, m=50, margin=0.05, seed=3)
    _, _, errors = optimise(x, y, rule="batch", lr=0.01, seed=0)
    assert len(errors) >= 6, "the toy set should need several iterations"
    third = len(errors) // 3
    assert np.mean(errors[-third:]) < np.mean(errors[:third])
    assert np.polyfit(np.arange(len(errors)), errors, 1)[0] < 0  # the trend is downwards
    assert errors[-1] == 0.0


def test_optimise_stops_at_max_iter_on_data_it_cannot_separate():
    x = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0])  # XOR: no hyperplane
    for rule in ("batch", "online"):
        _, _, errors = optimise(x, y, rule=rule, max_iter=7, seed=0)
        assert len(errors) == 7 and min(errors) > 0


def test_pocket_keeps_the_best_parameters_seen():
    x, y = separable(n=150, m=10, margin=0.01, seed=6)
    y[:15] *= -1  # not separable: the last iterate is not the best one
    w, b, errors = optimise(x, y, rule="batch", max_iter=40, seed=0, pocket=True)
    assert np.mean(predict(x, w, b) != y) == pytest.approx(min(errors))
    w_last, b_last, _ = optimise(x, y, rule="batch", max_iter=40, seed=0)
    assert np.mean(predict(x, w_last, b_last) != y) == pytest.approx(errors[-1])


def test_optimise_is_deterministic_under_the_seed():
    x, y = separable(n=150, m=30, margin=0.02, seed=5)
    for rule in ("batch", "online"):
        w1, b1, e1 = optimise(x, y, rule=rule, seed=7, max_iter=30)
        w2, b2, e2 = optimise(x, y, rule=rule, seed=7, max_iter=30)
        w3, _, _ = optimise(x, y, rule=rule, seed=8, max_iter=30)
        assert np.array_equal(w1, w2) and b1 == b2 and e1 == e2
        assert not np.array_equal(w1, w3)


def test_optimise_leaves_the_initial_weights_alone_and_checks_its_input():
    x, y = separable(n=50, m=5)
    w0 = np.zeros(5)
    optimise(x, y, w0, 0.0, max_iter=5)
    assert np.all(w0 == 0)
    with pytest.raises(ConfigError, match="-1 or \\+1"):
        optimise(x, (y > 0).astype(float))  # 0/1 labels are not the brief's
    with pytest.raises(ConfigError, match="learning rate"):
        optimise(x, y, lr=0.0)
    with pytest.raises(ConfigError, match="rule"):
        optimise(x, y, rule="adam")


@pytest.mark.parametrize("chunk", [5, 4096])
def test_online_rule_is_exactly_the_per_sample_loop(chunk):
    x, y = separable(n=120, m=8, margin=0.01, seed=2)
    y[:6] *= -1  # a few flipped labels: not separable, so every pass makes updates
    w0, b0 = initial_parameters(8, np.random.default_rng(4))
    w, b, errors = optimise(x, y, w0, b0, rule="online", lr=0.1, max_iter=6, seed=11, chunk=chunk)
    w_ref, b_ref, errors_ref = naive_online(x, y, w0, b0, 0.1, 6, 1e-3, 11)
    assert errors == errors_ref
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-12)
    assert b == pytest.approx(b_ref)


@pytest.mark.parametrize("rule", ["batch", "online"])
def test_optimise_pairs_matches_optimise_on_each_pair(rule):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    centres = rng.normal(size=(3, 12)) * 2
    x = centres[labels] + rng.normal(size=(120, 12))
    pairs = [(0, 1), (0, 2), (1, 2)]
    fits = optimise_pairs(x, labels, pairs, lr=0.05, max_iter=25, tol=1e-3, rule=rule, seed=3, init_scale=0.1)
    for (a, b), fit in zip(pairs, fits, strict=True):
        rows, y = pair_labels_second_positive(labels, (a, b))
        w0, b0 = initial_parameters(12, np.random.default_rng((3, a, b)), 0.1)
        w, bias, errors = optimise(x[rows], y, w0, b0, lr=0.05, max_iter=25, tol=1e-3, rule=rule, seed=3)
        assert fit.errors == errors
        np.testing.assert_allclose(fit.w, w, rtol=1e-10, atol=1e-10)
        assert fit.b == pytest.approx(bias)
        assert fit.converged == (errors[-1] <= 1e-3)


def test_pair_labels_follow_the_briefs_order():
    labels = np.array([3, 7, 1, 7, 3, 0])
    rows, y = pair_labels_second_positive(labels, (3, 7))
    assert rows.tolist() == [0, 1, 3, 4]
    assert y.tolist() == [-1, 1, 1, -1]  # the first digit of the pair is -1, the second +1
    rows, y = pair_labels_second_positive(labels, (7, 3))
    assert y.tolist() == [1, -1, -1, 1]
    with pytest.raises(ConfigError):
        pair_labels_second_positive(labels, (3, 3))


def test_pm1_data_is_the_briefs():
    x, labels = PairImages(test_per_class=20).load("test", None)
    assert x.shape == (200, 784) and x.dtype == np.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert np.bincount(labels, minlength=10).tolist() == [20] * 10


@pytest.mark.parametrize("override, message", [
    ({"lr": -0.1}, "lr"), ({"tol": 1.5}, "tol"), ({"detail_pair": (1, 0)}, "detail_pair"),
    ({"digits": (2, 3), "detail_pair": (0, 1)}, "detail_pair"), ({"digits": (4,)}, "digits"),
    ({"max_iter": 0}, "max_iter"), ({"train_per_class": 0}, "train_per_class"), ({"rule": "sgd"}, "rule"),
])
def test_bad_config_is_refused_before_any_work(override, message):
    with pytest.raises(ConfigError, match=message):
        TASK.config("quick", override)


def test_task_is_registered_with_both_profiles():
    assert REGISTRY["task2"] is TASK
    assert TASK.config("quick").max_iter < TASK.config("brief").max_iter == 1000
    assert TASK.config("brief").train_per_class is None  # the brief profile trains on every image


def test_task_runs_end_to_end_and_reuses_its_cached_sweep(ctx):
    config = Config(digits=(0, 1, 7), train_per_class=80, test_per_class=40, max_iter=30, sklearn_max_iter=10,
                    weight_images=3)
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    for a, b in [(0, 1), (0, 7), (1, 7)]:
        assert 0.8 < m[f"pair_test_acc_{a}_{b}"] <= 1.0  # far above chance (0.5) on these easy pairs
        assert 0.8 < m[f"sklearn_pair_test_acc_{a}_{b}"] <= 1.0
        assert 1 <= m[f"pair_iters_{a}_{b}"] <= 30
        assert 0 <= m[f"pair_train_acc_{a}_{b}"] <= 1
    assert m["pair_test_acc_min"] <= m["pair_test_acc_mean"]
    assert "sklearn_pair_test_acc_mean" in m and "detail_online_test_acc" in m
    assert len(result.tables["all_pairs"].rows) == 3
    assert result.tables["five_pairs"].rows[0][1] == "0 vs 1"
    for fig in result.figures:
        assert (ctx.out_dir / fig.file).stat().st_size > 5000
    assert any("0 vs 1" in t for t in list(result.paragraphs.values()))

    assert [run.kind for run in ctx.finished] == ["perceptron-sweep", "perceptron-sweep", "sklearn-perceptron"]
    assert all(trained.fresh for trained in ctx.finished.values())
    again = run_in_context(TASK, config, ctx)
    # the sweep, the online comparison and the sklearn check all came from the cache
    assert not any(trained.fresh for trained in ctx.finished.values())
    assert again.metrics["pair_test_acc_0_1"] == m["pair_test_acc_0_1"]

    findings = compute_findings(config, ctx)  # from the cache: the report's text is the prose, in id order
    assert list(result.paragraphs.values()) == list(prose(findings, config).values())
    assert list(prose(findings, config)) == ["detail", "weights", "pairs", "pocket", "sklearn"]


def test_worker_processes_train_the_perceptrons_as_the_analysis_would(ctx, tmp_path):
    """The sweeps and the scikit-learn check are sub-runs: the processes executor trains them in its workers
    (two at once), and the analysis reads the same numbers as from a serial run."""
    from mnistlab.execution.cache import SubRunCache
    from mnistlab.execution.executors import ProcessExecutor

    config = Config(digits=(0, 1, 7), train_per_class=60, test_per_class=30, max_iter=20, sklearn_max_iter=10,
                    weight_images=3)
    serial = run_in_context(TASK, config, ctx)
    workers = dataclasses.replace(ctx, cache=SubRunCache(tmp_path / "workers-cache"), finished={})
    spread = run_in_context(TASK, config, workers,
                            executor=ProcessExecutor(device=ctx.device, jobs=2, log=lambda line: None))
    assert all(trained.fresh for trained in workers.finished.values()) and len(workers.finished) == 3
    untimed = [{k: v for k, v in r.metrics.items() if "seconds" not in k} for r in (serial, spread)]
    assert untimed[0] == untimed[1] and "pair_test_acc_0_7" in untimed[0]


# ----------------------------------------------------------------------------------- prose, by paragraph id

def fake_findings(**changes) -> Findings:
    """Findings made by hand for digits 3, 4, 5, 9 (no MNIST, no training): 4-9 and 3-5 are the hardest pairs."""
    rng = np.random.default_rng(0)
    pairs = ((3, 4), (3, 5), (3, 9), (4, 5), (4, 9), (5, 9))
    test = dict(zip(pairs, (0.99, 0.93, 0.97, 0.985, 0.91, 0.96), strict=True))
    means = {d: rng.normal(size=784) for d in (3, 4, 5, 9)}
    errors = {p: (0.2, 0.05, 0.01) for p in pairs}
    findings = Findings(
        pairs=pairs, detail=(3, 5), n_train=dict.fromkeys(pairs, 200), n_test=dict.fromkeys(pairs, 100),
        train_acc={p: min(1.0, v + 0.02) for p, v in test.items()}, test_acc=test,
        last_test_acc={p: v - 0.01 for p, v in test.items()}, errors=errors, converged=dict.fromkeys(pairs, False),
        weights={p: rng.normal(size=784) for p in pairs}, means=means, sweep_seconds=1.5, corr_w=0.8,
        share_on_ink=0.75, rho=0.6, other=OtherRule("online", (0.1, 0.02), 0.98, 0.92),
        sklearn=SklearnCheck((0.98, 0.95, 0.97, 0.98, 0.9, 0.96), (5,) * 6, 0.5))
    return dataclasses.replace(findings, **changes)


def test_prose_has_its_paragraphs_by_id():
    assert list(prose(fake_findings(), Config())) == ["detail", "weights", "pairs", "pocket", "sklearn"]
    assert "sklearn" not in prose(fake_findings(sklearn=None), Config(sklearn_check=False))


def test_each_paragraph_leads_with_its_finding_and_method_sentences_follow():
    f, config = fake_findings(), Config(digits=(3, 4, 5, 9), detail_pair=(3, 5))
    text = prose(f, config)
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert all(found.values()), "every paragraph states a result here (pocket parameters, scikit-learn check)"
    assert all(text[key].startswith(found[key]) and len(found[key]) <= 320 for key in text)
    assert found["detail"].startswith("Pair 3 vs 5 (labels -1 and +1") and "test accuracy 93.00%" in found["detail"]
    assert "online rule" not in found["detail"] and "convergence theorem" not in found["detail"]
    assert found["weights"].startswith("The learned w of pair 3 vs 5 is a template") and "0.80" in found["weights"]
    assert f"mean test accuracy is {f.mean_test_acc():.2%}" in found["pairs"]
    assert "The whole sweep took" not in found["pairs"] and "The whole sweep took" in text["pairs"]  # speed: method
    assert f"{f.mean_test_acc(last=True):.2%}" in found["pocket"] and f"{f.mean_test_acc():.2%}" in found["pocket"]
    assert "The accuracies above are those" not in found["pocket"]
    assert found["sklearn"].startswith("Cross-check: scikit-learn's Perceptron") and "schedules" not in found["sklearn"]
    # without pocket parameters the last iterate is what 'pairs' reports already: no finding of its own
    assert finding_of(prose(f, Config(pocket=False))["pocket"]) == ""


def test_prose_quotes_the_findings_numbers_and_names_the_rules_that_ran():
    f, config = fake_findings(), Config(digits=(3, 4, 5, 9), detail_pair=(3, 5))
    text = prose(f, config)
    assert "Pair 3 vs 5 (labels -1 and +1, 200 training images): with the batch rule" in text["detail"]
    assert "fell from 20.00% after the first iteration to 1.00% after 3 iteration(s)" in text["detail"]
    assert "test accuracy 93.00%" in text["detail"]
    assert "The online rule on the same pair and initial weights took 2 iteration(s)" in text["detail"]
    assert f"is {f.corr_w:.2f}, and {f.share_on_ink:.0%} of its total |w|" in text["weights"]
    assert f"mean test accuracy is {f.mean_test_acc():.2%} (lowest 4 vs 9 at 91.00%" in text["pairs"]
    assert "0 of 6 pairs reached" in text["pairs"] and f"correlation {f.rho:.2f}" in text["pairs"]
    assert "batch rule, all pairs batched" in text["pairs"]
    online = prose(dataclasses.replace(f, other=dataclasses.replace(f.other, rule="batch")), Config(rule="online"))
    assert "with the online rule" in online["detail"] and "The batch rule on the same pair" in online["detail"]
    assert "batched" not in online["pairs"] and "online rule, one pair after another" in online["pairs"]
    assert "online rule on the same pair" not in prose(fake_findings(other=None), config)["detail"]


def test_detail_claims_follow_the_error_curve_and_convergence():
    config = Config()
    assert "did not reach the tolerance" in prose(fake_findings(), config)["detail"]
    converged = fake_findings(converged=dict.fromkeys(fake_findings().pairs, True))
    text = prose(converged, config)["detail"]
    assert "within the tolerance" in text and "convergence theorem guarantees" in text
    rising = fake_findings(errors={**fake_findings().errors, (3, 5): (0.01, 0.03)})
    assert "rose from 1.00% after the first iteration to 3.00%" in prose(rising, config)["detail"]
    single = fake_findings(errors={**fake_findings().errors, (3, 5): (0.0,)})
    assert "was 0.00% after the single iteration" in prose(single, config)["detail"]


def test_weights_claim_follows_the_correlation():
    assert "is a template of" in prose(fake_findings(), Config())["weights"]
    assert "only loosely a template" in prose(fake_findings(corr_w=0.2), Config())["weights"]


def test_pairs_claims_follow_the_accuracies_and_the_rank_correlation():
    f, config = fake_findings(), Config()
    text = prose(f, config)["pairs"]
    assert "The hardest pairs are 4-9 (91.0%), 3-5 (93.0%)" in text
    assert "a 4 closed at the top is a 9" in text and "a 3 and a 5 differ" in text
    assert "far apart are easier" in text
    easy_49 = fake_findings(test_acc={**f.test_acc, (4, 9): 0.999})
    assert "a 4 closed at the top is a 9" not in prose(easy_49, config)["pairs"]
    assert "far apart are harder" in prose(fake_findings(rho=-0.6), config)["pairs"]
    assert "says little" in prose(fake_findings(rho=0.1), config)["pairs"]
    assert "no rank correlation" in prose(fake_findings(rho=float("nan")), config)["pairs"]
    perfect = fake_findings(test_acc=dict.fromkeys(f.pairs, 1.0))
    text = prose(perfect, config)["pairs"]
    assert "without error" in text and "hardest" not in text


def test_last_iterate_and_cross_check_claims_follow_the_numbers():
    f, config = fake_findings(), Config()
    assert "poor hyperplane" in prose(f, config)["pocket"]  # the last iterates are worse here
    better_last = fake_findings(last_test_acc={p: v + 0.01 for p, v in f.test_acc.items()})
    text = prose(better_last, config)["pocket"]
    assert "gained nothing" in text and "poor hyperplane" not in text
    assert "those of the last iterate" in prose(f, Config(pocket=False))["pocket"]
    text = prose(f, config)["sklearn"]
    assert "largest gap 2.00% on 3 vs 5" in text and "single pairs differ" in text
    same = fake_findings(sklearn=SklearnCheck(tuple(f.test_acc[p] for p in f.pairs), (5,) * 6, 0.5))
    text = prose(same, config)["sklearn"]
    assert "the same on every pair" in text and "single pairs differ" not in text and "largest gap" not in text
