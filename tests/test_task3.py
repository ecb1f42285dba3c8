"""Task 3 on a tiny slice: it runs, reports every model, caches sub-runs, and rejects bad options."""

from __future__ import annotations

import pytest

from mnistlab.errors import ConfigError
from mnistlab.tasks import get_task
from mnistlab.tasks.task3 import TASK

TINY = {"models": ("32", "16-16"), "epochs": 1, "train_limit": 400, "test_limit": 200}


def test_registered():
    assert get_task("task3") is TASK
    assert TASK.config("brief").models[0] == "1000-1000"
    assert TASK.config("brief").epochs == 10 and TASK.config("brief").batch_size == 50


def test_runs_reports_and_skips_cached_sub_runs(ctx):
    config = TASK.config("quick", TINY)
    result = TASK.run(config, ctx)
    assert ctx.cache.misses == 2 and ctx.cache.hits == 0
    assert result.metrics["mlp_32_params"] == 784 * 32 + 32 + 330
    assert result.metrics["first_test_acc"] > 0.3  # one epoch on 400 images; chance is 0.1
    assert [row[0] for row in result.tables["sweep"].rows] == ["MLP 32", "MLP 16-16"]
    assert result.tables["summary"].rows[-1] == ["total", "", 784 * 32 + 32 + 330]
    assert len(result.tables["epochs"].rows) == 1
    for fig in result.figures:
        assert (ctx.out_dir / fig.file).is_file()
    assert any("MLP 32" in p for p in result.text)

    again = TASK.run(config, ctx)  # the same sweep again: every model comes from the cache
    assert ctx.cache.misses == 2 and ctx.cache.hits == 2
    assert again.metrics["mlp_32_test_acc"] == result.metrics["mlp_32_test_acc"]


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
