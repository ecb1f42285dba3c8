"""Task 4 on a tiny slice: CNNs beside MLPs, the CNN-1 recipe shared with Task 5, and bad options."""

from __future__ import annotations

import pytest
import torch

from mnistlab import runtime
from mnistlab.errors import ConfigError
from mnistlab.models import CNN1
from mnistlab.tasks import get_task
from mnistlab.tasks.base import for_device
from mnistlab.tasks.common import cnn1_key_config
from mnistlab.tasks.task4 import TASK, _cnn_config

TINY = {"models": ("8k4s2", "8k4s1-16k4s2"), "mlp_models": ("32",), "epochs": 1, "train_limit": 400,
        "test_limit": 200}


def test_registered_and_first_model_is_cnn1():
    assert get_task("task4") is TASK
    assert TASK.config("brief").models[0] == "32k4s1-64k4s2-128k4s2"


@pytest.mark.parametrize("native_bf16", [False, True])
@pytest.mark.parametrize("profile", ["quick", "brief"])
def test_cnn1_is_trained_with_the_recipe_task5_looks_up(profile, native_bf16, monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: native_bf16)
    cpu = torch.device("cpu")
    config = for_device(TASK.config(profile), cpu)  # as the runner hands it to Task 4
    train_cfg, limits = cnn1_key_config(profile, cpu)
    assert train_cfg.precision == ("bf16" if native_bf16 else "fp32")
    assert _cnn_config(config) == train_cfg
    assert (config.train_limit, config.test_limit) == (limits["train_limit"], limits["test_limit"])


def test_runs_and_compares_with_mlps(ctx):
    result = TASK.run(TASK.config("quick", TINY), ctx)
    assert ctx.cache.misses == 3
    assert result.metrics["cnn_8k4s2_params"] == 8 * 16 + 8 + 8 * 14 * 14 * 10 + 10
    assert result.metrics["first_test_acc"] > 0.2  # one epoch on 400 images; chance is 0.1
    assert result.metrics["first_is_cnn1"] == 0.0
    names = [row[0] for row in result.tables["cnn_vs_mlp"].rows]
    assert names == ["CNN 8k4s2", "CNN 8k4s1-16k4s2", "MLP 32"]
    assert all(row[-1] > 0 for row in result.tables["cnn_vs_mlp"].rows)  # inference images per second
    for fig in result.figures:
        assert (ctx.out_dir / fig.file).is_file()


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
