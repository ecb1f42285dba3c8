"""Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018).

One learned log-variance s_i per task, loss = sum_i exp(-s_i) L_i + s_i / 2 (their classification form,
1/sigma^2 L + log sigma). A noisy (hard) task gets a larger sigma and a smaller weight; the s_i / 2 term
stops sigma -> inf. The s_i are parameters of the objective, which `train.fit` optimises with the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from mnistlab.weighting.base import Weighting, effective_lambda, register, state_weights, task_names


@register
class UncertaintyWeighting(Weighting):
    name = "uncertainty"
    title = "uncertainty weighting (Kendall et al. 2018)"
    marker = "D"
    idea = "uncertainty weighting balances the losses by each task's noise"
    adapts_weights = True

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

    @classmethod
    def detail(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        return "log sigma^2: " + ", ".join(f"{n} {state.get(f'log_var_{i}', math.nan):.3f}"
                                           for i, n in enumerate(task_names(state, names)))

    @classmethod
    def describe(cls, state: Mapping[str, float], names: Sequence[str] = ()) -> str:
        names = task_names(state, names)
        weights = state_weights(state)
        lam = effective_lambda(weights)
        text = ("Uncertainty weighting learned log-variances "
                + " and ".join(f"{state.get(f'log_var_{i}', math.nan):.3f} ({n})" for i, n in enumerate(names))
                + ", i.e. weights " + " / ".join(f"{w:.3f}" for w in weights))
        if math.isnan(lam):
            return text + "."
        low, high = (names[0], names[1]) if weights[0] < weights[1] else (names[1], names[0])
        return (text + f" (effective lambda {lam:.3f}): "
                + (f"the {low} loss, the noisier by this measure, is down-weighted relative to the {high} loss"
                   if abs(lam - 0.5) > 0.01 else "the two weights stayed within 2% of each other") + ".")
