"""The baselines' options (their training recipe, the t-SNE and the separation measures), each profile's values,
and the three classic networks with the parameter counts of their classic layouts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mnistlab.constraints import Constrained, Constraints, Interval, rules_of
from mnistlab.errors import ConfigError
from mnistlab.models import CNNSpec, MLPSpec, ModelSpec
from mnistlab.tasks.base import opt
from mnistlab.tasks.common import DATA_LIMITS
from mnistlab.train import Precision, TrainConfig

# name -> (spec, parameter count of the classic layout). Glorot initialisation, as Keras (and the classic
# papers) would: with PyTorch's default the sigmoid CNN sat at chance for its first few hundred steps.
MODELS: dict[str, tuple[ModelSpec, int]] = {
    "softmax regression": (MLPSpec(hidden=(), init="glorot"), 7_850),
    "MLP 100 sigmoid": (MLPSpec(hidden=(100,), activation="sigmoid", init="glorot"), 79_510),
    "CNN 5x5 sigmoid": (CNNSpec(channels=(32, 64), kernels=(5, 5), strides=(1, 1), pool_after=(0, 1), dense=(100,),
                                activation="sigmoid", init="glorot"), 366_806),
}


@dataclass(frozen=True)
class Config(Constrained):
    epochs: int = opt(10, "training epochs per network")
    batch_size: int = opt(50, "mini-batch size")
    lr: float = opt(1e-3, "Adam learning rate")
    precision: Precision = opt("auto", "auto, fp32 or bf16")
    train_limit: int | None = opt(None, "the first n training images (None: all)")
    test_limit: int | None = opt(None, "the first n test images (None: all)")
    tsne_subset: int = opt(5_000, "the first n test images are embedded with t-SNE")
    tsne_perplexity: float = opt(30.0, "t-SNE perplexity (effective number of neighbours)")
    tsne_pca_dims: int = opt(50, "representations wider than this go through PCA first")
    neighbours: int = opt(6, "k of the neighbourhood hit (as in Task 1)")
    hull_keep: float = opt(0.95, "share of each class (nearest its centre) inside its convex hull")
    ellipse_sigma: float = opt(2.0, "Mahalanobis radius of the Gaussian-fit ellipses")
    # Also train each network with Report D's own recipe (plain SGD, lr 0.5, batch 300, same epochs), so that
    # its published accuracies compare like with like.
    report_d_recipe: bool = opt(True,
                                "also train each network with Report D's own recipe (plain SGD, lr 0.5, batch 300)")

    CONSTRAINTS: ClassVar[Constraints] = {
        **rules_of(TrainConfig, "epochs", "batch_size", "lr", "precision"),
        **DATA_LIMITS,
        "tsne_pca_dims": [Interval(2, None)],
        "hull_keep": [Interval(0, 1, closed="right")],
        "ellipse_sigma": [Interval(0, None, closed="neither")],
    }

    def cross_check(self) -> None:
        n_test = self.test_limit or 10_000
        if not 50 <= self.tsne_subset <= n_test:
            raise ConfigError(f"tsne_subset must be between 50 and the number of test images ({n_test:,}), "
                              f"got {self.tsne_subset}")
        if not 0 < self.tsne_perplexity < (self.tsne_subset - 1) / 3:
            raise ConfigError(f"tsne_perplexity must be positive and below {(self.tsne_subset - 1) / 3:g} for "
                              f"{self.tsne_subset} points, got {self.tsne_perplexity}")
        if not 1 <= self.neighbours < self.tsne_subset:
            raise ConfigError(f"neighbours must be at least 1 and below tsne_subset, got {self.neighbours}")

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, precision=self.precision)

    def report_d_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=300, lr=0.5, optimizer="sgd", precision=self.precision)


PROFILES = {
    # batch 20 in the quick profile: one epoch of 6,000 images at batch 50 (120 steps) leaves the sigmoid CNN
    # on its initial plateau; 300 steps get it well past chance.
    "quick": {"epochs": 1, "batch_size": 20, "train_limit": 6000, "test_limit": 2000, "tsne_subset": 600},
    "brief": {"epochs": 10},
}
