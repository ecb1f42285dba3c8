"""What the baselines' analysis measures, as numbers: each network's record (with either recipe), what its
layers make of the test digits, and how far apart the t-SNE of each representation holds the ten classes
(Task 1's separation measures); and the flat metrics."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from mnistlab.data import load
from mnistlab.errors import MnistlabError
from mnistlab.tasks.base import Context
from mnistlab.tasks.baselines.config import MODELS, Config
from mnistlab.tasks.baselines.plan import adam_runs, report_d_runs, tsne_params
from mnistlab.tasks.common import tsne_2d
from mnistlab.viz.embedding import separation


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

    def compute(folder) -> dict:
        start = time.perf_counter()
        z = features
        if z.shape[1] > config.tsne_pca_dims:
            z = PCA(config.tsne_pca_dims, random_state=ctx.seed).fit_transform(z)
        np.save(folder / "embedding.npy", tsne_2d(z, perplexity=config.tsne_perplexity, seed=ctx.seed))
        return {"seconds": time.perf_counter() - start}

    record, folder = ctx.memo("tsne", tsne_params(config, name, features, ctx.seed), compute,
                              label=f"t-SNE of {name}")
    return np.load(folder / "embedding.npy"), record["seconds"]


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
    runs = adam_runs(config, ctx.seed)
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
               for name, run in report_d_runs(config, ctx.seed).items()]
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
