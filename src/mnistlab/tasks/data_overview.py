"""A first look at the data: class counts per split and sample images per class, for both datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.constraints import Constrained, Constraints, Interval
from mnistlab.data import CLASS_NAMES, DATASETS, FASHION_GROUP_NAMES, fashion_groups, load_arrays
from mnistlab.tasks.base import Context, Result, Table, Task, opt
from mnistlab.viz import CLASS_COLOURS, bare


@dataclass(frozen=True)
class Config(Constrained):
    samples_per_class: int = opt(10, "example images drawn per class in the sample grids")

    CONSTRAINTS: ClassVar[Constraints] = {
        "samples_per_class": [Interval(1, 30, message="{name} must be between 1 and 30")],
    }


PROFILES = {"quick": {"samples_per_class": 8}, "brief": {"samples_per_class": 10}}


def _sample_grid(images: np.ndarray, labels: np.ndarray, names: tuple[str, ...], k: int, title: str):
    fig, axes = plt.subplots(10, k, figsize=(0.7 * k + 1.6, 7.4), squeeze=False,
                             gridspec_kw={"wspace": 0.04, "hspace": 0.04})
    for c in range(10):
        picks = np.flatnonzero(labels == c)[:k]
        for j, ax in enumerate(axes[c]):
            ax.imshow(images[picks[j]], cmap="gray_r", interpolation="nearest")
            bare(ax)
            if j == 0:
                ax.set_ylabel(names[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, y=0.92)
    return fig


def run(config: Config, ctx: Context) -> Result:
    result = Result()
    counts = {}
    for name in DATASETS:
        for split in ("train", "test"):
            images, labels = load_arrays(name, split, ctx.data_dir)
            counts[(name, split)] = np.bincount(labels, minlength=10)
            result.metrics[f"{name}_{split}_size"] = len(labels)
            result.metrics[f"{name}_{split}_mean_pixel"] = float(images.mean() / 255)
            if split == "train":
                result.figures.append(ctx.figure(
                    _sample_grid(images, labels, CLASS_NAMES[name], config.samples_per_class,
                                 f"{name}: the first {config.samples_per_class} training images of each class"),
                    f"samples_{name}", f"The first training images of each {name} class."))
        rows = [[CLASS_NAMES[name][c], int(counts[(name, 'train')][c]), int(counts[(name, 'test')][c])]
                for c in range(10)]
        result.tables[f"counts_{name}"] = Table(["class", "train", "test"], rows,
                                                f"{name}: images per class in each split.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, name in zip(axes, DATASETS, strict=True):
        train, test = counts[(name, "train")], counts[(name, "test")]
        pos = np.arange(10)
        ax.bar(pos - 0.2, train / train.sum(), 0.4, label="train", color=CLASS_COLOURS[0])
        ax.bar(pos + 0.2, test / test.sum(), 0.4, label="test", color=CLASS_COLOURS[1])
        ax.set_xticks(pos, CLASS_NAMES[name], rotation=30 if name != "mnist" else 0, ha="right", fontsize=8)
        ax.set_ylabel("share of split")
        ax.set_ylim(0, max(train.max() / train.sum(), test.max() / test.sum()) * 1.25)
        ax.set_title(name)
        ax.legend(loc="upper center", ncol=2)
    result.figures.append(ctx.figure(fig, "class_balance", "Share of each class in the train and test splits."))

    _, items = load_arrays("fashion-mnist", "train", ctx.data_dir)
    group_counts = np.bincount(fashion_groups(items), minlength=3)
    result.tables["fashion_groups"] = Table(
        ["group (Task 6)", "items", "train images"],
        [[g, ", ".join(CLASS_NAMES["fashion-mnist"][c] for c in range(10) if fashion_groups(np.array([c]))[0] == i),
          int(group_counts[i])] for i, g in enumerate(FASHION_GROUP_NAMES)],
        "The brief's three Fashion-MNIST groups for Task 6: shoes {5,7,9}, gendered {3,6,8}, unisex {0,1,2,4}.")
    mnist_train = counts[("mnist", "train")]
    result.paragraphs["balance"] = (
        f"MNIST's training classes are not perfectly balanced: from {mnist_train.min():,} to "
        f"{mnist_train.max():,} images per digit (class {int(mnist_train.argmin())} is rarest), so chance accuracy "
        f"is about 10-11%. Fashion-MNIST has exactly 6,000 training and 1,000 test images per class. The "
        f"groups of Task 6 are unbalanced by construction (3, 3 and 4 items), so a constant guess of 'unisex' "
        f"already scores {group_counts.max() / group_counts.sum():.0%} on the group task.")
    return result


TASK = Task(
    name="data-overview",
    title="The data: MNIST and Fashion-MNIST at a glance",
    config_cls=Config,
    profiles=PROFILES,
    analyse=run,
    description="class counts per split and sample images per class for both datasets",
    # Reading the data and one figure: about a second.
    analysis_cost=lambda config: 2.0,
)
