"""The lab as a library: run tasks, plan them, read their results, and see which are stale.

`import mnistlab` exposes these (lazily, see mnistlab/__init__.py) beside `mnistlab.load` (data),
`mnistlab.fit` and `mnistlab.TrainConfig` (the training engine). Each does what the command of the same
name does, and raises a `mnistlab.errors.MnistlabError` (one clear line) on bad input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnistlab.catalog import PROFILE_NAMES
from mnistlab.errors import ConfigError, MnistlabError

FIGURE_FORMATS = ("png", "svg", "pdf")


def _task_list(tasks: str | Sequence[str]) -> list:
    from mnistlab.tasks import resolve_tasks

    return resolve_tasks([tasks] if isinstance(tasks, str) else list(tasks))


def _seed_list(seeds: int | str | Sequence[int] | None, tasks: list, profile: str) -> list[int] | dict[str, list[int]]:
    """None: each task's own seeds for the profile, as `mnistlab run` (Task.default_seeds); an int n or "n":
    seeds 0..n-1; "3,7" or [3, 7]: those seeds."""
    from mnistlab.analysis.contrasts import parse_seeds

    if seeds is None:
        return {t.name: t.seeds_for(profile) for t in tasks}
    if isinstance(seeds, int):
        return parse_seeds(str(seeds))
    if isinstance(seeds, str):
        return parse_seeds(seeds)
    return parse_seeds(",".join(str(int(s)) for s in seeds))


def _overrides(tasks: list, overrides: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """{"epochs": 1} for every task that has the field, {"task3.epochs": 1} for one; values typed or text."""
    from mnistlab.tasks import override_targets

    per_task: dict[str, dict[str, Any]] = {t.name: {} for t in tasks}
    for key, value in (overrides or {}).items():
        targets, name = override_targets(key, tasks, f"override {key!r}")
        for task in targets:
            per_task[task.name][name] = task.parse_override(name, value) if isinstance(value, str) else value
    return per_task


def run(tasks: str | Sequence[str], *, profile: str = "quick", out: str | Path = "results",
        seeds: int | str | Sequence[int] | None = None, overrides: dict[str, Any] | None = None,
        device: str = "auto", force: bool = False, show_progress: bool | None = False,
        data_dir: str | Path | None = None, figure_format: str = "png") -> dict[str, dict]:
    """Run tasks as `mnistlab run` does and return {task: its result.json as a dict}.

    An identical finished result in `out` is reused, and cached networks are not trained again.

    >>> import mnistlab
    >>> results = mnistlab.run("task3", overrides={"epochs": 1, "train_limit": 500, "test_limit": 200,
    ...                                             "models": "32"}, out="results-api")   # doctest: +SKIP
    >>> results["task3"]["metrics"]["test_acc"]                                          # doctest: +SKIP
    """
    from mnistlab.execution.runner import run_tasks
    from mnistlab.execution.runtime import configure_torch, resolve_device

    if profile not in PROFILE_NAMES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILE_NAMES)}")
    if figure_format not in FIGURE_FORMATS:
        raise ConfigError(f"unknown figure format {figure_format!r}; choose one of {', '.join(FIGURE_FORMATS)}")
    selected = _task_list(tasks)
    per_task = _overrides(selected, overrides)
    configs = {t.name: t.config(profile, per_task[t.name]) for t in selected}
    resolved = resolve_device(device)
    configure_torch()
    return run_tasks(selected, profile=profile, configs=configs, out=Path(out), device=resolved,
                     seeds=_seed_list(seeds, selected, profile),
                     data_dir=None if data_dir is None else Path(data_dir), force=force,
                     show_progress=show_progress, figure_format=figure_format)


def plan(tasks: str | Sequence[str], *, profile: str = "quick", out: str | Path = "results",
         seeds: int | str | Sequence[int] | None = None, overrides: dict[str, Any] | None = None,
         device: str = "auto") -> Any:
    """What `run` would do, without doing it: a `mnistlab.execution.estimate.Plan` of every sub-run (network) each
    task trains, whether the cache in `out` has it, and the estimated seconds of training and analysis.

    >>> p = mnistlab.plan(["task1", "task3"], profile="brief")                            # doctest: +SKIP
    >>> p.total_seconds, [t.name for t in p.tasks]                                       # doctest: +SKIP
    """
    from mnistlab.execution.estimate import plan_tasks
    from mnistlab.execution.runtime import resolve_device

    selected = _task_list(tasks)
    per_task = _overrides(selected, overrides)
    return plan_tasks(selected, profile=profile, overrides=per_task, out=Path(out),
                      seeds=_seed_list(seeds, selected, profile), device=resolve_device(device))


def read_results(out: str | Path = "results") -> dict[str, dict]:
    """{task name: its result.json as a dict} for every task with a result in `out`, in registry order;
    tasks not run yet are absent, a damaged result raises a MnistlabError naming its file.

    >>> results = mnistlab.read_results("results")                                       # doctest: +SKIP
    >>> results["task6"]["metrics"]["best_mixed_lambda"]                                 # doctest: +SKIP
    """
    from mnistlab.execution.store import read_result
    from mnistlab.tasks import REGISTRY

    folder = Path(out)
    if not folder.is_dir():
        raise MnistlabError(f"results folder {folder} {'is not a folder' if folder.exists() else 'does not exist'}")
    found = {}
    for name in REGISTRY:
        path = folder / name / "result.json"
        if path.is_file():
            found[name] = read_result(path)
    return found


@dataclass
class ResultState:
    """One task's stored result, and whether running its profile again would compute it afresh.

    `state`: "up to date" (the current code and the profile's config give the stored run key), "stale"
    (they give another: code, defaults or the profile changed since), "custom" (run with --set values;
    `differs` names them, and `stale` says whether those values would still give the stored key), or
    "damaged" (`error` says why)."""

    task: str
    path: str
    state: str
    profile: str = ""
    seeds: list[int] = dataclasses.field(default_factory=list)
    finished_at: str = ""
    seconds: float | None = None
    differs: dict[str, list[Any]] = dataclasses.field(default_factory=dict)  # field -> [stored, profile's]
    stale: bool = False
    error: str = ""


def result_state(out: str | Path, task: Any) -> ResultState | None:
    """The state of `task`'s result in `out` (None where it has none). Nothing is imported from torch beyond
    what resolving an "auto" precision for the stored device needs."""
    import torch

    from mnistlab.execution.runner import run_key
    from mnistlab.execution.store import read_result, to_jsonable
    from mnistlab.tasks.base import for_device

    path = Path(out) / task.name / "result.json"
    if not path.exists():
        return None
    try:
        stored = read_result(path)
    except MnistlabError as exc:
        return ResultState(task.name, str(path), "damaged", error=str(exc))
    if not isinstance(stored, dict):
        return ResultState(task.name, str(path), "damaged", error="not a JSON object")
    profile = str(stored.get("profile", ""))
    seeds = [int(s) for s in stored.get("seeds") or [stored.get("seed", 0)] if isinstance(s, int)]
    state = ResultState(task.name, str(path), "stale", profile=profile, seeds=seeds,
                        finished_at=str(stored.get("finished_at", "")), seconds=stored.get("seconds"))
    if profile not in PROFILE_NAMES or not seeds:
        state.error = "no known profile or seeds recorded"
        state.stale = True
        return state
    try:
        device = torch.device(str(stored.get("environment", {}).get("device", "cpu")))
    except (RuntimeError, TypeError):
        device = torch.device("cpu")
    config = for_device(task.config(profile), device)
    current = to_jsonable(config)
    recorded = stored.get("config") if isinstance(stored.get("config"), dict) else {}
    state.differs = {k: [recorded.get(k), v] for k, v in current.items() if k in recorded and recorded[k] != v}
    key = seeds[0] if len(seeds) == 1 else seeds
    if not state.differs:
        state.stale = run_key(task, profile, config, key) != stored.get("run_key")
        state.state = "stale" if state.stale else "up to date"
        return state
    # Run with --set: would the same values give the stored key with the current code?
    names = {f.name for f in dataclasses.fields(task.config_cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in names}
    try:
        custom = for_device(task.config(profile, values), device)
        state.stale = run_key(task, profile, custom, key) != stored.get("run_key")
    except (MnistlabError, TypeError, ValueError):
        state.stale = True
    state.state = "custom"
    return state


def status(out: str | Path = "results") -> list[ResultState]:
    """The state of every registered task's result in `out` (tasks without one are left out).

    >>> [(s.task, s.state) for s in mnistlab.status("results")]                       # doctest: +SKIP
    """
    from mnistlab.tasks import REGISTRY

    return [s for task in REGISTRY.values() if (s := result_state(out, task)) is not None]
