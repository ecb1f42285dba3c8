"""A Keras-like summary table: layer, output shape, parameter count."""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import nn


def summary_rows(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) for each leaf module, found by running one dummy input."""
    rows: list[tuple[str, str, int]] = []
    hooks = []

    def hook(module: nn.Module, _inputs, output) -> None:
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else "(tuple)"
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append((type(module).__name__, str(shape), params))

    for module in model.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(hook))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros((1, *input_shape), device=device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return rows


def model_summary(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> str:
    rows = summary_rows(model, input_shape)
    lines = [f"{'layer':<16}{'output shape':<22}{'params':>12}", "-" * 50]
    lines += [f"{name:<16}{shape:<22}{params:>12,}" for name, shape, params in rows]
    total = sum(p.numel() for p in model.parameters())
    lines += ["-" * 50, f"{'total':<38}{total:>12,}"]
    return "\n".join(lines)


def forward_macs(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    """Multiply-accumulates of one forward pass of one image through the Conv2d and Linear layers.

    Training costs about 3x the forward pass (forward, gradient w.r.t. inputs, gradient w.r.t. weights),
    and one MAC is 2 FLOPs, so an epoch of n images is about 6 * macs * n FLOPs.
    """
    total = 0
    hooks = []

    def hook(module: nn.Module, _inputs, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * kernel
        elif isinstance(module, nn.Linear):
            total += output[0].numel() * module.in_features

    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            hooks.append(module.register_forward_hook(hook))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total


@cache
def spec_forward_macs(spec: Any, input_shape: tuple[int, ...] | None = None) -> int:
    """`forward_macs` of the network a frozen spec (MLPSpec, CNNSpec, ClockModelSpec) builds, on
    `input_shape` (default: the spec's own; the clock reader's image size is set by its data, not its spec).
    Plans are made again for every contrast and analysis, so each architecture is built and counted once,
    not once per plan."""
    return forward_macs(spec.build(), input_shape or spec.input_shape)
