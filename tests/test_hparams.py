"""Extension: every study value builds what it says, the objectives and penalties, early stopping, the task."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError
from mnistlab.models import MLPSpec
from mnistlab.tasks.hparams import (
    CNN_REFERENCE,
    CNN_STUDIES,
    MLP_REFERENCE,
    MLP_STUDIES,
    TASK,
    Config,
    FamilyFindings,
    Findings,
    StoppingFindings,
    build_net,
    compute_findings,
    fit_recipe,
    metric_slug,
    prose,
)
from mnistlab.train import count_parameters

ALL_STUDIES = [*MLP_STUDIES.values(), *CNN_STUDIES.values()]


def _layers(recipe, kind):
    return [m for m in build_net(recipe).modules() if isinstance(m, kind)]


@pytest.mark.parametrize("study", ALL_STUDIES, ids=lambda s: f"{s.family}-{s.name}")
def test_every_study_lists_the_reference_and_changes_one_thing(study):
    ref = MLP_REFERENCE if study.family == "MLP" else CNN_REFERENCE
    assert study.values[study.reference] == ref
    x = torch.rand(3, 784) if study.family == "MLP" else torch.rand(3, 1, 28, 28)
    for label, recipe in study.values.items():
        assert recipe.family == study.family
        assert build_net(recipe)(x).shape == (3, 10), label
        # one variable: either the network changes or how it is trained/initialised does, never both
        changed = {k for k in vars(recipe) if getattr(recipe, k) != getattr(ref, k)}
        assert (recipe == ref) == (not changed), label
        assert changed in ({"spec"}, set()) or "spec" not in changed, label


def test_mlp_studies_build_dropout_depth_and_width():
    dropout = MLP_STUDIES["dropout"].values
    assert not _layers(dropout["0"], nn.Dropout)
    assert [m.p for m in _layers(dropout["0.5"], nn.Dropout)] == [0.5, 0.5]
    depths = MLP_STUDIES["depth"].values
    assert [len(_layers(depths[d], nn.Linear)) for d in "1234"] == [2, 3, 4, 5]
    assert count_parameters(build_net(MLP_REFERENCE)) == 784 * 256 + 256 + 256 * 256 + 256 + 2570
    assert _layers(MLP_STUDIES["width"].values["1024-1024"], nn.Linear)[0].out_features == 1024


def test_cnn_studies_build_pooling_stride_padding_kernels_and_depth():
    pooling = CNN_STUDIES["pooling"].values
    assert len(_layers(pooling["max"], nn.MaxPool2d)) == 2 and not _layers(pooling["max"], nn.AvgPool2d)
    assert len(_layers(pooling["avg"], nn.AvgPool2d)) == 2 and not _layers(pooling["avg"], nn.MaxPool2d)
    assert not _layers(pooling["none"], nn.MaxPool2d | nn.AvgPool2d)
    # stride 2 instead of pooling: the same 32x7x7 maps reach the linear layer, so the same parameter count
    strided = CNN_STUDIES["stride"].values["2, no pool"]
    assert [c.stride for c in _layers(strided, nn.Conv2d)] == [(2, 2), (2, 2)]
    assert not _layers(strided, nn.MaxPool2d)
    assert count_parameters(build_net(strided)) == count_parameters(build_net(CNN_REFERENCE))
    assert _layers(CNN_REFERENCE, nn.Linear)[0].in_features == 32 * 7 * 7
    valid = CNN_STUDIES["padding"].values["valid"]
    assert _layers(valid, nn.Linear)[0].in_features == 32 * 5 * 5  # 28 -> 26 -> 13 -> 11 -> 5
    assert [c.kernel_size for c in _layers(CNN_STUDIES["kernel"].values["7x7"], nn.Conv2d)] == [(7, 7)] * 2
    assert [len(_layers(CNN_STUDIES["depth"].values[d], nn.Conv2d)) for d in "1234"] == [1, 2, 3, 4]


def test_inits_set_the_scale_they_promise():
    values = MLP_STUDIES["init"].values
    torch.manual_seed(0)
    first = {label: _layers(recipe, nn.Linear)[0] for label, recipe in values.items()}
    assert all(torch.count_nonzero(p) == 0 for p in first["zeros"].parameters())
    assert first["N(0, 1)"].weight.std().item() == pytest.approx(1.0, rel=0.02)
    assert first["he"].weight.std().item() == pytest.approx(math.sqrt(2 / 784), rel=0.02)
    assert first["glorot"].weight.abs().max().item() <= math.sqrt(6 / (784 + 256))
    assert first["default"].weight.abs().max().item() <= 1 / math.sqrt(784)
    for label in ("he", "N(0, 1)", "glorot"):
        assert torch.count_nonzero(first[label].bias) == 0, label


def _objective(model=None, **changes):
    """A small MLP (or `model`) and the objective of the reference recipe with `changes`."""
    recipe = replace(MLP_REFERENCE, spec=MLPSpec(hidden=(8,)), **changes)
    model = model or build_net(recipe)
    return model, recipe.objective(model)


def test_kernel_penalties_are_on_weights_only_and_fall_when_weights_shrink():
    torch.manual_seed(0)
    model, l1 = _objective(kernel_l1=1e-3)
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    expected = 1e-3 * sum(w.abs().sum() for w in weights)
    assert l1.penalty().item() == pytest.approx(expected.item()) and expected > 0
    _, l2 = _objective(model, kernel_l2=1e-3)
    before_l1, before_l2 = l1.penalty().item(), l2.penalty().item()
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.bias.add_(5.0)  # biases are not kernels: no change
        assert l1.penalty().item() == pytest.approx(before_l1)
        for w in weights:
            w.mul_(0.5)
    assert l1.penalty().item() == pytest.approx(before_l1 / 2)
    assert l2.penalty().item() == pytest.approx(before_l2 / 4)
    assert _objective()[1].penalty().item() == 0


def test_bias_penalty_is_on_biases_only_and_adds_to_the_loss():
    torch.manual_seed(0)
    model, objective = _objective(bias_l2=0.5)
    biases = [m.bias for m in model if isinstance(m, nn.Linear)]
    assert objective.penalty().item() == pytest.approx(0.5 * sum(b.square().sum() for b in biases).item())
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    assert objective.penalty().item() == pytest.approx(0.5 * sum(b.square().sum() for b in biases).item())
    logits, y = torch.randn(4, 10), torch.tensor([1, 2, 3, 4])
    assert objective((logits,), (y,)).item() == pytest.approx(
        F.cross_entropy(logits, y).item() + objective.penalty().item())


def test_losses_match_their_definitions():
    torch.manual_seed(0)
    logits, y = torch.randn(6, 10), torch.tensor([0, 1, 2, 3, 4, 5])
    onehot = F.one_hot(y, 10).float()
    ce = _objective()[1]
    mse = _objective(loss="mse")[1]
    bce = _objective(output="sigmoid")[1]
    smooth = _objective(loss="ce-smooth")[1]
    assert ce((logits,), (y,)).item() == pytest.approx(-logits.log_softmax(1)[range(6), y].mean().item())
    assert mse((logits,), (y,)).item() == pytest.approx(((logits.softmax(1) - onehot) ** 2).mean().item())
    p = logits.sigmoid()
    assert bce((logits,), (y,)).item() == pytest.approx(
        -(onehot * p.log() + (1 - onehot) * (1 - p).log()).mean().item(), rel=1e-5)
    target = onehot * 0.9 + 0.01
    assert smooth((logits,), (y,)).item() == pytest.approx(-(target * logits.log_softmax(1)).sum(1).mean().item())
    with pytest.raises(ConfigError):
        _objective(output="sigmoid", loss="ce-smooth")


def test_early_stopping_stops_and_restores_the_best_epoch():
    """Validation labels shuffled: the better the network fits the training digits, the worse its validation
    loss gets, so it must stop `patience` epochs after its best and hand back that epoch's weights."""
    x, y = load("mnist", "train", view="flat", limit=500)
    g = torch.Generator().manual_seed(0)
    val = (x[400:], y[400:][torch.randperm(100, generator=g)])
    recipe = replace(MLP_REFERENCE, spec=MLPSpec(hidden=(32,)), lr=3e-3, batch_size=20)
    config = Config(datasets=("mnist",), max_epochs=40, patience=2, precision="fp32")
    torch.manual_seed(0)
    model = build_net(recipe)
    record = fit_recipe(model, recipe, (x[:400], y[:400]), val, val, config.train_config(recipe), seed=0,
                        show_progress=False)
    assert record["stopped_early"] and record["epochs_run"] < 40
    assert record["epochs_run"] == record["best_epoch"] + 2
    losses = [h["val_loss"] for h in record["history"]]
    assert record["val_loss"] == min(losses)
    assert record["test_loss"] == pytest.approx(min(losses), rel=1e-5)  # test = val here: the best weights


