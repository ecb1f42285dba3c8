"""Networks that read analogue clocks: one small CNN backbone and five ways to phrase the answer.

Every variant shares the backbone and differs only in its head, its loss and how its outputs are decoded
into minutes since 12 o'clock (0-719), so they are compared by one metric, the common-sense error
(`mnistlab.data.clocks.common_sense_error`):

- `regression`: one number, the time in dial units (hours, 0-12), trained with a cyclic loss;
- `classes24`: 24 half-hour classes, cross-entropy; the prediction is the bin's centre;
- `classes720`: one class per minute, cross-entropy;
- `multihead`: 12 hour classes (cross-entropy) + the minute as one number in dial units (the minute hand
  points at 0-12 as well) with the cyclic loss;
- `sincos`: (sin, cos) of the hour-hand angle and of the minute-hand angle, mean squared error, decoded
  with atan2 and the two hands reconciled.

The targets of every variant are computed from minutes since 12 (int64, shape (n,)); the multi-head
variant takes the tuple (hour, minute). Heads run in float32 even under bfloat16 autocast: bfloat16 keeps
8 bits of mantissa, which on a 0-12 output is a step of up to 0.06 h, nearly 4 minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.models.cnn import Flatten

VARIANTS = ("regression", "classes24", "classes720", "multihead", "sincos")
VARIANT_TITLES = {
    "regression": "regression, cyclic loss",
    "classes24": "24 classes (half hours)",
    "classes720": "720 classes (minutes)",
    "multihead": "hour class + minute regression",
    "sincos": "sin/cos of both hands",
}
DIAL = 12.0  # the dial's period in its own units: 12 hours for the hour hand, 12 five-minute marks for the minute


VARIANT = OneOf(VARIANTS, message="unknown clock variant {value!r}; choose from {choices}")


def check_variant(variant: str) -> None:
    VARIANT.check("variant", variant)


def _conv(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


POOLS = ("avg", "grid2", "grid4", "grid8")


@dataclass(frozen=True)
class ClockModelSpec(Constrained):
    """The architecture of one clock reader: variant (head), backbone width and depth, pooling, CoordConv
    input channels and an optional hidden layer between the pooled features and the heads."""

    variant: str
    width: int = 16
    pool: str = "avg"
    coord: bool = False
    stages: int = 3
    hidden: int = 0
    downsample: int = 1
    cyclic_head: str = "linear"  # "linear": one output per cyclic number; "angle": the angle of a 2-vector

    CONSTRAINTS: ClassVar[Constraints] = {
        "variant": [VARIANT],
        "width": [Interval(4, 128, note=" channels")],
        "pool": [OneOf(POOLS)],
        "stages": [Interval(1, 5)],
        "hidden": [Interval(0, 4096, message="{name} must be between 0 (none) and 4096 units, got {value}")],
        "downsample": [Interval(1, 4, message="{name} must be between 1 (none) and 4, got {value}")],
        "cyclic_head": [OneOf(("angle", "linear"), message="{name} must be 'angle' or 'linear', got {value!r}")],
    }

    def build(self) -> ClockNet:
        self.validate()
        return ClockNet(self.variant, self.width, self.pool, self.coord, self.stages, self.hidden, self.downsample,
                        self.cyclic_head)


class AddCoords(nn.Module):
    """CoordConv: append the pixel's x and y (each in [-1, 1]) as two more input channels."""

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
        return torch.cat([x, xs, ys], 1)


class ClockBackbone(nn.Sequential):
    """A 5x5 stride-2 stem, then `stages` stages of (3x3 stride 2, 3x3 stride 1) convolutions doubling the
    width, BatchNorm and ReLU throughout, then a pooling to features.

    pool "avg": global average pooling to 8 * width features; "grid<k>": average pooling to a k x k map,
    flattened, so the head still knows *where* on the image each feature fired.
    """

    def __init__(self, width: int = 16, pool: str = "avg", coord: bool = False, stages: int = 3, downsample: int = 1):
        # downsample > 1: average the input over k x k pixel blocks first (a 150-pixel clock read at 75 pixels
        # costs a quarter of the arithmetic; the hands stay about a pixel wide or more)
        layers: list[nn.Module] = [nn.AvgPool2d(downsample)] if downsample > 1 else []
        layers += [AddCoords()] if coord else []
        layers += _conv(3 if coord else 1, width, 5, 2)
        c = width
        for _ in range(stages):
            layers += _conv(c, 2 * c, 3, 2) + _conv(2 * c, 2 * c, 3, 1)
            c *= 2
        grid = 1 if pool == "avg" else int(pool.removeprefix("grid"))
        layers += [nn.AdaptiveAvgPool2d(grid), Flatten()]
        super().__init__(*layers)
        self.features = c * grid * grid


