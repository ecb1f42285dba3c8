"""The confusion-matrix helper: counts by (true, predicted), drawn with permuted classes and blocks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mnistlab.viz.confusion import confusion_matrix, plot_confusion


def test_counts_are_indexed_true_then_predicted():
    counts = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert counts.sum() == 6


def test_plot_follows_the_order_and_outlines_blocks():
    counts = np.array([[5, 1, 0], [0, 7, 2], [3, 0, 9]])
    fig, ax = plt.subplots()
    plot_confusion(ax, counts, ["a", "b", "c"], order=[2, 0, 1], blocks=[1, 2], title="t")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]
    assert ax.texts[0].get_text() == "9"  # (c, c) comes first after the permutation
    assert len(ax.patches) == 2
    plt.close(fig)
