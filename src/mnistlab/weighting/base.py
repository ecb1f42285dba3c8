"""The base of every loss weighting and the registry that names them.

A weighting (an `nn.Module` objective for `train.fit`) turns one multi-task network's per-task losses
into one update. A method is one class in its own module, registered with `@register`: it carries its
name (the strategy's spelling in configs, metric names and cache keys), a title for tables and figure
legends, a marker for figures, and it describes a finished run's learned state for the report, so that
a task which compares weightings never asks which one it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.errors import ConfigError

# name -> class, in the order the methods are imported (mnistlab.weighting imports each method's module).
WEIGHTINGS: dict[str, type[Weighting]] = {}


def register(cls: type[Weighting]) -> type[Weighting]:
    """Class decorator: make a weighting known by its `name`."""
    if cls.name in WEIGHTINGS:
        raise ConfigError(f"two loss weightings are named {cls.name!r}")
    WEIGHTINGS[cls.name] = cls
    return cls


class Weighting(nn.Module):
    """Base: per-task cross-entropy losses, combined by `combine`. Subclasses override `combine`, or define
    `manual_backward(outputs, targets, model) -> loss` when they need their own backward pass."""

    name: ClassVar[str] = "base"
    title: ClassVar[str] = "plain sum of the task losses"
    marker: ClassVar[str] = "^"           # matplotlib marker of its point in figures
    idea: ClassVar[str] = ""              # one clause for the report: what the method does about the losses
    adapts_weights: ClassVar[bool] = False  # whether training moves its task weights (and so its effective lambda)

    def __init__(self, tasks: int = 2):
        super().__init__()
        if tasks < 1:
            raise ConfigError(f"a weighting needs at least one task, got {tasks}")
        self.tasks = tasks

    @classmethod
    def make(cls, *, lam: float, tasks: int) -> Weighting:
        """The weighting a task asks for by name; `lam` matters only to the fixed weighting."""
        return cls(tasks)

    def task_losses(self, outputs: Sequence[Tensor], targets: Sequence[Tensor]) -> Tensor:
        if len(outputs) != self.tasks or len(targets) != self.tasks:
            raise ConfigError(f"{self.name} weighting expects {self.tasks} heads and targets, "
                              f"got {len(outputs)} and {len(targets)}")
        return torch.stack([F.cross_entropy(o.float(), t) for o, t in zip(outputs, targets, strict=True)])

    def combine(self, losses: Tensor) -> Tensor:
        return losses.sum()

    def forward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor]) -> Tensor:
        return self.combine(self.task_losses(outputs, targets))

    def task_weights(self) -> list[float]:
        """The effective weight of each task's loss now (for tables and logs)."""
        return [1.0] * self.tasks

    def state(self) -> dict[str, float]:
        """Numbers worth recording after training (learned weights, conflict statistics)."""
        return {f"weight_{i}": w for i, w in enumerate(self.task_weights())}

    @classmethod
    def weights_label(cls, state: Mapping[str, float]) -> str:
        """The task weights as a table cell: 'w_0 / w_1 / ...'."""
        return "learned " + " / ".join(f"{w:.3f}" for w in state_weights(state))

    @classmethod
    def detail(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        """A short table cell on what a finished run learned."""
        return "weights " + ", ".join(f"{n} {w:.3f}" for n, w in zip(task_names(state, names), state_weights(state),
                                                                      strict=True))

    @classmethod
    def describe(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        """The report's sentences on a finished run's learned state (`names`: what to call each task)."""
        return f"{cls.title[:1].upper() + cls.title[1:]} ended with {cls.detail(state, names)}."


def state_weights(state: Mapping[str, float]) -> list[float]:
    """The task weights recorded in a weighting's state (weight_0, weight_1, ...)."""
    return [state[f"weight_{i}"] for i in range(sum(1 for k in state if k.startswith("weight_")))]


def task_names(state: Mapping[str, float], names: Sequence[str] = ()) -> list[str]:
    weights = state_weights(state)
    return list(names) if len(names) == len(weights) else [f"task {i}" for i in range(len(weights))]


def effective_lambda(weights: Sequence[float]) -> float:
    """w_0 / (w_0 + w_1): the fixed lambda that would weigh two losses alike (nan for other task counts)."""
    return weights[0] / (weights[0] + weights[1]) if len(weights) == 2 and weights[0] + weights[1] > 0 else math.nan


def shared_and_heads(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(shared, task-specific) trainable parameters of a multi-task network with `shared_parameters()`."""
    shared_fn = getattr(model, "shared_parameters", None)
    if shared_fn is None:
        raise ConfigError("this weighting needs a model with shared_parameters() (a multi-task network)")
    shared = [p for p in shared_fn() if p.requires_grad]
    shared_ids = {id(p) for p in shared}
    return shared, [p for p in model.parameters() if p.requires_grad and id(p) not in shared_ids]


__all__ = ["WEIGHTINGS", "Weighting", "effective_lambda", "register", "shared_and_heads", "state_weights",
           "task_names"]
