"""PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020).

Per-task gradients on the shared parameters; where two of them conflict (negative dot product) each is
projected onto the normal plane of the other before they are summed. With two tasks it costs one extra
backward pass through the trunk and no second-order terms, and it answers "when does MTL hurt" directly:
it counts how often the two tasks' gradients actually conflict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from mnistlab.weighting.base import Weighting, register, shared_and_heads, state_weights

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


@register
class PCGradWeighting(Weighting):
    name = "pcgrad"
    title = "PCGrad (Yu et al. 2020)"
    marker = "s"
    idea = "PCGrad removes conflicting gradient components when they occur"

    def __init__(self, tasks: int = 2):
        super().__init__(tasks)
        self.steps = 0
        self.conflicts = 0
        self.cosine_sum = 0.0

    def manual_backward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor], model: nn.Module) -> Tensor:
        shared, heads = shared_and_heads(model)
        losses = self.task_losses(outputs, targets)
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

    @classmethod
    def weights_label(cls, state: Mapping[str, float]) -> str:
        return " / ".join("1" for _ in state_weights(state)) + ", projected"

    @classmethod
    def detail(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        return (f"gradients conflicted in {100 * state.get('conflict_rate', math.nan):.1f}% of steps, "
                f"mean cosine {state.get('mean_cosine', math.nan):.3f}")

    @classmethod
    def describe(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        agree = state.get("mean_cosine", 0.0) > 0 and state.get("conflict_rate", 1.0) < 0.5
        return (f"PCGrad found the tasks' gradients on the shared layers in conflict (negative dot product) in "
                f"{100 * state.get('conflict_rate', math.nan):.1f}% of steps, with mean cosine similarity "
                f"{state.get('mean_cosine', math.nan):.3f}: "
                + ("the tasks mostly agree, so gradient surgery changes only a minority of steps." if agree else
                   "the tasks often pull the shared layers in different directions, which is where PCGrad's "
                   "projection matters.")
                + " Each step costs one backward pass per task through the trunk.")
