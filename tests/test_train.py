"""The engine on a tiny slice: loss falls, history is recorded, a seed fixes the numbers, NaN stops it."""

import pytest
import torch
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError, TrainingError
from mnistlab.train import TrainConfig, evaluate, fit


@pytest.fixture(scope="module")
def tiny():
    return load("mnist", "train", view="flat", limit=400), load("mnist", "test", view="flat", limit=200)


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


def test_loss_falls_and_history_is_recorded(tiny):
    train, test = tiny
    model = small_mlp()
    before = evaluate(model, *test)
    result = fit(model, train, test, TrainConfig(epochs=3, batch_size=32), seed=0, show_progress=False)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds"):
        assert all(key in h for h in result.history)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["test_loss"] < before["loss"]
    assert result.history[-1]["test_acc"] > 0.5  # chance is 0.1
    assert result.train_seconds > 0


def test_same_seed_same_numbers(tiny):
    train, test = tiny
    runs = [fit(small_mlp(), train, test, TrainConfig(epochs=1, batch_size=50), seed=7, show_progress=False)
            for _ in range(2)]
    keys = ("train_loss", "train_acc", "test_loss", "test_acc")
    assert [runs[0].history[0][k] for k in keys] == [runs[1].history[0][k] for k in keys]
    other = fit(small_mlp(), train, test, TrainConfig(epochs=1, batch_size=50), seed=8, show_progress=False)
    assert other.history[0]["train_loss"] != runs[0].history[0]["train_loss"]


def test_non_finite_loss_is_a_clear_error(tiny):
    train, _ = tiny

    def broken(outputs, targets):
        return outputs[0].sum() * float("nan")

    with pytest.raises(TrainingError, match="loss became nan at epoch 1"):
        fit(small_mlp(), train, None, TrainConfig(epochs=1, batch_size=100), objective=broken, show_progress=False)


def test_bad_config_is_refused_before_training(tiny):
    train, _ = tiny
    with pytest.raises(ConfigError, match="learning rate"):
        fit(small_mlp(), train, None, TrainConfig(lr=0.0), show_progress=False)
    with pytest.raises(ConfigError, match="validation"):
        fit(small_mlp(), train, None, TrainConfig(patience=2), show_progress=False)


def test_early_stopping_restores_the_best_epoch(tiny):
    train, test = tiny
    cfg = TrainConfig(epochs=30, batch_size=20, lr=0.05, optimizer="sgd", momentum=0.9, patience=2)
    model = small_mlp()
    result = fit(model, train, test, cfg, val=test, show_progress=False)
    assert result.stopped_early and len(result.history) == result.best_epoch + cfg.patience < cfg.epochs
    best = result.history[result.best_epoch - 1]["val_loss"]
    assert min(h["val_loss"] for h in result.history) == best
    assert evaluate(model, *test)["loss"] == pytest.approx(best, rel=1e-5)  # the best weights are back
