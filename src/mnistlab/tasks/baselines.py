"""Extension (SPEC 8.4): classic baselines and "manifold untangling".

Three classic MNIST models, softmax regression (7,850 parameters), an MLP with one 100-unit sigmoid layer
(79,510) and a sigmoid CNN with two 5x5 convolutions (366,806), trained with the one engine; then t-SNE
of the test images as each network sees them (pixels, logits, hidden layers), scored with Task 1's
separation measures: how far each layer has pulled the ten classes apart.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from mnistlab.data import CLASS_NAMES, load
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.models import CNNSpec, MLPSpec
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Result, Table, Task
from mnistlab.tasks.common import check_data_limits, classifier_run, tsne_2d
from mnistlab.train import Precision, TrainConfig
from mnistlab.viz import CLASS_COLOURS
from mnistlab.viz.embedding import class_legend_handles, scatter_classes, separation

# name -> (spec, parameter count of the classic layout). Glorot initialisation, as Keras (and the classic
# papers) would: with PyTorch's default the sigmoid CNN sat at chance for its first few hundred steps.
MODELS: dict[str, tuple[MLPSpec | CNNSpec, int]] = {
    "softmax regression": (MLPSpec(hidden=(), init="glorot"), 7_850),
    "MLP 100 sigmoid": (MLPSpec(hidden=(100,), activation="sigmoid", init="glorot"), 79_510),
    "CNN 5x5 sigmoid": (CNNSpec(channels=(32, 64), kernels=(5, 5), strides=(1, 1), pool_after=(0, 1), dense=(100,),
                                activation="sigmoid", init="glorot"), 366_806),
}


@dataclass(frozen=True)
class Config:
    epochs: int = 10
    batch_size: int = 50
    lr: float = 1e-3
    precision: Precision = "auto"
    train_limit: int | None = None
    test_limit: int | None = None
    tsne_subset: int = 5_000          # the first n test images are embedded
    tsne_perplexity: float = 30.0
    tsne_pca_dims: int = 50           # representations wider than this go through PCA first
    neighbours: int = 6               # k of the neighbourhood hit (as in Task 1)
    hull_keep: float = 0.95
    ellipse_sigma: float = 2.0
    # Also train each network with Report D's own recipe (plain SGD, lr 0.5, batch 300, same epochs), so that
    # its published accuracies compare like with like.
    report_d_recipe: bool = True

    def validate(self) -> None:
        self.train_config().validate()
        check_data_limits(self.train_limit, self.test_limit)
        n_test = self.test_limit or 10_000
        if not 50 <= self.tsne_subset <= n_test:
            raise ConfigError(f"tsne_subset must be between 50 and the number of test images ({n_test:,}), "
                              f"got {self.tsne_subset}")
        if not 0 < self.tsne_perplexity < (self.tsne_subset - 1) / 3:
            raise ConfigError(f"tsne_perplexity must be positive and below {(self.tsne_subset - 1) / 3:g} for "
                              f"{self.tsne_subset} points, got {self.tsne_perplexity}")
        if not 1 <= self.neighbours < self.tsne_subset:
            raise ConfigError(f"neighbours must be at least 1 and below tsne_subset, got {self.neighbours}")
        if self.tsne_pca_dims < 2:
            raise ConfigError(f"tsne_pca_dims must be at least 2, got {self.tsne_pca_dims}")
        if not 0 < self.hull_keep <= 1 or not self.ellipse_sigma > 0:
            raise ConfigError("hull_keep must be in (0, 1] and ellipse_sigma positive")

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


def layer_outputs(model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the network computes at each stage worth looking at: after the convolutions (flattened),
    after every hidden activation, and the logits."""
    out: dict[str, torch.Tensor] = {}
    layers = list(model)
    h = x
    with torch.inference_mode():
        for i, layer in enumerate(layers):
            h = layer(h)
            if isinstance(layer, nn.Flatten) and i > 0:
                out["conv features"] = h
            elif 0 < i < len(layers) - 1 and isinstance(layers[i - 1], nn.Linear) \
                    and not isinstance(layer, nn.Linear):
                out[f"hidden {sum(k.startswith('hidden') for k in out) + 1}"] = h
        out["logits"] = h
    return {k: v.float().cpu() for k, v in out.items()}


