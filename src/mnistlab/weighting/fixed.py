"""Fixed weighting: loss = sum_i w_i L_i; for two tasks the brief's lambda * L_item + (1 - lambda) * L_group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from mnistlab.errors import ConfigError
from mnistlab.weighting.base import Weighting, register, state_weights


@register
class FixedWeighting(Weighting):
    name = "fixed"
    title = "fixed lambda"
    marker = "o"
    idea = "a loss weight chosen beforehand"

    def __init__(self, weights: Sequence[float]):
        super().__init__(len(weights))
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"fixed task weights must be non-negative and not all zero, got {list(weights)}")
        self.register_buffer("weights", torch.tensor([float(w) for w in weights]))

    @classmethod
    def make(cls, *, lam: float, tasks: int) -> FixedWeighting:
        if tasks != 2:
            raise ConfigError("the lambda form of fixed weighting is for two tasks")
        return cls.from_lambda(lam)

    @classmethod
    def from_lambda(cls, lam: float) -> FixedWeighting:
        """The brief's loss = lambda * L_item + (1 - lambda) * L_group."""
        if not 0 <= lam <= 1:
            raise ConfigError(f"lambda must be between 0 and 1, got {lam}")
        return cls((lam, 1.0 - lam))

    def combine(self, losses: Tensor) -> Tensor:
        # A weight of exactly 0 gives that head exactly zero gradient, so Adam leaves it untouched.
        return (self.weights.to(losses.device) * losses).sum()

    def task_weights(self) -> list[float]:
        return self.weights.tolist()

    @classmethod
    def weights_label(cls, state: Mapping[str, float]) -> str:
        return " / ".join(f"{w:g}" for w in state_weights(state))
