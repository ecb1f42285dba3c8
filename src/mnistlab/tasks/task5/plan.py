"""The one network Task 5 looks inside: Task 4.1's CNN-1, trained with exactly Task 4's recipe (the `cnn_*`
options follow `common.CNN1_TRAINING` per profile), so both tasks plan the same sub-run and it is trained once
for both. Its checkpoint is kept: the analysis loads the weights to read filters, maps and dreams."""

from __future__ import annotations

from mnistlab.execution.subrun import SubRun
from mnistlab.models import CNN1
from mnistlab.tasks.common import CNN1_TRAINING, classifier_run
from mnistlab.tasks.task5.config import Config
from mnistlab.train import TrainConfig


def cnn_run(config: Config, seed: int) -> SubRun:
    cfg = TrainConfig(epochs=config.cnn_epochs, batch_size=config.cnn_batch_size, precision=config.cnn_precision,
                      channels_last=CNN1_TRAINING["brief"]["channels_last"])
    return classifier_run(CNN1, cfg, seed=seed, train_limit=config.cnn_train_limit,
                          test_limit=config.cnn_test_limit, keep_checkpoint=True, name="CNN-1")


def plan(config: Config, seed: int) -> list[SubRun]:
    return [cnn_run(config, seed)]
