"""Extension (SPEC 8.2): one fixed permutation of the 784 pixels, and the brief's MLP and CNN-1 retrained on it.

A fully connected network has no notion of which pixels are neighbours, so shuffling the pixel positions
the same way in every image changes nothing it can use; a CNN's small kernels and pooling assume that
neighbouring pixels belong together, and lose that once the positions are shuffled. The unshuffled
networks are trained with exactly Task 3's and Task 4's recipes, so after those tasks they are cache hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.errors import ConfigError
from mnistlab.models import CNN1, parse_cnn, parse_mlp
from mnistlab.seeds import Arm, Contrast
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import (
    CNN1_TRAINING,
    MLP_SWEEP_TRAINING,
    check_data_limits,
    check_model_fits,
    classifier_run,
)
from mnistlab.train import Precision, TrainConfig, evaluate
from mnistlab.viz import CLASS_COLOURS, bare


@dataclass(frozen=True)
class Config:
    mlp: str = "1000-1000"  # hidden widths; the brief's Task 3.1 MLP
    cnn: str = CNN1.name.removeprefix("CNN ")  # conv layers; the brief's CNN-1
    permutation_seed: int = 0
    epochs: int = 10
    mlp_batch_size: int = MLP_SWEEP_TRAINING["batch_size"]
    cnn_batch_size: int = CNN1_TRAINING["brief"]["batch_size"]
    lr: float = 1e-3
    precision: Precision = "auto"
    train_limit: int | None = None
    test_limit: int | None = None
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")  # both, as Report C did

    def validate(self) -> None:
        if not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise ConfigError(f"datasets must name mnist and/or fashion-mnist once each, got {self.datasets}")
        for name in self.datasets:
            if name not in ("mnist", "fashion-mnist"):
                raise ConfigError(f"unknown dataset {name!r} in datasets; choose mnist or fashion-mnist")
        check_model_fits(parse_mlp(self.mlp), "mlp")
        check_model_fits(parse_cnn(self.cnn), "cnn")
        if not 0 <= self.permutation_seed < 2**63:  # torch.Generator.manual_seed overflows beyond
            raise ConfigError(f"permutation_seed must be a whole number between 0 and 2**63 - 1, "
                              f"got {self.permutation_seed}")
        self.mlp_config().validate()
        self.cnn_config().validate()
        check_data_limits(self.train_limit, self.test_limit)

    def mlp_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.mlp_batch_size, lr=self.lr, precision=self.precision)

    def cnn_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.cnn_batch_size, lr=self.lr, precision=self.precision,
                           channels_last=True)


# The same data and recipes as Tasks 3 and 4 in each profile, so the unpermuted networks are shared.
PROFILES = {
    "quick": {"epochs": 1, "train_limit": 6000, "test_limit": 2000, "datasets": ("mnist",),
              "cnn_batch_size": CNN1_TRAINING["quick"]["batch_size"]},
    "brief": {"epochs": 10},
}


def rewired_mlp_accuracy(model: nn.Sequential, permutation: torch.Tensor, x_perm: torch.Tensor, y: torch.Tensor,
                         cfg: TrainConfig) -> float:
    """Accuracy on permuted images of the unpermuted MLP with its first layer's input columns permuted
    to match: the very same function, which proves that an MLP loses nothing to the shuffle."""
    first = next(m for m in model if isinstance(m, nn.Linear))
    with torch.no_grad():
        original = first.weight.detach().clone()
        first.weight.copy_(original[:, permutation.to(original.device)])
        try:
            return evaluate(model, x_perm, y, batch_size=cfg.eval_batch_size, precision=cfg.precision)["acc"]
        finally:
            first.weight.copy_(original)


def plot_examples(images: np.ndarray, permuted: np.ndarray, labels: np.ndarray) -> plt.Figure:
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.0), squeeze=False)
    for i in range(n):
        for row, img in enumerate((images[i], permuted[i])):
            ax = axes[row, i]
            ax.imshow(img.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            bare(ax)
        axes[0, i].set_title(str(int(labels[i])), fontsize=9)
    axes[0, 0].set_ylabel("original", fontsize=9)
    axes[1, 0].set_ylabel("permuted", fontsize=9)
    fig.suptitle("The same test images before and after the fixed pixel permutation")
    fig.tight_layout()
    return fig


def plot_accuracy(rows: list[dict[str, Any]], dataset: str = "mnist") -> plt.Figure:
    """Test accuracy per epoch on original (solid) and permuted (dashed) pixels, one colour per model."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, family in enumerate(("MLP", "CNN")):
        for r in (r for r in rows if r["family"] == family):
            hist = r["history"]
            ax.plot([h["epoch"] for h in hist], [h["test_acc"] for h in hist], "-o" if not r["permuted"] else "--s",
                     color=CLASS_COLOURS[i], ms=4,
                     label=f"{r['name']}, {'permuted' if r['permuted'] else 'original'} pixels")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.1f}%"))
    ax.legend(fontsize=8)
    ax.set_title(f"{dataset}: shuffling the pixels, MLP against CNN")
    fig.tight_layout()
    return fig


