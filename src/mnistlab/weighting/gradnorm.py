"""GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss
Balancing in Deep Multitask Networks", ICML 2018).

Learnable task weights w_i, loss = sum_i w_i L_i. At every step the weights get their own loss on the
gradient norms of the weighted task losses at one shared layer W:

    G_i = ||grad_W (w_i L_i)|| = w_i ||grad_W L_i||,   r_i = (L_i(t) / L_i(0)) / mean_j (L_j(t) / L_j(0)),
    L_grad = sum_i | G_i - mean_j(G_j) * r_i ** alpha |    (the target term held constant)

so a task whose gradient is small for how far it still has to go (its loss has fallen least, relative to
its first loss) gains weight, with asymmetry alpha (the paper's default here, 1.5). Choices:

- W is the last shared weight matrix: in Task 6's network the trunk's last Linear (6,272 -> 3,136), as the
  paper takes the last shared layer to keep the extra cost to one short backward pass per task.
- ||grad_W L_i|| of a Linear's W is ||G_i^T X|| (X the layer's input, G_i task i's gradient at its
  output), taken from X and G_i without forming the weight gradient: on Task 6's network 3 ms a step
  instead of 22 for the two weight gradients of the 6,272 x 3,136 layer (2-core EPYC, bf16). Forming
  them, the direct way, is what the first step does (it attaches the hook that records X) and what a
  W that is not a Linear's gets.
- L_grad's gradient reaches only the w_i (G_i is linear in w_i, so no second-order terms) and is left in
  `weights.grad`; the w_i are parameters of the objective, so `train.fit`'s optimiser steps them with the
  model (Adam at the model's lr and schedule, as the paper and LibMTL do), not a second optimiser of its own.
- After each step the weights are renormalised to sum to the number of tasks (the paper's rule), done
  where they are next used, with a floor of 1e-3 so that a weight can never turn a loss into a reward.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from mnistlab.errors import ConfigError
from mnistlab.weighting.base import (
    Weighting,
    effective_lambda,
    linear_weight_grad_gram,
    register,
    shared_and_heads,
    state_weights,
    task_names,
)

MIN_WEIGHT = 1e-3


@register
class GradNormWeighting(Weighting):
    name = "gradnorm"
    title = "GradNorm (Chen et al. 2018)"
    marker = "P"
    idea = "GradNorm equalises the tasks' gradient norms on the last shared layer, scaled by how slowly each trains"
    adapts_weights = True

    def __init__(self, tasks: int = 2, alpha: float = 1.5):
        super().__init__(tasks)
        self.alpha = float(alpha)
        self.weights = nn.Parameter(torch.ones(tasks))
        self.register_buffer("initial_losses", torch.full((tasks,), math.nan))
        self.register_buffer("grad_norm_sum", torch.zeros(tasks))
        self.register_buffer("train_rates", torch.ones(tasks))
        self.steps = 0

    def normalised(self) -> Tensor:
        """The weights as used: at least MIN_WEIGHT, summing to the number of tasks."""
        w = self.weights.detach().clamp_min(MIN_WEIGHT)
        return w * (self.tasks / w.sum())

    def combine(self, losses: Tensor) -> Tensor:
        # The plain form (evaluation, or a caller without manual_backward): the current weights, no update.
        return (self.normalised().to(losses.device) * losses).sum()

    def manual_backward(self, outputs: Sequence[Tensor], targets: Sequence[Tensor], model: nn.Module) -> Tensor:
        shared, _ = shared_and_heads(model)
        matrices = [p for p in shared if p.dim() > 1]
        if not matrices:
            raise ConfigError("GradNorm needs a shared weight matrix (a Linear or Conv layer in the trunk)")
        layer = matrices[-1]
        with torch.no_grad():  # the paper's renormalisation after the previous step
            self.weights.copy_(self.normalised())
        losses = self.task_losses(outputs, targets)
        if self.steps == 0:  # L_i(0): the losses of the first step
            self.initial_losses.copy_(losses.detach())
        norms = self.gradient_norms(losses, layer, model)
        ratios = losses.detach() / self.initial_losses
        rates = ratios / ratios.mean()
        g = self.weights * norms.detach()
        target = (g.mean() * rates ** self.alpha).detach()
        self.weights.grad = torch.autograd.grad((g - target).abs().sum(), self.weights)[0]
        total = (self.weights.detach() * losses).sum()
        total.backward()
        with torch.no_grad():
            self.grad_norm_sum += norms.detach()
            self.train_rates.copy_(rates)
        self.steps += 1
        return total.detach()

    def gradient_norms(self, losses: Tensor, layer: nn.Parameter, model: nn.Module) -> Tensor:
        """||grad_W L_i|| for each task, W = `layer`: from W's input and each task's gradient at its output
        where W is a Linear's weight and its tap saw this step's forward, else from the weight gradients."""
        seen = self.tapped_linear(model, layer)
        if seen is not None:
            inputs, output = seen
            grads = [torch.autograd.grad(loss, output, retain_graph=True, allow_unused=True)[0] for loss in losses]
            if all(g is not None for g in grads):  # None: the tapped output came from another forward
                with torch.no_grad():
                    return linear_weight_grad_gram(inputs, grads).diagonal().clamp_min(0).sqrt()
        return torch.stack([torch.autograd.grad(loss, layer, retain_graph=True)[0].norm() for loss in losses])

    def task_weights(self) -> list[float]:
        return self.normalised().tolist()

    def state(self) -> dict[str, float]:
        out = super().state()
        out["alpha"] = self.alpha
        if self.steps:
            out.update({f"grad_norm_{i}": v / self.steps for i, v in enumerate(self.grad_norm_sum.tolist())})
            out.update({f"train_rate_{i}": v for i, v in enumerate(self.train_rates.tolist())})
        return out

    @classmethod
    def detail(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        names = task_names(state, names)
        return (f"alpha {state.get('alpha', math.nan):g}; mean gradient norm on the last shared layer "
                + ", ".join(f"{n} {state.get(f'grad_norm_{i}', math.nan):.3g}" for i, n in enumerate(names))
                + "; last relative training rate "
                + ", ".join(f"{n} {state.get(f'train_rate_{i}', math.nan):.3f}" for i, n in enumerate(names)))

    @classmethod
    def describe(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        names = task_names(state, names)
        weights = state_weights(state)
        lam = effective_lambda(weights)
        heavy = names[max(range(len(weights)), key=weights.__getitem__)]
        norms = [state.get(f"grad_norm_{i}", math.nan) for i in range(len(weights))]
        return (f"GradNorm (alpha {state.get('alpha', math.nan):g}) ended with weights "
                + " / ".join(f"{w:.3f} ({n})" for w, n in zip(weights, names, strict=True))
                + ("" if math.isnan(lam) else f", effective lambda {lam:.3f}")
                + ". Unweighted, the tasks' gradients on the last shared layer had mean norms "
                + " and ".join(f"{v:.3g} ({n})" for v, n in zip(norms, names, strict=True))
                + (f"; GradNorm gave the {heavy} loss the larger weight to bring the weighted norms towards their "
                   "target (the mean norm, scaled up for the task whose loss has fallen least)."
                   if max(weights) - min(weights) > 0.02 else
                   "; the weights stayed within 1% of equal, so the weighted norms were already near their target."))
