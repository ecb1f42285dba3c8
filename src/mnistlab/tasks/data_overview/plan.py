"""The data overview trains no network: its plan is empty. What it computes instead, from the loaded
images and labels of both datasets (`findings.compute_findings`, about a second, not cached): the images
per class in each split, each split's mean pixel, the first training images of each class, and Task 6's
three Fashion-MNIST groups with their items and training images."""

from __future__ import annotations

from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.data_overview.config import Config


def plan(config: Config, seed: int) -> list[SubRun]:
    return []
