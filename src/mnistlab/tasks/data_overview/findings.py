"""What the data overview measures, as numbers: the images per class of every split of both datasets, their
mean pixel, the first training images of each class, and Task 6's groups of Fashion-MNIST items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnistlab.data import DATASETS, FASHION_GROUP_NAMES, FASHION_GROUP_OF_ITEM, load_arrays
from mnistlab.tasks.base import Context
from mnistlab.tasks.data_overview.config import Config

SPLITS = ("train", "test")
CLASSES = 10  # both datasets


@dataclass(frozen=True)
class Findings:
    """The data's facts: numbers only; tables, figures and prose are drawn from them."""

    counts: dict[tuple[str, str], np.ndarray]  # (dataset, split) -> images of each class
    mean_pixel: dict[tuple[str, str], float]  # (dataset, split) -> mean pixel value, 0 (black) to 1 (white)
    samples: dict[str, np.ndarray]  # dataset -> its first training images of each class, (classes, k, 28, 28)
    group_items: tuple[tuple[int, ...], ...]  # the Fashion-MNIST items of each of Task 6's groups
    group_counts: np.ndarray  # Fashion-MNIST training images of each group

    def size(self, name: str, split: str) -> int:
        return int(self.counts[(name, split)].sum())

    def balanced(self, name: str, split: str) -> bool:
        """Whether every class of the split has the same number of images."""
        counts = self.counts[(name, split)]
        return bool(counts.min() == counts.max())

    @property
    def majority_group(self) -> int:
        """The group with the most training images: a constant guess of it is the group task's baseline."""
        return int(self.group_counts.argmax())

    @property
    def majority_group_share(self) -> float:
        return float(self.group_counts.max() / self.group_counts.sum())


def compute_findings(config: Config, ctx: Context) -> Findings:
    counts, mean_pixel, samples = {}, {}, {}
    for name in DATASETS:
        for split in SPLITS:
            images, labels = load_arrays(name, split, ctx.data_dir)
            counts[(name, split)] = np.bincount(labels, minlength=CLASSES)
            mean_pixel[(name, split)] = float(images.mean() / 255)
            if split == "train":
                samples[name] = np.stack([images[np.flatnonzero(labels == c)[:config.samples_per_class]]
                                          for c in range(CLASSES)])
    group_items = tuple(tuple(int(c) for c in np.flatnonzero(g == FASHION_GROUP_OF_ITEM))
                        for g in range(len(FASHION_GROUP_NAMES)))
    items = counts[("fashion-mnist", "train")]
    return Findings(counts=counts, mean_pixel=mean_pixel, samples=samples, group_items=group_items,
                    group_counts=np.array([items[list(members)].sum() for members in group_items]))


def metrics(f: Findings) -> dict[str, float]:
    """Each split's size and mean pixel."""
    out: dict[str, float] = {}
    for name in DATASETS:
        for split in SPLITS:
            out[f"{name}_{split}_size"] = f.size(name, split)
            out[f"{name}_{split}_mean_pixel"] = f.mean_pixel[(name, split)]
    return out
