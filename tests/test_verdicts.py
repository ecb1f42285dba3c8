"""Verdicts that hold on another machine: one error rate per family, equivalence against a margin, one seed
judging two networks (never two configurations), default seeds per task, and the machine in every result."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy import stats

from mnistlab.analysis.contrasts import ONE_RUN, Arm, Contrast, compare
from mnistlab.analysis.stats import MANY, adjust, benjamini_hochberg, holm, tost
from mnistlab.cli import main
from mnistlab.execution.runner import run_tasks
from mnistlab.report.html import findings, render
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import Result, Task, for_device

CPU = torch.device("cpu")
P = [0.01, 0.04, 0.03, 0.005, 0.2, 0.001, 0.5, 0.049, 0.012, 0.3, 0.02, 0.8]


def test_holm_and_benjamini_hochberg_by_hand():
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4 = 0.02, 0.02, 0.04, 0.04 -> running min from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_adjusted_p_values_equal_statsmodels():
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    for p in (P, P[:4], [0.5], [0.04, 0.04, 0.04]):
        assert holm(p) == pytest.approx(list(multitest.multipletests(p, method="holm")[1]))
        assert benjamini_hochberg(p) == pytest.approx(list(multitest.multipletests(p, method="fdr_bh")[1]))


def test_the_declared_rule_picks_holm_for_small_families_and_bh_for_large_ones():
    small, method = adjust(P[:MANY - 1])
    assert method == "Holm" and small == pytest.approx(holm(P[:MANY - 1]))
    large, method = adjust(P[:MANY])
    assert method == "Benjamini-Hochberg" and large == pytest.approx(benjamini_hochberg(P[:MANY]))
    with_nan, _ = adjust([0.01, math.nan, 0.02])  # an untested comparison is not part of the family
    assert math.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02) and with_nan[2] == pytest.approx(0.02)


def test_tost_against_a_hand_computation():
    d = np.array([0.0010, 0.0020, -0.0010, 0.0015, 0.0005])
    margin = 0.003
    mean, se, df = d.mean(), d.std(ddof=1) / math.sqrt(len(d)), len(d) - 1
    p_lower = 1 - stats.t.cdf((mean + margin) / se, df)
    p_upper = stats.t.cdf((mean - margin) / se, df)
    eq = tost(d, margin)
    assert eq.p == pytest.approx(max(p_lower, p_upper)) and eq.equivalent
    assert eq.low == pytest.approx(mean - stats.t.ppf(0.95, df) * se)
    assert eq.p_difference == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    wide = tost(d * 10, margin)  # a difference around +0.7 points is not within +-0.3
    assert not wide.equivalent


def test_tost_equals_statsmodels_paired_tost():
    weightstats = pytest.importorskip("statsmodels.stats.weightstats")
    a = np.array([0.9812, 0.9790, 0.9825, 0.9801, 0.9808])
    b = np.array([0.9800, 0.9795, 0.9810, 0.9805, 0.9799])
    p, _, _ = weightstats.ttost_paired(a, b, -0.003, 0.003)
    assert tost(a - b, 0.003).p == pytest.approx(p)


def _per_seed(values_a, values_b):
    return {s: {"acc_a": a, "acc_b": b} for s, (a, b) in enumerate(zip(values_a, values_b, strict=True))}


def test_equivalence_is_worded_equivalent_different_or_undecided():
    same = Contrast(Arm("bf16", "acc_a"), Arm("fp32", "acc_b"), "precision", margin=0.003)
    close = compare(same, [0, 1, 2, 3], _per_seed([0.981, 0.980, 0.982, 0.981], [0.9805, 0.9802, 0.9815, 0.9808]), {})
    assert close.equivalence_word == "equivalent" and "equivalent within ±0.30 points" in close.text
    far = compare(same, [0, 1, 2, 3], _per_seed([0.981, 0.980, 0.982, 0.981], [0.971, 0.9705, 0.9712, 0.9708]), {})
    assert far.equivalence_word == "different" and "are different" in far.text
    noisy = compare(same, [0, 1], _per_seed([0.981, 0.975], [0.978, 0.980]), {})
    assert noisy.equivalence_word == "undecided" and noisy.text.startswith("undecided whether bf16 and fp32")


@dataclass
class _Fake:
    """Per-image correctness arrays, as a trained sub-run keeps them."""

    arrays: dict


def test_one_seed_words_the_two_networks_and_tost_runs_on_per_image_differences():
    rng = np.random.default_rng(1)
    a = rng.random(10_000) < 0.98
    b = a.copy()
    b[np.flatnonzero(a)[:120]] = False  # network b misses 120 images that a gets right
    runs = {"a": _Fake({"test_correct": a}), "b": _Fake({"test_correct": b})}
    contrast = Contrast(Arm("MLP A", "acc_a", run=lambda s: "a"), Arm("MLP B", "acc_b", run=lambda s: "b"),
                        margin=0.003)
    r = compare(contrast, [0], {0: {"acc_a": a.mean(), "acc_b": b.mean()}}, runs)
    assert r.comparison.test == "McNemar" and r.comparison.p < 0.001 and not r.beat and not r.finding
    assert "beat" not in r.text and ONE_RUN in r.text and "differ on the test set" in r.text
    assert r.equivalence.p == pytest.approx(tost(a.astype(float) - b.astype(float), 0.003).p)


@dataclass(frozen=True)
class _NoOptions:
    pass


def _fake_task(n: int, values) -> Task:
    """A task whose metrics are given per seed (nothing trained): `n` contrasts acc_i_a against acc_i_b."""
    def analyse(config, ctx):
        return Result(metrics=values(ctx.seed), paragraphs={"x": f"Task X: a result of {ctx.seed}%."})

    def contrasts(config):
        return [Contrast(Arm(f"config {i} A", f"acc_{i}_a"), Arm(f"config {i} B", f"acc_{i}_b"), "null family")
                for i in range(n)]

    return Task(name="fake", title="fake", config_cls=_NoOptions, profiles={}, analyse=analyse, contrasts=contrasts)


def test_twenty_null_comparisons_report_no_finding(tmp_path):
    # Twenty pairs drawn from the same distribution over three seeds: no real difference anywhere
    rng = np.random.default_rng(7)
    table = rng.normal(0.97, 0.002, size=(3, 20, 2))
    raw = [stats.ttest_rel(table[:, i, 0], table[:, i, 1]).pvalue for i in range(20)]
    assert min(raw) < 0.05  # unadjusted, this family would 'find' something from noise alone
    task = _fake_task(20, lambda s: {f"acc_{i}_{x}": float(table[s, i, j]) for i in range(20)
                                     for j, x in enumerate("ab")})
    record = run_tasks([task], profile="brief", configs={"fake": _NoOptions()}, out=tmp_path, device=CPU,
                       seeds=[0, 1, 2], log=lambda line: None)["fake"]
    assert all(c["adjustment"] == "Benjamini-Hochberg" and c["family"] == 20 for c in record["comparisons"])
    assert [c["p"] for c in record["comparisons"]] == pytest.approx(raw)
    assert not any(c["finding"] for c in record["comparisons"])
    found = findings(record["paragraphs"])
    assert not any("beat" in f or "config" in f for f in found)
    assert "beat" not in " ".join(p["text"] for p in record["paragraphs"])


def test_a_clear_difference_across_seeds_is_a_finding(tmp_path):
    task = _fake_task(2, lambda s: {"acc_0_a": 0.98 + 0.001 * s, "acc_0_b": 0.90 + 0.0015 * s,
                                    "acc_1_a": 0.95 + 0.001 * (s % 2), "acc_1_b": 0.95 + 0.001 * (s == 1)})
    record = run_tasks([task], profile="brief", configs={"fake": _NoOptions()}, out=tmp_path, device=CPU,
                       seeds=[0, 1, 2], log=lambda line: None)["fake"]
    first, second = record["comparisons"]
    assert first["finding"] and first["verdict"].startswith("config 0 A beat config 0 B") and "Holm" in first["verdict"]
    assert not second["finding"] and "no difference" in second["verdict"]
    found = findings(record["paragraphs"])
    assert found[0].startswith("Across seeds (Holm-adjusted over 2 comparisons): config 0 A beat config 0 B")


TINY = ["--profile", "brief", "--set", "models=1,64", "--set", "epochs=1", "--set", "train_limit=500",
        "--set", "test_limit=500", "--set", "precision=fp32", "--no-progress"]


def test_a_one_seed_run_never_says_beat_and_a_two_seed_run_does(tmp_path):
    out = tmp_path / "results"
    assert main(["run", "task3", "--out", str(out), "--seeds", "2", *TINY]) == 0
    two = json.loads((out / "task3" / "result.json").read_text())
    (c,) = two["comparisons"]
    assert c["test"] == "paired t" and c["finding"] and c["verdict"].startswith("MLP 64 beat MLP 1")
    assert any("MLP 64 beat MLP 1" in f for f in findings(two["paragraphs"]))

    assert main(["run", "task3", "--out", str(out), "--seed", "0", *TINY]) == 0
    one = json.loads((out / "task3" / "result.json").read_text())
    (c,) = one["comparisons"]
    assert c["test"] == "McNemar" and c["p"] < 0.001  # the two networks clearly differ on the test set ...
    assert not c["finding"] and "beat" not in c["verdict"] and ONE_RUN in c["verdict"]  # ... said of the networks
    text = " ".join(p["text"] for p in one["paragraphs"])
    assert not re.search(r"\bbeat\b(?! another)", text)  # only the caveat's "beats another" uses the word
    assert text.count("cannot separate the configurations from run-to-run spread") == 1
    # the spread quoted comes from the cache, which now holds seeds 0 and 1 of both MLPs
    accs = [two["per_seed_metrics"][s]["mlp_1_test_acc"] for s in ("0", "1")]
    assert f"MLP 1: {100 * accs[0]:.2f}%, {100 * accs[1]:.2f}% over seeds 0, 1" in text
    found = findings(one["paragraphs"])
    assert found and not any("beat" in f or ONE_RUN in f for f in found)


def test_tasks_declare_their_default_seeds_and_the_command_line_overrides_them(tmp_path, capsys):
    assert REGISTRY["task3"].seeds_for("brief") == [0, 1, 2] and REGISTRY["task3"].seeds_for("quick") == [0]
    assert REGISTRY["task4"].seeds_for("extended") == [0, 1, 2] and REGISTRY["task1"].seeds_for("brief") == [0]
    out = str(tmp_path / "results")
    assert main(["plan", "task3", "task1", "--profile", "brief", "--out", out]) == 0
    printed = capsys.readouterr().out
    task3 = REGISTRY["task3"]
    per_seed = len(task3.sub_runs(for_device(task3.config("brief"), CPU), 0))  # 5 MLPs (and the fp32 twin)
    assert f"task3: {3 * per_seed} sub-run(s) over seeds 0, 1, 2" in printed and "task1:" in printed
    assert main(["plan", "task3", "--profile", "brief", "--seed", "4", "--out", out]) == 0
    assert "over seeds" not in capsys.readouterr().out


def test_results_and_the_report_header_name_the_machine(tmp_path):
    out = tmp_path / "results"
    assert main(["run", "task3", "--out", str(out), "--seed", "0", *TINY]) == 0
    env = json.loads((out / "task3" / "result.json").read_text())["environment"]
    assert env["cpu_model"] and isinstance(env["cpu_features"], list) and env["cpu_capability"]
    assert env["threads"] >= 1
    page = render(out)
    assert f"CPU {env['cpu_model']}" in page and f"{env['threads']} threads" in page