class ClockNet(nn.Module):
    """Backbone + the head(s) of one variant. forward() gives the raw outputs (a tuple for `multihead`);
    `minutes(outputs)` decodes them into minutes since 12 o'clock."""

    def __init__(self, variant: str, width: int = 16, pool: str = "avg", coord: bool = False, stages: int = 3,
                 hidden: int = 0, downsample: int = 1, cyclic_head: str = "linear"):
        super().__init__()
        check_variant(variant)
        self.variant = variant
        self.backbone = ClockBackbone(width, pool, coord, stages, downsample)
        f = self.backbone.features
        sizes = {"regression": (1,), "classes24": (24,), "classes720": (720,), "multihead": (12, 1),
                 "sincos": (4,)}[variant]
        # The cyclic numbers (the regression's time, the multi-head's minute) as one linear output have to jump
        # from 12 back to 0 somewhere on the dial, and from a near-constant start gradient descent sometimes
        # never builds that seam. "angle": the head gives a 2-vector and the number is its angle (atan2) in dial
        # units, the same cyclic loss on a parametrisation without a seam. Measured worse (64 px, 300 steps:
        # regression 149 and 176 minutes for seeds 0 and 1 against 104 and 177, multi-head 109 against 62),
        # so "linear" is the default.
        self.cyclic = {"regression": (0,), "multihead": (1,)}.get(variant, ()) if cyclic_head == "angle" else ()
        sizes = tuple(2 if i in self.cyclic else size for i, size in enumerate(sizes))
        self.neck = nn.Sequential(nn.Linear(f, hidden), nn.ReLU(inplace=True)) if hidden else nn.Identity()
        f = hidden or f
        self.heads = nn.ModuleList(nn.Linear(f, s) for s in sizes)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if not x.is_floating_point():  # uint8 grey levels: kept as bytes until here (a quarter of the memory)
            x = x.float().div_(255)
        features = self.neck(self.backbone(x))
        with torch.autocast(device_type=x.device.type, enabled=False):
            outs = tuple(head(features.float()) for head in self.heads)
            outs = tuple(torch.atan2(o[:, :1], o[:, 1:]) * (DIAL / (2 * math.pi)) if i in self.cyclic else o
                         for i, o in enumerate(outs))
        return outs if len(outs) > 1 else outs[0]

    def minutes(self, outputs: Tensor | tuple[Tensor, ...]) -> Tensor:
        return decode_minutes(self.variant, outputs)


def wrapped(diff: Tensor, period: float = DIAL) -> Tensor:
    """A difference taken the short way round a cycle: into [-period/2, period/2)."""
    return torch.remainder(diff + period / 2, period) - period / 2


def cyclic_square_loss(pred: Tensor, target: Tensor, period: float = DIAL) -> Tensor:
    """Mean squared *wrapped* difference (the squared common-sense error), divided by its chance level.

    A prediction that ignores the image is period/4 off on average and scores period^2/12 = 12 in dial
    units; dividing by that makes 1 mean "no better than chance", and keeps the minute term of the
    multi-head loss on the scale of the hour head's cross-entropy (ln 12 = 2.5 at chance) instead of
    drowning it. Chosen over 1 - cos(angle difference) because its gradient grows with the error all the way to half a
    cycle (1 - cos has a gradient of sin, which fades towards 6 hours off: the clocks that are most wrong,
    many of them at the start, would barely be corrected). It is not smooth only at exactly half a cycle,
    where which way to turn is genuinely undecided.
    """
    return wrapped(pred.float().squeeze(-1) - target.float(), period).pow(2).mean() / (period ** 2 / 12)


def variant_targets(variant: str, minutes: Tensor) -> Tensor | tuple[Tensor, Tensor]:
    """The training targets of `variant` for times given as minutes since 12 (int64, (n,))."""
    check_variant(variant)
    minutes = minutes.long()
    if variant == "classes24":
        return minutes // 30
    if variant == "multihead":
        return minutes // 60, minutes % 60
    return minutes  # regression, classes720, sincos: the objective derives what it needs


