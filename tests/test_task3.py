"""Task 3 on a tiny slice: it runs, reports every model, caches sub-runs, and rejects bad options."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from mnistlab.errors import ConfigError
from mnistlab.execution import runtime
from mnistlab.execution.runner import run_in_context
from mnistlab.execution.runtime import environment, machine_text
from mnistlab.tasks import get_task
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.sweeps import Verdict, curve_summary
from mnistlab.tasks.task3 import TASK
from mnistlab.tasks.task3.findings import Findings, compute_findings
from mnistlab.tasks.task3.plan import PRECISION_QUESTION, fp32_twin
from mnistlab.tasks.task3.prose import prose

TINY = {"models": ("32", "16-16"), "epochs": 1, "train_limit": 400, "test_limit": 200}


def test_registered():
    assert get_task("task3") is TASK
    assert TASK.config("brief").models[0] == "1000-1000"
    assert TASK.config("brief").epochs == 10 and TASK.config("brief").batch_size == 50


def test_runs_reports_and_skips_cached_sub_runs(ctx):
    config = TASK.config("quick", TINY)
    result = run_in_context(TASK, config, ctx)
    planned = len(TASK.sub_runs(for_device(config, ctx.device), 0))  # with an fp32 twin where "auto" is bf16
    assert planned == 2 + (for_device(config, ctx.device).precision == "bf16")
    assert ctx.cache.misses == planned and ctx.cache.hits == 0
    assert result.metrics["mlp_32_params"] == 784 * 32 + 32 + 330
    assert result.metrics["first_test_acc"] > 0.3  # one epoch on 400 images; chance is 0.1
    assert [row[0] for row in result.tables["sweep"].rows] == ["MLP 32", "MLP 16-16"]
    assert result.tables["summary"].rows[-1] == ["total", "", 784 * 32 + 32 + 330]
    assert len(result.tables["epochs"].rows) == 1
    for fig in result.figures:
        assert (ctx.out_dir / fig.file).is_file()
    assert "MLP 32" in result.paragraphs["model"]  # the Task 3.1 paragraph names the network that ran
    # the times' caption names the machine they were measured on, from the environment the runner records
    assert machine_text(environment(ctx.device)) in result.tables["sweep"].caption

    again = run_in_context(TASK, config, ctx)  # the same sweep again: every model comes from the cache
    assert ctx.cache.misses == planned and ctx.cache.hits == planned
    assert again.metrics["mlp_32_test_acc"] == result.metrics["mlp_32_test_acc"]


@pytest.mark.parametrize("native", [False, True])
def test_the_fp32_twin_is_planned_only_where_the_task_resolves_to_bf16(native, monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: native)
    config = for_device(TASK.config("quick"), torch.device("cpu"))  # as the runner resolves "auto"
    runs = TASK.sub_runs(config, 0)
    assert len(runs) == len(config.models) + native
    assert {r.train.precision for r in runs[:len(config.models)]} == {"bf16" if native else "fp32"}
    assert [c.about for c in TASK.contrasts(config)].count(PRECISION_QUESTION) == native
    if native:  # the same network, data, seed and recipe as the first MLP: only the precision differs
        twin, first = runs[-1], runs[0]
        assert twin == fp32_twin(config, 0)
        assert (twin.model, twin.data, twin.seed) == (first.model, first.data, first.seed)
        assert twin.train == replace(first.train, precision="fp32") and first.train.precision == "bf16"
    pinned = TASK.config("quick", {"precision": "fp32"})  # fp32 asked for: nothing to compare it with
    assert len(TASK.sub_runs(pinned, 0)) == len(pinned.models) and len(TASK.contrasts(pinned)) == 4


def test_bf16_is_compared_with_fp32_on_the_same_network(ctx):
    config = TASK.config("quick", {**TINY, "precision": "bf16"})
    result = run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == 3  # the sweep's two MLPs and the first one again in fp32
    m = result.metrics
    speedup = m["fp32_over_bf16_seconds_per_epoch"]
    assert speedup == pytest.approx(m["mlp_32_fp32_seconds_per_epoch"] / m["mlp_32_seconds_per_epoch"])
    assert [row[:3] for row in result.tables["precision"].rows] == [
        ["bf16 autocast", m["mlp_32_train_acc"], m["mlp_32_test_acc"]],
        ["fp32", m["mlp_32_fp32_train_acc"], m["mlp_32_fp32_test_acc"]]]
    outcome = ctx.compare(TASK.contrasts(config)[-1], m)
    assert outcome.contrast.about == PRECISION_QUESTION and outcome.comparison.test == "McNemar"
    config = for_device(config, ctx.device)  # the config as the runner ran it
    text = prose(compute_findings(config, ctx), config)
    assert list(text)[-1] == "precision" and list(result.paragraphs)[-2:] == ["precision", "comparisons"]
    assert result.paragraphs["precision"] == text["precision"]
    assert outcome.text in text["precision"] and "tested on this seed's test predictions" in text["precision"]
    for accuracy in (m["mlp_32_test_acc"], m["mlp_32_fp32_test_acc"]):
        assert f"{accuracy:.2%}" in text["precision"]


@pytest.mark.parametrize(("override", "match"), [
    ({"models": ()}, "at least one"),
    ({"models": ("1000x1000",)}, "MLP spec"),
    ({"models": ("32", "32")}, "repeat"),
    ({"epochs": 0}, "positive"),
    ({"lr": -1.0}, "learning rate"),
    ({"train_limit": 0}, "train_limit"),
    ({"test_limit": 20000}, "test_limit"),
])
def test_bad_options_are_config_errors(override, match):
    with pytest.raises(ConfigError, match=match):
        TASK.config("quick", override)


def test_set_parses_model_lists():
    assert TASK.parse_override("models", "1000-1000,500") == ("1000-1000", "500")


# ---- prose by paragraph id, against hand-made findings ------------------------------------------------

def _row(name: str, params: int, depth: int, test_acc: float, history: list[dict]) -> dict:
    return {"name": name, "spec": None, "depth": depth, "params": params, "history": history,
            "train_acc": history[-1]["train_acc"], "test_acc": test_acc, "test_loss": history[-1]["test_loss"],
            "train_seconds": 12.0 * len(history), "infer_images_per_second": 1e5}


def _history(test_accs: list[float], test_losses: list[float], train_accs: list[float] | None = None) -> list[dict]:
    train_accs = train_accs or [0.95 + 0.005 * i for i in range(len(test_accs))]
    return [{"epoch": i + 1, "train_acc": a, "test_acc": t, "test_loss": loss, "train_loss": 0.1, "seconds": 12.0}
            for i, (a, t, loss) in enumerate(zip(train_accs, test_accs, test_losses, strict=True))]


def _findings(**changes) -> Findings:
    hist = _history([0.970, 0.975, 0.978, 0.979, 0.980, 0.979], [0.09, 0.08, 0.075, 0.08, 0.085, 0.09],
                    [0.95, 0.97, 0.98, 0.985, 0.99, 0.995])
    rows = (_row("MLP 1000-1000", 1_990_010, 3, 0.980, hist), _row("MLP 1000-1000-1000", 2_991_010, 4, 0.982, hist),
            _row("MLP 64", 50_890, 2, 0.960, hist))
    base = Findings(rows=rows, n_train=60000, curve=curve_summary(hist),
                    size=Verdict("no difference between MLP 1000-1000-1000 and MLP 1000-1000 is detectable ..."))
    return replace(base, **changes)


def test_prose_has_every_paragraph_by_id_and_quotes_the_findings():
    f, config = _findings(), TASK.config("brief")
    text = prose(f, config)
    assert list(text) == ["model", "curves", "sweep", "size"]
    assert "MLP 1000-1000 (1,990,010 parameters)" in text["model"] and "98.00% accuracy on the test" in text["model"]
    assert "6 epoch(s)" in text["model"] and f"lr {config.lr:g}, batch {config.batch_size}" in text["model"]
    assert "best 98.00% at epoch 5" in text["curves"] and "lowest at epoch 3 (0.075)" in text["curves"]
    assert "spans 2.20 percentage points" in text["sweep"]
    assert "the best is MLP 1000-1000-1000 (98.20%" in text["sweep"] and "smallest, MLP 64 (50,890" in text["sweep"]
    assert f.size.text in text["size"] and "tested on this seed's test predictions" in text["size"]
    # the findings the report lists: each a result stated by its paragraph, led by it; the size conclusion
    # compares one network of each size (one seed) and is discussion only
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert found["model"].startswith("Task 3.1: MLP 1000-1000") and "98.00%" in found["model"]
    assert text["model"].startswith(found["model"]) and found["size"] == ""
    assert "spans 2.20 percentage points" in found["sweep"] and "best 98.00% at epoch 5" in found["curves"]


def test_precision_paragraph_quotes_the_verdict_the_accuracies_and_the_computed_speedup():
    f, config = _findings(), TASK.config("brief")
    assert "precision" not in prose(f, config)  # no fp32 run beside the bf16 one: nothing is said
    verdict = Verdict("no difference between MLP 1000-1000 bf16 autocast and MLP 1000-1000 fp32 is detectable ...")
    fp32 = {**f.first, "test_acc": 0.979, "train_seconds": 30.0 * 6}  # 30 s per epoch against bf16's 12
    text = prose(replace(f, fp32=fp32, precision=verdict), config)
    assert list(text) == ["model", "curves", "sweep", "size", "precision"]
    paragraph = text["precision"]
    assert verdict.text in paragraph and "98.00%" in paragraph and "97.90%" in paragraph
    assert "(12 against 30 s per epoch" in paragraph
    assert "2.50x as fast as fp32" in finding_of(paragraph) and verdict.text not in finding_of(paragraph)
    slower = prose(replace(f, fp32={**fp32, "train_seconds": 6.0 * 6}, precision=verdict), config)["precision"]
    assert "at 0.50x the speed of fp32, slower" in slower and "as fast as" not in slower


def test_one_epoch_has_no_curves_paragraph():
    f = _findings()
    one = replace(f, curve=replace(f.curve, epochs=1))
    assert "curves" not in prose(one, TASK.config("brief"))


def test_over_fitting_is_claimed_only_when_the_test_loss_turned_up():
    f, config = _findings(), TASK.config("brief")
    assert f.curve.test_loss_rose and "over-fitting without regularisation" in prose(f, config)["curves"]
    flat = replace(f, curve=replace(f.curve, last_test_loss=f.curve.min_test_loss))
    text = prose(flat, config)["curves"]
    assert "over-fitting without regularisation" not in text and "no over-fitting yet" in text


def test_curve_words_follow_the_curve():
    f, config = _findings(), TASK.config("brief")
    assert "rises every epoch" in prose(f, config)["curves"] and "flattens early" in prose(f, config)["curves"]
    wobbly = replace(f, curve=replace(f.curve, train_acc_rises=False, plateau_epoch=6))
    text = prose(wobbly, config)["curves"]
    assert "rises every epoch" not in text and "flattens early" not in text and "peaks at 98.00% at epoch 5" in text


def test_size_conclusion_when_the_first_mlp_is_the_largest_or_untested():
    f, config = _findings(), TASK.config("brief")
    assert "MLP 1000-1000-1000 has 1.5x the parameters of MLP 1000-1000" in prose(f, config)["size"]
    rows = list(f.rows)
    rows[1] = {**rows[1], "params": 1_000_000}
    first_largest = prose(replace(f, rows=tuple(rows), size=Verdict("", tested=False)), config)["size"]
    assert "MLP 1000-1000 is the largest MLP of this sweep" in first_largest and "tested" not in first_largest
    untested = prose(replace(f, size=Verdict("a - b = +1.00 points with one seed (not tested)", tested=False)),
                     config)["size"]
    assert "tested on this seed" not in untested and "not tested" in untested


def test_curve_summary():
    c = curve_summary(_history([0.90, 0.957, 0.96, 0.958], [0.3, 0.2, 0.25, 0.3], [0.9, 0.95, 0.94, 0.99]))
    assert (c.epochs, c.best_test_epoch, c.min_test_loss_epoch, c.plateau_epoch) == (4, 3, 2, 2)
    assert not c.train_acc_rises and c.test_loss_rose and c.flattens_early
    fall = curve_summary(_history([0.90, 0.96, 0.95, 0.90], [0.3, 0.2, 0.25, 0.3]))
    assert fall.plateau_epoch == 5 and not fall.flattens_early  # ends more than half a point below its best
