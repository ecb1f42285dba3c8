"""The base of every loss weighting and the registry that names them.

A weighting (an `nn.Module` objective for `train.fit`) turns one multi-task network's per-task losses
into one update. A method is one class in its own module, registered with `@register`: it carries its
name (the strategy's spelling in configs, metric names and cache keys), a title for tables and figure
legends, a marker for figures, and it describes a finished run's learned state for the report, so that
a task which compares weightings never asks which one it holds.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping, Sequence
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
        self.tap: LinearTap | None = None
        # Label smoothing of every task's cross-entropy (TrainConfig.label_smoothing sets it; 0: none).
        self.label_smoothing = 0.0

    @classmethod
    def make(cls, *, lam: float, tasks: int) -> Weighting:
        """The weighting a task asks for by name; `lam` matters only to the fixed weighting."""
        return cls(tasks)

    def task_losses(self, outputs: Sequence[Tensor], targets: Sequence[Tensor]) -> Tensor:
        if len(outputs) != self.tasks or len(targets) != self.tasks:
            raise ConfigError(f"{self.name} weighting expects {self.tasks} heads and targets, "
                              f"got {len(outputs)} and {len(targets)}")
        return torch.stack([F.cross_entropy(o.float(), t, label_smoothing=self.label_smoothing)
                            for o, t in zip(outputs, targets, strict=True)])

    def combine(self, losses: Tensor) -> Tensor:
        return losses.sum()

    def forward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor]) -> Tensor:
        return self.combine(self.task_losses(outputs, targets))

    def tapped_linear(self, model: nn.Module, weight: nn.Parameter) -> tuple[Tensor, Tensor] | None:
        """(input, output) in this step's forward of the nn.Linear whose weight is `weight`, for methods that
        need per-task products with its weight gradient (see linear_weight_grad_gram). None on the first
        step, which attaches the tap (the forward has already run), and where `weight` is not a Linear's."""
        if self.tap is not None and self.tap.layer.weight is weight:
            return self.tap.take()
        if self.tap is not None:
            self.tap.handle.remove()
        owner = next((m for m in model.modules() if isinstance(m, nn.Linear) and m.weight is weight), None)
        self.tap = None if owner is None else LinearTap(owner)
        if self.tap is not None:  # the model outlives its training: its hook goes with the weighting
            weakref.finalize(self, self.tap.handle.remove)
        return None

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


class LinearTap:
    """The input and output of one nn.Linear in its latest forward pass that built a graph."""

    def __init__(self, layer: nn.Linear):
        self.layer = layer
        self.seen: tuple[Tensor, Tensor] | None = None
        self.handle = layer.register_forward_hook(self._record)

    def _record(self, module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
        # Not while torch.compile traces: its outputs' gradients would not reach the tapped one.
        if torch.is_grad_enabled() and output.requires_grad and not torch.compiler.is_compiling():
            self.seen = (args[0], output)

    def take(self) -> tuple[Tensor, Tensor] | None:
        """(input, output) of the last such forward, once: None when none came since the last take."""
        seen, self.seen = self.seen, None
        return seen


def linear_weight_grad_gram(inputs: Tensor, output_grads: Sequence[Tensor]) -> Tensor:
    """M[i, j] = <G_i^T X, G_j^T X>: the dot products of a Linear layer's weight gradients for several
    gradients G_i at its output, computed without forming them.

    X (`inputs`) and each G_i have one row per sample: n x in and n x out. The form through the rows,
    <G_i G_j^T, X X^T>, costs about n^2 (in + out) multiply-adds a pair against n * in * out for one
    G^T X, so it is taken when the rows are fewer than the layer is wide (Task 6's network: 100 rows, a
    6,272 x 3,136 weight, whose two weight gradients would cost 20 ms a step with their casts).
    """
    x = inputs.reshape(-1, inputs.shape[-1]).float()
    gs = [g.reshape(-1, g.shape[-1]).float() for g in output_grads]
    rows, width_in, width_out = len(x), x.shape[1], gs[0].shape[1]
    if rows * (width_in + width_out) < width_in * width_out:
        kernel = x @ x.T
        return symmetric_matrix(len(gs), lambda i, j: ((gs[i] @ gs[j].T) * kernel).sum())
    weights = [g.T @ x for g in gs]
    return symmetric_matrix(len(gs), lambda i, j: torch.dot(weights[i].reshape(-1), weights[j].reshape(-1)))


def symmetric_matrix(size: int, entry: Callable[[int, int], Tensor]) -> Tensor:
    """The size x size matrix of 0-d tensors entry(i, j) = entry(j, i), each pair computed once."""
    rows: list[list[Tensor]] = [[] for _ in range(size)]
    for i in range(size):
        rows[i] = [rows[j][i] for j in range(i)] + [entry(i, j) for j in range(i, size)]
    return torch.stack([torch.stack(row) for row in rows])


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


__all__ = ["WEIGHTINGS", "LinearTap", "Weighting", "effective_lambda", "linear_weight_grad_gram", "register",
           "shared_and_heads", "state_weights", "symmetric_matrix", "task_names"]
