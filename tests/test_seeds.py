"""Several seeds and computed verdicts: the arithmetic against scipy, the wording, a two-seed run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from mnistlab.analysis.contrasts import Arm, Contrast, aggregate_metrics, compare, parse_seeds
from mnistlab.analysis.stats import mcnemar, paired_test, t_interval, verdict
from mnistlab.cli import main
from mnistlab.errors import ConfigError

A = [0.9812, 0.9790, 0.9825, 0.9801, 0.9808]
B = [0.9771, 0.9779, 0.9780, 0.9769, 0.9790]


def test_t_interval_agrees_with_scipy():
    interval = t_interval(A)
    low, high = stats.t.interval(0.95, len(A) - 1, loc=np.mean(A), scale=stats.sem(A))
    assert interval.low == pytest.approx(low) and interval.high == pytest.approx(high)
    assert interval.std == pytest.approx(np.std(A, ddof=1))
    single = t_interval([0.5])
    assert single.mean == 0.5 and math.isnan(single.half_width)


def test_paired_test_agrees_with_scipy():
    c = paired_test(A, B)
    assert c.p == pytest.approx(stats.ttest_rel(A, B).pvalue)
    d = np.subtract(A, B)
    assert c.difference == pytest.approx(d.mean())
    assert c.half_width == pytest.approx(stats.t.ppf(0.975, len(d) - 1) * stats.sem(d))


def test_mcnemar_agrees_with_the_exact_binomial_test():
    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.97
    b = a.copy()
    b[:60] = ~b[:60]  # b differs from a on 60 images
    c = mcnemar(a, b)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert c.p == pytest.approx(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert c.difference == pytest.approx((only_a - only_b) / 2000) and c.n == 2000
    assert mcnemar(a, a).p == 1.0


def test_the_verdict_says_no_difference_for_identical_results_and_names_a_clear_winner():
    same = verdict("MLP", "CNN", paired_test(A, A))
    assert same.startswith("no difference between MLP and CNN is detectable with 5 seeds")
    clear = verdict("MTL", "single", paired_test(A, B))
    assert clear.startswith("MTL beat single by 0.29 ± 0.") and "paired t" in clear
    reverse = verdict("single", "MTL", paired_test(B, A))
    assert reverse.startswith("MTL beat single")
    shift = verdict("x", "y", paired_test([0.5, 0.6], [0.4, 0.5]))
    assert "no spread" in shift and "beat" not in shift
    one_seed = verdict("a", "b", mcnemar(np.ones(100, bool), np.ones(100, bool)))
    assert "no difference" in one_seed and "one seed on 100 test images" in one_seed


def test_compare_uses_mcnemar_with_one_seed_and_a_paired_test_with_several():
    contrast = Contrast(Arm("a", "acc_a"), Arm("b", "acc_b"))
    per_seed = {s: {"acc_a": a, "acc_b": b} for s, (a, b) in enumerate(zip(A, B, strict=True))}
    assert compare(contrast, list(range(5)), per_seed, {}).comparison.test == "paired t"
    untested = compare(contrast, [0], per_seed, {})  # no sub-runs behind the arms: no per-image data
    assert untested.comparison is None and "not tested" in untested.text
    assert compare(Contrast(Arm("a", "nope"), Arm("b", "acc_b")), [0], per_seed, {}).comparison is None


def test_aggregate_metrics_keeps_means_and_intervals():
    out = aggregate_metrics([0, 1], {0: {"acc": 0.9, "name": "x"}, 1: {"acc": 0.8, "name": "x"}})
    assert out["acc"] == out["acc_mean"] == pytest.approx(0.85) and "name" not in out
    assert out["acc_ci95"] == pytest.approx(t_interval([0.9, 0.8]).half_width)


def test_parse_seeds():
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("0,5,7") == [0, 5, 7]
    for bad in ("0", "-1", "a", "1,1", "1,,2", "١", str(2**64) + ",1"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)


def test_a_two_seed_run_writes_per_seed_and_aggregated_results(tmp_path, capsys):
    out = tmp_path / "results"
    args = ["run", "task3", "--profile", "quick", "--out", str(out), "--seeds", "2", "--set", "models=16,8",
            "--set", "epochs=1", "--set", "train_limit=300", "--set", "test_limit=200", "--no-progress"]
    assert main(args) == 0
    result = json.loads((out / "task3" / "result.json").read_text())
    assert result["seeds"] == [0, 1] and set(result["per_seed_metrics"]) == {"0", "1"}
    per = [result["per_seed_metrics"][s]["mlp_16_test_acc"] for s in ("0", "1")]
    m = result["metrics"]
    assert m["mlp_16_test_acc_mean"] == pytest.approx(np.mean(per)) == pytest.approx(m["mlp_16_test_acc"])
    assert m["mlp_16_test_acc_ci95"] == pytest.approx(t_interval(per).half_width)
    assert per[0] != per[1]  # two seeds, two networks
    assert (out / "task3" / "seeds.png").stat().st_size > 1000  # the error-bar figure
    assert (out / "task3" / "seed-1" / "curves_all.png").is_file()
    # bf16 where it is native: then the first MLP also ran in fp32, and that comparison is tested too
    bf16 = result["config"]["precision"] == "bf16"
    assert [row[0] for row in result["tables"]["seeds"]["rows"]] == (
        ["mlp_16_test_acc", "mlp_8_test_acc"] + (["mlp_16_fp32_test_acc"] if bf16 else []))
    assert [c["about"] for c in result["comparisons"]] == (
        ["depth and width"] + (["bf16 autocast vs fp32"] if bf16 else []))
    assert all(c["test"] == "paired t" and c["n"] == 2 for c in result["comparisons"])
    last = result["paragraphs"][-1]
    assert last["id"] == "comparisons" and "quick profile" in last["text"] and "test the machinery" in last["text"]
    assert main([*args[:-1]]) == 0 and "up to date" in capsys.readouterr().out  # keyed by the seeds