def test_task_end_to_end_and_a_rerun_trains_nothing(ctx):
    config = Config(datasets=("mnist", "fashion-mnist"), mlp_studies=("dropout", "output"),
                    cnn_studies=("pooling",), max_epochs=2, patience=1, train_limit=300, test_limit=200)
    config.validate()
    result = TASK.run(config, ctx)
    unique_runs = 2 * ((1 + 2 + 1) + (1 + 2))  # per dataset: the MLP reference shared by two studies
    assert ctx.cache.misses == unique_runs
    rows = result.tables["summary"].rows
    assert len(rows) == 2 * (3 + 2 + 3)
    assert sum(row[9] == "reference" for row in rows) == 2 * 3
    m = result.metrics
    for dataset in ("mnist", "fashion_mnist"):
        assert m[f"{dataset}_mlp_dropout_0_test_acc"] == m[f"{dataset}_mlp_output_softmax_ce_test_acc"]
        assert 0 <= m[f"{dataset}_cnn_pooling_avg_test_acc"] <= 1
        assert m[f"{dataset}_mlp_reference_test_acc"] == m[f"{dataset}_mlp_dropout_0_test_acc"]
    assert m["mnist_mlp_dropout_0_test_acc"] > 0.5  # it learned something in two epochs
    assert {"curves_mnist_mlp.png", "curves_fashion_mnist_cnn.png", "effects.png"} <= {
        p.name for p in ctx.out_dir.iterdir()}
    text = prose(compute_findings(config, ctx), config)
    assert list(text) == ["mnist MLP", "mnist CNN", "fashion-mnist MLP", "fashion-mnist CNN", "stopping", "datasets"]
    assert text["mnist MLP"].startswith("mnist, MLP: the reference scored")
    assert f"{m['mnist_mlp_reference_test_acc']:.2%}" in text["mnist MLP"]
    assert result.text == list(text.values())
    again = TASK.run(config, ctx)
    assert ctx.cache.misses == unique_runs and ctx.cache.hits == unique_runs
    assert again.metrics == result.metrics


