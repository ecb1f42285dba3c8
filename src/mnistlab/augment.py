"""On-device batch augmentation for small grey images: random translations, flips and small affine warps.

Done on the whole batch with index arithmetic (or one `affine_grid`/`grid_sample` for the warps), on the
device, inside the training step: no per-sample Python, no copy to the CPU. The random numbers come from
the engine's seeded generator, so a run stays deterministic.

Kinds (`TrainConfig.augment`):
  none        the brief's: the images as they are
  shift       a random translation of up to MAX_SHIFT pixels each way
  flip-shift  a random left-right mirror of half the images, then a shift: for clothes, whose classes are
              mirror-symmetric (a left shoe and a right shoe are both shoes)
  affine      for digits, which must not be mirrored: a random rotation within +/-MAX_ROTATE degrees, a scale
              within 1 +/- MAX_SCALE and a translation within +/-MAX_SHIFT pixels, bilinear, in one warp

Test-time augmentation (`TrainConfig.tta`, `tta_views`) uses fixed views instead of random ones: the
identity plus one-pixel shifts ("shift") or plus the mirror image ("flip").
"""

from __future__ import annotations

import torch
from torch import Tensor

AUGMENTATIONS = ("none", "shift", "flip-shift", "affine")
MAX_SHIFT = 2  # pixels; Fashion-MNIST and MNIST objects are centred with a 2-4 px empty border
# Digits: the range of Deotte's MNIST study (rotation 10 degrees, zoom 10%), enough for slanted handwriting
# without turning a 6 into a 9.
MAX_ROTATE = 10.0  # degrees
MAX_SCALE = 0.1
TTA_VIEWS = ("none", "shift", "flip")


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image (N, C, H, W) by its own random offset in [-max_shift, max_shift]^2,
    filling with zeros (the background of both datasets after unit or pm1 scaling is its minimum,
    so zero is right for 'unit'; for 'pm1' the border becomes 0, a light grey, which the network
    sees rarely and only at the edge)."""
    n, c, h, w = x.shape
    p = max_shift
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offsets = torch.randint(0, 2 * p + 1, (2, n), device=x.device, generator=generator)
    rows = (offsets[0, :, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of the images left-right."""
    flip = torch.rand(len(x), device=x.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_affine(x: Tensor, generator: torch.Generator, *, max_rotate: float = MAX_ROTATE,
                  max_scale: float = MAX_SCALE, max_shift: float = MAX_SHIFT) -> Tensor:
    """Warp each image (N, C, H, W) by its own random rotation (+/-max_rotate degrees), scale
    (1 +/- max_scale) and translation (+/-max_shift pixels), bilinear, zeros outside the image."""
    n, _, h, w = x.shape
    u = torch.rand(4, n, device=x.device, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[0] * (max_rotate * torch.pi / 180)
    scale = 1 + u[1] * max_scale
    # affine_grid maps output coordinates in [-1, 1] to input ones: the inverse warp, so dividing by the
    # scale enlarges the digit; a shift of s pixels is 2 s / size in these units.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, u[2] * 2 * max_shift / w], 1),
                         torch.stack([sin, cos, u[3] * 2 * max_shift / h], 1)], 1)
    grid = torch.nn.functional.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_batch(x: Tensor, kind: str, generator: torch.Generator) -> Tensor:
    """Apply augmentation `kind` (one of AUGMENTATIONS) to an image batch (N, C, H, W)."""
    if kind == "none":
        return x
    if x.dim() != 4:
        raise ValueError(f"augmentation {kind!r} needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
    if kind == "affine":
        return random_affine(x, generator)
    if kind == "flip-shift":
        x = random_flip(x, generator)
    return random_shift(x, MAX_SHIFT, generator)


def shift_view(x: Tensor, dy: int, dx: int) -> Tensor:
    """Every image of x (N, C, H, W) moved dy pixels down and dx right, zeros filling the gap."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def tta_views(x: Tensor, kind: str) -> list[Tensor]:
    """The fixed views that test-time augmentation `kind` averages over: the identity first, then
    'shift': the four one-pixel shifts (up, down, left, right); 'flip': the mirror image."""
    if kind == "none":
        return [x]
    if x.dim() != 4:
        raise ValueError(f"test-time augmentation {kind!r} needs image batches (N, C, H, W), "
                         f"got shape {tuple(x.shape)}")
    if kind == "flip":
        return [x, x.flip(-1)]
    return [x] + [shift_view(x, dy, dx) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
