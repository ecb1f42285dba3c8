"""What the permutation extension measures, as numbers: per data set, the MLP and the CNN on original and on
permuted pixels with the test of each difference, and the unpermuted MLP rewired to the permuted pixels."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from mnistlab.analysis.stats import ALPHA
from mnistlab.data import load, permute_pixels, pixel_permutation
from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.base import Context
from mnistlab.tasks.permutation.config import Config
from mnistlab.tasks.permutation.plan import contrasts, metric_prefix, runs
from mnistlab.train import TrainConfig, evaluate


@dataclass(frozen=True)
class NetFindings:
    """One network trained on original and on permuted pixels, and the test of the difference."""

    family: str  # "MLP" or "CNN"
    name: str  # the spec's name, e.g. "CNN 32k4s1-64k4s2-128k4s2"
    params: int
    train_acc: float
    test_acc: float
    permuted_train_acc: float
    permuted_test_acc: float
    permuted_train_seconds: float
    history: list[dict[str, Any]]
    permuted_history: list[dict[str, Any]]
    verdict: str = ""  # ctx.compare's sentence on original vs permuted (this seed's test predictions)
    p: float = math.nan  # its p-value, adjusted over the section's comparisons; nan when not tested

    @property
    def change_pp(self) -> float:
        return 100 * (self.permuted_test_acc - self.test_acc)


@dataclass(frozen=True)
class DatasetFindings:
    dataset: str
    mlp: NetFindings
    cnn: NetFindings
    rewired: float  # the original MLP, first-layer columns permuted, on the permuted test images
    n_test: int
    examples: tuple[np.ndarray, np.ndarray, np.ndarray]  # eight test images, permuted, their labels

    @property
    def prefix(self) -> str:
        return metric_prefix(self.dataset)

    @property
    def noise_pp(self) -> float:
        """Half-width of the 95% sampling interval of the MLP's accuracy on these test images."""
        acc = self.mlp.test_acc
        return 100 * 1.96 * float(np.sqrt(acc * (1 - acc) / self.n_test))

    def detected(self, net: NetFindings) -> bool:
        """Whether the shuffle changed `net`'s test accuracy beyond chance: its McNemar test where it ran, else a
        change wider than the sampling interval of one accuracy (the MLP's)."""
        return net.p < ALPHA if not math.isnan(net.p) else abs(net.change_pp) > self.noise_pp


@dataclass(frozen=True)
class Findings:
    datasets: list[DatasetFindings]
    smoke_test: bool = False  # the quick profile: its numbers test the machinery and state no findings


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


def _net(family: str, nets: dict[bool, tuple[SubRun, dict[str, Any]]]) -> NetFindings:
    (run, orig), (_, perm) = nets[False], nets[True]
    return NetFindings(family, run.model.name, orig["params"], orig["train_acc"], orig["test_acc"], perm["train_acc"],
                       perm["test_acc"], perm["train_seconds"], orig["history"], perm["history"])


def dataset_metrics(d: DatasetFindings) -> dict[str, float]:
    m = {}
    for net in (d.mlp, d.cnn):
        key = d.prefix + net.family.lower()
        m[f"{key}_test_acc"], m[f"{key}_permuted_test_acc"] = net.test_acc, net.permuted_test_acc
        m[f"{key}_change_pp"], m[f"{key}_params"] = net.change_pp, net.params
        m[f"{key}_permuted_train_seconds"] = net.permuted_train_seconds
    m[f"{d.prefix}mlp_rewired_permuted_test_acc"] = d.rewired
    return m


def metrics(f: Findings) -> dict[str, float]:
    return {k: v for d in f.datasets for k, v in dataset_metrics(d).items()}


def _dataset(config: Config, ctx: Context, dataset: str, permutation: torch.Tensor) -> DatasetFindings:
    nets = {(family, permuted): (run, ctx.trained(run).record)
            for d, family, permuted, run in runs(config, ctx.seed) if d == dataset}
    xt, yt = load(dataset, "test", view="flat", limit=config.test_limit, device=ctx.device, data_dir=ctx.data_dir)
    xt_perm = permute_pixels(xt, permutation)
    rewired = rewired_mlp_accuracy(ctx.trained(nets[("MLP", False)][0]).model(ctx.device), permutation, xt_perm, yt,
                                   config.mlp_config())
    sample = np.arange(8)
    return DatasetFindings(dataset, *(_net(fam, {q: nets[(fam, q)] for q in (False, True)}) for fam in ("MLP", "CNN")),
                           rewired, len(yt), (xt[sample].cpu().numpy(), xt_perm[sample].cpu().numpy(),
                                              yt[sample].cpu().numpy()))


def _tested(config: Config, ctx: Context, datasets: list[DatasetFindings]) -> list[DatasetFindings]:
    """Each data set's findings with original vs permuted, MLP then CNN, tested on this seed's test predictions as
    one family (the p-values that Report C's claims are judged by, adjusted together:
    mnistlab.analysis.stats.adjust)."""
    family = contrasts(config)
    measured = metrics(Findings(datasets))
    outcomes = dict(zip((c.about for c in family), ctx.compare_family(family, measured), strict=True))
    out = []
    for d in datasets:
        mlp, cnn = (o for about, o in outcomes.items() if about.startswith(d.dataset + " "))
        p = [o.p_adjusted if o.comparison is not None else math.nan for o in (mlp, cnn)]
        out.append(replace(d, mlp=replace(d.mlp, verdict=mlp.text, p=p[0]),
                           cnn=replace(d.cnn, verdict=cnn.text, p=p[1])))
    return out


def compute_findings(config: Config, ctx: Context) -> Findings:
    permutation = pixel_permutation(config.permutation_seed)
    datasets = [_dataset(config, ctx, dataset, permutation) for dataset in config.datasets]
    return Findings(_tested(config, ctx, datasets), smoke_test=ctx.profile == "quick")
