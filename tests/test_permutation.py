"""Extension: the fixed pixel permutation, the MLP's exact invariance to it, and the task end to end."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from mnistlab.analysis.contrasts import ONE_RUN
from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.errors import ConfigError, DataError
from mnistlab.execution.runner import run_in_context
from mnistlab.models import MLPSpec, build_mlp
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.permutation import TASK
from mnistlab.tasks.permutation.config import Config
from mnistlab.tasks.permutation.findings import (
    DatasetFindings,
    Findings,
    NetFindings,
    compute_findings,
    rewired_mlp_accuracy,
)
from mnistlab.tasks.permutation.prose import prose
from mnistlab.train import TrainConfig, evaluate


def test_permutation_is_fixed_by_its_seed_and_shuffles_flat_and_image_views_alike():
    p = pixel_permutation(3)
    assert torch.equal(p, pixel_permutation(3)) and not torch.equal(p, pixel_permutation(4))
    assert torch.equal(torch.sort(p).values, torch.arange(784))
    x, _ = load("mnist", "test", view="image", limit=5)
    shuffled = permute_pixels(x, p)
    assert shuffled.shape == x.shape
    assert torch.equal(permute_pixels(x.flatten(1), p), shuffled.flatten(1))
    assert torch.equal(shuffled.flatten(1)[:, torch.argsort(p)], x.flatten(1))  # undone by the inverse
    with pytest.raises(DataError, match="784 pixels"):
        permute_pixels(torch.zeros(2, 100), p)


def test_an_mlp_with_permuted_first_layer_is_the_same_function_on_permuted_pixels():
    x, y = load("mnist", "test", view="flat", limit=300)
    torch.manual_seed(0)
    model = build_mlp(MLPSpec(hidden=(32,)))
    p = pixel_permutation(0)
    cfg = TrainConfig()
    before = evaluate(model, x, y)["acc"]
    assert rewired_mlp_accuracy(model, p, permute_pixels(x, p), y, cfg) == before
    assert evaluate(model, x, y)["acc"] == before  # the model's own weights are restored


def test_task_trains_both_networks_on_both_pixel_orders_and_reruns_from_cache(ctx):
    assert "permutation" in REGISTRY
    config = Config(mlp="64", cnn="8k4s2-16k4s2", epochs=2, mlp_batch_size=25, cnn_batch_size=25, lr=3e-3,
                    train_limit=300, test_limit=200)  # both datasets, as in the brief profile
    config.validate()
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    for key in ("mlp_test_acc", "mlp_permuted_test_acc", "cnn_test_acc", "cnn_permuted_test_acc"):
        assert 0.1 < m[key] <= 1
        assert 0.1 < m["fashion_mnist_" + key] <= 1
    assert m["mlp_rewired_permuted_test_acc"] == pytest.approx(m["mlp_test_acc"])
    assert m["fashion_mnist_mlp_rewired_permuted_test_acc"] == pytest.approx(m["fashion_mnist_mlp_test_acc"])
    assert ctx.cache.misses == 8  # per dataset: the permuted networks have their own cache keys
    assert {"examples.png", "accuracy.png", "accuracy_fashion_mnist.png"} <= {p.name for p in ctx.out_dir.iterdir()}
    assert [row[0] for row in result.tables["accuracy"].rows] == ["mnist"] * 2 + ["fashion-mnist"] * 2
    config = for_device(config, ctx.device)  # the config as the runner ran it
    text = prose(compute_findings(config, ctx), config)
    assert list(text) == ["mnist mlp", "mnist cnn", "fashion-mnist mlp", "fashion-mnist cnn", "report-c"]
    assert "are not judged" in text["report-c"]  # the context runs the quick profile
    assert list(result.paragraphs.values())[:-1] == list(text.values())
    assert list(result.paragraphs.values())[-1].startswith("Comparisons")  # the runner's tested contrasts
    # the CNN named is the one that ran (8k4s2-16k4s2), not the brief's CNN-1
    assert text["fashion-mnist cnn"].startswith("fashion-mnist: CNN 8k4s2-16k4s2 scored")
    assert "CNN-1" not in " ".join(text.values())
    # each network's paragraph leads with its accuracies; the one-seed tests stay out of the findings
    assert [key for key, paragraph in text.items() if finding_of(paragraph)] == list(text)[:-1]
    assert not any(ONE_RUN in finding_of(paragraph) for paragraph in result.paragraphs.values())
    run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == 8 and ctx.cache.hits == 8


@pytest.mark.parametrize("bad", [{"mlp": "10-x"}, {"cnn": "32k4"}, {"permutation_seed": -1}, {"epochs": 0},
                                 {"train_limit": 0}, {"datasets": ()}, {"datasets": ("emnist",)},
                                 {"datasets": ("mnist", "mnist")}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)


# ---- the prose against hand-made findings, by paragraph id ------------------------------------------------


def _net(family, acc, perm, p, name):
    return NetFindings(family, name, 1000, acc + 0.01, acc, perm + 0.01, perm, 10.0, [], [],
                       verdict=f"{family} verdict", p=p)


def _dataset(mlp_p=0.8, cnn_p=0.001, rewired=0.9810) -> DatasetFindings:
    return DatasetFindings("mnist", _net("MLP", 0.9810, 0.9805, mlp_p, "MLP 1000-1000"),
                           _net("CNN", 0.9900, 0.9700, cnn_p, "CNN 32k4s1-64k4s2-128k4s2"), rewired, 10_000,
                           (np.zeros((8, 784)), np.zeros((8, 784)), np.zeros(8)))


def test_permutation_prose_quotes_the_findings():
    text = prose(Findings([_dataset()]), Config(datasets=("mnist",)))
    assert list(text) == ["mnist mlp", "mnist cnn", "report-c"]
    assert text["mnist mlp"].startswith("mnist: the MLP scored 98.10% on original and 98.05% on permuted pixels "
                                        "(-0.05 pp; the 95% sampling interval of one such accuracy on 10,000 test "
                                        "images is about +/-0.3 pp). As it should be")
    assert "scores 98.10% on the permuted test images against 98.10% before - the same function." in text["mnist mlp"]
    assert text["mnist cnn"].startswith("mnist: CNN-1 scored 99.00% on original and 97.00% on permuted pixels "
                                        "(-2.00 pp). Tested on this seed's test predictions: CNN verdict (the MLP: "
                                        "MLP verdict).")
    assert "its 4x4 kernels" in text["mnist cnn"] and "each kernel sees 16 scattered pixels" in text["mnist cnn"]
    # the findings the report lists: each network's accuracies on both pixel orders, leading its paragraph; the
    # McNemar verdicts (this seed, one trained network each) and Report C's verdicts built on them are discussion
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert found["mnist mlp"] == ("mnist: the MLP scored 98.10% on original and 98.05% on permuted pixels (-0.05 pp; "
                                  "the 95% sampling interval of one such accuracy on 10,000 test images is about "
                                  "+/-0.3 pp).")
    assert found["mnist cnn"] == "mnist: CNN-1 scored 99.00% on original and 97.00% on permuted pixels (-2.00 pp)."
    assert found["report-c"] == "" and all(text[key].startswith(found[key]) for key in text)
    assert not any("verdict" in finding for finding in found.values())


def test_permutation_prose_claims_follow_their_conditions():
    config = Config(datasets=("mnist",))
    detected = prose(Findings([_dataset(mlp_p=0.01)]), config)["mnist mlp"]
    assert "As it should be" not in detected and "The difference is detectable on this seed" in detected
    assert "detectable" not in finding_of(detected)  # a one-seed test: discussion, not a finding
    claims = prose(_both(_dataset()), Config())["report-c"]
    assert ONE_RUN in claims and finding_of(claims) == ""
    rounded = prose(Findings([_dataset(rewired=0.9780)]), config)["mnist mlp"]
    assert "the same function up to the rounding" in rounded
    other = replace(config, cnn="8k5s2-16k3s2")
    d = _dataset()
    text = prose(Findings([replace(d, cnn=replace(d.cnn, name="CNN 8k5s2-16k3s2"))]), other)["mnist cnn"]
    assert text.startswith("mnist: CNN 8k5s2-16k3s2 scored") and "CNN-1" not in text
    assert "its 5x5 then 3x3 kernels" in text and "each first-layer kernel sees 25 scattered pixels" in text


def _both(d: DatasetFindings) -> Findings:
    return Findings([d, replace(d, dataset="fashion-mnist")])


def test_report_c_permutation_claims_agree_when_the_cnn_loses_detectably_and_stays_far_above_chance():
    text = prose(_both(_dataset()), Config())["report-c"]
    assert text.startswith("Beside Report C: Report C's qualitative findings, set against ours (Report C is a written "
                           "solution of Leiden University's")
    assert ("Report C: 'MLP unaffected' - ours: our MLP trained on original and on permuted pixels, McNemar's test on "
            "the same test images. mnist: agrees, the MLP scored 98.10% on original and 98.05% on permuted pixels "
            "(-0.05 pp, McNemar, one training run each, adjusted p = 0.800).") in text
    assert ("mnist: agrees, the CNN scored 99.00% on original and 97.00% on permuted pixels (-2.00 pp, McNemar, "
            "one training run each, adjusted p = 0.001); its margin over chance (10%) went from 89.0 to 87.0 points, "
            "at least the 50% that 'well above chance' asks. fashion-mnist: agrees,") in text
    assert text.endswith("In all, of 4 verdicts (claim x data set): 4 agree, 0 differ, 0 cannot be compared.")


def test_report_c_permutation_claims_differ_when_the_numbers_do():
    config = Config()
    undetected = prose(_both(_dataset(cnn_p=0.2)), config)["report-c"]
    assert "mnist: differs, the CNN scored 99.00% on original and 97.00% on permuted pixels (-2.00 pp, McNemar, " \
           "one training run each, adjusted p = 0.200)" in undetected
    d = _dataset(cnn_p=1e-40)
    near_chance = prose(_both(replace(d, cnn=replace(d.cnn, permuted_test_acc=0.3))), config)["report-c"]
    assert "mnist: differs" in near_chance and "went from 89.0 to 20.0 points, less than the 50%" in near_chance
    assert "MLP unaffected" in near_chance and "mnist: agrees, the MLP" in near_chance
    mlp_moved = prose(_both(_dataset(mlp_p=0.01)), config)["report-c"]
    assert "mnist: differs, the MLP scored" in mlp_moved
    # one data set: the CNN claim is about both, so Fashion-MNIST cannot be compared
    one = prose(Findings([_dataset()]), Config(datasets=("mnist",)))["report-c"]
    assert "fashion-mnist: not compared, fashion-mnist was not part of this run." in one
    assert one.endswith("of 3 verdicts (claim x data set): 2 agree, 0 differ, 1 cannot be compared.")


def test_report_c_permutation_paragraph_states_no_findings_in_the_quick_profile():
    text = prose(Findings([_dataset()], smoke_test=True), Config(datasets=("mnist",)))["report-c"]
    assert text == ("Beside Report C: in the quick profile (a smoke test: subsets and 1-2 epochs) Report C's "
                    "qualitative findings are not judged; a full profile sets each against ours: 'MLP unaffected' "
                    "against our MLP trained on original and on permuted pixels, McNemar's test on the same test "
                    "images; 'CNN degrades on both data sets but stays well above chance' against our CNN trained on "
                    "original and on permuted pixels, McNemar's test on the same test images.")
