"""The published solutions this lab cites, by the label the report shows (Report A-D).

A module of its own, importing nothing: mnistlab.published imports the tasks (for `Reference`), and the
tasks' prose (mnistlab.claims) needs these labels while the tasks are being imported.
"""

from __future__ import annotations

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