def test_metric_names_are_sanitised():
    assert metric_slug("fashion-mnist", "MLP", "init", "N(0, 1)") == "fashion_mnist_mlp_init_n_0_1"


@pytest.mark.parametrize("bad", [
    {"mlp_studies": ("dropout", "nonsense")}, {"cnn_studies": ("pooling", "pooling")},
    {"mlp_studies": (), "cnn_studies": ()}, {"datasets": ("cifar",)}, {"datasets": ()},
    {"val_fraction": 0.0}, {"val_fraction": 1.0}, {"train_limit": 1}, {"patience": 0}, {"max_epochs": 0},
    {"precision": "fp16"}, {"test_limit": 20_000},
])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)


def test_unknown_study_error_names_the_choices():
    with pytest.raises(ConfigError, match="unknown study 'nonsense' in mlp_studies; choose from init, dropout"):
        TASK.config("brief", {"mlp_studies": ("nonsense",)})


# ---- the prose against hand-made findings, by paragraph id ------------------------------------------------


def _family(dataset="mnist", family="MLP", moved=("init",), hurt=(("init", "zeros", -88.0),),
            helped=(("init", "he", 0.4),)) -> FamilyFindings:
    spreads = {"init": (88.4, "he", "zeros"), "dropout": (0.3, "0.2", "0.5"), "output": (1.2, "softmax + CE",
                                                                                        "sigmoid + BCE")}
    return FamilyFindings(dataset, family, 0.981, 12, 17, 0.27, spreads, frozenset(moved), list(hurt), list(helped))


