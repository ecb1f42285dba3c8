"""The data overview: every fact it states is computed from the loaded labels, its plan is empty, and its
paragraphs declare the findings they state."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mnistlab.data import FASHION_GROUP_OF_ITEM, load_arrays
from mnistlab.execution.runner import run_in_context
from mnistlab.tasks.base import finding_of
from mnistlab.tasks.data_overview import TASK
from mnistlab.tasks.data_overview.findings import Findings, compute_findings
from mnistlab.tasks.data_overview.prose import prose


def _findings(mnist_train: list[int], mnist_test: list[int], fashion: tuple[int, int] = (6000, 1000),
              group_items=((5, 7, 9), (3, 6, 8), (0, 1, 2, 4))) -> Findings:
    counts = {("mnist", "train"): np.array(mnist_train), ("mnist", "test"): np.array(mnist_test),
              ("fashion-mnist", "train"): np.full(10, fashion[0]), ("fashion-mnist", "test"): np.full(10, fashion[1])}
    group_counts = np.array([fashion[0] * len(items) for items in group_items])
    return Findings(counts=counts, mean_pixel=dict.fromkeys(counts, 0.1), samples={}, group_items=group_items,
                    group_counts=group_counts)


MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_the_plan_is_empty():
    config = TASK.config("quick")
    assert TASK.plan(config, 0) == [] and TASK.sub_runs(config, 0) == []


def test_each_statement_follows_the_counts_it_is_given():
    text = prose(_findings(MNIST_TRAIN, MNIST_TEST), TASK.config("brief"))
    assert list(text) == ["balance", "groups"]
    assert text["balance"] == ("MNIST's training classes are not perfectly balanced: from 5,421 to 6,742 images per "
                               "digit (class 5 is rarest), so chance accuracy is about 10-11%. Fashion-MNIST has "
                               "exactly 6,000 training and 1,000 test images per class.")
    assert text["groups"] == ("The groups of Task 6 are unbalanced by construction (3, 3 and 4 items), so a "
                              "constant guess of 'unisex' already scores 40% on the group task.")
    # other counts, other sentences: nothing is typed in
    balanced = prose(_findings([500] * 10, [90] * 10, fashion=(5000, 800)), TASK.config("brief"))["balance"]
    assert balanced == ("MNIST has exactly 500 training and 90 test images per class. Fashion-MNIST has exactly "
                        "5,000 training and 800 test images per class.")
    test_only = prose(_findings([500] * 10, [90] * 9 + [100]), TASK.config("brief"))["balance"]
    assert test_only.startswith("MNIST has exactly 500 training images per digit; its test classes range from 90 to "
                                "100 images per digit.")
    skewed = prose(_findings([1000] * 9 + [3000], MNIST_TEST), TASK.config("brief"))["balance"]
    assert "from 1,000 to 3,000 images per digit (class 0 is rarest), so chance accuracy is about 10-25%" in skewed
    even = prose(_findings(MNIST_TRAIN, MNIST_TEST, group_items=((0, 1), (2, 3), (4, 5))), TASK.config("brief"))
    assert even["groups"].startswith("The groups of Task 6 are balanced (2 items each), so a constant guess of 'shoes'")


def test_both_paragraphs_state_findings():
    text = prose(_findings(MNIST_TRAIN, MNIST_TEST), TASK.config("brief"))
    found = {key: finding_of(paragraph) for key, paragraph in text.items()}
    assert all(found.values()) and all(text[key].startswith(found[key]) for key in text)
    assert "exactly 6,000 training and 1,000 test images per class" in found["balance"]
    assert "40%" in found["groups"]


def test_the_run_computes_its_facts_from_the_loaded_data(ctx):
    config = TASK.config("quick", {"samples_per_class": 2})
    f = compute_findings(config, ctx)
    _, fashion_train = load_arrays("fashion-mnist", "train", ctx.data_dir)
    assert np.array_equal(f.counts[("fashion-mnist", "train")], np.bincount(fashion_train, minlength=10))
    assert f.group_items == tuple(tuple(np.flatnonzero(g == FASHION_GROUP_OF_ITEM)) for g in range(3))
    assert f.group_counts.sum() == len(fashion_train) and f.samples["mnist"].shape == (10, 2, 28, 28)
    _, mnist_train = load_arrays("mnist", "train", ctx.data_dir)
    assert f.samples["mnist"][3, 1].tolist() == load_arrays("mnist", "train", ctx.data_dir)[0][
        np.flatnonzero(mnist_train == 3)[1]].tolist()
    # a dataset whose classes were not equal would be said to be so
    skewed = replace(f, counts={**f.counts, ("fashion-mnist", "test"): np.arange(1, 11)})
    assert "Fashion-MNIST has exactly 6,000 training images per class; its test classes range from 1 to 10" in \
        prose(skewed, config)["balance"]
    result = run_in_context(TASK, config, ctx)
    assert result.metrics["fashion-mnist_train_size"] == len(fashion_train) == 60_000
    assert set(result.tables) == {"counts_mnist", "counts_fashion-mnist", "fashion_groups"}
    assert result.tables["fashion_groups"].caption.endswith("shoes {5,7,9}, gendered {3,6,8}, unisex {0,1,2,4}.")
    assert [fig.file for fig in result.figures] == ["samples_mnist.png", "samples_fashion-mnist.png",
                                                    "class_balance.png"]
    assert all((ctx.out_dir / fig.file).is_file() for fig in result.figures)
    assert list(result.paragraphs) == ["balance", "groups"]
