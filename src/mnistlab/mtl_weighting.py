"""How a multi-task network's per-task losses become one update, kept apart from the architecture.

In the style of LibMTL: the network only returns one tuple of logits per batch; a weighting
strategy (an `nn.Module` objective for `train.fit`) turns (outputs, targets) into the loss, and
may own learnable parameters (which `fit` optimises with the model) or do its own backward pass
(`manual_backward(outputs, targets, model) -> loss`, leaving gradients in `.grad`).

- FixedWeighting: loss = sum_i w_i L_i; the brief's lambda * L_item + (1 - lambda) * L_group.
- UncertaintyWeighting (Kendall, Gal & Cipolla, CVPR 2018): one learned log-variance s_i per task,
  loss = sum_i exp(-s_i) L_i + s_i / 2 (their classification form, 1/sigma^2 L + log sigma).
  A noisy (hard) task gets a larger sigma and a smaller weight; the s_i / 2 term stops sigma -> inf.
- PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020): per-task gradients
  on the shared parameters; where two of them conflict (negative dot product) each is projected onto
  the normal plane of the other before they are summed. Chosen over GradNorm because with two tasks
  it costs one extra backward pass through the trunk and no second-order terms, and because it
  answers the brief's question "when does MTL hurt" directly: it counts how often the two tasks'
  gradients actually conflict.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.errors import ConfigError

STRATEGIES = ("fixed", "uncertainty", "pcgrad")


class Weighting(nn.Module):
    """Base: per-task cross-entropy losses, combined by `combine`. Subclasses override `combine`."""

    name = "base"

    def __init__(self, tasks: int = 2):
        super().__init__()
        if tasks < 1:
            raise ConfigError(f"a weighting needs at least one task, got {tasks}")
        self.tasks = tasks

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


class FixedWeighting(Weighting):
    name = "fixed"

    def __init__(self, weights: Sequence[float]):
        super().__init__(len(weights))
        if any(not w >= 0 for w in weights) or sum(weights) <= 0:
            raise ConfigError(f"fixed task weights must be non-negative and not all zero, got {list(weights)}")
        self.register_buffer("weights", torch.tensor([float(w) for w in weights]))

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


class UncertaintyWeighting(Weighting):
    name = "uncertainty"

    def __init__(self, tasks: int = 2, init_log_var: float = 0.0):
        super().__init__(tasks)
        self.log_vars = nn.Parameter(torch.full((tasks,), float(init_log_var)))

    def combine(self, losses: Tensor) -> Tensor:
        return (torch.exp(-self.log_vars) * losses + 0.5 * self.log_vars).sum()

    def task_weights(self) -> list[float]:
        return torch.exp(-self.log_vars.detach()).tolist()

    def state(self) -> dict[str, float]:
        out = super().state()
        out.update({f"log_var_{i}": v for i, v in enumerate(self.log_vars.detach().tolist())})
        return out


# One task's gradient: a tensor, or one tensor per shared parameter. The list form is never flattened into
# one vector: concatenating the Task 6 network's 20 M shared gradients cost as much time as its backward pass.
TaskGradient = Tensor | Sequence[Tensor]


def _parts(g: TaskGradient) -> list[Tensor]:
    return [g] if isinstance(g, Tensor) else list(g)


def gradient_dot(a: TaskGradient, b: TaskGradient) -> Tensor:
    """The dot product of two task gradients, summed over their tensors."""
    return torch.stack([torch.dot(x.reshape(-1), y.reshape(-1))
                        for x, y in zip(_parts(a), _parts(b), strict=True)]).sum()


def project_conflicting(grads: Sequence[TaskGradient],
                        order: Sequence[Sequence[int]] | None = None) -> list[TaskGradient]:
    """PCGrad's surgery on per-task gradients: g_i loses its component along g_j where g_i . g_j < 0.

    Each g_i is projected against the *original* g_j (in `order[i]`, default j ascending), as in the
    paper's algorithm 1. Each gradient comes back in the form it came in; the inputs are not modified
    (a gradient that needed no projection comes back as it is).
    """
    out: list[TaskGradient] = []
    for i, g in enumerate(grads):
        current = _parts(g)
        others = order[i] if order is not None else [j for j in range(len(grads)) if j != i]
        for j in others:
            if j == i:
                continue
            dot = gradient_dot(current, grads[j]).item()
            if dot < 0:
                coef = dot / max(gradient_dot(grads[j], grads[j]).item(), 1e-20)
                current = [torch.add(c, gj, alpha=-coef) for c, gj in zip(current, _parts(grads[j]), strict=True)]
        out.append(current[0] if isinstance(g, Tensor) else current)
    return out


class PCGradWeighting(Weighting):
    name = "pcgrad"

    def __init__(self, tasks: int = 2):
        super().__init__(tasks)
        self.steps = 0
        self.conflicts = 0
        self.cosine_sum = 0.0

    def manual_backward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor], model: nn.Module) -> Tensor:
        shared_fn = getattr(model, "shared_parameters", None)
        if shared_fn is None:
            raise ConfigError("PCGrad needs a model with shared_parameters() (a multi-task network)")
        losses = self.task_losses(outputs, targets)
        shared = [p for p in shared_fn() if p.requires_grad]
        shared_ids = {id(p) for p in shared}
        heads = [p for p in model.parameters() if p.requires_grad and id(p) not in shared_ids]
        task_grads: list[list[Tensor]] = []
        head_grads: list[Tensor | None] = [None] * len(heads)
        for t, loss in enumerate(losses):
            # One backward pass per task over shared and head parameters: a task's loss does not reach the
            # other heads (their gradients come back None, uncomputed), so the heads need no extra pass.
            grads = torch.autograd.grad(loss, shared + heads, retain_graph=t < len(losses) - 1, allow_unused=True)
            task_grads.append([torch.zeros_like(p) if g is None else g
                               for p, g in zip(shared, grads[:len(shared)], strict=True)])
            for k, g in enumerate(grads[len(shared):]):
                if g is not None:
                    head_grads[k] = g if head_grads[k] is None else head_grads[k] + g
        self._record(task_grads)
        order = [[int(j) for j in torch.randperm(self.tasks) if int(j) != i] for i in range(self.tasks)]
        projected = project_conflicting(task_grads, order)
        for p, g in zip(heads, head_grads, strict=True):
            p.grad = g
        for k, p in enumerate(shared):
            total = projected[0][k]
            for other in projected[1:]:
                total = total + other[k]
            p.grad = total
        return losses.sum().detach()

    def _record(self, grads: list[list[Tensor]]) -> None:
        if len(grads) < 2:
            return
        norms = gradient_dot(grads[0], grads[0]) * gradient_dot(grads[1], grads[1])
        cos = (gradient_dot(grads[0], grads[1]) / norms.sqrt().clamp_min(1e-20)).item()
        self.steps += 1
        self.conflicts += int(cos < 0)
        self.cosine_sum += cos

    def state(self) -> dict[str, float]:
        out = super().state()
        if self.steps:
            out["conflict_rate"] = self.conflicts / self.steps
            out["mean_cosine"] = self.cosine_sum / self.steps
        return out


def make_weighting(name: str, *, lam: float = 0.5, tasks: int = 2) -> Weighting:
    """A weighting strategy by name: 'fixed' (the brief's lambda), 'uncertainty' or 'pcgrad'."""
    if name == "fixed":
        if tasks != 2:
            raise ConfigError("the lambda form of fixed weighting is for two tasks")
        return FixedWeighting.from_lambda(lam)
    if name == "uncertainty":
        return UncertaintyWeighting(tasks)
    if name == "pcgrad":
        return PCGradWeighting(tasks)
    raise ConfigError(f"unknown weighting strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


__all__ = ["STRATEGIES", "FixedWeighting", "PCGradWeighting", "UncertaintyWeighting", "Weighting",
           "gradient_dot", "make_weighting", "project_conflicting"]