def _hfindings(**changes) -> Findings:
    f = Findings(rows=[], n_test=10_000, seed=0,
                 families=[_family(), _family("fashion-mnist", moved=("init", "output"))],
                 stopping=StoppingFindings(runs=22, stopped=20, median_best_epoch=9.5, capped=2, capped_best_last=1),
                 typical_pp={"mnist": 0.12, "fashion-mnist": 0.35})
    return replace(f, **changes)


BRIEF = Config()


def test_hparams_prose_quotes_the_findings():
    text = prose(_hfindings(), BRIEF)
    assert list(text) == ["mnist MLP", "fashion-mnist MLP", "stopping", "datasets"]
    mlp = text["mnist MLP"]
    assert mlp.startswith("mnist, MLP: the reference scored 98.10% on the test set (best epoch 12 of 17; one "
                          "accuracy on 10,000 test images carries a 95% sampling interval of about +-0.27 pp)")
    assert "only differences with p < 0.05 are read as effects" in mlp
    assert "The variable that mattered most was init: test accuracy ranged over 88.40 pp, from 'zeros' to 'he'. " in mlp
    assert "Values that hurt: init 'zeros' (-88.00 pp). Values that beat the reference: init 'he' (+0.40 pp)." in mlp
    assert "No detectable change throughout: output, dropout." in mlp  # by spread, widest first
    assert "next came output (1.20 pp)" in text["fashion-mnist MLP"] and "dropout (" not in text["fashion-mnist MLP"]
    assert text["stopping"] == ("Early stopping: 20 of the 22 distinct runs stopped after 5 epochs without a lower "
                                "validation loss (median best epoch 9.5); 2 reached the cap of 30 epochs, 1 of them "
                                "with their best validation loss in the last epoch, so they might have improved with "
                                "more epochs.")
    assert text["datasets"] == ("Across datasets: the median absolute change from the reference was 0.35 pp on "
                                "fashion-mnist and 0.12 pp on mnist. For the MLP the study with the widest spread was "
                                "the same on both (init).")


def test_hparams_prose_claims_follow_their_conditions():
    quiet = _hfindings(families=[_family(moved=(), hurt=(), helped=())], typical_pp={})
    text = prose(quiet, replace(BRIEF, datasets=("mnist",)))
    assert "No value of any study changed test accuracy detectably." in text["mnist MLP"]
    assert "mattered most" not in text["mnist MLP"] and "No detectable change throughout" not in text["mnist MLP"]
    only_hurt = prose(_hfindings(families=[_family(helped=())]), BRIEF)["mnist MLP"]
    assert "No value beat the reference detectably." in only_hurt and "beat the reference:" not in only_hurt
    # one dataset: no comparison across datasets
    assert "datasets" not in prose(_hfindings(typical_pp={}), replace(BRIEF, datasets=("mnist",)))
    # the widest study differs between the datasets
    other = _family("fashion-mnist")
    other = replace(other, spreads={**other.spreads, "dropout": (90.0, "0", "0.5")})
    text = prose(_hfindings(families=[_family(), other]), BRIEF)["datasets"]
    assert "the study with the widest spread was init on mnist but dropout on fashion-mnist" in text
    # a cap no longer than the patience: no run could stop early, and nothing is said about more epochs
    short = replace(BRIEF, max_epochs=2, patience=2)
    stop = prose(_hfindings(stopping=StoppingFindings(22, 0, None, 22, 22)), short)["stopping"]
    assert "none could stop early" in stop and "might have improved" not in stop and "median" not in stop
    assert "after 1 epoch without" in prose(_hfindings(), replace(BRIEF, patience=1))["stopping"]
