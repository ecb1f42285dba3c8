"""The registry of experiments: one folder per task (`mnistlab/tasks/<name>/`, see tasks/base.py for its
layout), listed once by name in `mnistlab.catalog.TASK_NAMES`; each folder's `TASK` declaration carries
everything the runner, the report and the CLI need (its key table and figure, its published numbers,
its networks' kinds). An experiment outside the package joins through `register`.
"""

from __future__ import annotations

import difflib
import importlib
import os

from mnistlab.catalog import TASK_NAMES
from mnistlab.constraints import shorten
from mnistlab.errors import ConfigError
from mnistlab.tasks.base import Task


def module_name(task_name: str) -> str:
    """The module of a task of the package: `mnistlab.tasks.<name with '-' as '_'>`."""
    return f"{__name__}.{task_name.replace('-', '_')}"


REGISTRY: dict[str, Task] = {name: importlib.import_module(module_name(name)).TASK for name in TASK_NAMES}


def register(task: Task) -> Task:
    """Add an experiment defined outside the package (after the lab's own), so that `run`, `plan`, `report`
    and `show` know it; returns it, so a module may write `TASK = register(Task(...))`. A name already taken
    by another experiment is refused."""
    if not isinstance(task, Task):
        raise ConfigError(f"register() takes a mnistlab Task, not {type(task).__name__}")
    known = REGISTRY.get(task.name)
    if known is not None and known is not task:
        raise ConfigError(f"an experiment named {task.name!r} is already registered")
    REGISTRY[task.name] = task
    return task


# Experiments of your own: MNISTLAB_EXPERIMENTS names modules (comma-separated) that call `register`.
EXPERIMENTS_VARIABLE = "MNISTLAB_EXPERIMENTS"


def load_experiments(names: str | None = None) -> list[str]:
    """Import the modules that MNISTLAB_EXPERIMENTS (or `names`) lists, each registering its experiments;
    returns the names of the tasks they added. A module that cannot be imported is one clear line."""
    before = set(REGISTRY)
    for name in filter(None, (part.strip() for part in (names or os.environ.get(EXPERIMENTS_VARIABLE, "")).split(","))):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"{EXPERIMENTS_VARIABLE}: cannot import {shorten(name)!r} ({exc})") from None
    return [name for name in REGISTRY if name not in before]


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


# Last, so that their modules find `register` and the lab's own tasks in place.
load_experiments()
