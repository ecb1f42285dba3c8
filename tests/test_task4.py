"""Task 4 on a tiny slice: CNNs beside MLPs, the CNN-1 recipe shared with Task 5, and bad options."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mnistlab.analysis.contrasts import ONE_RUN
from mnistlab.errors import ConfigError
from mnistlab.execution import runtime
from mnistlab.execution.runner import run_in_context
from mnistlab.models import CNN1
from mnistlab.tasks import get_task, permutation, task3, task5
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.sweeps import Verdict, curve_summary
from mnistlab.tasks.task4 import TASK
from mnistlab.tasks.task4.findings import Findings
from mnistlab.tasks.task4.prose import prose

TINY = {"models": ("8k4s2", "8k4s1-16k4s2"), "mlp_models": ("32",), "epochs": 1, "train_limit": 400,
        "test_limit": 200}


def test_registered_and_first_model_is_cnn1():
    assert get_task("task4") is TASK
    assert TASK.config("brief").models[0] == "32k4s1-64k4s2-128k4s2"


@pytest.mark.parametrize("native_bf16", [False, True])
@pytest.mark.parametrize("profile", ["quick", "brief"])
def test_tasks_that_need_the_same_network_plan_one_sub_run(profile, native_bf16, monkeypatch):
    """CNN-1 of Task 4 is Task 5's network and the permutation task's unpermuted CNN; the brief's MLP of
    Task 3 is the permutation task's unpermuted MLP: equal SubRuns, one cache key, trained once."""
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: native_bf16)
    cpu = torch.device("cpu")

    def planned(task):  # as the runner resolves and plans each task
        return task.sub_runs(for_device(task.config(profile), cpu), 0)

    cnn1 = planned(TASK)[0]
    assert cnn1.model == CNN1 and cnn1.train.precision == ("bf16" if native_bf16 else "fp32")
    assert planned(task5.TASK) == [cnn1] and cnn1.keep_checkpoint
    perm = planned(permutation.TASK)
    assert perm[2] == cnn1 and perm[0] == planned(task3.TASK)[0]
    assert perm[1].hash != perm[0].hash and perm[3].hash != cnn1.hash  # the permuted networks are their own
    fashion = 4 if profile == "brief" else 0  # the brief profile also permutes Fashion-MNIST
    distinct = {r.hash for r in planned(TASK) + planned(task3.TASK) + perm + planned(task5.TASK)}
    fp32_twin = int(native_bf16)  # Task 3 trains its first MLP in fp32 too where it trains in bf16
    assert len(distinct) == 5 + 5 + fp32_twin + 2 + fashion


def test_runs_and_compares_with_mlps(ctx):
    result = run_in_context(TASK, TASK.config("quick", TINY), ctx)
    assert ctx.cache.misses == 3
    assert result.metrics["cnn_8k4s2_params"] == 8 * 16 + 8 + 8 * 14 * 14 * 10 + 10
    assert result.metrics["first_test_acc"] > 0.2  # one epoch on 400 images; chance is 0.1
    assert result.metrics["first_is_cnn1"] == 0.0
    names = [row[0] for row in result.tables["cnn_vs_mlp"].rows]
    assert names == ["CNN 8k4s2", "CNN 8k4s1-16k4s2", "MLP 32"]
    assert all(row[-1] > 0 for row in result.tables["cnn_vs_mlp"].rows)  # inference images per second
    for fig in result.figures:
        assert (ctx.out_dir / fig.file).is_file()
    # the networks named are the ones that ran: neither is the brief's, so neither is called so
    assert result.paragraphs["model"].startswith("Task 4.1: CNN 8k4s2 (")
    assert list(result.paragraphs)[-2:] == ["cnn_vs_mlp", "comparisons"]
    last = result.paragraphs["cnn_vs_mlp"]
    assert "CNN-1" not in last and "the first MLP, MLP 32," in last
    # the one-seed verdict is quoted in the discussion, never in the finding the report lists
    assert ONE_RUN in last and finding_of(last) and ONE_RUN not in finding_of(last)
    # the timings' tables name the machine they were measured on
    assert "Times measured on" in result.tables["cnn_vs_mlp"].caption
    assert "Times measured on" in result.tables["sweep"].caption


