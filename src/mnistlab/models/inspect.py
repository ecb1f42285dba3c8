"""Looking inside a trained CNN: its filters, its feature maps, and images that maximise a class score.

Works on any model whose leaf modules run in the order they are defined (every `nn.Sequential` of
`models.cnn`); conv layers are found by type, never by position, so padding layers, pooling or
extra dense layers do not matter.

    >>> weights = conv_filters(model)                 # [(32, 1, 4, 4), (64, 32, 4, 4), (128, 64, 4, 4)]
    >>> maps = conv_activations(model, x)             # output of each conv layer after its ReLU
    >>> out = class_dream(model, init, targets, DreamConfig(l2_weight=1.0, tv_weight=0.5))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mnistlab.constraints import Constrained, Constraints, Interval
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.models.mlp import ACTIVATIONS

_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())

FilterSummary = Literal["strongest", "mean"]


def conv_layers(model: nn.Module) -> list[nn.Conv2d]:
    """Every Conv2d of `model`, in definition order."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise MnistlabError(f"{type(model).__name__} has no Conv2d layer to inspect")
    return convs


def conv_filters(model: nn.Module) -> list[Tensor]:
    """A detached CPU copy of each conv layer's weight, shape (out_channels, in_channels, kh, kw)."""
    return [conv.weight.detach().cpu().clone() for conv in conv_layers(model)]


def summarise_filters(weight: Tensor, how: FilterSummary = "strongest") -> tuple[Tensor, Tensor]:
    """One (kh, kw) kernel per output filter of a (out, in, kh, kw) weight, and which input channel it is.

    'strongest' keeps, for each output filter, the input-channel slice with the largest L2 norm: a real
    kernel that the layer applies, so its sign pattern can be read. 'mean' averages over input channels,
    which is smoother but lets slices of opposite sign cancel. The channel index is -1 for 'mean'.
    """
    if weight.dim() != 4:
        raise MnistlabError(f"expected a conv weight (out, in, kh, kw), got shape {tuple(weight.shape)}")
    if how == "mean":
        return weight.mean(dim=1), torch.full((weight.shape[0],), -1, dtype=torch.long)
    if how != "strongest":
        raise ConfigError(f"unknown filter summary {how!r}; choose strongest or mean")
    channel = weight.flatten(2).norm(dim=2).argmax(dim=1)
    return weight[torch.arange(weight.shape[0]), channel], channel


def strongest_channel_share(weight: Tensor) -> float:
    """Mean share of each output filter's squared norm that lies in its strongest input channel.

    1/in_channels when the weight is spread evenly, 1 when each filter reads a single channel: it says
    how much of the layer the 'strongest' summary actually shows.
    """
    energy = weight.flatten(2).pow(2).sum(dim=2)  # (out, in)
    return float((energy.max(dim=1).values / energy.sum(dim=1).clamp_min(1e-12)).mean())


def spatial_smoothness(weight: Tensor) -> float:
    """Pearson correlation of horizontally and vertically neighbouring kernel weights, pooled over a layer.

    About 0 for random initialisation; clearly positive when the kernels have learned smooth strokes and
    edges rather than pixel noise. Each kernel slice is centred first, so a kernel's overall sign (its
    mean) does not count as smoothness.
    """
    w = weight.detach().float()
    w = w - w.mean(dim=(2, 3), keepdim=True)
    pairs = [(w[..., :, :-1], w[..., :, 1:]), (w[..., :-1, :], w[..., 1:, :])]
    a = torch.cat([p[0].flatten() for p in pairs])
    b = torch.cat([p[1].flatten() for p in pairs])
    a, b = a - a.mean(), b - b.mean()
    denom = (a.norm() * b.norm()).item()
    return float((a @ b).item() / denom) if denom > 0 else 0.0


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


@torch.no_grad()
def conv_activations(model: nn.Module, x: Tensor) -> list[Tensor]:
    """The feature maps of every conv layer for a batch x: each conv's output after its activation.

    When the leaf module right after a conv is an activation function (ReLU, ...), its output is taken;
    otherwise the conv's own output. Returns one (n, channels, h, w) tensor per conv layer.
    """
    leaves = _leaves(model)
    taps: list[nn.Module] = []
    for i, module in enumerate(leaves):
        if isinstance(module, nn.Conv2d):
            after = leaves[i + 1] if i + 1 < len(leaves) else None
            taps.append(after if isinstance(after, _ACTIVATION_TYPES) else module)
    if not taps:
        raise MnistlabError(f"{type(model).__name__} has no Conv2d layer to inspect")
    outputs: dict[int, Tensor] = {}
    hooks = [tap.register_forward_hook(lambda _m, _i, out, k=k: outputs.__setitem__(k, out.detach().clone()))
             for k, tap in enumerate(taps)]
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return [outputs[k] for k in range(len(taps))]


