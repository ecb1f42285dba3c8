"""SPEC 8.2: the fixed pixel permutation, the MLP's exact invariance to it, and the task end to end."""

from __future__ import annotations

import pytest
import torch

from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.errors import ConfigError, DataError
from mnistlab.models import MLPSpec, build_mlp
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.permutation import TASK, Config, rewired_mlp_accuracy
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
    result = TASK.run(config, ctx)
    m = result.metrics
    for key in ("mlp_test_acc", "mlp_permuted_test_acc", "cnn_test_acc", "cnn_permuted_test_acc"):
        assert 0.1 < m[key] <= 1
        assert 0.1 < m["fashion_mnist_" + key] <= 1
    assert m["mlp_rewired_permuted_test_acc"] == pytest.approx(m["mlp_test_acc"])
    assert m["fashion_mnist_mlp_rewired_permuted_test_acc"] == pytest.approx(m["fashion_mnist_mlp_test_acc"])
    assert ctx.cache.misses == 8  # per dataset: the permuted networks have their own cache keys
    assert {"examples.png", "accuracy.png", "accuracy_fashion_mnist.png"} <= {p.name for p in ctx.out_dir.iterdir()}
    assert [row[0] for row in result.tables["accuracy"].rows] == ["mnist"] * 2 + ["fashion-mnist"] * 2
    assert sum(p.startswith("fashion-mnist: CNN-1") for p in result.text) == 1
    TASK.run(config, ctx)
    assert ctx.cache.misses == 8 and ctx.cache.hits == 8


@pytest.mark.parametrize("bad", [{"mlp": "10-x"}, {"cnn": "32k4"}, {"permutation_seed": -1}, {"epochs": 0},
                                 {"train_limit": 0}, {"datasets": ()}, {"datasets": ("emnist",)},
                                 {"datasets": ("mnist", "mnist")}])
def test_bad_options_are_config_errors(bad):
    with pytest.raises(ConfigError):
        TASK.config("quick", bad)
