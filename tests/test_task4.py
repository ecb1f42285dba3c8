"""Task 4 on a tiny slice: CNNs beside MLPs, the CNN-1 recipe shared with Task 5, and bad options."""

from __future__ import annotations

import pytest
import torch

from mnistlab import runtime
from mnistlab.errors import ConfigError
from mnistlab.models import CNN1
from mnistlab.tasks import get_task, permutation, task3, task5
from mnistlab.tasks.base import for_device
from mnistlab.tasks.task4 import TASK

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
    assert len(distinct) == 5 + 5 + 2 + fashion


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
