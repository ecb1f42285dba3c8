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

Each task lists its own in its folder's `present.py` (`PUBLISHED`, made with `cite`); its declaration
carries them (`Task.published`), and the runner stores them in result.json beside the task's own references.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SOURCES", "Published", "Reference", "cite"]

# The published solutions this lab cites, by the label the report shows. This module imports nothing of
# the lab: the tasks (their `Result.references`) and their prose (mnistlab.analysis.claims) import it.
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
