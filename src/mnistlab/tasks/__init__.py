"""The registry of experiments. Add a task by importing its TASK here; the CLI and report pick it up."""

from __future__ import annotations

import difflib

from mnistlab.constraints import shorten
from mnistlab.errors import ConfigError
from mnistlab.tasks import (
    baselines,
    clock,
    data_overview,
    hparams,
    permutation,
    recipes,
    task1,
    task2,
    task3,
    task4,
    task5,
    task6,
)
from mnistlab.tasks.base import Task

REGISTRY: dict[str, Task] = {
    t.name: t for t in (data_overview.TASK, task1.TASK, task2.TASK, task3.TASK, task4.TASK, task5.TASK, task6.TASK,
              permutation.TASK, baselines.TASK, hparams.TASK, clock.TASK, recipes.TASK)
}


def get_task(name: str) -> Task:
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, REGISTRY, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ConfigError(f"unknown task {name!r}{hint} (known: {', '.join(REGISTRY)}, or 'all')")


def resolve_tasks(names: list[str]) -> list[Task]:
    """Tasks named on the command line, in registry order, 'all' meaning every one."""
    if not names:
        raise ConfigError("name at least one task (or 'all'); see 'mnistlab list'")
    if "all" in names:
        return list(REGISTRY.values())
    wanted = {get_task(n).name for n in names}
    return [t for t in REGISTRY.values() if t.name in wanted]


def override_targets(key: str, tasks: list[Task], said: str) -> tuple[list[Task], str]:
    """(the tasks an override `key` sets, the option's name): "task3.epochs" sets Task 3's, "epochs" every
    selected task's that has one. `said` is how the error line names the override ("--set 'epochs=1'")."""
    task_name, _, name = key.rpartition(".")
    by_name = {t.name: t for t in tasks}
    if task_name:
        if task_name not in by_name:
            raise ConfigError(f"{said}: task {shorten(task_name)!r} is not among the tasks being run")
        return [by_name[task_name]], name
    targets = [t for t in tasks if name in t.field_names()]
    if not targets:
        if len(tasks) == 1:
            tasks[0].parse_override(name, "")  # raises with a suggestion of the option meant
        raise ConfigError(f"{said}: none of {', '.join(by_name)} has an option {shorten(name)!r}")
    return targets, name
