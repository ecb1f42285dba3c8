"""With several seeds the tasks draw their own key figures from every seed: means with 95% t-interval bars
that replace the first seed's figure in the aggregated result and on the report's page."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from matplotlib.container import ErrorbarContainer

import mnistlab.viz
from mnistlab.analysis.stats import t_interval
from mnistlab.execution.runner import run_tasks
from mnistlab.report.html import render
from mnistlab.tasks import REGISTRY, hparams, task6
from mnistlab.tasks.hparams.config import Config as HparamsConfig
from mnistlab.tasks.hparams.plan import metric_slug
from mnistlab.tasks.task6.config import Config as Task6Config

SEEDS = [0, 1]
TINY = {
    "task3": {"models": ("16", "8"), "epochs": 2, "train_limit": 300, "test_limit": 200},
    "task4": {"models": ("8k4s2",), "mlp_models": ("16",), "epochs": 2, "train_limit": 300, "test_limit": 200},
    "permutation": {"mlp": "16", "cnn": "8k4s2", "epochs": 2, "train_limit": 300, "test_limit": 200,
                    "datasets": ("mnist",)},
}


def _keeping(figures: dict[str, object]):
    """`save_figure` that also keeps every figure it saves in `figures`, by '<folder>/<file>'."""
    save = mnistlab.viz.save_figure

    def keep(fig, path, dpi=130):
        figures[f"{path.parent.name}/{path.name}"] = fig
        save(fig, path, dpi=dpi)

    return keep


@pytest.fixture
def drawn(monkeypatch) -> dict[str, object]:
    """Every figure saved while the test runs, by '<folder>/<file>'."""
    figures: dict[str, object] = {}
    monkeypatch.setattr(mnistlab.viz, "save_figure", _keeping(figures))
    return figures


def bars(ax) -> list[tuple[float, float, float]]:
    """(position, mean, half-width) of every error bar drawn on `ax`, vertical or horizontal."""
    out = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):
            (segments, *_) = container.lines[2]
            for (x0, y0), (x1, y1) in segments.get_segments():
                vertical = x0 == x1
                out.append((x0, (y0 + y1) / 2, abs(y1 - y0) / 2) if vertical else (y0, (x0 + x1) / 2, abs(x1 - x0) / 2))
    return out


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """Tasks 3 and 4 and the permutation task on a tiny slice with seeds 0 and 1, and the figures they drew."""
    out = tmp_path_factory.mktemp("seeds") / "results"
    mp = pytest.MonkeyPatch()
    figures: dict[str, object] = {}
    mp.setattr(mnistlab.viz, "save_figure", _keeping(figures))
    try:
        tasks = [REGISTRY[name] for name in TINY]
        stored = run_tasks(tasks, profile="quick", configs={t.name: t.config("quick", TINY[t.name]) for t in tasks},
                           out=out, device=torch.device("cpu"), seeds=SEEDS, show_progress=False, log=lambda _: None)
    finally:
        mp.undo()
    return out, stored, figures


@pytest.mark.parametrize(("task", "figure"), [("task3", "accuracy_vs_size.png"), ("task4", "accuracy_vs_size.png"),
                                              ("permutation", "accuracy.png")])
def test_the_first_seeds_key_figure_is_replaced_by_one_drawn_from_every_seed(two_seeds, task, figure):
    out, stored, _ = two_seeds
    figures = {f["file"]: f["caption"] for f in stored[task]["figures"]}
    assert figure in figures and f"seed-0/{figure}" not in figures
    assert figures[figure].startswith("Mean of 2 seeds, bars: 95% t-interval")
    assert (out / task / figure).stat().st_size > 1000
    assert (out / task / "seed-0" / figure).is_file()  # the per-seed figure stays in the seed's folder
    assert json.loads((out / task / "result.json").read_text())["figures"] == stored[task]["figures"]


def test_the_sweep_bars_are_the_t_intervals_of_the_per_seed_accuracies(two_seeds):
    _, stored, figures = two_seeds
    per_seed = stored["task3"]["per_seed_metrics"]
    accuracy = figures["task3/accuracy_vs_size.png"].axes[0]
    drawn = bars(accuracy)
    assert len(drawn) == 2  # MLP 16 and MLP 8
    for (_, mean, half), model in zip(drawn, ("mlp_16", "mlp_8"), strict=True):
        interval = t_interval([per_seed[str(s)][f"{model}_test_acc"] * 100 for s in SEEDS])
        assert mean == pytest.approx(interval.mean) and half == pytest.approx(interval.half_width)
    cnn, mlp = (bars(figures["task4/accuracy_vs_size.png"].axes[0]))
    task4 = stored["task4"]["per_seed_metrics"]
    assert cnn[2] == pytest.approx(t_interval([task4[str(s)]["cnn_8k4s2_test_acc"] * 100 for s in SEEDS]).half_width)
    assert mlp[2] == pytest.approx(t_interval([task4[str(s)]["mlp_first_test_acc"] * 100 for s in SEEDS]).half_width)


def test_the_permutation_curves_have_a_bar_per_epoch(two_seeds):
    _, stored, figures = two_seeds
    drawn = bars(figures["permutation/accuracy.png"].axes[0])
    assert len(drawn) == 4 * 2  # four networks, two epochs each
    last_epoch = [b for b in drawn if b[0] > 1.5]
    mlp = t_interval([stored["permutation"]["per_seed_metrics"][str(s)]["mlp_test_acc"] for s in SEEDS])
    assert any(m == pytest.approx(mlp.mean) and h == pytest.approx(mlp.half_width) for _, m, h in last_epoch)


def test_the_report_shows_the_figure_drawn_from_every_seed(two_seeds):
    out, _, _ = two_seeds
    page = render(out)
    assert page.count("<figcaption>Mean of 2 seeds, bars: 95% t-interval") == 3
    assert "Seed 0: Test accuracy and training time per epoch" not in page


def test_one_seed_keeps_the_tasks_own_figures(tmp_path):
    task = REGISTRY["task3"]
    stored = run_tasks([task], profile="quick", configs={"task3": task.config("quick", {**TINY["task3"], "epochs": 1})},
                       out=tmp_path, device=torch.device("cpu"), seeds=[0], show_progress=False, log=lambda _: None)
    captions = {f["file"]: f["caption"] for f in stored["task3"]["figures"]}
    assert captions["accuracy_vs_size.png"].startswith("Test accuracy and training time")


# ---- Task 6 and the hyperparameter studies draw from the seeds' metrics ---------------------------------

def test_task6_draws_accuracy_against_lambda_with_intervals(ctx, drawn):
    config = Task6Config(lambdas=(0.0, 0.5, 1.0), strategies=("uncertainty",), epochs=1)
    rng = np.random.default_rng(0)
    per_seed = {}
    for s in range(3):
        m = {"single_item_test_acc": 0.90 + 0.01 * s, "single_group_test_acc": 0.97 + 0.005 * s,
             "mtl_uncertainty_effective_lambda": 0.4 + 0.05 * s}
        for name in ("lambda_0", "lambda_0.5", "lambda_1", "uncertainty"):
            m[f"mtl_{name}_item_test_acc"] = 0.1 if name == "lambda_0" else 0.88 + 0.02 * rng.random()
            m[f"mtl_{name}_group_test_acc"] = 0.4 if name == "lambda_1" else 0.96 + 0.02 * rng.random()
        per_seed[s] = m
    (figure,) = task6.TASK.seed_figures(config, per_seed, ctx)
    assert figure.file == "accuracy_vs_lambda.png" and (ctx.out_dir / figure.file).is_file()
    item = bars(drawn["test-task/accuracy_vs_lambda.png"].axes[0])
    # lambda = 0 never trains the item head: drawn on the lower edge, without a bar
    assert [x for x, _, _ in item] == [0.5, 1.0, pytest.approx(0.45)]
    for (_, mean, half), name in zip(item, ("lambda_0.5", "lambda_1", "uncertainty"), strict=True):
        interval = t_interval([per_seed[s][f"mtl_{name}_item_test_acc"] for s in per_seed])
        assert mean == pytest.approx(interval.mean) and half == pytest.approx(interval.half_width)


def test_hparams_draws_each_change_from_its_reference_with_intervals(ctx, drawn):
    config = HparamsConfig(datasets=("mnist",), mlp_studies=("dropout",), cnn_studies=())
    study = config.studies()[0]
    per_seed = {s: {metric_slug("mnist", "MLP", "dropout", label) + "_test_acc": 0.95 + 0.01 * s * i
                    for i, label in enumerate(study.values)} for s in range(2)}
    (figure,) = hparams.TASK.seed_figures(config, per_seed, ctx)
    assert figure.file == "effects.png"
    drawn_bars = bars(drawn["test-task/effects.png"].axes[0])
    assert len(drawn_bars) == len(study.values) - 1  # every value but the reference
    for (_, mean, half), i in zip(sorted(drawn_bars, key=lambda b: -b[0]), range(1, len(study.values)), strict=True):
        change = [100 * 0.01 * s * i for s in range(2)]  # each seed's value minus that seed's reference
        assert mean == pytest.approx(np.mean(change)) and half == pytest.approx(t_interval(change).half_width)