def embed(ctx: Context, config: Config, name: str, features: np.ndarray) -> tuple[np.ndarray, float]:
    """t-SNE of one representation (PCA to tsne_pca_dims first when wider), cached per representation."""
    params = {"source": "baselines", "representation": name, "n": len(features), "dims": features.shape[1],
              "perplexity": config.tsne_perplexity, "pca_dims": config.tsne_pca_dims,
              "sha256": hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest(), "seed": ctx.seed}

    def compute(folder) -> dict:
        start = time.perf_counter()
        z = features
        if z.shape[1] > config.tsne_pca_dims:
            z = PCA(config.tsne_pca_dims, random_state=ctx.seed).fit_transform(z)
        np.save(folder / "embedding.npy", tsne_2d(z, perplexity=config.tsne_perplexity, seed=ctx.seed))
        return {"seconds": time.perf_counter() - start}

    record, folder = ctx.memo("tsne", params, compute, label=f"t-SNE of {name}")
    return np.load(folder / "embedding.npy"), record["seconds"]


def plot_embeddings(embeddings: dict[str, np.ndarray], labels: np.ndarray, hits: dict[str, float],
                    seed: int) -> plt.Figure:
    n = len(embeddings)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.4 * rows), squeeze=False, layout="constrained")
    size = 2.0 if len(labels) > 3000 else 5.0
    for ax, (name, pts) in zip(axes.flat, embeddings.items(), strict=False):
        scatter_classes(ax, pts, labels, size=size, alpha=0.6, seed=seed)
        ax.set_title(f"{name}\nneighbourhood hit {hits[name]:.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.legend(handles=class_legend_handles(list(CLASS_NAMES["mnist"])), loc="outside right center",
               title="digit")
    fig.suptitle("t-SNE of the same test digits as each network represents them")
    return fig


