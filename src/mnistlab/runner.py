"""Runs tasks: plan every task's sub-runs, have an executor train what the cache lacks, analyse each
task, and write OUT/<task>/result.json atomically.

Planning all selected tasks before executing lets an executor spread the union of their networks
over cores, GPUs or machines, and trains a network that two tasks share once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from mnistlab import __version__
from mnistlab.cache import SubRunCache
from mnistlab.progress import progress
from mnistlab.runtime import configure_torch, environment, seed_everything
from mnistlab.store import config_hash, read_json, to_jsonable, write_json
from mnistlab.subrun import Outcome, SubRun, Trained
from mnistlab.tasks.base import Context, Result, Task, for_device


def result_path(out: Path, task_name: str) -> Path:
    return out / task_name / "result.json"


def run_key(task: Task, profile: str, config: Any, seed: int) -> str:
    return config_hash({"task": task.name, "profile": profile, "config": config, "seed": seed,
                        "version": __version__})


def is_up_to_date(out: Path, task: Task, key: str) -> bool:
    path = result_path(out, task.name)
    if not path.is_file():
        return False
    try:
        stored = read_json(path)
    except ValueError:
        return False
    if not isinstance(stored, dict):
        return False
    figures = stored.get("figures", [])
    figures_present = isinstance(figures, list) and all(
        isinstance(f, dict) and (path.parent / str(f.get("file", ""))).is_file() for f in figures)
    return stored.get("run_key") == key and figures_present


def execute_plan(plan: Sequence[SubRun], cache: SubRunCache, *, executor: Any = None,
                 device: torch.device | None = None, data_dir: Path | None = None,
                 show_progress: bool | None = None, task: str = "",
                 log: Callable[[str], None] | None = None) -> dict[SubRun, Trained]:
    """Train the sub-runs of `plan` that `cache` lacks with `executor` (inline by default), store each
    as it finishes, and return every sub-run of the plan as a `Trained` record.

    Each missing sub-run is claimed with its cache lock first: a sub-run that another process is
    training right now is waited for, not trained twice.
    """
    from mnistlab.executors import InlineExecutor

    plan = list(dict.fromkeys(plan))
    if executor is None:
        executor = InlineExecutor(device=device or torch.device("cpu"), data_dir=data_dir,
                                  show_progress=show_progress)
    cache.clean_partials()
    missing = [run for run in plan if not cache.has(run)]
    cache.hits += len(plan) - len(missing)
    claimed, busy = [], []
    for run in missing:
        lock = cache.try_lock(run.hash)
        if lock is None:
            busy.append(run)
        elif cache.has(run):  # finished by another process between the two checks
            lock.release()
            cache.hits += 1
        else:
            claimed.append((run, lock))
    if claimed:
        total_cost = sum(r.cost for r, _ in claimed)
        bar = progress(total=len(claimed), desc=f"{task or 'plan'}: sub-runs", enabled=show_progress)
        start = time.perf_counter()
        done_cost, done = 0.0, 0

        def on_done(run: SubRun, outcome: Outcome) -> None:
            nonlocal done_cost, done
            cache.store(run, outcome, task=task)
            cache.misses += 1
            done_cost += run.cost
            done += 1
            bar.update()
            if bar.disable and show_progress is not False and len(claimed) > 1:  # no bar: one line per sub-run
                elapsed = time.perf_counter() - start
                eta = elapsed * (total_cost - done_cost) / done_cost if total_cost > 0 and done_cost > 0 else None
                (log or _stderr)(f"{task or 'plan'}: {done}/{len(claimed)} sub-runs done ({run.label}), "
                                 f"{elapsed:.0f} s elapsed" + (f", about {eta:.0f} s left" if eta is not None else ""))

        try:
            executor.run([r for r, _ in claimed], on_done)
        finally:
            bar.close()
            for _, lock in claimed:
                lock.release()
    busy_trained: list[SubRun] = []
    for run in busy:
        (log or _stderr)(f"{task or 'plan'}: waiting for another process that is training {run.label}")
        with cache.lock(run.hash):
            if not cache.has(run):  # that process died before finishing: train it here
                InlineExecutor(device=device or torch.device("cpu"), data_dir=data_dir,
                               show_progress=show_progress).run([run], lambda r, o: cache.store(r, o, task=task))
                cache.misses += 1
                busy_trained.append(run)
            else:
                cache.hits += 1
    fresh = {run for run, _ in claimed} | set(busy_trained)
    out = {run: cache.load(run) for run in plan}
    for run in fresh:
        out[run].fresh = True
    return out


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_task(task: Task, *, profile: str, config: Any, out: Path, device: torch.device, seed: int,
             data_dir: Path | None = None, force: bool = False, show_progress: bool | None = None,
             log=print, executor: Any = None, tensorboard_dir: Path | None = None) -> dict:
    """Run one task (unless an identical finished run is on disk) and return the stored result."""
    return run_tasks([task], profile=profile, configs={task.name: config}, out=out, device=device, seed=seed,
                     data_dir=data_dir, force=force, show_progress=show_progress, log=log, executor=executor,
                     tensorboard_dir=tensorboard_dir)[task.name]


def run_tasks(tasks: Sequence[Task], *, profile: str, configs: dict[str, Any], out: Path, device: torch.device,
              seed: int, data_dir: Path | None = None, force: bool = False, show_progress: bool | None = None,
              log=print, executor: Any = None, tensorboard_dir: Path | None = None) -> dict[str, dict]:
    """Run several tasks: plan them all, execute the union of their missing sub-runs, analyse each."""
    cache = SubRunCache(out / "cache")
    stored: dict[str, dict] = {}
    todo: list[tuple[Task, Any, str]] = []
    for task in tasks:
        config = for_device(configs[task.name], device)
        key = run_key(task, profile, config, seed)
        if not force and is_up_to_date(out, task, key):
            log(f"{task.name}: up to date (same config and seed); use --force to run again")
            stored[task.name] = read_json(result_path(out, task.name))
        else:
            todo.append((task, config, key))
    if not todo:
        return stored
    configure_torch()
    plans = {task.name: task.sub_runs(config, seed) for task, config, _ in todo}
    union = list(dict.fromkeys(run for plan in plans.values() for run in plan))
    start_all = time.perf_counter()
    finished = execute_plan(union, cache, executor=executor, device=device, data_dir=data_dir,
                            show_progress=show_progress, task="+".join(plans) if len(plans) > 1 else todo[0][0].name)
    train_seconds = time.perf_counter() - start_all
    for task, config, key in todo:
        seed_everything(seed)
        ctx = Context(out_dir=out / task.name, device=device, seed=seed, profile=profile, cache=cache,
                      data_dir=data_dir, show_progress=show_progress, tensorboard_dir=tensorboard_dir,
                      finished={run: finished[run] for run in plans[task.name]})
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result: Result = task.analyse(config, ctx)
        seconds = time.perf_counter() - start
        runs = plans[task.name]
        record = {
            "task": task.name,
            "title": task.title,
            "profile": profile,
            "seed": seed,
            "config": to_jsonable(config),
            "run_key": key,
            "mnistlab_version": __version__,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            # Training time of this task's own networks (as recorded when they trained) plus its analysis.
            "seconds": round(seconds + sum(float(ctx.finished[r].record.get("wall_seconds", 0.0)) for r in runs
                                           if r in ctx.finished), 2),
            "analysis_seconds": round(seconds, 2),
            "plan_seconds": round(train_seconds, 2),
            "environment": environment(device),
            "sub_runs": [{"name": r.label, "kind": r.kind, "hash": r.hash} for r in runs]
                        + [{"name": "memo", "kind": "memo", "hash": h} for h in dict.fromkeys(ctx.memos)],
            "cache": {"hits": cache.hits, "misses": cache.misses},
            "metrics": result.metrics,
            "tables": result.tables,
            "figures": result.figures,
            "text": result.text,
            "references": result.references,
        }
        write_json(result_path(out, task.name), record)
        log(f"{task.name}: done in {seconds:.1f} s of analysis -> {result_path(out, task.name)}")
        stored[task.name] = to_jsonable(record)
    return stored
