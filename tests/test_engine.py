"""The training engine: learns, is deterministic, bf16 agrees with fp32, options and errors behave."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from torch import nn

from mnistlab.cli import main
from mnistlab.data import load
from mnistlab.errors import ConfigError, MnistlabError, TrainingError
from mnistlab.execution import runtime
from mnistlab.execution.runtime import resolve_precision
from mnistlab.models import CNN1, MLPSpec, build_cnn, build_mlp, parse_cnn
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import for_device
from mnistlab.train import (
    TrainConfig,
    cross_entropy_objective,
    evaluate,
    fit,
    inference_rate,
    predict_logits,
)


@pytest.fixture(scope="module")
def tiny():
    """600 training and 300 test images, flat and as images."""
    x, y = load("mnist", "train", view="image", limit=600)
    xt, yt = load("mnist", "test", view="image", limit=300)
    return x, y, xt, yt


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_mlp(MLPSpec(hidden=(64,)))


def test_one_epoch_lowers_the_loss_and_beats_chance(tiny):
    x, y, xt, yt = tiny
    model = _mlp()
    before = evaluate(model, xt, yt)
    result = fit(model, (x, y), (xt, yt), TrainConfig(epochs=1, batch_size=20, lr=3e-3), show_progress=False)
    after = result.final()
    assert after["test_loss"] < before["loss"] * 0.6
    assert after["test_acc"] > 0.5  # chance is 0.1
    assert set(after) >= {"epoch", "seconds", "train_loss", "train_acc", "test_loss", "test_acc"}


def test_small_cnn_learns_in_bf16_with_channels_last(tiny):
    x, y, xt, yt = tiny
    torch.manual_seed(0)
    model = build_cnn(parse_cnn("8k4s2-16k4s2"))
    cfg = TrainConfig(epochs=1, batch_size=50, precision="bf16", channels_last=True)
    result = fit(model, (x, y), (xt, yt), cfg, show_progress=False)
    assert result.final()["test_acc"] > 0.3
    assert torch.isfinite(torch.tensor(result.final()["train_loss"]))


def test_same_seed_same_history(tiny):
    x, y, xt, yt = tiny
    cfg = TrainConfig(epochs=1, batch_size=100)
    runs = [fit(_mlp(), (x, y), (xt, yt), cfg, seed=3, show_progress=False).final() for _ in range(2)]
    assert runs[0]["train_loss"] == runs[1]["train_loss"]
    assert runs[0]["test_acc"] == runs[1]["test_acc"]


@pytest.mark.parametrize("build", [lambda: build_cnn(CNN1), lambda: build_mlp(MLPSpec(hidden=(1000, 1000)))])
def test_bf16_forward_agrees_with_fp32(tiny, build):
    x = tiny[2][:200]
    torch.manual_seed(0)
    model = build()
    fp32 = predict_logits(model, x)[0]
    bf16 = predict_logits(model, x, precision="bf16")[0]
    assert bf16.dtype == torch.float32  # outputs come back as float32 whatever the compute precision
    scale = fp32.abs().max()
    assert (bf16 - fp32).abs().max() < 0.05 * scale
    assert (bf16.argmax(1) == fp32.argmax(1)).float().mean() > 0.9


def test_channels_last_is_the_same_function(tiny):
    x = tiny[2][:100]
    torch.manual_seed(0)
    model = build_cnn(CNN1)
    plain = predict_logits(model, x)[0]
    model.to(memory_format=torch.channels_last)
    cl = predict_logits(model, x, channels_last=True)[0]
    torch.testing.assert_close(cl, plain, rtol=1e-4, atol=1e-5)


def test_module_objective_parameters_are_optimised_and_manual_backward_is_used(tiny):
    x, y, _, _ = tiny

    class Weighted(nn.Module):
        def __init__(self):
            super().__init__()
            self.log_scale = nn.Parameter(torch.zeros(()))
            self.calls = 0

        def forward(self, outputs, targets):
            return cross_entropy_objective(outputs, targets) * torch.exp(-self.log_scale) + self.log_scale

        def manual_backward(self, outputs, targets, model):
            self.calls += 1
            loss = self(outputs, targets)
            loss.backward()
            return loss

    objective = Weighted()
    fit(_mlp(), (x, y), None, TrainConfig(epochs=1, batch_size=100), objective=objective, show_progress=False)
    assert objective.calls == 6
    assert objective.log_scale.item() != 0.0


def test_non_finite_loss_stops_with_a_training_error(tiny):
    x, y, _, _ = tiny

    def broken(outputs, targets):
        return cross_entropy_objective(outputs, targets) * float("nan")

    with pytest.raises(TrainingError, match="diverged"):
        fit(_mlp(), (x, y), None, TrainConfig(epochs=1, batch_size=100), objective=broken, show_progress=False)


@pytest.mark.parametrize(("kw", "match"), [
    ({"epochs": 0}, "positive"), ({"lr": 0.0}, "learning rate"), ({"optimizer": "lbfgs"}, "optimizer"),
    ({"precision": "fp16"}, "precision"), ({"patience": 0}, "patience"),
    ({"lr_schedule": "step"}, "lr_schedule"), ({"warmup": 1.0}, "warmup"), ({"augment": "rotate"}, "augment"),
])
def test_bad_train_config_is_a_config_error(kw, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kw).validate()


def test_early_stopping_needs_validation_data(tiny):
    x, y, _, _ = tiny
    with pytest.raises(ConfigError, match="validation"):
        fit(_mlp(), (x, y), None, TrainConfig(epochs=1, patience=2), show_progress=False)


def test_inference_rate_is_positive(tiny):
    assert inference_rate(_mlp(), tiny[2], repeats=2) > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_one_clear_error(tmp_path, capsys):
    code = main(["run", "task3", "--device", "cuda", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "no CUDA GPU" in err and "Traceback" not in err
    assert not (tmp_path / "task3").exists()


@pytest.mark.parametrize("schedule", ["constant", "linear", "cosine"])
def test_lr_schedule_warms_up_then_decays_to_zero(schedule):
    cfg = TrainConfig(lr=1e-3, lr_schedule=schedule, warmup=0.1)
    lrs = [cfg.lr_at(step, 100) for step in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # 10 warm-up steps
    assert all(a <= b for a, b in itertools.pairwise(lrs[:10]))
    if schedule == "constant":
        assert set(lrs[10:]) == {1e-3}
    else:
        assert lrs[10] == pytest.approx(1e-3)
        assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))
        assert lrs[-1] < 0.03e-3


def test_fit_follows_the_schedule(tiny):
    x, y, _, _ = tiny
    seen: list[float] = []

    class Spy(nn.Module):  # an objective module: the engine optimises its (empty) parameters too
        def forward(self, outputs, targets):
            return cross_entropy_objective(outputs, targets)

    model = _mlp()
    cfg = TrainConfig(epochs=2, batch_size=100, lr=1e-2, lr_schedule="linear")
    optimizer_step = torch.optim.Adam.step

    def spying_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return optimizer_step(self, *args, **kwargs)

    torch.optim.Adam.step = spying_step
    try:
        fit(model, (x, y), None, cfg, objective=Spy(), show_progress=False)
    finally:
        torch.optim.Adam.step = optimizer_step
    assert len(seen) == 12  # 600 images / 100, two epochs
    assert seen[0] == pytest.approx(1e-2) and seen[-1] == pytest.approx(1e-2 / 12)
    assert seen == sorted(seen, reverse=True)


def test_training_with_augmentation_learns(tiny):
    x, y, xt, yt = tiny
    torch.manual_seed(0)
    model = build_cnn(parse_cnn("8k4s2-16k4s2"))
    cfg = TrainConfig(epochs=2, batch_size=50, lr=3e-3, augment="shift")
    result = fit(model, (x, y), (xt, yt), cfg, show_progress=False)
    assert result.final()["test_acc"] > 0.3


def test_flat_inputs_cannot_be_augmented(tiny):
    x, y, _, _ = tiny
    with pytest.raises(ValueError, match="image batches"):
        fit(_mlp(), (x.flatten(1), y), None, TrainConfig(epochs=1, augment="shift"), show_progress=False)


@pytest.mark.parametrize("native", [False, True])
def test_auto_precision_is_bf16_only_where_the_hardware_has_it(native, monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: native)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(MnistlabError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)


def test_this_machines_answer_matches_its_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo")
    flags = cpuinfo.read_text()
    has = " avx512_bf16" in flags or " amx_tile" in flags
    assert runtime.bf16_is_native(torch.device("cpu")) == has


@pytest.mark.parametrize("native", [False, True])
def test_for_device_resolves_every_auto_precision_field_of_every_task(native, monkeypatch):
    monkeypatch.setattr(runtime, "bf16_is_native", lambda device: native)
    want = "bf16" if native else "fp32"
    seen = 0
    for task in REGISTRY.values():
        config = for_device(task.config("brief"), torch.device("cpu"))
        for name in task.field_names():
            if name == "precision" or name.endswith("_precision"):
                assert getattr(config, name) == want, (task.name, name)
                seen += 1
    assert seen >= 8  # tasks 3, 4 (two), 6 and the four extensions train networks
    pinned = for_device(REGISTRY["task3"].config("brief", {"precision": "fp32"}), torch.device("cpu"))
    assert pinned.precision == "fp32"  # an explicit choice is kept


def test_auto_precision_trains_like_the_precision_it_resolves_to(tiny):
    x, y, xt, yt = tiny
    histories = []
    for precision in ("auto", resolve_precision("auto", x.device)):
        model = _mlp()
        result = fit(model, (x.flatten(1), y), (xt.flatten(1), yt),
                     TrainConfig(epochs=1, batch_size=100, precision=precision), show_progress=False)
        histories.append([{k: v for k, v in h.items() if k != "seconds"} for h in result.history])
    assert histories[0] == histories[1]
