"""The networks Task 3 trains (the MLP sweep, and the first MLP again in fp32 when the sweep trains in
bf16) and the comparisons its discussion draws."""

from __future__ import annotations

from dataclasses import replace

from mnistlab.analysis.contrasts import SAME_MARGIN, Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import parse_spec
from mnistlab.tasks.common import classifier_run
from mnistlab.tasks.sweeps import slug, sweep_runs
from mnistlab.tasks.task3.config import Config
from mnistlab.train import TrainConfig

PRECISION_QUESTION = "bf16 autocast vs fp32"


def train_config(config: Config) -> TrainConfig:
    return TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, precision=config.precision)


def sweep(config: Config, seed: int) -> list[SubRun]:
    return sweep_runs([parse_spec(text, "MLP") for text in config.models], train_config(config), seed=seed,
                      train_limit=config.train_limit, test_limit=config.test_limit)


def compares_precision(config: Config) -> bool:
    """Whether the first MLP is also trained in fp32: only when the task trains in bf16. The runner has
    resolved "auto" for its device by then (`for_device`); where bf16 is not native it resolves to fp32,
    and there is no second precision to compare."""
    return config.precision == "bf16"


def fp32_twin(config: Config, seed: int) -> SubRun:
    """The first (the brief's) MLP trained in fp32, from the same first weights as its bf16 run."""
    spec = parse_spec(config.models[0], "MLP")
    return classifier_run(spec, replace(train_config(config), precision="fp32"), seed=seed,
                          train_limit=config.train_limit, test_limit=config.test_limit, name=f"{spec.name} fp32")


def plan(config: Config, seed: int) -> list[SubRun]:
    return sweep(config, seed) + ([fp32_twin(config, seed)] if compares_precision(config) else [])


def contrasts(config: Config) -> list[Contrast]:
    """The brief's MLP against every other MLP of the sweep; then, when it trained in bf16, against itself
    trained in fp32."""
    first = parse_spec(config.models[0], "MLP").name

    def arm(i: int) -> Arm:
        name = parse_spec(config.models[i], "MLP").name
        return Arm(name, f"{slug(name)}_test_acc", run=lambda seed: sweep(config, seed)[i])

    out = [Contrast(arm(0), arm(i), "depth and width") for i in range(1, len(config.models))]
    if compares_precision(config):
        fp32 = Arm(f"{first} fp32", f"{slug(first)}_fp32_test_acc", run=lambda seed: fp32_twin(config, seed))
        out.append(Contrast(replace(arm(0), label=f"{first} bf16 autocast"), fp32, PRECISION_QUESTION,
                            margin=SAME_MARGIN))
    return out