def _hand_angles(minutes: Tensor) -> tuple[Tensor, Tensor]:
    m = minutes.float()
    return m * (2 * math.pi / 720), torch.remainder(m, 60) * (2 * math.pi / 60)


def soft_minute_targets(minutes: Tensor, sigma: float, classes: int = 720) -> Tensor:
    """A circular Gaussian over the `classes` minute classes around each true minute (rows sum to 1)."""
    grid = torch.arange(classes, device=minutes.device, dtype=torch.float32)
    gap = wrapped(grid[None, :] - minutes.float()[:, None], float(classes))
    weights = torch.exp(-0.5 * (gap / sigma) ** 2)
    return weights / weights.sum(1, keepdim=True)


def clock_objective(variant: str, smooth: float = 0.0):
    """The loss of `variant` as the engine's objective: (outputs tuple, targets tuple) -> scalar.

    smooth > 0 (classes720 only): cross-entropy against a circular Gaussian of that many minutes around the
    true minute instead of a one-hot target, so that a reading one minute off is a near miss, not a miss as
    bad as six hours off, and each of the 720 classes learns from its neighbours' clocks too.
    """
    check_variant(variant)

    def objective(outputs: tuple[Tensor, ...], targets: tuple[Tensor, ...]) -> Tensor:
        if variant == "classes720" and smooth > 0:
            return F.cross_entropy(outputs[0].float(), soft_minute_targets(targets[0], smooth))
        if variant in ("classes24", "classes720"):
            return F.cross_entropy(outputs[0].float(), targets[0])
        if variant == "regression":
            return cyclic_square_loss(outputs[0], targets[0].float() / 60)  # hours on the 12-hour dial
        if variant == "multihead":
            return (F.cross_entropy(outputs[0].float(), targets[0])
                    + cyclic_square_loss(outputs[1], targets[1].float() / 5))  # minute in five-minute marks
        hour, minute = _hand_angles(targets[0])
        wanted = torch.stack([hour.sin(), hour.cos(), minute.sin(), minute.cos()], dim=1)
        return F.mse_loss(outputs[0].float(), wanted)

    objective.__name__ = f"{variant}_objective"
    return objective


@dataclass(frozen=True)
class ClockLoss:
    """The loss of a clock sub-run as a value (part of its cache key): `variant`'s objective, with soft
    targets of `smooth` minutes for 720 classes (0: one-hot)."""

    variant: str
    smooth: float = 0.0

    def objective(self):
        return clock_objective(self.variant, self.smooth if self.variant == "classes720" else 0.0)


def decode_minutes(variant: str, outputs: Tensor | tuple[Tensor, ...]) -> Tensor:
    """Raw outputs of `variant` -> predicted minutes since 12 o'clock, float in [0, 720)."""
    check_variant(variant)
    outs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    o = outs[0].float()
    if variant == "regression":
        return torch.remainder(o.squeeze(-1) * 60, 720)
    if variant == "classes24":
        return o.argmax(1).float() * 30 + 15
    if variant == "classes720":
        return o.argmax(1).float()
    if variant == "multihead":
        minute = torch.remainder(outs[1].float().squeeze(-1) * 5, 60)
        return o.argmax(1).float() * 60 + minute
    # sincos: the minute hand gives the minute; the hour hand, read as a fraction of 720 minutes, picks
    # the hour whose hour + minute/60 lies closest to it (so 2:59 is not read as 3:59 because the hour hand
    # is almost at 3).
    coarse = torch.remainder(torch.atan2(o[:, 0], o[:, 1]), 2 * math.pi) * (720 / (2 * math.pi))
    minute = torch.remainder(torch.atan2(o[:, 2], o[:, 3]), 2 * math.pi) * (60 / (2 * math.pi))
    hour = torch.remainder(torch.round((coarse - minute) / 60), 12)
    return torch.remainder(hour * 60 + minute, 720)


__all__ = ["DIAL", "POOLS", "VARIANTS", "VARIANT_TITLES", "ClockBackbone", "ClockLoss", "ClockModelSpec", "ClockNet",
           "check_variant", "clock_objective", "cyclic_square_loss", "decode_minutes", "variant_targets", "wrapped"]
