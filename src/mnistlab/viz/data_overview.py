"""The data overview's figures: a grid of the first training images of each class, and each class's share of
the train and test splits. Each is drawn from plain numbers (the task's `Findings`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz import CLASS_COLOURS, bare


def plot_samples(samples: np.ndarray, names: Sequence[str], title: str) -> plt.Figure:
    """One row per class, its images (`samples[c]`, each 28 x 28) side by side, the class named on the left."""
    classes, k = samples.shape[:2]
    fig, axes = plt.subplots(classes, k, figsize=(0.7 * k + 1.6, 7.4), squeeze=False,
                             gridspec_kw={"wspace": 0.04, "hspace": 0.04})
    for c in range(classes):
        for j, ax in enumerate(axes[c]):
            ax.imshow(samples[c, j], cmap="gray_r", interpolation="nearest")
            bare(ax)
            if j == 0:
                ax.set_ylabel(names[c], rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, y=0.92)
    return fig


def plot_class_balance(counts: Mapping[str, tuple[np.ndarray, np.ndarray]],
                       names: Mapping[str, Sequence[str]]) -> plt.Figure:
    """One panel per dataset: each class's share of the train and the test split (`counts[dataset]`: the
    images per class of each), side by side."""
    fig, axes = plt.subplots(1, len(counts), figsize=(11, 3.4))
    for ax, (name, (train, test)) in zip(np.atleast_1d(axes), counts.items(), strict=True):
        pos = np.arange(len(train))
        ax.bar(pos - 0.2, train / train.sum(), 0.4, label="train", color=CLASS_COLOURS[0])
        ax.bar(pos + 0.2, test / test.sum(), 0.4, label="test", color=CLASS_COLOURS[1])
        ax.set_xticks(pos, names[name], rotation=30 if name != "mnist" else 0, ha="right", fontsize=8)
        ax.set_ylabel("share of split")
        ax.set_ylim(0, max(train.max() / train.sum(), test.max() / test.sum()) * 1.25)
        ax.set_title(name)
        ax.legend(loc="upper center", ncol=2)
    return fig
