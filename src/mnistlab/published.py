"""Numbers that published written solutions reported, per task, to stand beside this run's numbers.

These are facts about other people's work, quoted with their source label; nothing here is computed.
Each entry's `metric` is the key of that task's `Result.metrics` that measures the same quantity
(or "" where this lab has no comparable number), `note` says where their settings differ from ours,
and `unit` says how the report shows our number beside theirs ("%": a fraction shown as a percentage,
"s": seconds, "min": minutes, "pp": percentage points; "": as it is).

Sources (the labels the report shows):

- Report A: a two-person group's written solution of this assignment (Bath CM50335 Group Assignment 2), Keras.
- Report B: another group's written solution of the same assignment, Keras.
- Report C: a written solution of Leiden University's "Introduction to Deep Learning" Assignment 2 (2021),
  Keras/TensorFlow: a sibling assignment with its own clock data set and hyperparameter studies.
- Report D: a written solution of a "Neural Networks and Deep Learning" practical (TP, 2018), Keras:
  the classic baselines.

The runner stores `result.references + references_for(task.name)` in result.json.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PUBLISHED", "SOURCES", "Published", "Reference", "cite", "references_for"]

# The published solutions this lab cites, by the label the report shows. This module imports nothing of
# the lab: the tasks (their `Result.references`) and their prose (mnistlab.claims) import it.
SOURCES: dict[str, str] = {
    "Report A": "a group's written solution of this assignment (Bath CM50335 Group Assignment 2), Keras",
    "Report B": "another group's written solution of this assignment (Bath CM50335 Group Assignment 2), Keras",
    "Report C": "a written solution of Leiden University's 'Introduction to Deep Learning' Assignment 2 (2021), "
                "Keras/TensorFlow",
    "Report D": "a written solution of a 'Neural Networks and Deep Learning' practical (TP, 2018), Keras",
    # Beyond the assignment: public figures for networks of this size (the recipes task's anchors).
    "Deotte": "Chris Deotte's study of small MNIST CNNs ('MNIST-CNN-99.75' repository): 100 runs on the standard "
              "60k/10k split",
    "zalando": "zalando's Fashion-MNIST benchmark table (figures contributed by others, marked untested there)",
}


@dataclass
class Reference:
    """A number that a published solution reported, beside the metric of ours that it compares with.

    `metric` names a key of Result.metrics (or "" when we have no directly comparable number).
    """

    quantity: str
    published: str
    source: str
    metric: str = ""


@dataclass
class Published(Reference):
    """A published figure: a Reference plus where their settings differ and the unit to show ours in."""

    note: str = ""
    unit: str = ""


def cite(quantity: str, published: str, source: str, metric: str = "", note: str = "", unit: str = "%") -> Published:
    """One published figure, `source` one of SOURCES' labels; a task lists its own in its `present.py`
    (`PUBLISHED`), and its declaration carries them (`Task.published`)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source label {source!r}")
    return Published(quantity=quantity, published=published, source=source, metric=metric, note=note, unit=unit)


BRIEF_MLP = "MLP [784, 1000, 1000, 10]"
CNN1 = "CNN-1 [32, 64, 128], 4x4, strides 1-2-2"
BASELINES_RECIPE = "SGD lr 0.5, batch 300, 10 epochs: our row trained with the same recipe"
THEIR_CLOCKS = "their own 18,000 clock images of 150x150 pixels, not our generated clocks"
QUALITATIVE = "qualitative; their networks and epochs differ from ours"

PUBLISHED: dict[str, list[Published]] = {
    "baselines": [
        cite("softmax regression (7,850 parameters): test accuracy", "92.31%", "Report D", "softmax_report_d_test_acc",
           BASELINES_RECIPE),
        cite("MLP, 100 sigmoid units (79,510 parameters): test accuracy", "95.01%", "Report D",
           "mlp_report_d_test_acc", f"best of 5 runs; {BASELINES_RECIPE}"),
        cite("5x5 sigmoid CNN (366,806 parameters): test accuracy", "97.94%", "Report D",
           "cnn_report_d_test_acc", BASELINES_RECIPE),
    ],
    "clock": [
        cite("regression with a common-sense loss: mean error, minutes", "19-25", "Report C",
           "regression_mae_minutes", THEIR_CLOCKS, unit="min"),
        cite("24 classes: share of clocks in the right half-hour class", "about 85%", "Report C",
           "classes24_bin_accuracy", f"{THEIR_CLOCKS}; theirs on validation clocks, ours on the test clocks"),
        cite("720 classes", "overfits", "Report C", "classes720_mae_minutes", THEIR_CLOCKS, unit="min"),
        cite("multi-head (hour classes + minute regression): mean error, minutes", "about 5", "Report C",
           "multihead_mae_minutes", THEIR_CLOCKS, unit="min"),
        cite("periodic (sin/cos) labels: mean error, minutes", "about 6", "Report C", "sincos_mae_minutes",
           f"{THEIR_CLOCKS}; theirs: cos labels", unit="min"),
    ],
    "recipes": [
        cite(f"{BRIEF_MLP}: test accuracy", "97.36%", "Report A", "mlp_chosen_test_acc",
           "batch 300, 10 epochs, the brief's recipe; ours: the recipe chosen on validation, mean over seeds"),
        cite(f"{CNN1}: test accuracy", "99.08%", "Report B", "cnn1_chosen_test_acc",
           "one run, batch and epochs not stated; ours: the recipe chosen on validation, mean over seeds"),
        cite("the best CNN variant of their sweep ([128, 128, 128]): test accuracy", "99.25%", "Report B", "",
           "a wider network than CNN-1, one run"),
        cite("single-task CNN, items: test accuracy", "90.85%", "Report B", "item_chosen_test_acc", "one run"),
        cite("single-task CNN, groups: test accuracy", "94.70%", "Report B", "group_chosen_test_acc", "one run"),
        cite("MTL lambda 0.25, groups: test accuracy", "95.16%", "Report B", "mtl_chosen_group_test_acc",
           "one run; ours: the MTL network at the lambda chosen on validation"),
        cite("single-task CNN, items: test accuracy", "91.4%", "Report A", "item_chosen_test_acc", "one run"),
        cite("single-task CNN, groups: test accuracy", "92.9%", "Report A", "group_chosen_test_acc", "one run"),
        cite("a different, larger MNIST CNN (32C3-32C3-32C5S2, 64C3-64C3-64C5S2, 128, 10) with batch norm, "
           "40% dropout, rotation/zoom/shift augmentation, decaying lr, 30 epochs: mean test accuracy",
           "99.64% (sd 0.047; best 99.81%)", "Deotte", "cnn1_chosen_test_acc",
           "published reference, not ours: mean of 100 runs of another network; ours is CNN-1 (227,306 "
           "parameters) with our recipe"),
        cite("Fashion-MNIST items, 2-conv network under 100k parameters", "92.5%", "zalando", "item_chosen_test_acc",
           "published reference, not ours: another network; ours is Task 6's single-task item CNN (23 M "
           "parameters)"),
        cite("Fashion-MNIST items, 2-conv + 3 dense network, 1.8 M parameters", "93.2%", "zalando",
           "item_chosen_test_acc", "published reference, not ours: another network"),
        cite("Fashion-MNIST items, ResNet18 to WRN40-4 (with augmentation)", "94.9-96.7%", "zalando", "",
           "published reference, not ours: residual networks far deeper than the brief's"),
    ],
}


def references_for(task_name: str) -> list[Published]:
    """The published figures for a task (a new list; empty where no published solution reports one)."""
    return list(PUBLISHED.get(task_name, []))
