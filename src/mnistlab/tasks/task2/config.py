"""Task 2's options: the digits whose pairs are trained, the brief's pair, the perceptron's rule and
schedule, the data per digit and the scikit-learn cross-check, with each profile's values."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any, ClassVar, Literal

from mnistlab.constraints import Constrained, Constraints, Distinct, Each, Interval, MinItems, OneOf
from mnistlab.errors import ConfigError
from mnistlab.models.perceptron import RULES
from mnistlab.tasks.base import opt

Pair = tuple[int, int]

_DIGITS = "{name} must be at least two different digits 0-9, got {value}"
_PER_CLASS = Interval(1, None, message="{name} must be positive (or none for all images), got {value}")


@dataclass(frozen=True)
class Config(Constrained):
    digits: tuple[int, ...] = opt((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), "every pair of these digits is trained")
    detail_pair: tuple[int, int] = opt((0, 1), "the brief's pair, shown in full")
    lr: float = opt(0.01, "perceptron learning rate")
    max_iter: int = opt(1000, "most passes (batch rule) or epochs (online rule) per perceptron")
    tol: float = opt(1e-3, "training stops once the training error is at most this share")
    rule: Literal["batch", "online"] = opt("batch",
        "perceptron update: batch (all misclassified at once) or online (one at a time)")
    init_scale: float = opt(0.01, "standard deviation of the random initial w and b")
    pocket: bool = opt(True, "evaluate the (w, b) with the lowest training error seen, not the last iterate")
    train_per_class: int | None = opt(None, "training images per digit (None: all of both digits)")
    test_per_class: int | None = opt(None, "test images per digit (None: all of both digits)")
    compare_rules: bool = opt(True, "also train the detail pair with the other rule, for its error curve")
    sklearn_check: bool = opt(True, "also fit scikit-learn's Perceptron on each pair as a cross-check")
    sklearn_max_iter: int = opt(1000, "most epochs of scikit-learn's Perceptron")
    weight_images: int = opt(10, "weight vectors shown on the grid")

    CONSTRAINTS: ClassVar[Constraints] = {
        "digits": [MinItems(2, message=_DIGITS), Distinct(message=_DIGITS), Each(Interval(0, 9), message=_DIGITS)],
        "lr": [Interval(0, None, closed="neither")],
        "max_iter": [Interval(1, 1_000_000)],
        "sklearn_max_iter": [Interval(1, 1_000_000)],
        "tol": [Interval(0, 1, closed="left",
                         message="{name} is a classification error and must lie in [0, 1), got {value}")],
        "rule": [OneOf(RULES, message="{name} must be one of {choices}, got {value!r}")],
        "init_scale": [Interval(0, None)],
        "train_per_class": [_PER_CLASS],
        "test_per_class": [_PER_CLASS],
        "weight_images": [Interval(1, 100)],
    }

    def cross_check(self) -> None:
        if len(self.detail_pair) != 2 or self.detail_pair[0] not in self.digits or \
                self.detail_pair[1] not in self.digits or not self.detail_pair[0] < self.detail_pair[1]:
            raise ConfigError(f"detail_pair must be two digits (a, b) with a < b, both among digits; "
                              f"got {self.detail_pair}")

    @property
    def pairs(self) -> list[Pair]:
        return list(combinations(sorted(self.digits), 2))


PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"train_per_class": 400, "test_per_class": 300, "max_iter": 80, "sklearn_max_iter": 100},
    "brief": {},
}
