"""PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020).

Per-task gradients on the shared parameters; where two of them conflict (negative dot product) each is
projected onto the normal plane of the other before they are summed. With two tasks it costs one extra
backward pass through the trunk and no second-order terms, and it answers "when does MTL hurt" directly:
it counts how often the two tasks' gradients actually conflict.

The surgery needs only the dot products of the task gradients (conflict_coefficients), and the update is
a combination of them. So the last shared Linear (Task 6: 6,272 x 3,136, 19.7 M weights) never forms a
weight gradient per task: its dot products come from its input and each task's gradient at its output
(base.linear_weight_grad_gram) and its update from one backward pass of the combined output gradient.
On Task 6's network (2-core EPYC, bf16) a step took 119 ms that way before and 84 ms now (fixed
weighting 57 ms); the gradients agree with the per-task form within bf16 rounding (3e-3 relative; 3e-7
in fp32).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from mnistlab.weighting.base import (
    Weighting,
    linear_weight_grad_gram,
    register,
    shared_and_heads,
    state_weights,
    symmetric_matrix,
)


def gram_matrix(grads: Sequence[Sequence[Tensor]]) -> Tensor:
    """M[i, j] = <g_i, g_j> for task gradients given as one tensor per parameter (float64, on the CPU).

    The tensors are never flattened into one vector: concatenating the Task 6 network's 20 M shared
    gradients cost as much time as its backward pass."""
    return symmetric_matrix(len(grads), lambda i, j: sum(
        (torch.dot(a.reshape(-1), b.reshape(-1)) for a, b in zip(grads[i], grads[j], strict=True)),
        torch.zeros(()))).double().cpu()


def conflict_coefficients(gram: Tensor, order: Sequence[Sequence[int]] | None = None) -> Tensor:
    """PCGrad's surgery done on the task gradients' Gram matrix: c with sum_i g_i' = sum_j c_j g_j.

    g_i loses its component along the *original* g_j (in `order[i]`, default j ascending) where g_i . g_j < 0,
    as in the paper's algorithm 1. Every projected g_i' is a combination sum_j A[i, j] g_j of the originals,
    so <g_i', g_j> = (A @ gram)[i, j]: the surgery needs only the T x T dot products, and the update is one
    combination of the task gradients (PCGradWeighting forms it with one weighted backward pass for the
    layer it taps).
    """
    tasks = len(gram)
    mix = torch.eye(tasks, dtype=torch.float64)
    for i in range(tasks):
        for j in order[i] if order is not None else range(tasks):
            if j == i:
                continue
            dot = float(mix[i] @ gram[:, j])
            if dot < 0:
                mix[i, j] -= dot / max(float(gram[j, j]), 1e-20)
    return mix.sum(0)


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
        matrices = [p for p in shared if p.dim() > 1]
        seen = self.tapped_linear(model, matrices[-1]) if matrices else None
        # The tapped Linear's weight gradients are never formed per task: their dot products come from the
        # layer's input and each task's gradient at its output, and the layer's update from one backward pass.
        tapped_weight = matrices[-1] if seen is not None else None
        explicit = [p for p in shared if p is not tapped_weight]
        wanted = [*explicit, *heads, *([seen[1]] if seen is not None else [])]
        task_grads: list[list[Tensor]] = []
        output_grads: list[Tensor] = []
        head_grads: list[Tensor | None] = [None] * len(heads)
        for loss in losses:
            # One backward pass per task: a task's loss does not reach the other heads (their gradients come
            # back None, uncomputed), so the heads need no extra pass.
            grads = torch.autograd.grad(loss, wanted, retain_graph=True, allow_unused=True)
            task_grads.append([torch.zeros_like(p) if g is None else g
                               for p, g in zip(explicit, grads[:len(explicit)], strict=True)])
            for k, g in enumerate(grads[len(explicit):len(explicit) + len(heads)]):
                if g is not None:
                    head_grads[k] = g if head_grads[k] is None else head_grads[k] + g
            if seen is not None:
                output_grads.append(torch.zeros_like(seen[1]) if grads[-1] is None else grads[-1])
        with torch.no_grad():
            gram = gram_matrix(task_grads)
            if seen is not None:
                gram += linear_weight_grad_gram(seen[0], output_grads).double().cpu()
        self._record(gram)
        order = [[int(j) for j in torch.randperm(self.tasks) if int(j) != i] for i in range(self.tasks)]
        coefficients = conflict_coefficients(gram, order).tolist()
        for p, g in zip(heads, head_grads, strict=True):
            p.grad = g
        for k, p in enumerate(explicit):
            p.grad = sum(c * g[k] for c, g in zip(coefficients, task_grads, strict=True))
        if seen is not None:
            combined = sum(c * g.float() for c, g in zip(coefficients, output_grads, strict=True))
            (tapped_weight.grad,) = torch.autograd.grad(seen[1], tapped_weight, combined.to(seen[1].dtype))
        return losses.sum().detach()

    def _record(self, gram: Tensor) -> None:
        if len(gram) < 2:
            return
        cos = float(gram[0, 1] / (gram[0, 0] * gram[1, 1]).sqrt().clamp_min(1e-20))
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