# ----------------------------------------------------------------------------------------------------
# Class visualisation ("deep dream" on a class logit)
# ----------------------------------------------------------------------------------------------------

def l2_penalty(x: Tensor) -> Tensor:
    """Squared L2 norm of each image in (n, c, h, w), sum of x^2: pulls pixels back to the black background.

    A sum, not a mean, so that a pixel's gradient 2x is comparable with its share of the logit gradient
    (Simonyan et al. 2014 maximise S_c(x) - lambda ||x||^2).
    """
    return x.pow(2).flatten(1).sum(dim=1)


def tv_penalty(x: Tensor) -> Tensor:
    """Anisotropic total variation of each image: sum of |horizontal step| + |vertical step|.

    Penalises pixel-to-pixel jumps, so the optimiser prefers solid strokes to high-frequency noise
    (which raises a logit just as well but is an adversarial pattern, not a picture).
    """
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).sum(dim=1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).sum(dim=1)
    return dx + dy


@dataclass(frozen=True)
class DreamConfig(Constrained):
    """Gradient ascent on a class logit. Pixels live in [0, 1], the 'unit' normalisation of the data."""

    steps_per_octave: int = 100
    octaves: int = 3            # coarse-to-fine resolutions, the last one the full image size
    octave_scale: float = 1.5   # each octave is this much coarser than the next
    lr: float = 0.01            # mean pixel change per step (normalised gradient ascent)
    jitter: int = 2             # random shift of up to this many pixels before each forward pass
    l2_weight: float = 0.0
    tv_weight: float = 0.0
    snapshots: int = 5          # images kept along the way, the start and the end included

    CONSTRAINTS: ClassVar[Constraints] = {
        "steps_per_octave": [Interval(1, 100_000)],
        "octaves": [Interval(1, 10)],
        "octave_scale": [Interval(1, 10)],
        "lr": [Interval(0, None, closed="neither",
                        message="the dream learning rate {name} must be a positive number, got {value}")],
        "jitter": [Interval(0, 27, note=" pixels")],
        "l2_weight": [Interval(0, None)],
        "tv_weight": [Interval(0, None)],
        "snapshots": [Interval(2, None, message="{name} must be at least 2 (the start and the end)")],
    }

    @property
    def total_steps(self) -> int:
        return self.steps_per_octave * self.octaves

    def octave_sizes(self, size: int) -> list[int]:
        """Image side length at each octave, coarsest first, ending at `size`."""
        sizes = [max(1, round(size / self.octave_scale ** k)) for k in reversed(range(self.octaves))]
        if sizes[0] < 4:
            raise ConfigError(f"{self.octaves} octaves at scale {self.octave_scale} shrink a {size}-pixel image "
                              f"to {sizes[0]} pixels; use fewer octaves or a smaller octave_scale")
        return sizes


@dataclass
class DreamSnapshot:
    step: int
    images: Tensor        # (n, c, h, w) on the CPU
    confidence: Tensor    # softmax probability of each image's target class, (n,)
    logit: Tensor         # the target logit, (n,)


@dataclass
class DreamResult:
    images: Tensor                       # final images, (n, c, h, w) on the CPU
    snapshots: list[DreamSnapshot] = field(default_factory=list)
    l2: Tensor | None = None             # final L2 term per image
    tv: Tensor | None = None             # final TV term per image

    @property
    def start(self) -> DreamSnapshot:
        return self.snapshots[0]

    @property
    def final(self) -> DreamSnapshot:
        return self.snapshots[-1]


def _resize(x: Tensor, size: int) -> Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    shrinking = size < x.shape[-1]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)


