"""The networks Task 4 trains (the CNN sweep, CNN-1 first, and the MLPs set beside it) and the comparisons its
discussion draws."""

from __future__ import annotations

from mnistlab.analysis.contrasts import Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import parse_spec
from mnistlab.tasks.sweeps import slug, sweep_runs
from mnistlab.tasks.task4.config import Config
from mnistlab.train import TrainConfig


def cnn_train_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                       precision=config.precision, channels_last=config.channels_last)


def mlp_train_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.mlp_batch_size, lr=config.lr,
                       precision=config.mlp_precision)


def sweeps(config: Config, seed: int) -> tuple[list[SubRun], list[SubRun]]:
    """(the CNNs, the MLPs): the two sweeps' sub-runs, each in its config's order."""
    limits = {"train_limit": config.train_limit, "test_limit": config.test_limit, "seed": seed}
    cnns = sweep_runs([parse_spec(t, "CNN") for t in config.models], cnn_train_config(config), **limits)
    mlps = sweep_runs([parse_spec(t, "MLP") for t in config.mlp_models], mlp_train_config(config), **limits)
    return cnns, mlps


def plan(config: Config, seed: int) -> list[SubRun]:
    cnns, mlps = sweeps(config, seed)
    return cnns + mlps


def contrasts(config: Config) -> list[Contrast]:
    """CNN-1 (the first CNN) against every other CNN, and against the brief's MLP (the first MLP), last."""
    def cnn(i: int) -> Arm:
        name = parse_spec(config.models[i], "CNN").name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: sweeps(config, seed)[0][i])

    out = [Contrast(cnn(0), cnn(i), "CNN depth and width") for i in range(1, len(config.models))]
    mlp = Arm(parse_spec(config.mlp_models[0], "MLP").name, "mlp_first_test_acc",
              run=lambda seed: sweeps(config, seed)[1][0])
    return [*out, Contrast(cnn(0), mlp, "CNN vs MLP")]