@pytest.mark.parametrize(("override", "match"), [
    ({"models": ("32k4",)}, "CNN spec"),
    ({"models": ("8k5s1",), "train_limit": 10}, None),  # fine: just a valid, odd kernel
    ({"models": ()}, "at least one"),
    ({"mlp_models": ("abc",)}, "MLP spec"),
    ({"batch_size": 0}, "positive"),
    ({"precision": "fp8"}, "precision"),
])
def test_bad_options_are_config_errors(override, match):
    if match is None:
        TASK.config("quick", override)
        return
    with pytest.raises(ConfigError, match=match):
        TASK.config("quick", override)


def test_cnn1_spec_matches_the_brief():
    assert CNN1.channels == (32, 64, 128) and CNN1.kernels == (4, 4, 4) and CNN1.strides == (1, 2, 2)


# ---- prose by paragraph id, against hand-made findings ------------------------------------------------

def _history(n: int = 4, rise: float = 0.01) -> list[dict]:
    losses = [0.05, 0.04, 0.04 + rise / 2, 0.04 + rise][:n]
    return [{"epoch": i + 1, "train_acc": 0.97 + 0.005 * i, "test_acc": 0.985 + 0.001 * i, "test_loss": loss,
             "train_loss": 0.05, "seconds": 20.0} for i, loss in enumerate(losses)]


def _row(name: str, params: int, depth: int, test_acc: float, mflops: float, head_share: float) -> dict:
    hist = _history()
    return {"name": name, "spec": None, "depth": depth, "params": params, "history": hist, "train_acc": 0.995,
            "test_acc": test_acc, "test_loss": 0.05, "train_seconds": 80.0, "infer_images_per_second": 20000.0,
            "mflops": mflops, "head_share": head_share}


def replace_row(row: dict, **changes) -> dict:
    return {**row, **changes}


def _findings(**changes) -> Findings:
    cnns = (_row("CNN 32k4s1-64k4s2-128k4s2", 227_306, 4, 0.990, 24.4, 0.28),
            _row("CNN 32k4s2", 63_274, 2, 0.985, 0.4, 0.99),
            _row("CNN 16k4s1-32k4s2-64k4s2", 72_698, 4, 0.983, 6.1, 0.4))
    mlps = (_row("MLP 1000-1000", 1_991_010, 3, 0.980, 4.0, 0.005), _row("MLP 64", 50_890, 2, 0.970, 0.1, 0.01))
    base = Findings(cnns=cnns, mlps=mlps, n_train=60000, curve=curve_summary(cnns[0]["history"]),
                    mlp_curve=curve_summary(mlps[0]["history"]), first_is_cnn1=True, mlp_is_brief=True,
                    cnn_vs_mlp=Verdict("CNN 32k4s1-64k4s2-128k4s2 beat MLP 1000-1000 by 1.00 points (McNemar ...)",
                                       a_won=True))
    return replace(base, **changes)


def test_prose_has_every_paragraph_by_id_and_quotes_the_findings():
    f, config = _findings(), TASK.config("brief")
    text = prose(f, config)
    assert list(text) == ["model", "curves", "sweep", "cnn_vs_mlp"]
    assert "CNN 32k4s1-64k4s2-128k4s2 (227,306 parameters)" in text["model"] and "4 epoch(s)" in text["model"]
    assert "peaks at 98.80% (epoch 4)" in text["curves"] and "from 0.040 (its minimum) to 0.050" in text["curves"]
    assert "range from 98.30% (CNN 16k4s1-32k4s2-64k4s2" in text["sweep"]
    assert "to 99.00% (CNN 32k4s1-64k4s2-128k4s2" in text["sweep"]
    assert "(99% of CNN 32k4s2's)" in text["sweep"]
    assert "24.4 MFLOP per image forward against the MLP's 4.0" in text["cnn_vs_mlp"]
    assert f.cnn_vs_mlp.text in text["cnn_vs_mlp"] and "8.8x fewer parameters" in text["cnn_vs_mlp"]
    assert "curves" not in prose(replace(f, curve=replace(f.curve, epochs=1)), config)
    # the findings the report lists: each paragraph states one, led by it; the CNN-vs-MLP verdict (one trained
    # network of each family) and the conclusion drawn from it stay in the detail
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert all(found.values()) and all(text[key].startswith(found[key]) for key in text)
    assert found["model"].startswith("Task 4.1: CNN 32k4s1-64k4s2-128k4s2") and "99.00% accuracy on the test" in \
        found["model"]
    assert "peaks at 98.80% (epoch 4)" in found["curves"] and "over-fitting" not in found["curves"]
    assert "range from 98.30% (CNN 16k4s1-32k4s2-64k4s2" in found["sweep"]
    assert found["cnn_vs_mlp"].startswith("CNN vs MLP: CNN 32k4s1-64k4s2-128k4s2 reaches 99.00%")
    assert f.cnn_vs_mlp.text not in found["cnn_vs_mlp"] and "fewer parameters" not in found["cnn_vs_mlp"]


