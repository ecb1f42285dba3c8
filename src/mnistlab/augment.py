"""On-device batch augmentation for small grey images: random translations and horizontal flips.

Done on the whole batch with index arithmetic, on the device, inside the training step: no per-sample
Python, no copy to the CPU. The random numbers come from the engine's seeded generator, so a run
stays deterministic.
"""

from __future__ import annotations

import torch
from torch import Tensor

AUGMENTATIONS = ("none", "shift", "flip-shift")
MAX_SHIFT = 2  # pixels; Fashion-MNIST and MNIST objects are centred with a 2-4 px empty border


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


def augment_batch(x: Tensor, kind: str, generator: torch.Generator) -> Tensor:
    """Apply augmentation `kind` ('none', 'shift', 'flip-shift') to an image batch (N, C, H, W)."""
    if kind == "none":
        return x
    if x.dim() != 4:
        raise ValueError(f"augmentation {kind!r} needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
    if kind == "flip-shift":
        x = random_flip(x, generator)
    return random_shift(x, MAX_SHIFT, generator)
