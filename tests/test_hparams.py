"""Extension: every study value builds what it says, the objectives and penalties, early stopping, the task."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.analysis.claims import PublishedClaim
from mnistlab.analysis.contrasts import ONE_RUN
from mnistlab.analysis.stats import Comparison
from mnistlab.data import load
from mnistlab.errors import ConfigError
from mnistlab.execution.runner import run_in_context
from mnistlab.models import MLPSpec
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.hparams import TASK
from mnistlab.tasks.hparams.config import CNN_REFERENCE, CNN_STUDIES, MLP_REFERENCE, MLP_STUDIES, Config
from mnistlab.tasks.hparams.findings import FamilyFindings, Findings, StoppingFindings, compute_findings
from mnistlab.tasks.hparams.networks import fit_recipe
from mnistlab.tasks.hparams.plan import metric_slug
from mnistlab.tasks.hparams.prose import REPORT_C_CLAIMS, prose
from mnistlab.train import count_parameters

ALL_STUDIES = [*MLP_STUDIES.values(), *CNN_STUDIES.values()]


def _layers(recipe, kind):
    return [m for m in recipe.spec.build().modules() if isinstance(m, kind)]


@pytest.mark.parametrize("study", ALL_STUDIES, ids=lambda s: f"{s.family}-{s.name}")
def test_every_study_lists_the_reference_and_changes_one_thing(study):
    ref = MLP_REFERENCE if study.family == "MLP" else CNN_REFERENCE
    assert study.values[study.reference] == ref
    x = torch.rand(3, 784) if study.family == "MLP" else torch.rand(3, 1, 28, 28)
    for label, recipe in study.values.items():
        assert recipe.family == study.family
        assert recipe.spec.build()(x).shape == (3, 10), label
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
    assert count_parameters(MLP_REFERENCE.spec.build()) == 784 * 256 + 256 + 256 * 256 + 256 + 2570
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
    assert count_parameters(strided.spec.build()) == count_parameters(CNN_REFERENCE.spec.build())
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
    model = model or recipe.spec.build()
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
    model = recipe.spec.build()
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
    result = run_in_context(TASK, config, ctx)
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
    config = for_device(config, ctx.device)  # the config as the runner ran it
    text = prose(compute_findings(config, ctx), config)
    assert list(text) == ["mnist MLP", "mnist CNN", "fashion-mnist MLP", "fashion-mnist CNN", "stopping", "datasets",
                          "report-c mlp", "report-c cnn"]
    # the context runs the quick profile: Report C's claims are mapped, not judged
    assert "are not judged" in text["report-c cnn"] and "agrees" not in text["report-c cnn"]
    assert text["mnist MLP"].startswith("mnist, MLP: the reference scored")
    assert f"{m['mnist_mlp_reference_test_acc']:.2%}" in text["mnist MLP"]
    assert list(result.paragraphs.values())[:-1] == list(text.values())
    assert list(result.paragraphs.values())[-1].startswith("Comparisons")  # the runner's tested contrasts
    again = run_in_context(TASK, config, ctx)
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
    assert "only differences whose p, adjusted over every value of the run (Holm; Benjamini-Hochberg from 10 values " \
           "on), is below 0.05 are read as effects of these networks" in mlp
    assert "The variable that mattered most was init: test accuracy ranged over 88.40 pp, from 'zeros' to 'he'. " in mlp
    assert ("Values that hurt: init 'zeros' (-88.00 pp). Values whose network scored detectably above the "
            "reference's: init 'he' (+0.40 pp).") in mlp
    assert "No detectable change throughout: output, dropout." in mlp  # by spread, widest first
    assert "next came output (1.20 pp)" in text["fashion-mnist MLP"] and "dropout (" not in text["fashion-mnist MLP"]
    assert text["stopping"] == ("Early stopping: 20 of the 22 distinct runs stopped after 5 epochs without a lower "
                                "validation loss (median best epoch 9.5); 2 reached the cap of 30 epochs, 1 of them "
                                "with their best validation loss in the last epoch, so they might have improved with "
                                "more epochs.")
    assert text["datasets"] == ("Across datasets: the median absolute change from the reference was 0.35 pp on "
                                "fashion-mnist and 0.12 pp on mnist. For the MLP the study with the widest spread was "
                                "the same on both (init).")
    # the findings the report lists: each family's reference and the typical change per dataset, each leading its
    # paragraph; what moved accuracy rests on one seed's networks (one training run each) and stays in the detail,
    # and how the runs stopped is method, no finding
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert found["mnist MLP"] == ("mnist, MLP: the reference scored 98.10% on the test set (best epoch 12 of 17; one "
                                  "accuracy on 10,000 test images carries a 95% sampling interval of about +-0.27 pp).")
    assert ONE_RUN in mlp and ONE_RUN not in found["mnist MLP"] and "mattered most" not in found["mnist MLP"]
    assert found["datasets"] == ("Across datasets: the median absolute change from the reference was 0.35 pp on "
                                 "fashion-mnist and 0.12 pp on mnist.")
    assert found["stopping"] == "" and found["fashion-mnist MLP"].startswith("fashion-mnist, MLP: the reference")
    assert all(text[key].startswith(finding) for key, finding in found.items())


def test_hparams_prose_claims_follow_their_conditions():
    quiet = _hfindings(families=[_family(moved=(), hurt=(), helped=())], typical_pp={})
    text = prose(quiet, replace(BRIEF, datasets=("mnist",)))
    assert "No value of any study changed test accuracy detectably." in text["mnist MLP"]
    assert "mattered most" not in text["mnist MLP"] and "No detectable change throughout" not in text["mnist MLP"]
    only_hurt = prose(_hfindings(families=[_family(helped=())]), BRIEF)["mnist MLP"]
    assert "No value's network scored detectably above the reference's." in only_hurt
    assert "above the reference's:" not in only_hurt
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


# ---- Report C's qualitative findings, judged on hand-made rows by paragraph id ---------------------------------


def _value_row(study, label, dataset, acc, p, ref_acc, losses):
    reference = label == study.reference
    row = {"dataset": dataset, "study": study, "label": label, "family": study.family, "recipe": study.values[label],
           "reference": reference, "test_acc": acc, "history": [{"val_loss": v} for v in losses]}
    if not reference:  # a 95% interval of +-0.20 pp on every difference from the reference
        row |= {"p": p, "comparison": Comparison(acc - ref_acc, 0.002, p, 10_000, "McNemar")}
    return row


def _study_rows(study, dataset="mnist", changes=None, ref_acc=0.98):
    """One study's rows: every value at the reference's accuracy, not detectably different (p = 0.5), with the
    same validation losses, unless `changes` gives a value's (accuracy, p[, validation losses])."""
    rows = []
    for label in study.values:
        acc, p, *losses = (changes or {}).get(label, (ref_acc, 0.5))
        rows.append(_value_row(study, label, dataset, acc, p, ref_acc, losses[0] if losses else (0.5, 0.3, 0.2)))
    return rows