def test_the_networks_named_are_the_ones_that_ran():
    f, config = _findings(), TASK.config("brief")
    text = prose(f, config)["cnn_vs_mlp"]
    assert "so CNN-1 needs" in text and "the brief's MLP 98.00%" in text
    other = prose(replace(f, first_is_cnn1=False, mlp_is_brief=False), config)["cnn_vs_mlp"]
    assert "CNN-1" not in other and "brief's MLP" not in other
    assert "so CNN 32k4s1-64k4s2-128k4s2 needs" in other and "the first MLP, MLP 1000-1000, 98.00%" in other


def test_cnn_vs_mlp_conclusion_needs_a_win_and_fewer_parameters():
    f, config = _findings(), TASK.config("brief")
    lost = prose(replace(f, cnn_vs_mlp=Verdict("no difference ... is detectable", a_won=False)), config)
    assert "weight sharing and locality buy accuracy" not in lost["cnn_vs_mlp"]
    untested = prose(replace(f, cnn_vs_mlp=Verdict("a - b = +0.2 points (not tested)", tested=False)), config)
    assert "Tested on this seed" not in untested["cnn_vs_mlp"] and "Not tested" in untested["cnn_vs_mlp"]
    mlps = (replace_row(f.mlps[0], params=100_000, mflops=30.0), f.mlps[1])
    cheap = prose(replace(f, mlps=mlps), config)["cnn_vs_mlp"]
    assert "Parameters are not cost" not in cheap and "fewer parameters for the CNN" not in cheap


def test_batch_sentence_follows_the_config():
    f = _findings()
    bigger = prose(f, TASK.config("brief", {"batch_size": 128, "mlp_batch_size": 50}))["model"]
    same = prose(f, TASK.config("brief", {"batch_size": 50, "mlp_batch_size": 50}))["model"]
    smaller = prose(f, TASK.config("brief", {"batch_size": 32, "mlp_batch_size": 50}))["model"]
    assert "Batch 128 rather than the MLP's 50" in bigger
    assert "Batch 50, as for the MLP" in same
    assert "Batch 32, smaller than the MLP's 50" in smaller and "as for the MLP" not in smaller


def test_over_fitting_and_sweep_claims_follow_the_numbers():
    f, config = _findings(), TASK.config("brief")
    assert "the same mild over-fitting as the MLP" in prose(f, config)["curves"]
    flat = replace(f, curve=curve_summary(_history(rise=0.0)))
    assert "no over-fitting shows yet" in prose(flat, config)["curves"]
    mlp_flat = replace(f, mlp_curve=curve_summary(_history(rise=0.0)))
    assert "the MLP's test loss did not turn up" in prose(mlp_flat, config)["curves"]
    assert f.loosely_linked and "only loosely linked" in prose(f, config)["sweep"]
    ordered = tuple(replace_row(r, test_acc=0.98 + r["params"] / 1e8) for r in f.cnns)
    assert "accuracy rises with the parameter count" in prose(replace(f, cnns=ordered), config)["sweep"]
    thin_head = (f.cnns[0], replace_row(f.cnns[1], head_share=0.3), f.cnns[2])
    text = prose(replace(f, cnns=thin_head), config)["sweep"]
    assert "most of its parameters sit in the dense head" not in text and "keeps only 30%" in text
