"""The engine on a tiny slice: loss falls, history is recorded, a seed fixes the numbers, NaN stops it."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnistlab.data import load
from mnistlab.errors import ConfigError, TrainingError
from mnistlab.train import Head, TrainConfig, classifier_heads, evaluate, fit


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


def test_a_single_head_keeps_its_plain_keys(tiny):
    train, test = tiny
    result = fit(small_mlp(), train, test, TrainConfig(epochs=1, batch_size=50), val=test, show_progress=False)
    assert set(result.history[0]) == {"epoch", "seconds", "threads", "train_loss", "train_acc", "test_loss",
                                      "test_acc", "val_loss", "val_acc"}


class DigitAndParity(nn.Module):
    """Two heads on one trunk: the digit (10 classes) and whether it is odd (2 classes)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.trunk = nn.Sequential(nn.Linear(784, 32), nn.ReLU())
        self.digit, self.parity = nn.Linear(32, 10), nn.Linear(32, 2)

    def forward(self, x):
        z = self.trunk(x)
        return self.digit(z), self.parity(z)


def _with_parity(data):
    x, y = data
    return x, (y, y % 2)


def test_named_heads_record_each_metric_and_loss_by_name_and_their_summed_loss(tiny):
    train, test = map(_with_parity, tiny)
    model, heads = DigitAndParity(), classifier_heads(("digit", "parity"))
    result = fit(model, train, test, TrainConfig(epochs=2, batch_size=50), val=test, heads=heads, show_progress=False)
    last = result.history[-1]
    per_split = {f"{split}_{key}" for split in ("test", "val")
                 for key in ("loss", "acc_digit", "loss_digit", "acc_parity", "loss_parity")}
    assert set(last) == {"epoch", "seconds", "threads", "train_loss", "train_acc_digit", "train_acc_parity"} | per_split
    assert last["test_loss"] == pytest.approx(last["test_loss_digit"] + last["test_loss_parity"])
    assert last["test_acc_parity"] > 0.6 and last["train_acc_digit"] > 0.3  # chance: 0.5 and 0.1
    assert evaluate(model, *test, heads=heads) == pytest.approx({k[5:]: v for k, v in last.items()
                                                                 if k.startswith("test_")})
    # without names, several outputs are numbered
    numbered = fit(DigitAndParity(), train, None, TrainConfig(epochs=1, batch_size=50), show_progress=False)
    assert {"train_acc_0", "train_acc_1"} <= set(numbered.history[0]) and "train_acc" not in numbered.history[0]


def test_a_mean_error_head_is_recorded_for_training_and_test_data(tiny):
    """A regression head (the digit as one number) scored by its mean absolute error, with no evaluation loss."""
    (x, y), (xt, yt) = tiny
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 1))

    def squared_error(outputs, targets):
        return F.mse_loss(outputs[0].squeeze(-1), targets[0].float())

    head = Head(metric="mae", score=lambda out, t: (out.squeeze(-1) - t).abs(), loss=None)
    result = fit(model, (x, y), (xt, yt), TrainConfig(epochs=3, batch_size=50), objective=squared_error,
                 heads=(head,), show_progress=False)
    assert set(result.history[0]) == {"epoch", "seconds", "threads", "train_loss", "train_mae", "test_mae"}
    first, last = result.history[0], result.history[-1]
    assert last["train_mae"] < first["train_mae"] and last["test_mae"] < first["test_mae"]
    with torch.no_grad():
        assert last["test_mae"] == pytest.approx((model(xt).squeeze(-1) - yt).abs().mean().item(), rel=1e-5)


def test_early_stopping_works_for_several_heads_on_their_summed_loss(tiny):
    train, test = map(_with_parity, tiny)
    cfg = TrainConfig(epochs=30, batch_size=20, lr=0.05, optimizer="sgd", momentum=0.9, patience=2)
    model, heads = DigitAndParity(), classifier_heads(("digit", "parity"))
    result = fit(model, train, test, cfg, val=test, heads=heads, show_progress=False)
    assert result.stopped_early and len(result.history) == result.best_epoch + cfg.patience < cfg.epochs
    best = result.history[result.best_epoch - 1]["val_loss"]
    assert min(h["val_loss"] for h in result.history) == best
    assert evaluate(model, *test, heads=heads)["loss"] == pytest.approx(best, rel=1e-5)


def test_heads_that_cannot_be_recorded_are_refused(tiny):
    train, test = map(_with_parity, tiny)
    cfg = TrainConfig(epochs=1, batch_size=100)
    for heads, words in [(classifier_heads(("a", "a")), "distinct names"),
                         (classifier_heads(("", "parity")), "only a lone head may be unnamed"),
                         ((Head("digit", target=2),), "a target the data lacks")]:
        with pytest.raises(ConfigError, match=words):
            fit(DigitAndParity(), train, None, cfg, heads=heads, show_progress=False)
    no_loss = (Head("digit", loss=None), Head("parity", output=1, target=1, loss=None))
    with pytest.raises(ConfigError, match="no head has a loss"):
        fit(DigitAndParity(), train, None, TrainConfig(patience=1), val=test, heads=no_loss, show_progress=False)