def _runs(config: Config, seed: int) -> list[tuple[str, str, bool, SubRun]]:
    """(dataset, family, permuted, sub-run) of the four networks per dataset. The unpermuted MNIST ones are
    the very sub-runs of Tasks 3 and 4 where the settings agree (the default): trained once for all three."""
    limits = {"train_limit": config.train_limit, "test_limit": config.test_limit, "seed": seed}
    models = [("MLP", parse_mlp(config.mlp), config.mlp_config()), ("CNN", parse_cnn(config.cnn), config.cnn_config())]
    return [(dataset, family, permuted, classifier_run(
        spec, cfg, dataset=dataset, **limits, permutation_seed=config.permutation_seed if permuted else None,
        keep_checkpoint=family == "MLP" and not permuted,  # rewired below
        name=f"{spec.name} on {dataset} ({'permuted' if permuted else 'original'})"))
        for dataset in config.datasets for family, spec, cfg in models for permuted in (False, True)]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in _runs(config, seed)]


def _prefix(dataset: str) -> str:
    """Metric names: MNIST's keep the plain names; Fashion-MNIST's carry its name."""
    return "" if dataset == "mnist" else "fashion_mnist_"


def contrasts(config: Config) -> list[Contrast]:
    """Each network on original against permuted pixels, per dataset."""
    def arm(i: int) -> Arm:
        dataset, family, permuted, run = _runs(config, 0)[i]
        return Arm(f"{run.model.name} on {dataset} ({'permuted' if permuted else 'original'})",
                   f"{_prefix(dataset)}{family.lower()}_{'permuted_' if permuted else ''}test_acc",
                   run=lambda seed: _runs(config, seed)[i][3])

    return [Contrast(arm(i), arm(i + 1), f"{_runs(config, 0)[i][0]} {_runs(config, 0)[i][1]}: original vs permuted")
            for i in range(0, 4 * len(config.datasets), 2)]