def class_dream(model: nn.Module, init: Tensor, targets: Tensor | list[int], cfg: DreamConfig = DreamConfig(),
                *, generator: torch.Generator | None = None) -> DreamResult:
    """Change each image of `init` (n, c, h, w, pixels in [0, 1]) so that the model's logit for its target
    class grows, by gradient ascent on

        logit_target(jitter(x)) - l2_weight * sum(x^2) - tv_weight * TV(x),   x clipped to [0, 1].

    Multi-scale octaves, coarse to fine: the network only takes full-size images, so at a coarse octave
    the optimised variable is a low-resolution image that is upsampled (and the fine detail of the
    current image added back, as in the original DeepDream) before the forward pass. Coarse octaves build
    large strokes; the last, full-resolution one refines them. The jitter is a random circular shift of
    up to `jitter` pixels per step, so no single-pixel pattern can be exploited. The model's parameters
    are not touched (gradients are taken with respect to the image only). Deterministic given `generator`.
    """
    cfg.validate()
    device = init.device
    targets = torch.as_tensor(targets, dtype=torch.long, device=device).reshape(-1)
    if init.dim() != 4 or len(init) != len(targets):
        raise MnistlabError(f"init must be (n, c, h, w) with one target per image; got {tuple(init.shape)} "
                            f"and {len(targets)} targets")
    size = init.shape[-1]
    if init.shape[-2] != size:
        raise MnistlabError("class_dream needs square images")
    sizes = cfg.octave_sizes(size)
    total = cfg.total_steps
    keep = sorted({round(i * total / (cfg.snapshots - 1)) for i in range(cfg.snapshots)})
    generator = generator or torch.Generator().manual_seed(0)
    was_training = model.training
    model.eval()

    def score(x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            logits = model(x).float()
        picked = logits.gather(1, targets[:, None]).squeeze(1)
        return picked, logits.softmax(dim=1).gather(1, targets[:, None]).squeeze(1)

    def snapshot(step: int, x: Tensor) -> DreamSnapshot:
        logit, conf = score(x)
        return DreamSnapshot(step, x.detach().cpu().clone(), conf.cpu(), logit.cpu())

    x = init.detach().float().clamp(0, 1)
    snapshots = [snapshot(0, x)]
    step = 0
    try:
        for octave_size in sizes:
            low = _resize(x, octave_size).detach().clone()
            detail = x - _resize(low, size)  # the fine structure a coarse octave cannot represent
            low.requires_grad_(True)
            for _ in range(cfg.steps_per_octave):
                shift = torch.randint(-cfg.jitter, cfg.jitter + 1, (2,), generator=generator).tolist()
                image = (_resize(low, size) + detail).clamp(0, 1)
                logits = model(torch.roll(image, shifts=shift, dims=(2, 3)))
                objective = logits.float().gather(1, targets[:, None]).squeeze(1)
                if cfg.l2_weight:
                    objective = objective - cfg.l2_weight * l2_penalty(image)
                if cfg.tv_weight:
                    objective = objective - cfg.tv_weight * tv_penalty(image)
                (grad,) = torch.autograd.grad(objective.sum(), low)
                with torch.no_grad():
                    # DeepDream's normalised ascent: the mean pixel moves `lr` per step, whatever the
                    # logit's scale, and pixels with a large gradient move most (Adam would move every
                    # pixel alike and wipe out a real start image within a few dozen steps).
                    scale = grad.abs().flatten(1).mean(dim=1).clamp_min(1e-12)
                    low += cfg.lr * grad / scale[:, None, None, None]
                    low.clamp_(0, 1)
                step += 1
                if step in keep and step < total:
                    snapshots.append(snapshot(step, (_resize(low, size) + detail).clamp(0, 1)))
            x = (_resize(low.detach(), size) + detail).clamp(0, 1)
    finally:
        model.train(was_training)
    snapshots.append(snapshot(total, x))
    final = x.detach().cpu()
    return DreamResult(images=final, snapshots=snapshots, l2=l2_penalty(final), tv=tv_penalty(final))


def noise_images(n: int, size: int = 28, amplitude: float = 0.2, *, channels: int = 1,
                 generator: torch.Generator | None = None) -> Tensor:
    """Low-amplitude uniform noise in [0, amplitude]: a near-black start that favours no class."""
    if not 0 < amplitude <= 1:
        raise ConfigError(f"noise amplitude must be in (0, 1], got {amplitude}")
    return torch.rand((n, channels, size, size), generator=generator) * amplitude


__all__ = [
    "DreamConfig", "DreamResult", "DreamSnapshot", "class_dream", "conv_activations", "conv_filters",
    "conv_layers", "l2_penalty", "noise_images", "spatial_smoothness", "strongest_channel_share",
    "summarise_filters", "tv_penalty",
]
