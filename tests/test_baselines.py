"""SPEC 8.4: the classic baselines' exact sizes, their layer outputs, Glorot init, and the task end to end."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError
from mnistlab.models import MLPSpec, build_cnn, build_mlp
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.baselines import MODELS, TASK, Config, layer_outputs
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
    result = TASK.run(config, ctx)
    m = result.metrics
    assert (m["softmax_params"], m["mlp_params"], m["cnn_params"]) == (7_850, 79_510, 366_806)
    assert m["softmax_test_acc"] > 0.3 and m["mlp_test_acc"] > 0.3
    assert 0 <= m["hit_pixels"] <= 1 and 0 <= m["hit_mlp_100_sigmoid_hidden_1"] <= 1
    assert [row[0] for row in result.tables["untangling"].rows] == [
        "pixels", "softmax regression: logits", "MLP 100 sigmoid: hidden 1", "CNN 5x5 sigmoid: conv features",
        "CNN 5x5 sigmoid: hidden 1"]
    assert (ctx.out_dir / "tsne_representations.png").is_file()
    assert 0 <= m["softmax_report_d_test_acc"] <= 1 and m["cnn_report_d_train_seconds"] > 0
    assert [row[0] for row in result.tables["models"].rows][3:] == [
        "softmax regression, Report D's recipe", "MLP 100 sigmoid, Report D's recipe",
        "CNN 5x5 sigmoid, Report D's recipe"]
    misses = ctx.cache.misses
    assert misses == 3 + 3 + 5  # three models, the same with Report D's recipe, five embeddings
    TASK.run(config, ctx)
    assert ctx.cache.misses == misses


@pytest.mark.parametrize("bad", [{"tsne_subset": 10}, {"tsne_subset": 3000, "test_limit": 2000},
                                 {"tsne_perplexity": 400.0}, {"neighbours": 0}, {"epochs": 0}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)
