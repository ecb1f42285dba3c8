"""Extension: the classic baselines' exact sizes, their layer outputs, Glorot init, and the task end to end."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError
from mnistlab.execution.runner import run_in_context
from mnistlab.models import MLPSpec, build_cnn, build_mlp
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import finding_of, for_device
from mnistlab.tasks.baselines import TASK
from mnistlab.tasks.baselines.config import MODELS, Config
from mnistlab.tasks.baselines.findings import (
    Findings,
    ModelFindings,
    RepresentationFindings,
    compute_findings,
    layer_outputs,
)
from mnistlab.tasks.baselines.prose import prose
from mnistlab.train import count_parameters


def _build(spec):
    return build_mlp(spec) if isinstance(spec, MLPSpec) else build_cnn(spec)


@pytest.mark.parametrize("name", list(MODELS))
def test_classic_models_have_their_classic_sizes(name):
    spec, expected = MODELS[name]
    assert count_parameters(_build(spec)) == expected


def test_layer_outputs_name_every_stage_worth_embedding():
    x, _ = load("mnist", "test", view="image", limit=8)
    shapes = {name: {k: tuple(v.shape) for k, v in layer_outputs(_build(spec), x if "CNN" in name else
                                                                   x.flatten(1)).items()}
              for name, (spec, _) in MODELS.items()}
    assert shapes["softmax regression"] == {"logits": (8, 10)}
    assert shapes["MLP 100 sigmoid"] == {"hidden 1": (8, 100), "logits": (8, 10)}
    assert shapes["CNN 5x5 sigmoid"] == {"conv features": (8, 3136), "hidden 1": (8, 100), "logits": (8, 10)}


def test_glorot_init_zeroes_biases_and_bounds_weights():
    torch.manual_seed(0)
    model = build_mlp(MLPSpec(hidden=(100,), init="glorot"))
    first = next(m for m in model if isinstance(m, nn.Linear))
    bound = (6 / (784 + 100)) ** 0.5
    assert torch.count_nonzero(first.bias) == 0
    assert first.weight.abs().max() <= bound and first.weight.abs().max() > 0.9 * bound
    with pytest.raises(ConfigError, match="init"):
        build_mlp(MLPSpec(init="uniform"))


def test_task_trains_embeds_and_reruns_from_cache(ctx):
    assert "baselines" in REGISTRY
    config = Config(epochs=1, batch_size=20, train_limit=400, test_limit=200, tsne_subset=120,
                    tsne_perplexity=10.0)
    config.validate()
    result = run_in_context(TASK, config, ctx)
    m = result.metrics
    assert (m["softmax_params"], m["mlp_params"], m["cnn_params"]) == (7_850, 79_510, 366_806)
    assert m["softmax_test_acc"] > 0.3 and m["mlp_test_acc"] > 0.3
    assert 0 <= m["hit_pixels"] <= 1 and 0 <= m["hit_mlp_100_sigmoid_hidden_1"] <= 1
    assert [row[0] for row in result.tables["untangling"].rows] == [
        "pixels", "softmax regression: logits", "MLP 100 sigmoid: hidden 1", "CNN 5x5 sigmoid: conv features",
        "CNN 5x5 sigmoid: hidden 1"]
    assert (ctx.out_dir / "tsne_representations.png").is_file()
    assert 0 <= m["softmax_report_d_test_acc"] <= 1 and m["cnn_report_d_train_seconds"] > 0
    config = for_device(config, ctx.device)  # the config as the runner ran it
    text = prose(compute_findings(config, ctx), config)
    assert list(text) == ["accuracy", "untangling"] and list(result.paragraphs.values()) == list(text.values())
    assert [row[0] for row in result.tables["models"].rows][3:] == [
        "softmax regression, Report D's recipe", "MLP 100 sigmoid, Report D's recipe",
        "CNN 5x5 sigmoid, Report D's recipe"]
    misses = ctx.cache.misses
    assert misses == 3 + 3 + 5  # three models, the same with Report D's recipe, five embeddings
    run_in_context(TASK, config, ctx)
    assert ctx.cache.misses == misses


@pytest.mark.parametrize("bad", [{"tsne_subset": 10}, {"tsne_subset": 3000, "test_limit": 2000},
                                 {"tsne_perplexity": 400.0}, {"neighbours": 0}, {"epochs": 0}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)


# ---- the prose against hand-made findings, by paragraph id ------------------------------------------------


def _model(name: str, acc: float, recipe: str = "adam") -> ModelFindings:
    return ModelFindings(name, recipe, MODELS[name][1], acc + 0.01, acc, 30.0, 10)


def _rep(name: str, hit: float) -> RepresentationFindings:
    return RepresentationFindings(name, 100, hit, hit, hit, 5.0, np.zeros((3, 2)))


def _findings(adam=(0.92, 0.975, 0.99), report_d=(0.91, 0.96, 0.985), hidden=(0.95, 0.93, 0.97)) -> Findings:
    models = [_model(n, a) for n, a in zip(MODELS, adam, strict=True)]
    models += [_model(n, a, "report_d") for n, a in zip(MODELS, report_d, strict=True)]
    reps = [_rep("pixels", 0.90), _rep("softmax regression: logits", 0.91)]
    reps += [_rep(n, h) for n, h in zip(("MLP 100 sigmoid: hidden 1", "CNN 5x5 sigmoid: conv features",
                                          "CNN 5x5 sigmoid: hidden 1"), hidden, strict=True)]
    return Findings(models, reps, np.zeros(3), 10_000)


def test_baselines_prose_quotes_the_findings():
    text = prose(_findings(), Config())
    assert list(text) == ["accuracy", "untangling"]
    assert text["accuracy"].startswith("Test accuracy: softmax regression 92.00% (7,850 parameters), MLP 100 sigmoid "
                                       "97.50% (79,510 parameters), CNN 5x5 sigmoid 99.00% (366,806 parameters); "
                                       "with Report D's recipe (plain SGD, lr 0.5, batch 300): softmax regression "
                                       "91.00%, MLP 100 sigmoid 96.00%, CNN 5x5 sigmoid 98.50%.")
    assert "in the t-SNE of raw pixels 0.900 of each digit's 6 nearest neighbours share its class" in text["untangling"]
    assert "'CNN 5x5 sigmoid: conv features' 0.930" in text["untangling"] and "logits' 0.9" not in text["untangling"]
    assert "The best separated is 'CNN 5x5 sigmoid: hidden 1' (0.970)." in text["untangling"]
    # both paragraphs state a result, led by it: every accuracy, and the separation of pixels and the best
    # representation; which network beat which (each trained once, one seed) stays in the discussion
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert all(found.values()) and all(text[key].startswith(finding) for key, finding in found.items())
    assert "92.00%" in found["accuracy"] and "98.50%" in found["accuracy"] and "step up" not in found["accuracy"]
    assert "Each step up bought accuracy" in text["accuracy"]
    assert found["untangling"] == ("Manifold untangling: in the t-SNE of raw pixels 0.900 of each digit's 6 nearest "
                                   "neighbours share its class. The best separated is 'CNN 5x5 sigmoid: hidden 1' "
                                   "(0.970).")
    assert all(len(finding) <= 320 for finding in found.values())


def test_baselines_size_ranking_is_judged_within_each_recipe():
    """Report D's rows used to join the ranking, so a small Adam network 'lost' to a large SGD one and the
    prose said the bigger models did not all beat the smaller ones although, per recipe, they did."""
    assert "Each step up bought accuracy" in prose(_findings(), Config())["accuracy"]
    assert "did not all beat" in prose(_findings(report_d=(0.91, 0.89, 0.985)), Config())["accuracy"]
    assert "did not all beat" in prose(_findings(adam=(0.92, 0.99, 0.975)), Config())["accuracy"]
    f = _findings()
    adam_only = replace(f, models=f.models[:3])
    assert "Each step up" in prose(adam_only, replace(Config(), report_d_recipe=False))["accuracy"]


def test_baselines_untangling_claim_follows_the_hits():
    assert "Every hidden representation separates the digits better" in prose(_findings(), Config())["untangling"]
    text = prose(_findings(hidden=(0.95, 0.85, 0.80)), Config())["untangling"]
    assert "1 of the 3 hidden representations separate the digits better" in text and "Every hidden" not in text
