"""On-device augmentation: translations move content without changing it, flips mirror, all seeded."""

from __future__ import annotations

import pytest
import torch

from mnistlab.augment import MAX_SHIFT, augment_batch, random_flip, random_shift


def _blobs(n: int = 64) -> torch.Tensor:
    """Images with one bright off-centre blob well inside the border, so no shift pushes it out."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 9:14, 12:20] = torch.rand(n, 1, 5, 8) + 0.5
    return x


def test_shift_is_a_translation_within_the_limit():
    x = _blobs()
    out = random_shift(x, MAX_SHIFT, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)))  # nothing lost or added
    moved = set()
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(-MAX_SHIFT, MAX_SHIFT + 1) for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
                 if torch.equal(out[i], torch.roll(x[i], (dy, dx), (1, 2)))]
        assert found, f"image {i} is not a translation of its input"
        moved.add(found[0])
    assert len(moved) > 10  # offsets really vary from image to image


def test_flip_mirrors_about_half_the_batch():
    x = _blobs(400)
    out = random_flip(x, torch.Generator().manual_seed(1))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped | kept).all())
    assert 150 < int(flipped.sum()) < 250


def test_same_generator_seed_same_batch_and_none_is_identity():
    x = _blobs()
    a = augment_batch(x, "flip-shift", torch.Generator().manual_seed(5))
    b = augment_batch(x, "flip-shift", torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert augment_batch(x, "none", torch.Generator()) is x


def test_flat_batches_are_refused():
    with pytest.raises(ValueError, match="image batches"):
        augment_batch(torch.zeros(4, 784), "shift", torch.Generator())
