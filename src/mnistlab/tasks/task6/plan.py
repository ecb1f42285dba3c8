"""The networks Task 6 trains (the two single-task CNNs, one MTL network per fixed lambda and per learned
weighting, and the probes of the lambda = 0.5 network) and the comparisons its discussion draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mnistlab.analysis.contrasts import SAME_MARGIN, Arm, Contrast
from mnistlab.execution.subrun import SubRun
from mnistlab.tasks.multitask import KIND_MTL, MTL_FORWARD_MACS, FashionData, MTLSpec, WeightingSpec
from mnistlab.tasks.task6.config import TASK_NAMES, Config, lam_name
from mnistlab.train import TrainConfig


def mtl_run(strategy: str, lam: float | None, cfg: TrainConfig, config: Config, seed: int, name: str) -> SubRun:
    n_train, n_val = config.split_sizes()
    data = FashionData(n_train, n_val, config.test_limit)
    return SubRun(kind=KIND_MTL.name, model=MTLSpec(), data=data, train=cfg,
                  objective=WeightingSpec(strategy, lam if strategy == "fixed" else None), seed=seed, name=name,
                  cost=6.0 * MTL_FORWARD_MACS * n_train * cfg.epochs)


def runs(config: Config, seed: int) -> list[tuple[str, Any, SubRun]]:
    """(kind, argument, sub-run) of every network. The single-task CNNs are the lambda = 1 and lambda = 0
    networks: an MTL network whose group (item) loss weight is 0 trains its trunk and item (group) head
    exactly as a single-task CNN that starts from the same weights (tests/test_task6.py checks it bit for
    bit), so each is one sub-run, trained once."""
    cfg = config.train_config()
    out: list[tuple[str, Any, SubRun]] = [
        ("single", "item", mtl_run("fixed", 1.0, cfg, config, seed, "MTL lambda=1 (single-task item CNN)")),
        ("single", "group", mtl_run("fixed", 0.0, cfg, config, seed, "MTL lambda=0 (single-task group CNN)")),
    ]
    out += [("fixed", lam, mtl_run("fixed", lam, cfg, config, seed, f"MTL lambda={lam_name(lam)}"))
            for lam in config.lambdas]
    out += [(s, None, mtl_run(s, None, cfg, config, seed, f"MTL {s}")) for s in config.strategies]
    out += [("probe", p, mtl_run("fixed", 0.5, config.train_config(**p[2]), config, seed, f"MTL probe {p[0]}"))
            for p in config.probes()]
    return out


def plan(config: Config, seed: int) -> list[SubRun]:
    return [run for _, _, run in runs(config, seed)]


def contrasts(config: Config) -> list[Contrast]:
    """Each mixed lambda and learned weighting against the single-task CNN of each task, each learned weighting
    against the fixed lambda 0.5, and the mixed lambdas against each other."""
    def net(kind: str, arg: Any) -> Callable[[int], SubRun]:
        return lambda seed: next(run for k, a, run in runs(config, seed) if (k, a) == (kind, arg))

    def arm(label: str, metric: str, kind: str, arg: Any, task: str) -> Arm:
        return Arm(label, metric, run=net(kind, arg), correct=f"correct_{task}")

    mixed = [("fixed", lam, f"lambda_{lam_name(lam)}", f"MTL lambda = {lam_name(lam)}")
             for lam in config.lambdas if 0 < lam < 1]
    mixed += [(s, None, s, f"MTL {s}") for s in config.strategies]
    out = []
    for task in TASK_NAMES:
        single = arm(f"single-task {task} CNN", f"single_{task}_test_acc", "single", task, task)
        for kind, arg, name, label in mixed:
            out.append(Contrast(arm(label, f"mtl_{name}_{task}_test_acc", kind, arg, task), single,
                                f"MTL vs single-task ({task}s)", margin=SAME_MARGIN))
        fixed = [m for m in mixed if m[0] == "fixed"]
        # each learned weighting against the fixed lambda it replaces (0.5, the equal weighting, where it ran):
        # "the same?", so tested for equivalence within the margin
        anchor = next((m for m in fixed if m[1] == 0.5), fixed[0] if fixed else None)
        for kind, arg, name, label in (m for m in mixed if m[0] != "fixed" and anchor is not None):
            out.append(Contrast(arm(label, f"mtl_{name}_{task}_test_acc", kind, arg, task),
                                arm(anchor[3], f"mtl_{anchor[2]}_{task}_test_acc", anchor[0], anchor[1], task),
                                f"weighting vs fixed lambda ({task}s)", margin=SAME_MARGIN))
        for i, (k1, a1, n1, l1) in enumerate(fixed):
            for k2, a2, n2, l2 in fixed[i + 1:]:
                out.append(Contrast(arm(l1, f"mtl_{n1}_{task}_test_acc", k1, a1, task),
                                    arm(l2, f"mtl_{n2}_{task}_test_acc", k2, a2, task), f"lambda vs lambda ({task}s)"))
    return out
