"""Runs a task: builds its config and context, times it, and writes OUT/<task>/result.json atomically."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from mnistlab import __version__, published
from mnistlab.runtime import configure_torch, environment, seed_everything
from mnistlab.store import SubRunCache, config_hash, read_json, to_jsonable, write_json
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
    figures_present = all((path.parent / f["file"]).is_file() for f in stored.get("figures", []))
    return stored.get("run_key") == key and figures_present


def run_task(task: Task, *, profile: str, config: Any, out: Path, device: torch.device, seed: int,
             data_dir: Path | None = None, force: bool = False, show_progress: bool | None = None,
             tensorboard_dir: Path | None = None, log=print) -> dict:
    """Run one task (unless an identical finished run is on disk) and return the stored result."""
    config = for_device(config, device)
    key = run_key(task, profile, config, seed)
    if not force and is_up_to_date(out, task, key):
        log(f"{task.name}: up to date (same config and seed); use --force to run again")
        return read_json(result_path(out, task.name))
    configure_torch()
    seed_everything(seed)
    ctx = Context(out_dir=out / task.name, device=device, seed=seed, profile=profile,
                  cache=SubRunCache(out / "cache"), data_dir=data_dir, show_progress=show_progress,
                  tensorboard_dir=tensorboard_dir)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: Result = task.run(config, ctx)
    seconds = time.perf_counter() - start
    record = {
        "task": task.name,
        "title": task.title,
        "profile": profile,
        "seed": seed,
        "config": to_jsonable(config),
        "run_key": key,
        "mnistlab_version": __version__,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "environment": environment(device),
        "cache": {"hits": ctx.cache.hits, "misses": ctx.cache.misses},
        "metrics": result.metrics,
        "tables": result.tables,
        "figures": result.figures,
        "text": result.text,
        "references": result.references + published.references_for(task.name),
    }
    write_json(result_path(out, task.name), record)
    log(f"{task.name}: done in {seconds:.1f} s -> {result_path(out, task.name)}")
    return to_jsonable(record)
