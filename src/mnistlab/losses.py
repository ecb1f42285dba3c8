"""Classification losses beyond plain cross-entropy: other output activations, MSE and Keras-style penalties.

A loss here is a plain callable `(outputs, targets) -> loss` for `train.fit`, not an nn.Module: it keeps
references to the model's weights and biases for the penalties, and `fit` would hand an nn.Module's
parameters to the optimiser a second time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.errors import ConfigError

OUTPUTS = ("softmax", "sigmoid")
LOSSES = ("ce", "ce-smooth", "mse")
LABEL_SMOOTHING = 0.1


class PenalisedLoss:
    """The data loss of an output activation (`output`) and loss (`loss`), plus weight and bias penalties.

    output: 'softmax' or 'sigmoid' (the network itself always ends in the linear logits)
    loss:   'ce' (the cross-entropy that matches `output`), 'ce-smooth' (softmax only, label smoothing
            LABEL_SMOOTHING) or 'mse' (on the output probabilities)
    kernel_l1, kernel_l2: l1 * sum|w| and l2 * sum w^2 over the weights of every Linear and Conv2d layer
    bias_l2: l2 * sum b^2 over their biases
    """

    def __init__(self, model: nn.Module, *, output: str = "softmax", loss: str = "ce", kernel_l1: float = 0.0,
                 kernel_l2: float = 0.0, bias_l2: float = 0.0):
        if output not in OUTPUTS:
            raise ConfigError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
        if loss not in LOSSES:
            raise ConfigError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        if output == "sigmoid" and loss == "ce-smooth":
            raise ConfigError("label smoothing is defined here for softmax outputs only")
        self.output, self.loss = output, loss
        self.kernel_l1, self.kernel_l2, self.bias_l2 = kernel_l1, kernel_l2, bias_l2
        layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d)]
        self.kernels = [m.weight for m in layers]
        self.biases = [m.bias for m in layers if m.bias is not None]

    def data_loss(self, logits: Tensor, y: Tensor) -> Tensor:
        """Mean over the batch (and, for per-unit losses, over the ten outputs, as Keras averages them)."""
        if self.loss == "ce" and self.output == "softmax":
            return F.cross_entropy(logits, y)
        if self.loss == "ce-smooth":
            return F.cross_entropy(logits, y, label_smoothing=LABEL_SMOOTHING)
        target = F.one_hot(y, logits.shape[1]).to(logits.dtype)
        if self.loss == "ce":  # sigmoid outputs: ten independent yes/no questions, binary cross-entropy
            return F.binary_cross_entropy_with_logits(logits, target)
        probs = logits.softmax(1) if self.output == "softmax" else logits.sigmoid()
        return F.mse_loss(probs, target)

    def penalty(self) -> Tensor:
        total = torch.zeros((), device=self.kernels[0].device)
        if self.kernel_l1:
            total = total + self.kernel_l1 * sum(w.abs().sum() for w in self.kernels)
        if self.kernel_l2:
            total = total + self.kernel_l2 * sum(w.square().sum() for w in self.kernels)
        if self.bias_l2 and self.biases:
            total = total + self.bias_l2 * sum(b.square().sum() for b in self.biases)
        return total

    def __call__(self, outputs: tuple[Tensor, ...], targets: tuple[Tensor, ...]) -> Tensor:
        return self.data_loss(outputs[0].float(), targets[0]) + self.penalty()

