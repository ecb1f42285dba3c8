"""Convolutional networks with Keras/TensorFlow 'same' padding semantics.

TensorFlow's 'same' pads so that out = ceil(in / stride), putting the odd pixel
of padding on the right/bottom. PyTorch's padding='same' only exists for stride
1 and copies a padded input on every call for even kernels; an explicit
ZeroPad2d computed here is the same function, for any stride.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from mnistlab.errors import ConfigError
from mnistlab.models.mlp import ACTIVATIONS, initialise
from mnistlab.models.spec import Family, register_family

POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TF 'same' padding along one axis: (before, after, output size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


@dataclass(frozen=True)
class CNNSpec:
    channels: tuple[int, ...] = (32, 64, 128)
    kernels: tuple[int, ...] = (4, 4, 4)
    strides: tuple[int, ...] = (1, 2, 2)
    padding: str = "same"            # 'same' or 'valid'
    pool_after: tuple[int, ...] = ()  # 0-based conv indices followed by a 2x2/2 pooling layer (see pool)
    dense: tuple[int, ...] = ()      # hidden dense widths after flatten
    activation: str = "relu"
    classes: int = 10
    in_channels: int = 1
    image_size: int = 28
    init: str = "default"  # one of models.mlp.INITS (see models.mlp.initialise)
    pool: str = "max"      # the kind of the pooling layers that pool_after places: 'max' or 'avg'

    family: ClassVar[str] = "CNN"
    view: ClassVar[str] = "image"

    @property
    def name(self) -> str:
        return "CNN " + "-".join(f"{c}k{k}s{s}" for c, k, s in zip(self.channels, self.kernels, self.strides,
                                                                 strict=True))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.image_size, self.image_size)

    @property
    def depth(self) -> int:
        """Weight layers: convolutions, hidden dense layers and the output layer."""
        return len(self.channels) + len(self.dense) + 1

    def build(self) -> nn.Sequential:
        return build_cnn(self)

    def describe(self) -> str:
        """The layers in words, e.g. "conv 16 3x3/1 + max-pool, conv 32 3x3/1 ('same'), linear to 10; relu"."""
        layers = ", ".join(f"conv {c} {k}x{k}/{s}" + (f" + {self.pool}-pool" if i in self.pool_after else "")
                           for i, (c, k, s) in enumerate(zip(self.channels, self.kernels, self.strides, strict=True)))
        dense = "".join(f", dense {h}" for h in self.dense)
        return f"{layers} ('{self.padding}'){dense}, linear to {self.classes}; {self.activation}"


_LAYER = re.compile(r"^([0-9]{1,9})k([0-9]{1,9})s([0-9]{1,9})$")


def parse_cnn(text: str, **kw) -> CNNSpec:
    """'32k4s1-64k4s2-128k4s2' (filters, kernel, stride per conv layer) -> CNNSpec; the inverse of .name."""
    text = text.strip().removeprefix("CNN ").strip()
    layers = [_LAYER.match(part) for part in text.split("-")]
    shown = text if len(text) <= 60 else f"{text[:40]}…({len(text):,} characters)"
    if not text or not all(layers):
        raise ConfigError(f"bad CNN spec {shown!r}: write conv layers as <filters>k<kernel>s<stride> joined by '-', "
                          "e.g. 32k4s1-64k4s2-128k4s2")
    values = [tuple(int(g) for g in m.groups()) for m in layers if m]
    if any(v < 1 for layer in values for v in layer):
        raise ConfigError(f"bad CNN spec {shown!r}: filters, kernel and stride must be positive")
    channels, kernels, strides = (tuple(col) for col in zip(*values, strict=True))
    return CNNSpec(channels=channels, kernels=kernels, strides=strides, **kw)


# A CNN's text is its conv layers as <filters>k<kernel>s<stride> joined by '-' (its name without "CNN ").
register_family(Family("CNN", CNNSpec, re.compile(r"(?:CNN\s+)?[0-9]+k.*", re.DOTALL), parse_cnn,
                       "32k4s1-64k4s2-128k4s2"))


class _FlattenKeepingLayout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.shape = x.shape
        ctx.channels_last = (x.dim() == 4 and not x.is_contiguous()
                             and x.is_contiguous(memory_format=torch.channels_last))
        return x.flatten(1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.reshape(ctx.shape)
        return grad.contiguous(memory_format=torch.channels_last) if ctx.channels_last else grad


class Flatten(nn.Flatten):
    """nn.Flatten (the same function, in the same C, H, W order) whose gradient keeps the input's memory format.

    Why: flattening a channels_last map hands back an NCHW gradient, and the ReLU before it then
    compares an NCHW gradient with its channels_last output, which PyTorch does element by element
    off its vectorised path: 0.75 ms for CNN-1's last ReLU at batch 50 against 0.03 ms with both in one
    format plus 0.05 ms for the copy made here, each timed alone (AMD EPYC, AVX512-BF16, 2 threads). In
    the whole bf16 step of CNN-1 that was 0-5% in two in-process comparisons.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.start_dim != 1 or self.end_dim != -1:
            return super().forward(x)
        return _FlattenKeepingLayout.apply(x)


# The brief's Task 4.1 network "CNN-1": 227,306 parameters.
CNN1 = CNNSpec()


def build_cnn(spec: CNNSpec) -> nn.Sequential:
    """conv stack (with TF-style padding) -> flatten -> optional dense layers -> logits."""
    if not (len(spec.channels) == len(spec.kernels) == len(spec.strides)):
        raise ConfigError("channels, kernels and strides must have the same length")
    if spec.padding not in ("same", "valid"):
        raise ConfigError(f"unknown padding {spec.padding!r}; choose same or valid")
    if spec.pool not in POOLS:
        raise ConfigError(f"unknown pool {spec.pool!r}; choose one of {', '.join(POOLS)}")
    act = ACTIVATIONS[spec.activation]
    layers: list[nn.Module] = []
    size, in_ch = spec.image_size, spec.in_channels
    for i, (ch, k, s) in enumerate(zip(spec.channels, spec.kernels, spec.strides, strict=True)):
        if spec.padding == "same":
            before, after, out = same_padding(size, k, s)
            if before == after:
                layers.append(nn.Conv2d(in_ch, ch, k, stride=s, padding=before))
            else:
                layers += [nn.ZeroPad2d((before, after, before, after)), nn.Conv2d(in_ch, ch, k, stride=s)]
        else:
            out = (size - k) // s + 1
            layers.append(nn.Conv2d(in_ch, ch, k, stride=s))
        if out < 1:
            raise ConfigError(f"{spec.name}: the image shrinks to nothing at conv {i + 1}")
        layers.append(act())
        size, in_ch = out, ch
        if i in spec.pool_after:
            layers.append(POOLS[spec.pool](2, 2))
            size //= 2
    layers.append(Flatten())
    width = in_ch * size * size
    for h in spec.dense:
        layers += [nn.Linear(width, h), act()]
        width = h
    layers.append(nn.Linear(width, spec.classes))
    return initialise(nn.Sequential(*layers), spec.init)