def analyse(config: Config, ctx: Context) -> Result:
    result = Result()
    permutation = pixel_permutation(config.permutation_seed)
    verdicts = {}
    table_rows = []
    for dataset in config.datasets:
        rows = [{**ctx.trained(run).record, "name": run.model.name, "family": family, "permuted": permuted,
                 "run": run} for d, family, permuted, run in _runs(config, ctx.seed) if d == dataset]
        xt, yt = load(dataset, "test", view="flat", limit=config.test_limit, device=ctx.device,
                      data_dir=ctx.data_dir)
        xt_perm = permute_pixels(xt, permutation)
        mlp_run = next(r["run"] for r in rows if r["family"] == "MLP" and not r["permuted"])
        rewired = rewired_mlp_accuracy(ctx.trained(mlp_run).model(ctx.device), permutation, xt_perm, yt,
                                       config.mlp_config())
        p = _prefix(dataset)
        for family in ("MLP", "CNN"):
            orig, perm = (next(r for r in rows if r["family"] == family and r["permuted"] == q) for q in (False, True))
            change = perm["test_acc"] - orig["test_acc"]
            key = p + family.lower()
            result.metrics[f"{key}_test_acc"] = orig["test_acc"]
            result.metrics[f"{key}_permuted_test_acc"] = perm["test_acc"]
            result.metrics[f"{key}_change_pp"] = 100 * change
            result.metrics[f"{key}_params"] = orig["params"]
            result.metrics[f"{key}_permuted_train_seconds"] = perm["train_seconds"]
            table_rows.append([dataset, orig["name"], orig["params"], round(orig["train_acc"], 4),
                               round(orig["test_acc"], 4), round(perm["train_acc"], 4), round(perm["test_acc"], 4),
                               f"{100 * change:+.2f}"])
        result.metrics[f"{p}mlp_rewired_permuted_test_acc"] = rewired
        if dataset == config.datasets[0]:
            sample = np.arange(8)
            result.figures.append(ctx.figure(
                plot_examples(xt[sample].cpu().numpy(), xt_perm[sample].cpu().numpy(), yt[sample].cpu().numpy()),
                "examples", f"Eight {dataset} test images and the same images after the fixed pixel permutation "
                            "that both networks were retrained on."))
        result.figures.append(ctx.figure(plot_accuracy(rows, dataset), f"accuracy{'_' + p.rstrip('_') if p else ''}",
                                         f"{dataset}: test accuracy after each epoch on original and permuted "
                                         "pixels."))
        tested = [ctx.compare(c, result.metrics).text for c in contrasts(config) if c.about.startswith(dataset + " ")]
        verdicts[dataset] = tested
        result.text += _paragraphs(dataset, result.metrics, p, rewired, tested, len(yt))
    n_test = config.test_limit or 10_000
    result.tables["accuracy"] = Table(
        ["dataset", "model", "parameters", "train acc (original)", "test acc (original)", "train acc (permuted)",
         "test acc (permuted)", "test change, pp"], table_rows,
        f"The brief's MLP and CNN-1 trained on original and on permuted pixels ({config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {n_test:,} test images, permutation seed "
        f"{config.permutation_seed}).")
    return result


def _paragraphs(dataset: str, m: dict[str, float], p: str, rewired: float, verdicts: list[str],
                n_test: int) -> list[str]:
    noise = 100 * 1.96 * float(np.sqrt(m[f"{p}mlp_test_acc"] * (1 - m[f"{p}mlp_test_acc"]) / n_test))
    return [
        f"{dataset}: the MLP scored {m[f'{p}mlp_test_acc']:.2%} on original and "
        f"{m[f'{p}mlp_permuted_test_acc']:.2%} on permuted pixels ({m[f'{p}mlp_change_pp']:+.2f} pp; the 95% "
        f"sampling interval of one such accuracy on {n_test:,} test images is about +/-{noise:.1f} pp). "
        f"As it should be: a permutation of the inputs is a permutation of the first layer's weight "
        f"columns, so both data sets offer the MLP the same set of functions. This run checks it directly: the "
        f"MLP trained on original pixels, with its first-layer columns permuted the same way, scores "
        f"{rewired:.2%} on the permuted test images against {m[f'{p}mlp_test_acc']:.2%} before - the "
        f"same function. The two trained MLPs differ only because the same initial weights meet the pixels in "
        f"another order, which amounts to another random initialisation.",
        f"{dataset}: CNN-1 scored {m[f'{p}cnn_test_acc']:.2%} on original and "
        f"{m[f'{p}cnn_permuted_test_acc']:.2%} on permuted pixels ({m[f'{p}cnn_change_pp']:+.2f} pp). "
        f"Tested on this seed's test predictions: {verdicts[1]} (the MLP: {verdicts[0]}). Why a CNN should lose: "
        "its 4x4 kernels look at small neighbourhoods and share weights across positions, an inductive bias "
        "that is right for images and wrong once neighbouring pixels are unrelated. After the shuffle each "
        "kernel sees 16 scattered pixels and the same filter is applied to unrelated pixel groups at every "
        "position, so the CNN has less usable structure than an MLP of similar size.",
    ]


TASK = Task(
    name="permutation",
    title="Extension: a fixed pixel permutation, MLP vs CNN",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    contrasts=contrasts,
    description="the brief's MLP and CNN-1 retrained on pixel-permuted MNIST and Fashion-MNIST: MLP against CNN",
)