def _report_c(*rows, smoke_test=False, family="mlp"):
    return prose(_hfindings(rows=[r for study_rows in rows for r in study_rows], smoke_test=smoke_test),
                 BRIEF)[f"report-c {family}"]


def _sentence(text, claim):
    """The sentence of `text` on Report C's `claim`, up to the next claim."""
    start = text.index(f"Report C: '{claim}")
    end = text.find("Report C: '", start + 1)
    return text[start:end if end > 0 else len(text)]


def test_report_c_zero_init_agrees_only_when_our_zero_init_is_detectably_worse():
    worse = _report_c(_study_rows(MLP_STUDIES["init"], changes={"zeros": (0.1135, 1e-30)}))
    assert worse.startswith("Beside Report C, MLP: Report C's qualitative findings, set against ours (Report C is a "
                            "written solution of Leiden University's")
    assert "so only the direction of each effect is compared" in worse
    claim = _sentence(worse, "zero or constant weight initialisation fails")
    assert claim == ("Report C: 'zero or constant weight initialisation fails' - ours: our MLP init study ('default' "
                     "(reference), 'glorot', 'he', 'N(0, 1)', 'zeros'), without a constant non-zero initialisation. "
                     "mnist: agrees, 'zeros' 11.35% vs 'default' 98.00%: -86.65 +- 0.20 pp (McNemar, adjusted "
                     "p < 0.001). ")
    assert finding_of(worse) == ""  # verdicts on one seed's networks: discussion, not a finding
    alike = _report_c(_study_rows(MLP_STUDIES["init"], changes={"zeros": (0.979, 0.31)}))
    assert ("mnist: differs, 'zeros' 97.90% vs 'default' 98.00%: -0.10 +- 0.20 pp (McNemar, adjusted p = 0.310)."
            in _sentence(alike, "zero or constant weight initialisation fails"))
    # a detectable difference for the better is no failure either
    better = _report_c(_study_rows(MLP_STUDIES["init"], changes={"zeros": (0.985, 0.01)}))
    assert "mnist: differs" in _sentence(better, "zero or constant weight initialisation fails")


