"""What Task 2 runs before its analysis: its perceptrons, as sub-runs of its own kinds (networks.py), so
`mnistlab plan` lists them and an executor spreads them over workers:

- one batched sweep of every pair with the configured rule;
- the brief's pair with the other rule, for its error curve (`compare_rules`);
- scikit-learn's Perceptron on each pair (`sklearn_check`).
"""

from __future__ import annotations

from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.task2.config import Config, Pair
from mnistlab.tasks.task2.networks import (
    KIND_PERCEPTRON_SWEEP,
    KIND_SKLEARN_PERCEPTRON,
    PairImages,
    PerceptronSweep,
    SklearnPerceptrons,
)


def plan(config: Config, seed: int) -> list[SubRun]:
    """The sweep of every pair, the brief's pair with the other rule and the scikit-learn check, as configured."""
    runs = [sweep_run(config, seed)]
    if config.compare_rules:
        runs.append(other_rule_run(config, seed))
    if config.sklearn_check:
        runs.append(sklearn_run(config, seed))
    return runs


def data(config: Config) -> PairImages:
    """The images every perceptron of this config trains and is tested on."""
    return PairImages(config.train_per_class, config.test_per_class)


def _sweep(config: Config, pairs: list[Pair], rule: str, seed: int, name: str) -> SubRun:
    spec = PerceptronSweep(pairs=tuple(tuple(p) for p in pairs), rule=rule, lr=config.lr, max_iter=config.max_iter,
                           tol=config.tol, init_scale=config.init_scale)
    return SubRun(kind=KIND_PERCEPTRON_SWEEP.name, model=spec, data=data(config), train=None, seed=seed, name=name)


def sweep_run(config: Config, seed: int) -> SubRun:
    """One perceptron per pair of `config.digits`, with the configured rule."""
    return _sweep(config, config.pairs, config.rule, seed,
                  f"task2: {len(config.pairs)} perceptrons, {config.rule} rule")


def other_rule(config: Config) -> str:
    return "online" if config.rule == "batch" else "batch"


def other_rule_run(config: Config, seed: int) -> SubRun:
    """The brief's pair with the rule not configured, for its error curve."""
    detail = (int(config.detail_pair[0]), int(config.detail_pair[1]))
    rule = other_rule(config)
    return _sweep(config, [detail], rule, seed, f"task2: {rule} rule on {detail}")


def sklearn_run(config: Config, seed: int) -> SubRun:
    """scikit-learn's Perceptron on each pair, on the same split and labels."""
    spec = SklearnPerceptrons(pairs=tuple(tuple(p) for p in config.pairs), max_iter=config.sklearn_max_iter,
                              tol=config.tol)
    return SubRun(kind=KIND_SKLEARN_PERCEPTRON.name, model=spec, data=data(config), train=None, seed=seed,
                  name=f"task2: {len(config.pairs)} scikit-learn perceptrons")
