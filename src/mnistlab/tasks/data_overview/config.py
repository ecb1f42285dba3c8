"""The data overview's one option: how many example images of each class its sample grids show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, Interval
from mnistlab.tasks.base import opt


@dataclass(frozen=True)
class Config(Constrained):
    samples_per_class: int = opt(10, "example images drawn per class in the sample grids")

    CONSTRAINTS: ClassVar[Constraints] = {
        "samples_per_class": [Interval(1, 30, message="{name} must be between 1 and 30")],
    }


PROFILES = {"quick": {"samples_per_class": 8}, "brief": {"samples_per_class": 10}}