def test_report_c_claims_we_do_not_study_are_not_compared_and_say_what_we_study_instead():
    text = _report_c(_study_rows(MLP_STUDIES["loss"]), _study_rows(MLP_STUDIES["init"]))
    poisson = _sentence(text, "Poisson loss worst")
    assert poisson.startswith("Report C: 'Poisson loss worst' - ours: our MLP loss study ('cross-entropy' "
                              "(reference), 'CE, smoothing 0.1', 'MSE'), without a Poisson loss. mnist: not "
                              "compared, our values instead: 'CE, smoothing 0.1' 98.00% vs 'cross-entropy' 98.00%")
    # a study this run did not make cannot be compared either
    assert "mnist: not compared, our dropout study was not part of this run." in text
    assert "agrees" not in _sentence(text, "dropout 0.9 underfits, 0-0.5 alike")
    # six claims on mnist: zero init differs (it is no worse here), the other five are not compared
    assert text.endswith("In all, of 6 verdicts (claim x data set): 0 agree, 1 differ, 5 cannot be compared.")


def test_report_c_fashion_mnist_claim_is_judged_on_fashion_mnist_only():
    stride = CNN_STUDIES["stride"]
    only_mnist = _report_c(_study_rows(stride), family="cnn")
    claim = _sentence(only_mnist, "stride 8 about 5 points below stride 1 on Fashion-MNIST")
    assert "fashion-mnist: not compared, fashion-mnist was not part of this run." in claim
    assert "mnist: not compared, our values" not in claim
    both = _report_c(_study_rows(stride), _study_rows(stride, "fashion-mnist", {"2, no pool": (0.88, 0.001)},
                                                      ref_acc=0.9), family="cnn")
    claim = _sentence(both, "stride 8 about 5 points below stride 1 on Fashion-MNIST")
    assert ("without stride 8. fashion-mnist: not compared, our values instead: '2, no pool' 88.00% vs "
            "'1 + max-pool' 90.00%: -2.00 +- 0.20 pp (McNemar, adjusted p = 0.001).") in claim


def test_report_c_optimisers_converge_faster_by_epochs_to_a_common_validation_loss():
    adaptive = (0.98, 0.5, (0.3, 0.1, 0.09, 0.1))
    fast = _report_c(_study_rows(MLP_STUDIES["optimizer"], changes={
        "sgd 0.01": (0.975, 0.01, (0.9, 0.5, 0.3, 0.2, 0.15, 0.12, 0.1, 0.095)),
        "adam 1e-3": adaptive, "rmsprop 1e-3": adaptive}))
    claim = _sentence(fast, "RMSprop/Adam/Nadam converge about 3x faster than SGD")
    # the target is the higher of the two minima (SGD's 0.095): adam reaches it in epoch 3, SGD in epoch 8
    assert ("mnist: agrees, to the validation loss both reach (0.0950) 'adam 1e-3' took 3 and 'sgd 0.01' 8 epochs "
            "(2.7x); to the validation loss both reach (0.0950) 'rmsprop 1e-3' took 3") in claim
    slow = _report_c(_study_rows(MLP_STUDIES["optimizer"], changes={
        "sgd 0.01": (0.975, 0.01, (0.5, 0.2, 0.08)), "adam 1e-3": adaptive, "rmsprop 1e-3": adaptive}))
    assert "mnist: differs, to the validation loss both reach (0.0900) 'adam 1e-3' took 3 and 'sgd 0.01' 3 epochs " \
           "(1.0x)" in _sentence(slow, "RMSprop/Adam/Nadam converge about 3x faster than SGD")


