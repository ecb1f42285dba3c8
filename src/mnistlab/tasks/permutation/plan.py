"""The networks the permutation extension trains (per data set, the MLP and the CNN on original and on permuted
pixels) and the comparisons its discussion draws (each network on original against permuted pixels)."""

from __future__ import annotations

from mnistlab.analysis.contrasts import Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import parse_cnn, parse_mlp
from mnistlab.tasks.common import classifier_run
from mnistlab.tasks.permutation.config import Config


def runs(config: Config, seed: int) -> list[tuple[str, str, bool, SubRun]]:
    """(dataset, family, permuted, sub-run) of the four networks per dataset. The unpermuted MNIST ones are
    the very sub-runs of Tasks 3 and 4 where the settings agree (the default): trained once for all three."""
    limits = {"train_limit": config.train_limit, "test_limit": config.test_limit, "seed": seed}
    models = [("MLP", parse_mlp(config.mlp), config.mlp_config()), ("CNN", parse_cnn(config.cnn), config.cnn_config())]
    return [(dataset, family, permuted, classifier_run(
        spec, cfg, dataset=dataset, **limits, permutation_seed=config.permutation_seed if permuted else None,
        keep_checkpoint=family == "MLP" and not permuted,  # rewired by the findings
        name=f"{spec.name} on {dataset} ({'permuted' if permuted else 'original'})"))
        for dataset in config.datasets for family, spec, cfg in models for permuted in (False, True)]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in runs(config, seed)]


def metric_prefix(dataset: str) -> str:
    """Metric names: MNIST's keep the plain names; Fashion-MNIST's carry its name."""
    return "" if dataset == "mnist" else "fashion_mnist_"


def contrasts(config: Config) -> list[Contrast]:
    """Each network on original against permuted pixels, per dataset."""
    def arm(i: int) -> Arm:
        dataset, family, permuted, run = runs(config, 0)[i]
        return Arm(f"{run.model.name} on {dataset} ({'permuted' if permuted else 'original'})",
                   f"{metric_prefix(dataset)}{family.lower()}_{'permuted_' if permuted else ''}test_acc",
                   run=lambda seed: runs(config, seed)[i][3])

    return [Contrast(arm(i), arm(i + 1), f"{runs(config, 0)[i][0]} {runs(config, 0)[i][1]}: original vs permuted")
            for i in range(0, 4 * len(config.datasets), 2)]
