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
    "task1": [
        cite("2-D PCA, linear SVM per digit pair: mean test accuracy over the 45 pairs", "0.841", "Report B",
           "pca2d_pair_acc_mean", "LinearSVC", unit=""),
        cite("2-D PCA, linear SVM: pair 0-1", "near 1.0", "Report B", "pca2d_pair_acc_0_1", unit=""),
        cite("2-D PCA, linear SVM: pair 0-7", "near 1.0", "Report B", "pca2d_pair_acc_0_7", unit=""),
        cite("2-D PCA, linear SVM: pair 1-4", "near 1.0", "Report B", "pca2d_pair_acc_1_4", unit=""),
        cite("2-D PCA, linear SVM: pair 3-5", "about 0.6", "Report B", "pca2d_pair_acc_3_5", unit=""),
        cite("2-D PCA, linear SVM: pair 3-8", "about 0.6", "Report B", "pca2d_pair_acc_3_8", unit=""),
        cite("2-D PCA, linear SVM: pair 7-9", "about 0.6", "Report B", "pca2d_pair_acc_7_9", unit=""),
        cite("neighbourhood hit, t-SNE", "77.92%", "Report D", "tsne_neighbourhood_hit",
           "first 1,000 test images, k not stated (ours: k and images in the separation table)"),
        cite("neighbourhood hit, PCA", "36.72%", "Report D", "pca_neighbourhood_hit",
           "first 1,000 test images, k not stated (ours: k and images in the separation table)"),
    ],
    "task2": [
        cite("perceptron, pair 0-1: test accuracy", "99.8%", "Report A", "pair_test_acc_0_1",
           "train 100%, 9 iterations to a training error of 0.003"),
        cite("perceptron, pair 1-9: test accuracy", "99.5%", "Report A", "pair_test_acc_1_9"),
        cite("perceptron, pair 2-8: test accuracy", "96.2%", "Report A", "pair_test_acc_2_8"),
        cite("perceptron, pair 3-6: test accuracy", "99.3%", "Report A", "pair_test_acc_3_6"),
        cite("perceptron, pair 4-5: test accuracy", "98.1%", "Report A", "pair_test_acc_4_5"),
        cite("perceptron, pair 0-9: test accuracy", "99.0%", "Report A", "pair_test_acc_0_9"),
        cite("perceptron, pair 0-1: test accuracy", "99.9%", "Report B", "pair_test_acc_0_1", "781 iterations"),
        cite("perceptron, pair 3-8: test accuracy", "96.7%", "Report B", "pair_test_acc_3_8", "1,000 iterations"),
        cite("perceptron, pair 4-9: test accuracy", "96.9%", "Report B", "pair_test_acc_4_9", "1,000 iterations"),
        cite("perceptron, pair 7-8: test accuracy", "96.9%", "Report B", "pair_test_acc_7_8", "1,000 iterations"),
        cite("perceptron, pair 2-9: test accuracy", "98.3%", "Report B", "pair_test_acc_2_9", "1,000 iterations"),
    ],
    "task4": [
        cite(f"{CNN1}: train accuracy", "99.87%", "Report B", "first_train_acc", "batch and epochs not stated"),
        cite(f"{CNN1}: test accuracy", "99.08%", "Report B", "first_test_acc", "batch and epochs not stated"),
        cite(f"{CNN1}: training time", "183 s", "Report B", "first_train_seconds", "their hardware and epochs",
           unit="s"),
        cite("CNN [128, 128, 128]: test accuracy", "99.25%", "Report B", "", "not one of our networks"),
        cite("CNN [16, 32] (71,226 parameters): test accuracy", "98.84%", "Report B", "",
           "not one of our networks"),
        cite("max-pool variant (185,066 parameters): test accuracy", "98.61%", "Report A", "",
           "not one of our networks"),
        cite("two conv layers (85,226 parameters): test accuracy", "98.72%", "Report A", "",
           "their two-layer net; ours (CNN 32k4s1-64k4s2) has a different size"),
    ],
    "task6": [
        cite("single-task CNN, items: test accuracy", "90.85%", "Report B", "single_item_test_acc"),
        cite("single-task CNN, groups: test accuracy", "94.70%", "Report B", "single_group_test_acc"),
        cite("MTL lambda 0.25, items", "91.95%", "Report B", "mtl_lambda_0.25_item_test_acc"),
        cite("MTL lambda 0.25, groups", "95.16%", "Report B", "mtl_lambda_0.25_group_test_acc"),
        cite("MTL lambda 0.5, items", "91.39%", "Report B", "mtl_lambda_0.5_item_test_acc"),
        cite("MTL lambda 0.5, groups", "94.74%", "Report B", "mtl_lambda_0.5_group_test_acc"),
        cite("MTL lambda 0.75, items", "91.23%", "Report B", "mtl_lambda_0.75_item_test_acc"),
        cite("MTL lambda 0.75, groups", "94.48%", "Report B", "mtl_lambda_0.75_group_test_acc"),
        cite("MTL lambda 0, items (untrained head)", "13.75%", "Report B", "mtl_lambda_0_item_test_acc"),
        cite("MTL lambda 1, groups (untrained head)", "24.87%", "Report B", "mtl_lambda_1_group_test_acc"),
        cite("training time per network (single-task items here)", "about 310-340 s", "Report B",
           "single_item_train_seconds", "their hardware, batch and epochs", unit="s"),
        cite("single-task CNN, items: test accuracy", "91.4%", "Report A", "single_item_test_acc"),
        cite("single-task CNN, groups: test accuracy", "92.9%", "Report A", "single_group_test_acc"),
        cite("MTL weight 0.5, items", "89.9%", "Report A", "mtl_lambda_0.5_item_test_acc"),
        cite("MTL weight 0.5, groups", "94.0%", "Report A", "mtl_lambda_0.5_group_test_acc"),
    ],
    "hparams": [
        cite("MLP, zero weight initialisation: test accuracy", "fails (zero or constant init)", "Report C",
           "mnist_mlp_init_zeros_test_acc", QUALITATIVE),
        cite("MLP dropout: spread of test accuracy", "dropout 0-0.5 alike; 0.9 underfits", "Report C",
           "mnist_mlp_dropout_spread_pp", f"{QUALITATIVE}; ours: 0, 0.2 and 0.5", unit="pp"),
        cite("MLP optimisers", "RMSprop, Adam, Nadam about 3x faster than SGD", "Report C", "", QUALITATIVE),
        cite("MLP losses", "Poisson loss worst", "Report C", "", QUALITATIVE),
        cite("MLP batch size", "accuracy falls as the batch grows (32 best of 32-1000)", "Report C", "",
           QUALITATIVE),
        cite("MLP depth", "100 layers of width 10 fail to learn", "Report C", "", QUALITATIVE),
        cite("CNN kernel size", "larger kernels converge faster but end lower", "Report C", "", QUALITATIVE),
        cite("CNN stride", "stride 8 about 5 points below stride 1 (Fashion-MNIST)", "Report C", "",
           f"{QUALITATIVE}; our stride study compares stride 2 with stride 1 + max-pool"),
        cite("CNN padding: spread of test accuracy", "0.4 points or less", "Report C", "mnist_cnn_padding_spread_pp",
           QUALITATIVE, unit="pp"),
        cite("CNN pooling: spread of test accuracy", "0.4 points or less", "Report C", "mnist_cnn_pooling_spread_pp",
           QUALITATIVE, unit="pp"),
        cite("CNN depth: spread of test accuracy", "one conv + pool layer within 0.2 points of deeper nets",
           "Report C", "mnist_cnn_depth_spread_pp", f"{QUALITATIVE}; ours: 1-4 conv layers", unit="pp"),
    ],
    "permutation": [
        cite("MLP: change in test accuracy when the pixels are permuted", "unaffected", "Report C", "mlp_change_pp",
           QUALITATIVE, unit="pp"),
        cite("CNN: change in test accuracy when the pixels are permuted",
           "degrades on MNIST and Fashion-MNIST, well above chance", "Report C", "cnn_change_pp",
           QUALITATIVE, unit="pp"),
        cite("CNN on permuted pixels: test accuracy", "well above chance", "Report C", "cnn_permuted_test_acc",
           QUALITATIVE),
    ],
}


def references_for(task_name: str) -> list[Published]:
    """The published figures for a task (a new list; empty where no published solution reports one)."""
    return list(PUBLISHED.get(task_name, []))