def test_report_c_batch_size_and_kernel_claims_follow_their_rules():
    batch = MLP_STUDIES["batch_size"]
    falls = _report_c(_study_rows(batch, changes={"16": (0.982, 0.2), "1024": (0.97, 0.001)}))
    assert "mnist: agrees, '128' 98.00% vs '16' 98.20%" in _sentence(falls, "accuracy falls as batch size grows")
    # a larger batch that is detectably better breaks the claim even though the largest is the worst
    rises = _report_c(_study_rows(batch, changes={"16": (0.97, 0.001), "1024": (0.965, 0.001)}))
    assert "mnist: differs" in _sentence(rises, "accuracy falls as batch size grows")
    kernel = CNN_STUDIES["kernel"]
    lower = _report_c(_study_rows(kernel, changes={"7x7": (0.97, 0.001, (0.2, 0.1, 0.12))}), family="cnn")
    assert ("mnist: agrees, to the validation loss both reach (0.2000) '7x7' took 1 and '3x3' 3 epochs (3.0x); "
            "'7x7' 97.00% vs '3x3' 98.00%: -1.00 +- 0.20 pp (McNemar, adjusted p = 0.001).") in lower
    not_lower = _report_c(_study_rows(kernel, changes={"7x7": (0.98, 0.5, (0.2, 0.1, 0.12))}), family="cnn")
    assert "mnist: differs" in _sentence(not_lower, "larger kernels converge faster but end lower")


def test_report_c_within_a_threshold_fails_only_beyond_the_interval():
    pooling = CNN_STUDIES["pooling"]
    near = _report_c(_study_rows(pooling, changes={"none": (0.9745, 0.001)}), family="cnn")
    # -0.55 pp, but within 0.4 pp once its +-0.20 pp interval is allowed for
    assert "more than 0.4 pp from 'max' beyond its interval: none." in near
    assert "mnist: agrees" in _sentence(near, "pooling changes accuracy by about 0.4 points or less")
    far = _report_c(_study_rows(pooling, changes={"none": (0.973, 0.001)}), family="cnn")
    assert "mnist: differs" in _sentence(far, "pooling changes accuracy by about 0.4 points or less")
    assert "more than 0.4 pp from 'max' beyond its interval: 'none'." in far
    # depth: against one layer, not the reference; '4' against '1' combines both intervals: +-0.28 pp
    depth = _report_c(_study_rows(CNN_STUDIES["depth"], changes={"1": (0.979, 0.1), "4": (0.9825, 0.01)}),
                      family="cnn")
    claim = _sentence(depth, "one conv + pool layer within 0.2 points of deeper nets")
    assert ("'4' 98.25% vs '1' 97.90%: +0.35 +- 0.28 pp (interval from both values' tests against the reference)"
            in claim)
    assert "'2' 98.00% vs '1' 97.90%: +0.10 +- 0.20 pp (McNemar, adjusted p = 0.100)" in claim
    assert "mnist: agrees" in claim


def test_report_c_paragraphs_state_no_findings_in_the_quick_profile():
    text = _report_c(_study_rows(MLP_STUDIES["init"], changes={"zeros": (0.1135, 1e-30)}), smoke_test=True)
    assert text.startswith("Beside Report C, MLP: in the quick profile (a smoke test: subsets and 1-2 epochs) "
                           "Report C's qualitative findings are not judged; a full profile sets each against ours: "
                           "'zero or constant weight initialisation fails' against our MLP init study")
    assert not [word for word in ("agree", "differ", "not compared", "%") if word in text]
    assert "report-c cnn" not in prose(_hfindings(rows=_study_rows(MLP_STUDIES["init"])), BRIEF)


def test_every_report_c_claim_is_judged_on_the_values_its_study_declares():
    """Every study on both datasets: each rule finds the labels it names (a KeyError otherwise) and judges."""
    rows = [r for d in ("mnist", "fashion-mnist") for s in ALL_STUDIES for r in _study_rows(s, d)]
    text = prose(_hfindings(rows=rows), BRIEF)
    for family, claims in REPORT_C_CLAIMS.items():
        assert len({c.id for c in claims}) == len(claims), family
        paragraph = text[f"report-c {family.lower()}"]
        verdicts = 2 * len(claims) - sum(c.datasets == ("fashion-mnist",) for c in claims)
        assert f"In all, of {verdicts} verdicts" in paragraph, family
        assert all(f"Report C: '{c.claim}'" in paragraph for c in claims)
        assert "not part of this run" not in paragraph
    with pytest.raises(ValueError, match="unknown source label 'Report Z'"):
        PublishedClaim("x", "Report Z", "a claim", "ours", judge=lambda rows: None)
