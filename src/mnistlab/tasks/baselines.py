"""Extension: classic baselines and "manifold untangling".

Three classic MNIST models, softmax regression (7,850 parameters), an MLP with one 100-unit sigmoid layer
(79,510) and a sigmoid CNN with two 5x5 convolutions (366,806), trained with the one engine; then t-SNE
of the test images as each network sees them (pixels, logits, hidden layers), scored with Task 1's
separation measures: how far each layer has pulled the ten classes apart.

The analysis reads the networks and t-SNEs into `Findings` (compute_findings); metrics, tables, the figures
(mnistlab.viz.untangling) and the prose (`prose`: paragraph id -> text) are drawn from those alone.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from mnistlab.constraints import Constrained, Constraints, Interval, rules_of
from mnistlab.data import load
from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.models import CNNSpec, MLPSpec, ModelSpec
from mnistlab.subrun import SubRun
from mnistlab.tasks.base import Context, Figure, Result, Table, Task, opt
from mnistlab.tasks.common import DATA_LIMITS, classifier_run, tsne_2d
from mnistlab.train import Precision, TrainConfig
from mnistlab.viz.embedding import separation
from mnistlab.viz.untangling import plot_embeddings, plot_measures

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


# ------------------------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class ModelFindings:
    name: str  # as in MODELS
    recipe: str  # "adam" (this run's) or "report_d" (Report D's SGD)
    params: int
    train_acc: float
    test_acc: float
    train_seconds: float
    epochs: int

    @property
    def label(self) -> str:
        return self.name if self.recipe == "adam" else f"{self.name}, Report D's recipe"


@dataclass(frozen=True)
class RepresentationFindings:
    name: str  # "pixels" or "<model>: <stage>"
    dims: int
    hit: float  # mean neighbourhood hit of its t-SNE
    hull_purity: float
    ellipse_purity: float
    seconds: float  # t-SNE time (of the run that computed it, when cached)
    embedding: np.ndarray  # the 2-D t-SNE, for the figure


@dataclass(frozen=True)
class Findings:
    models: list[ModelFindings]  # the MODELS with this run's recipe, then (report_d_recipe) with Report D's
    representations: list[RepresentationFindings]  # pixels first, then each network's layers
    labels: np.ndarray  # digits of the embedded test images
    n_test: int

    def ranked_by_size(self, recipe: str) -> bool:
        """Whether, with this recipe, every larger model scored above every smaller one (MODELS' order)."""
        accs = [m.test_acc for m in self.models if m.recipe == recipe]
        return all(a < b for a, b in itertools.pairwise(accs))


def _model_findings(rec: dict[str, Any], name: str, recipe: str) -> ModelFindings:
    return ModelFindings(name, recipe, rec["params"], rec["train_acc"], rec["test_acc"], rec["train_seconds"],
                         len(rec["history"]))


def _models(config: Config, ctx: Context, inputs: torch.Tensor) -> tuple[list[ModelFindings], dict[str, np.ndarray]]:
    """Each network's numbers, and (trained with this run's recipe) what its layers make of `inputs`."""
    runs = _runs(config, ctx.seed)
    models, representations = [], {}
    for name, (spec, expected) in MODELS.items():
        trained = ctx.trained(runs[name])
        if trained.record["params"] != expected:
            raise MnistlabError(f"{name} has {trained.record['params']:,} parameters, expected {expected:,}")
        models.append(_model_findings(trained.record, name, "adam"))
        stages = layer_outputs(trained.model(ctx.device), inputs.reshape(-1, *spec.input_shape))
        for stage, values in stages.items():
            if stage != "logits" or len(stages) == 1:  # logits only where there is nothing else to see
                representations[f"{name}: {stage}"] = values.numpy()
    models += [_model_findings(ctx.trained(run).record, name, "report_d")
               for name, run in _report_d_runs(config, ctx.seed).items()]
    return models, representations


def _untangle(config: Config, ctx: Context, name: str, features: np.ndarray,
              labels: np.ndarray) -> RepresentationFindings:
    emb, seconds = embed(ctx, config, name, features)
    sep = separation(emb, labels, k=config.neighbours, hull_keep=config.hull_keep, ellipse_radius=config.ellipse_sigma)
    return RepresentationFindings(name, features.shape[1], sep.mean_hit, float(sep.hull_purity.mean()),
                                  float(sep.ellipse_purity.mean()), seconds, emb)


def compute_findings(config: Config, ctx: Context) -> Findings:
    x_img, y = load("mnist", "test", view="image", limit=config.test_limit, device=ctx.device, data_dir=ctx.data_dir)
    subset = slice(0, config.tsne_subset)
    labels = y[subset].cpu().numpy()
    models, layers = _models(config, ctx, x_img[subset])
    representations = {"pixels": x_img[subset].flatten(1).cpu().numpy(), **layers}
    untangled = [_untangle(config, ctx, name, feats, labels)
                 for name, feats in ctx.progress(representations.items(), desc="t-SNE")]
    return Findings(models, untangled, labels, len(y))


# ------------------------------------------------------------------------ metrics, tables, figures


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_").replace("__", "_")


def metrics(f: Findings) -> dict[str, float]:
    m: dict[str, float] = {}
    for model in f.models:
        key = model.name.split()[0].lower()
        if model.recipe == "adam":
            m[f"{key}_params"] = model.params
        prefix = key if model.recipe == "adam" else f"{key}_report_d"
        m[f"{prefix}_train_acc"], m[f"{prefix}_test_acc"] = model.train_acc, model.test_acc
        m[f"{prefix}_train_seconds"] = model.train_seconds
    for r in f.representations:
        m[f"hit_{_slug(r.name)}"] = r.hit
        m[f"hull_purity_{_slug(r.name)}"] = r.hull_purity
        m[f"ellipse_purity_{_slug(r.name)}"] = r.ellipse_purity
    return m


def tables(f: Findings, config: Config) -> dict[str, Table]:
    models = Table(
        ["model", "parameters", "train acc", "test acc", "train s / epoch"],
        [[m.label, m.params, round(m.train_acc, 4), round(m.test_acc, 4), round(m.train_seconds / m.epochs, 1)]
         for m in f.models],
        f"Classic baselines, Adam lr {config.lr:g}, batch {config.batch_size}, {config.epochs} epoch(s), "
        f"{config.train_limit or 60000:,} training and {f.n_test:,} test images"
        + (f"; then the same networks with Report D's recipe (SGD lr 0.5, batch 300, {config.epochs} epoch(s))."
           if config.report_d_recipe else "."))
    untangling = Table(
        ["representation", "dimensions", "neighbourhood hit", "hull purity", "ellipse purity", "t-SNE s"],
        [[r.name, r.dims, round(r.hit, 3), round(r.hull_purity, 3), round(r.ellipse_purity, 3), round(r.seconds, 1)]
         for r in f.representations],
        f"Task 1's separation measures on t-SNE of {config.tsne_subset:,} test digits (k = {config.neighbours}, "
        f"hulls of each class's {config.hull_keep:.0%} core, {config.ellipse_sigma:g}-sigma ellipses); "
        f"representations wider than {config.tsne_pca_dims} dimensions pass through PCA first.")
    return {"models": models, "untangling": untangling}


def figures(f: Findings, ctx: Context) -> list[Figure]:
    reps = f.representations
    measures = {"neighbourhood hit": [r.hit for r in reps], "hull purity": [r.hull_purity for r in reps],
                "ellipse purity": [r.ellipse_purity for r in reps]}
    return [ctx.figure(plot_embeddings({r.name: r.embedding for r in reps}, f.labels, {r.name: r.hit for r in reps},
                                       ctx.seed), "tsne_representations",
                       "t-SNE of the same test digits: raw pixels, then each network's layers."),
            ctx.figure(plot_measures([r.name for r in reps], measures), "untangling",
                       "Separation measures for each representation, from pixels to logits.")]


def analyse(config: Config, ctx: Context) -> Result:
    f = compute_findings(config, ctx)
    return Result(metrics=metrics(f), tables=tables(f, config), figures=figures(f, ctx),
                  paragraphs=prose(f, config))


# ------------------------------------------------------------------------------------------- prose


def _accuracy_text(f: Findings) -> str:
    listed = ", ".join(f"{m.label} {m.test_acc:.2%} ({m.params:,} parameters)" for m in f.models)
    # judged within each recipe: across recipes a small network with one can beat a large one with the other
    if all(f.ranked_by_size(recipe) for recipe in dict.fromkeys(m.recipe for m in f.models)):
        ranking = ("Each step up bought accuracy: a hidden layer combines strokes instead of weighting single "
                   "pixels, and the convolutions find the same stroke wherever it appears.")
    else:
        ranking = ("Here the bigger models did not all beat the smaller ones trained the same way: on a short "
                   "schedule the sigmoid networks, which start on a plateau, have not caught up yet (compare the "
                   "train accuracy column); a longer schedule is expected to reorder the table.")
    return f"Test accuracy: {listed}. {ranking}"


def _untangling_text(f: Findings, k: int) -> str:
    hit = {r.name: r.hit for r in f.representations}
    pixels = hit["pixels"]
    hidden = [(name, value) for name, value in hit.items() if name != "pixels" and "logits" not in name]
    better = [name for name, value in hidden if value > pixels]
    best_name, best_hit = max(hit.items(), key=lambda item: item[1])
    return (
        f"Manifold untangling: in the t-SNE of raw pixels {pixels:.3f} of each digit's {k} nearest neighbours share "
        f"its class; in the networks' hidden representations "
        + ", ".join(f"'{name}' {value:.3f}" for name, value in hidden)
        + f". The best separated is '{best_name}' ({best_hit:.3f}). "
        + ("Every hidden representation separates the digits better than the pixels: layer by layer the "
           "networks pull the tangled pixel manifolds of the ten digits apart, into regions that their last "
           "layer - a softmax regression on those features - can cut with hyperplanes."
           if len(better) == len(hidden) else
           f"{len(better)} of the {len(hidden)} hidden representations separate the digits better than the "
           "pixels; the others may belong to networks that this schedule has not trained far enough to untangle "
           "the classes (compare their test accuracy)."))


def prose(f: Findings, config: Config) -> dict[str, str]:
    """Paragraphs by id: 'accuracy' (the models), 'untangling' (the t-SNE separation)."""
    return {"accuracy": _accuracy_text(f), "untangling": _untangling_text(f, config.neighbours)}


TASK = Task(
    name="baselines",
    title="Extension: classic baselines and manifold untangling",
    key_table="models",
    config_cls=Config,
    profiles=PROFILES,
    plan=plan,
    analyse=analyse,
    description="softmax regression, a 100-unit sigmoid MLP and a 5x5 sigmoid CNN; t-SNE of their layers",
    # The t-SNE of five representations: 62 s for 5,000 test digits at the brief's settings.
    analysis_cost=lambda config: 5.0 + 62.0 * config.tsne_subset / 5000,
)
