"""Task 5's options: which test images are probed, how the filters and feature maps are laid out, the deep
dream's recipe, and CNN-1's training (Task 4's, per profile: both tasks plan one sub-run), with each profile's
values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from mnistlab.constraints import Constrained, Constraints, Interval, OneOf
from mnistlab.execution.runtime import PRECISION
from mnistlab.models.inspect import DreamConfig
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import CNN1_TRAINING, DATA_LIMITS
from mnistlab.train import BATCH_SIZE, EPOCHS, Precision

DIGITS = (2, 9)          # the brief's two classes
MIN_TEST_PER_CLASS = 892  # MNIST's rarest test class (5) has 892 images


@dataclass(frozen=True)
class Config(Constrained):
    image_rank: int = opt(0, "which test image of a class: 0 = its first in file order")
    filter_summary: Literal["strongest", "mean"] = opt("strongest",
        "which feature map of a filter is shown: the strongest, or the mean")
    filter_columns: int = opt(16, "columns of the filter grids")
    map_columns: int = opt(16, "columns of the feature-map grids")
    steps_per_octave: int = opt(50, "gradient-ascent steps of the dream per octave")
    octaves: int = opt(3, "image scales the dream runs through")
    octave_scale: float = opt(1.5, "size ratio between two octaves")
    lr: float = opt(0.004, "mean pixel change per dream step")
    jitter: int = opt(2, "random shift in pixels before each dream step")
    l2_weight: float = opt(0.02, "weight of the L2 penalty on the dreamt image")
    tv_weight: float = opt(0.02, "weight of the total-variation penalty (smoothness) on the dreamt image")
    noise_amplitude: float = opt(0.2, "amplitude of the noise the dream starts from")
    snapshots: int = opt(5, "intermediate images shown per dream")
    grid_source_digit: int = opt(8, "10-class grid: every class dreamt from this digit")
    # CNN-1's training, exactly Task 4's (common.CNN1_TRAINING per profile), so both plan one sub-run.
    cnn_epochs: int = opt(CNN1_TRAINING["brief"]["epochs"], "training epochs of CNN-1 (Task 4's network)")
    cnn_batch_size: int = opt(CNN1_TRAINING["brief"]["batch_size"], "mini-batch size of CNN-1")
    cnn_precision: Precision = opt(CNN1_TRAINING["brief"]["precision"], "CNN-1's precision: auto, fp32 or bf16")
    cnn_train_limit: int | None = opt(CNN1_TRAINING["brief"]["train_limit"],
                                      "the first n training images for CNN-1 (None: all)")
    cnn_test_limit: int | None = opt(CNN1_TRAINING["brief"]["test_limit"],
                                     "the first n test images for CNN-1 (None: all)")

    def dream(self) -> DreamConfig:
        return DreamConfig(steps_per_octave=self.steps_per_octave, octaves=self.octaves,
                           octave_scale=self.octave_scale, lr=self.lr, jitter=self.jitter,
                           l2_weight=self.l2_weight, tv_weight=self.tv_weight, snapshots=self.snapshots)

    # The dream's knobs are DreamConfig's (this task allows fewer snapshots); CNN-1's training knobs are
    # TrainConfig's and the data limits Task 4's, each under this task's cnn_ name.
    CONSTRAINTS: ClassVar[Constraints] = {
        **DreamConfig.CONSTRAINTS,
        "image_rank": [Interval(0, MIN_TEST_PER_CLASS - 1,
                                message=f"{{name}} must be between 0 and {MIN_TEST_PER_CLASS - 1} (the test set's "
                                        f"rarest digit has {MIN_TEST_PER_CLASS} images)")],
        "filter_summary": [OneOf(("strongest", "mean"), message="unknown {name} {value!r}; choose strongest or mean")],
        "filter_columns": [Interval(4, 64)],
        "map_columns": [Interval(4, 64)],
        "noise_amplitude": [Interval(0, 1, closed="right")],
        "snapshots": [Interval(2, 10, message="{name} must be between 2 and 10")],
        "grid_source_digit": [Interval(0, 9, message="{name} must be a digit 0-9, got {value}")],
        "cnn_epochs": [EPOCHS],
        "cnn_batch_size": [BATCH_SIZE],
        "cnn_precision": [PRECISION],
        "cnn_train_limit": DATA_LIMITS["train_limit"],
        "cnn_test_limit": DATA_LIMITS["test_limit"],
    }

    def cross_check(self) -> None:
        self.dream().octave_sizes(28)  # refuses octaves that shrink the image below 4 pixels


def _cnn_profile(profile: str) -> dict:
    values = CNN1_TRAINING[profile]
    return {f"cnn_{k}": values[k] for k in ("epochs", "batch_size", "precision", "train_limit", "test_limit")}


PROFILES = {
    "quick": {"steps_per_octave": 25, "lr": 0.008, **_cnn_profile("quick")},
    "brief": {"steps_per_octave": 50, "lr": 0.004, **_cnn_profile("brief")},
}
