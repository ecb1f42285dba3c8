"""The networks the hyperparameter studies train (every value of every study on every dataset, one "hparams"
sub-run each, a reference shared by the studies that list it) and the comparisons they draw: each value
against its study's reference."""

from __future__ import annotations

import re

from mnistlab.analysis.contrasts import Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.models import spec_forward_macs
from mnistlab.tasks.hparams.config import Config, Study
from mnistlab.tasks.hparams.networks import KIND_HPARAMS, Recipe, StudyData
from mnistlab.tasks.sweeps import slug


def metric_slug(*parts: str) -> str:
    """'fashion-mnist', 'MLP', 'init', 'N(0, 1)' -> 'fashion_mnist_mlp_init_n_0_1'."""
    return re.sub(r"_+", "_", "_".join(slug(p) for p in parts))


def recipe_run(config: Config, dataset: str, recipe: Recipe, seed: int, name: str = "") -> SubRun:
    """One run of a study: the key holds everything that determines the weights. The same first weights
    (seed) for every value with the same architecture."""
    n_train, n_val = config.split_sizes()
    data = StudyData(dataset, recipe.spec.view, n_train, n_val, config.test_limit)
    # Cost at the epoch cap (early stopping usually ends sooner): an upper bound for plans.
    cost = 6.0 * spec_forward_macs(recipe.spec) * n_train * config.max_epochs
    return SubRun(kind=KIND_HPARAMS.name, model=recipe, data=data, train=config.train_config(recipe), seed=seed,
                  name=name or f"{dataset} {recipe.family}", cost=cost)


def study_runs(config: Config, seed: int) -> list[tuple[str, Study, str, SubRun]]:
    """(dataset, study, value label, its sub-run) for every value of every study on every dataset."""
    return [(d, s, label, recipe_run(config, d, recipe, seed, f"{d} {s.family} {s.name}={label}"))
            for d in config.datasets for s in config.studies() for label, recipe in s.values.items()]


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for *_, run in study_runs(config, seed)]


def contrasts(config: Config) -> list[Contrast]:
    """Every value of every study against its reference, per dataset."""
    out = []
    for dataset in config.datasets:
        for study in config.studies():
            ref = study.values[study.reference]

            def arm(label: str, recipe: Recipe, study: Study = study, dataset: str = dataset) -> Arm:
                return Arm(f"{dataset} {study.family} {study.name}={label}",
                           metric_slug(dataset, study.family, study.name, label) + "_test_acc",
                           run=lambda seed: recipe_run(config, dataset, recipe, seed))

            out += [Contrast(arm(label, recipe), arm(study.reference, ref), f"{dataset} {study.family} {study.name}")
                    for label, recipe in study.values.items() if label != study.reference]
    return out