def plot_measures(rows: list[list[Any]]) -> plt.Figure:
    names = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(max(6.5, 1.2 * len(rows)), 4))
    x = np.arange(len(rows))
    for j, (label, col) in enumerate((("neighbourhood hit", 2), ("hull purity", 3), ("ellipse purity", 4))):
        ax.plot(x, [r[col] for r in rows], "-o", color=CLASS_COLOURS[j], label=label)
    ax.set_xticks(x, names, rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("separation of the ten classes (1 = perfect)")
    ax.legend(fontsize=8)
    ax.set_title("Manifold untangling: class separation in t-SNE of each representation")
    fig.tight_layout()
    return fig


def _runs(config: Config, seed: int) -> dict[str, SubRun]:
    cfg = config.train_config()
    return {name: classifier_run(spec, cfg, seed=seed, train_limit=config.train_limit, test_limit=config.test_limit,
                                 keep_checkpoint=True, name=name)  # its layers are looked at below
            for name, (spec, _) in MODELS.items()}


def _report_d_runs(config: Config, seed: int) -> dict[str, SubRun]:
    if not config.report_d_recipe:
        return {}
    cfg = config.report_d_config()
    return {name: classifier_run(spec, cfg, seed=seed, train_limit=config.train_limit, test_limit=config.test_limit,
                                 name=f"{name}, Report D's recipe")
            for name, (spec, _) in MODELS.items()}


def plan(config: Config, seed: int) -> list[SubRun]:
    return list(_runs(config, seed).values()) + list(_report_d_runs(config, seed).values())


def analyse(config: Config, ctx: Context) -> Result:
    result = Result()
    runs = _runs(config, ctx.seed)
    x_img, y = load("mnist", "test", view="image", limit=config.test_limit, device=ctx.device, data_dir=ctx.data_dir)
    subset = slice(0, config.tsne_subset)
    labels = y[subset].cpu().numpy()
    representations: dict[str, np.ndarray] = {"pixels": x_img[subset].flatten(1).cpu().numpy()}
    model_rows = []
    for name, (spec, expected) in MODELS.items():
        trained = ctx.trained(runs[name])
        model, rec = trained.model(ctx.device), trained.record
        if rec["params"] != expected:
            raise MnistlabError(f"{name} has {rec['params']:,} parameters, expected {expected:,}")
        key = name.split()[0].lower()
        for metric in ("params", "train_acc", "test_acc", "train_seconds"):
            result.metrics[f"{key}_{metric}"] = rec[metric]
        model_rows.append([name, rec["params"], round(rec["train_acc"], 4), round(rec["test_acc"], 4),
                           round(rec["train_seconds"] / len(rec["history"]), 1)])
        inputs = x_img[subset].reshape(-1, *spec.input_shape)
        stages = layer_outputs(model, inputs)
        for stage, values in stages.items():
            if stage != "logits" or len(stages) == 1:  # logits only where there is nothing else to see
                representations[f"{name}: {stage}"] = values.numpy()
    for name, run in _report_d_runs(config, ctx.seed).items():
        rec = ctx.trained(run).record
        key = name.split()[0].lower()
        for metric in ("train_acc", "test_acc", "train_seconds"):
            result.metrics[f"{key}_report_d_{metric}"] = rec[metric]
        model_rows.append([f"{name}, Report D's recipe", rec["params"], round(rec["train_acc"], 4),
                           round(rec["test_acc"], 4), round(rec["train_seconds"] / len(rec["history"]), 1)])
    result.tables["models"] = Table(
        ["model", "parameters", "train acc", "test acc", "train s / epoch"], model_rows,
        f"Classic baselines, Adam lr {config.lr:g}, batch {config.batch_size}, {config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {len(y):,} test images"
        + (f"; then the same networks with Report D's recipe (SGD lr 0.5, batch 300, {config.epochs} epoch(s))."
           if config.report_d_recipe else "."))

    embeddings, seps, rows = {}, {}, []
    for name, feats in ctx.progress(representations.items(), desc="t-SNE"):
        emb, seconds = embed(ctx, config, name, feats)
        sep = separation(emb, labels, k=config.neighbours, hull_keep=config.hull_keep,
                         ellipse_radius=config.ellipse_sigma)
        embeddings[name], seps[name] = emb, sep
        rows.append([name, feats.shape[1], round(sep.mean_hit, 3), round(float(sep.hull_purity.mean()), 3),
                     round(float(sep.ellipse_purity.mean()), 3), round(seconds, 1)])
        slug = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")
        result.metrics[f"hit_{slug}"] = sep.mean_hit
        result.metrics[f"hull_purity_{slug}"] = float(sep.hull_purity.mean())
        result.metrics[f"ellipse_purity_{slug}"] = float(sep.ellipse_purity.mean())
    result.tables["untangling"] = Table(
        ["representation", "dimensions", "neighbourhood hit", "hull purity", "ellipse purity", "t-SNE s"], rows,
        f"Task 1's separation measures on t-SNE of {config.tsne_subset:,} test digits (k = {config.neighbours}, "
        f"hulls of each class's {config.hull_keep:.0%} core, {config.ellipse_sigma:g}-sigma ellipses); "
        f"representations wider than {config.tsne_pca_dims} dimensions pass through PCA first.")
    hits = {name: seps[name].mean_hit for name in embeddings}
    result.figures.append(ctx.figure(plot_embeddings(embeddings, labels, hits, ctx.seed), "tsne_representations",
                                     "t-SNE of the same test digits: raw pixels, then each network's layers."))
    result.figures.append(ctx.figure(plot_measures(rows), "untangling",
                                     "Separation measures for each representation, from pixels to logits."))
    result.text += _discussion(model_rows, rows, config.neighbours)
    return result


def _discussion(model_rows: list[list[Any]], rows: list[list[Any]], k: int) -> list[str]:
    accs = [r[3] for r in model_rows]
    listed = ", ".join(f"{r[0]} {r[3]:.2%} ({r[1]:,} parameters)" for r in model_rows)
    if all(a < b for a, b in itertools.pairwise(accs)):
        ranking = ("Each step up bought accuracy: a hidden layer combines strokes instead of weighting single "
                   "pixels, and the convolutions find the same stroke wherever it appears.")
    else:
        ranking = ("Here the bigger models did not all beat the smaller ones: on a short schedule the sigmoid "
                   "networks, which start on a plateau, have not caught up yet (compare the train accuracy "
                   "column); a longer schedule is expected to reorder the table.")
    hit = {r[0]: r[2] for r in rows}
    pixels = hit["pixels"]
    hidden = [(name, value) for name, value in hit.items() if name != "pixels" and "logits" not in name]
    better = [name for name, value in hidden if value > pixels]
    best_name, best_hit = max(hit.items(), key=lambda item: item[1])
    untangling = (
        f"Manifold untangling: in the t-SNE of raw pixels {pixels:.3f} of each digit's {k} nearest neighbours share "
        f"its class; in the networks' hidden representations "
        + ", ".join(f"'{name}' {value:.3f}" for name, value in hidden)
        + f". The best separated is '{best_name}' ({best_hit:.3f}). "
        + ("Every hidden representation separates the digits better than the pixels: layer by layer the "
           "networks pull the tangled pixel manifolds of the ten digits apart, into regions that their last "
           "layer - a softmax regression on those features - can cut with hyperplanes."
           if len(better) == len(hidden) else
           f"{len(better)} of the {len(hidden)} hidden representations separate the digits better than the "
           "pixels; the others belong to networks that this schedule has not trained far enough to untangle "
           "the classes (their accuracy says the same)."))
    return [f"Test accuracy: {listed}. {ranking}", untangling]


TASK = Task(
    name="baselines",
    title="Extension: classic baselines and manifold untangling",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    description="softmax regression, a 100-unit sigmoid MLP and a 5x5 sigmoid CNN; t-SNE of their layers",
)
