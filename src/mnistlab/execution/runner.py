"""Runs tasks: plan every task's sub-runs, have an executor train what the cache lacks, analyse each
task, and write OUT/<task>/result.json atomically.

Planning all selected tasks before executing lets an executor spread the union of their networks
over cores, GPUs or machines, and trains a network that two tasks share once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from mnistlab import __version__
from mnistlab.catalog import PROFILES
from mnistlab.errors import MnistlabError
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.estimate import throughput_table, training_seconds
from mnistlab.execution.logs import write_histories
from mnistlab.execution.progress import progress, stderr_line
from mnistlab.execution.runtime import configure_torch, environment, seed_everything
from mnistlab.execution.store import config_hash, read_result, to_jsonable, with_digest, write_json
from mnistlab.execution.subrun import Outcome, SubRun, Trained
from mnistlab.tasks.base import Context, Figure, Paragraph, Result, Task, finding_of, for_device


def _shares(runs: list[SubRun], cache: SubRunCache) -> dict[str, float]:
    """Each sub-run's share of the work, for the time-left line: its planned seconds where every one has an
    estimate (FLOPs alone undercount a small network, whose time goes to its steps' fixed costs), else its cost."""
    rates = throughput_table(cache)
    planned = {run.hash: training_seconds(run, rates) for run in runs}
    if all(seconds is not None and seconds > 0 for seconds in planned.values()):
        return {h: float(seconds) for h, seconds in planned.items() if seconds is not None}
    return {run.hash: float(run.cost) for run in runs}


def result_path(out: Path, task_name: str) -> Path:
    return out / task_name / "result.json"


def run_key(task: Task, profile: str, config: Any, seed: int) -> str:
    return config_hash({"task": task.name, "profile": profile, "config": config, "seed": seed,
                        "version": __version__})


def is_up_to_date(out: Path, task: Task, key: str, figure_format: str = "png") -> bool:
    """Whether OUT/<task>/result.json is whole, has run key `key`, and has every figure, in `figure_format`
    (png for results written before the format was recorded)."""
    return _up_to_date_result(out, task, key, figure_format) is not None


def _up_to_date_result(out: Path, task: Task, key: str, figure_format: str) -> dict | None:
    """The stored result when it is up to date (see `is_up_to_date`), read once; else None."""
    path = result_path(out, task.name)
    try:
        stored = read_result(path, task.name)
    except FileNotFoundError:
        return None
    except MnistlabError as exc:  # a damaged result is not a reason to stop: the run writes a new one
        print(f"mnistlab: warning: {exc}; running {task.name} again", file=sys.stderr, flush=True)
        return None
    if not isinstance(stored, dict):
        return None
    figures = stored.get("figures", [])
    figures_present = isinstance(figures, list) and all(
        isinstance(f, dict) and _figure_readable(path.parent, str(f.get("file", ""))) for f in figures)
    same_format = str(stored.get("figure_format", "png")) == figure_format
    return stored if stored.get("run_key") == key and figures_present and same_format else None


def _figure_readable(folder: Path, name: str) -> bool:
    """Whether a stored figure is a regular file inside its task folder (what the report will embed)."""
    from mnistlab.execution.atomic import open_regular

    try:
        open_regular(folder / name, within=folder).close()
    except OSError:
        return False
    return True


def execute_plan(plan: Sequence[SubRun], cache: SubRunCache, *, executor: Any = None,
                 device: torch.device | None = None, data_dir: Path | None = None,
                 show_progress: bool | None = None, task: str = "",
                 log: Callable[[str], None] | None = None, retrain: bool = False) -> dict[SubRun, Trained]:
    """Train the sub-runs of `plan` that `cache` lacks (with `retrain`: all of them, each new entry
    replacing the cached one) with `executor` (inline by default), store each as it finishes, and return
    every sub-run of the plan as a `Trained` record.

    Each missing sub-run is claimed with its cache lock first: a sub-run that another process is
    training right now is waited for, not trained twice.
    """
    from mnistlab.execution.executors import InlineExecutor, ProcessExecutor

    plan = list(dict.fromkeys(plan))
    log = log or stderr_line
    inline = InlineExecutor(device=device or torch.device("cpu"), data_dir=data_dir, show_progress=show_progress)
    executor = executor or inline
    cache.clean_partials()
    missing = plan if retrain else [run for run in plan if not cache.has(run)]
    cache.hits += len(plan) - len(missing)
    if missing and (device or torch.device("cpu")).type == "cpu":
        from mnistlab.execution.estimate import check_memory

        # Workers of a processes executor train their sub-runs side by side; Ray's are placed by Ray.
        check_memory(missing, at_once=min(len(missing), executor.jobs) if isinstance(executor, ProcessExecutor) else 1)
    claimed, busy = [], []
    for run in missing:
        lock = cache.try_lock(run.hash)
        if lock is None:
            busy.append(run)
        elif not retrain and cache.has(run):  # finished by another process between the two checks
            lock.release()
            cache.hits += 1
        else:
            claimed.append((run, lock))
    if claimed:
        bar = progress(total=len(claimed), desc=f"{task or 'plan'}: sub-runs", enabled=show_progress)
        lines = bar.disable and show_progress is not False and len(claimed) > 1  # no bar: one line per sub-run
        work = _shares([r for r, _ in claimed], cache) if lines else {}
        total_work = sum(work.values())
        start = time.perf_counter()
        done_work, done = 0.0, 0

        def on_done(run: SubRun, outcome: Outcome) -> None:
            nonlocal done_work, done
            cache.store(run, outcome, task=task)
            cache.misses += 1
            done_work += work.get(run.hash, 0.0)
            done += 1
            bar.update()
            if lines:
                elapsed = time.perf_counter() - start
                eta = elapsed * (total_work - done_work) / done_work if total_work > 0 and done_work > 0 else None
                log(f"{task or 'plan'}: {done}/{len(claimed)} sub-runs done ({run.label}), "
                                 f"{elapsed:.0f} s elapsed" + (f", about {eta:.0f} s left" if eta is not None else ""))

        try:
            executor.run([r for r, _ in claimed], on_done)
        finally:
            bar.close()
            for _, lock in claimed:
                lock.release()
    busy_trained: list[SubRun] = []
    for run in busy:
        log(f"{task or 'plan'}: waiting for another process that is training {run.label}")
        with cache.lock(run.hash):
            if not cache.has(run):  # that process died before finishing: train it here
                inline.run([run], lambda r, o: cache.store(r, o, task=task))
                cache.misses += 1
                busy_trained.append(run)
            else:
                cache.hits += 1
    fresh = {run for run, _ in claimed} | set(busy_trained)
    out = {run: cache.load(run) for run in plan}
    for run in fresh:
        out[run].fresh = True
    return out


def run_task(task: Task, *, profile: str, config: Any, out: Path, device: torch.device, seed: int = 0,
             seeds: Sequence[int] | None = None, data_dir: Path | None = None, force: bool = False,
             retrain: bool = False, show_progress: bool | None = None, log=print, executor: Any = None,
             tensorboard_dir: Path | None = None, figure_format: str = "png") -> dict:
    """Run one task (unless an identical finished run is on disk) and return the stored result."""
    return run_tasks([task], profile=profile, configs={task.name: config}, out=out, device=device, seed=seed,
                     seeds=seeds, data_dir=data_dir, force=force, retrain=retrain, show_progress=show_progress,
                     log=log, executor=executor, tensorboard_dir=tensorboard_dir,
                     figure_format=figure_format)[task.name]


def run_tasks(tasks: Sequence[Task], *, profile: str, configs: dict[str, Any], out: Path, device: torch.device,
              seed: int = 0, seeds: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
              data_dir: Path | None = None, force: bool = False, retrain: bool = False,
              show_progress: bool | None = None, log=print, executor: Any = None,
              tensorboard_dir: Path | None = None, figure_format: str = "png") -> dict[str, dict]:
    """Run several tasks over one or more seeds: plan them all, execute the union of their missing
    sub-runs, analyse each task once per seed, and with several seeds aggregate (mean, 95% interval).
    `seeds`: one list for every task, or each task's own (by name; `Task.default_seeds`).
    force: analyse again even where an identical result is stored (cached networks are reused);
    retrain: also train every planned network again, replacing its cache entry (implies force).
    `figure_format` (png, svg or pdf) is the format of every figure; a stored result in another is redone."""
    task_seeds = {task.name: list(seeds[task.name]) if isinstance(seeds, Mapping) else
                  (list(seeds) if seeds else [seed]) for task in tasks}
    cache = SubRunCache(out / "cache")
    stored, todo = _pending(tasks, configs, profile, task_seeds, out, device, force or retrain, log, figure_format)
    if not todo:
        return stored
    configure_torch()
    plans = {(task.name, s): task.sub_runs(config, s) for task, config, _ in todo for s in task_seeds[task.name]}
    union = _merged(run for plan in plans.values() for run in plan)
    names = list(dict.fromkeys(name for name, _ in plans))
    start_all = time.perf_counter()
    finished = execute_plan(union, cache, executor=executor, device=device, data_dir=data_dir,
                            show_progress=show_progress, retrain=retrain,
                            task=", ".join(names) if len(names) <= 3 else f"{len(names)} tasks")
    plan_seconds = time.perf_counter() - start_all
    for task, config, key in todo:
        seeds = task_seeds[task.name]
        start = time.perf_counter()
        base = Context(out_dir=out / task.name, device=device, seed=seeds[0], profile=profile, cache=cache,
                       data_dir=data_dir, show_progress=show_progress, tensorboard_dir=tensorboard_dir,
                       figure_format=figure_format)
        result, per_seed, used_memos = _analyse(task, config, base, {s: plans[(task.name, s)] for s in seeds},
                                                finished)
        seconds = time.perf_counter() - start
        runs = list(dict.fromkeys(run for s in seeds for run in plans[(task.name, s)]))
        histories = {(r.label if len(seeds) == 1 else f"{r.label} seed {s}"): finished[r].record["history"]
                     for s in seeds for r in plans[(task.name, s)] if finished[r].record.get("history")}
        write_histories(out / task.name, histories, tensorboard_dir=tensorboard_dir)
        _thread_notices(out, task, runs, finished, cache, log=stderr_line)
        extra = _contrasts(task, config, profile, seeds, per_seed, finished, result, cache)
        trained = sum(float(finished[r].record.get("wall_seconds", 0.0)) for r in runs)
        record = _record(task, config, key, profile, seeds, device, result, per_seed, extra,
                         analysis_seconds=seconds, train_seconds=trained, plan_seconds=plan_seconds, runs=runs,
                         memos=used_memos, cache=cache, finished=finished)
        record["figure_format"] = figure_format
        write_json(result_path(out, task.name), with_digest(record))
        log(f"{task.name}: done in {seconds:.1f} s of analysis -> {result_path(out, task.name)}")
        stored[task.name] = to_jsonable(record)
    return stored


def run_in_context(task: Task, config: Any, ctx: Context, *, executor: Any = None, retrain: bool = False) -> Result:
    """Run one task for `ctx.seed` into `ctx` (its folder, device and cache) and return its Result, without
    writing result.json: the path `run_tasks` takes for one task and one seed (the config resolved for the
    device, the plan executed, the seed set, the analysis, the contrasts tested). For tests and notebooks."""
    configure_torch()
    config = for_device(config, ctx.device)
    plan = task.sub_runs(config, ctx.seed)
    finished = execute_plan(plan, ctx.cache, executor=executor, device=ctx.device, data_dir=ctx.data_dir,
                            show_progress=ctx.show_progress, task=task.name, retrain=retrain)
    result, per_seed, ctx.memos = _analyse(task, config, ctx, {ctx.seed: plan}, finished)
    ctx.finished = {run: finished[run] for run in plan}
    _contrasts(task, config, ctx.profile, [ctx.seed], per_seed, finished, result, ctx.cache)
    return result


def _pending(tasks: Sequence[Task], configs: dict[str, Any], profile: str, task_seeds: dict[str, list[int]], out: Path,
             device: torch.device, force: bool, log,
             figure_format: str = "png") -> tuple[dict[str, dict], list[tuple[Task, Any, str]]]:
    """(stored results of the tasks that are up to date, (task, resolved config, run key) of the others)."""
    stored: dict[str, dict] = {}
    todo: list[tuple[Task, Any, str]] = []
    for task in tasks:
        seeds = task_seeds[task.name]
        config = for_device(configs[task.name], device)
        key = run_key(task, profile, config, seeds[0] if len(seeds) == 1 else seeds)
        up_to_date = None if force else _up_to_date_result(out, task, key, figure_format)
        if up_to_date is not None:
            log(f"{task.name}: up to date (same config and seeds); use --force to run again")
            stored[task.name] = up_to_date
        else:
            todo.append((task, config, key))
    return stored, todo


def _record(task: Task, config: Any, key: str, profile: str, seeds: list[int], device: torch.device, result: Result,
            per_seed: dict[int, Result], extra: dict, *, analysis_seconds: float, train_seconds: float,
            plan_seconds: float, runs: list[SubRun], memos: list[str], cache: SubRunCache,
            finished: dict[SubRun, Trained]) -> dict[str, Any]:
    """The task's result.json. train_seconds: training of the task's own networks, as recorded when they trained;
    plan_seconds: executing the whole plan (all tasks of the command)."""
    return {
        "task": task.name,
        "title": task.title,
        "profile": profile,
        "seed": seeds[0],
        "seeds": seeds,
        "config": to_jsonable(config),
        "run_key": key,
        "mnistlab_version": __version__,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(analysis_seconds + train_seconds, 2),
        "analysis_seconds": round(analysis_seconds, 2),
        "plan_seconds": round(plan_seconds, 2),
        "environment": environment(device),
        "sub_runs": [{"name": r.label, "kind": r.kind, "hash": r.hash, "threads": finished[r].record.get("threads")}
                     for r in runs]
                    + [{"name": "memo", "kind": "memo", "hash": h} for h in dict.fromkeys(memos)],
        "cache": {"hits": cache.hits, "misses": cache.misses},
        "metrics": result.metrics,
        "per_seed_metrics": {str(s): per_seed[s].metrics for s in seeds} if len(seeds) > 1 else {},
        "comparisons": extra,
        "tables": result.tables,
        "figures": result.figures,
        "key_table": task.key_table,
        "key_figure": task.key_figure,
        "paragraphs": [{"id": pid, "text": str(text), "finding": finding_of(text)}
                       for pid, text in result.paragraphs.items()],
        "references": result.references + list(task.published),
    }


def _thread_notices(out: Path, task: Task, runs: list[SubRun], finished: dict[SubRun, Trained], cache: SubRunCache,
                    log) -> None:
    """One notice per network this run trained again with other thread counts than the network of the same
    key that the task's previous result used (pruned or damaged since): the two may differ in the last bits."""
    from mnistlab.execution.cache import thread_notice

    try:
        previous = read_result(result_path(out, task.name), task.name)
    except (OSError, MnistlabError):
        return
    before = {r.get("hash"): r.get("threads") for r in previous.get("sub_runs", []) if isinstance(r, dict)}
    for run in runs:
        old, now = before.get(run.hash), finished[run].record.get("threads")
        if (finished[run].fresh and old is not None and now is not None and old != now
                and run.hash not in cache.thread_noticed):
            cache.thread_noticed.add(run.hash)
            log(f"mnistlab: {task.name}: {thread_notice(run.label, old, now)}")


def _merged(runs) -> list[SubRun]:
    """Distinct sub-runs; one that any task wants with its checkpoint keeps it."""
    out: dict[SubRun, SubRun] = {}
    for run in runs:
        if run in out and run.keep_checkpoint and not out[run].keep_checkpoint:
            out[run] = run
        out.setdefault(run, run)
    return list(out.values())


def _analyse(task: Task, config: Any, base: Context, plans: dict[int, list[SubRun]],
             finished: dict[SubRun, Trained]) -> tuple[Result, dict[int, Result], list[str]]:
    """Analyse `task` once per seed of `plans` (into base.out_dir, or its seed-<s>/ with several seeds); with
    several, aggregate them and let the task draw its key figures from every seed. Returns the result, the
    per-seed results and the memos the analyses used."""
    seeds = list(plans)
    per_seed: dict[int, Result] = {}
    memos: list[str] = []
    for s in seeds:
        seed_everything(s)
        ctx = replace(base, out_dir=base.out_dir if len(seeds) == 1 else base.out_dir / f"seed-{s}", seed=s,
                      finished={run: finished[run] for run in plans[s]}, memos=[])
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        per_seed[s] = task.analysis(config, ctx)
        memos += ctx.memos
    if len(seeds) == 1:
        return per_seed[seeds[0]], per_seed, memos
    result = _aggregate(task, config, per_seed, seeds, base.out_dir, base.figure_format)
    if task.seed_figures is not None:
        ctx = replace(base, finished={run: finished[run] for s in seeds for run in plans[s]}, memos=[])
        drawn = task.seed_figures(config, {s: per_seed[s].metrics for s in seeds}, ctx)
        result.figures = _with_seed_figures(result.figures, drawn, seeds)
        memos += ctx.memos
    return result, per_seed, memos


def _with_seed_figures(figures: list[Figure], drawn: list[Figure], seeds: list[int]) -> list[Figure]:
    """`figures` (the aggregated result's: the first seed's, under seed-<s>/) with each figure drawn from
    every seed in the place of the first seed's figure of the same file name (new ones at the end), its
    caption saying what the points and bars are."""
    from mnistlab.analysis.contrasts import seed_caption

    fresh = {f.file: Figure(f.file, seed_caption(f.caption, len(seeds))) for f in drawn}
    first = f"seed-{seeds[0]}/"
    kept = [fresh.pop(f.file.removeprefix(first), f) if f.file.startswith(first) else f for f in figures]
    return kept + list(fresh.values())


def _aggregate(task: Task, config: Any, per_seed: dict[int, Result], seeds: list[int], folder: Path,
               figure_format: str = "png") -> Result:
    """One result from several seeds: metrics as means with _mean, _std and _ci95; the first seed's
    tables, figures and prose (labelled as such); an interval table and figure of the key metrics."""
    from mnistlab.analysis.contrasts import aggregate_metrics, interval_figure, key_metrics
    from mnistlab.analysis.stats import t_interval
    from mnistlab.tasks.base import Table
    from mnistlab.viz import save_figure

    first = per_seed[seeds[0]]
    per = {s: per_seed[s].metrics for s in seeds}
    result = Result(metrics=aggregate_metrics(seeds, per), references=first.references)
    contrasts = task.contrasts(config) if task.contrasts is not None else []
    names = key_metrics(contrasts, result.metrics)
    rows = []
    for name in names:
        interval = t_interval([per[s][name] for s in seeds])
        rows.append([name, round(interval.mean, 5), round(interval.std, 5),
                     f"[{interval.low:.4f}, {interval.high:.4f}]", ", ".join(f"{per[s][name]:.4f}" for s in seeds)])
    result.tables["seeds"] = Table(["metric", "mean", "std", "95% t-interval", "per seed"], rows,
                                   f"Key metrics over {len(seeds)} seeds ({', '.join(map(str, seeds))}).")
    if names:
        import matplotlib.pyplot as plt

        fig = interval_figure(names, seeds, per)
        save_figure(fig, folder / f"seeds.{figure_format}")
        plt.close(fig)
        result.figures.append(Figure(f"seeds.{figure_format}", f"Key metrics over {len(seeds)} seeds: mean with "
                                     "its 95% t-interval, and each seed's value."))
    for name, table in first.tables.items():
        result.tables[name] = Table(table.columns, table.rows, f"Seed {seeds[0]}: {table.caption}")
    result.figures += [Figure(f"seed-{seeds[0]}/{f.file}", f"Seed {seeds[0]}: {f.caption}") for f in first.figures]
    result.paragraphs = {"seeds": f"The metrics of this section are means over {len(seeds)} seeds (their intervals: "
                                  f"the 'seeds' table and figure); the discussion below describes seed {seeds[0]}.",
                         **first.paragraphs}
    return result


def _contrasts(task: Task, config: Any, profile: str, seeds: list[int], per_seed: dict[int, Result],
               finished: dict[SubRun, Trained], result: Result,
               cache: SubRunCache | None = None) -> list[dict[str, Any]]:
    """Test every comparison the task makes as one family (p adjusted together); add a table and one paragraph
    of computed verdicts. With one seed the paragraph speaks of the trained networks and says once that one run
    per configuration cannot separate the configurations from run-to-run spread (quoting the spread the cache
    holds for them, where it holds other seeds)."""
    if task.contrasts is None:
        return []
    from mnistlab.analysis.contrasts import COMPARISONS_LABEL, ONE_RUN, compare_family
    from mnistlab.analysis.stats import p_text
    from mnistlab.tasks.base import Table

    outcomes = compare_family(task.contrasts(config), seeds, {s: per_seed[s].metrics for s in seeds}, finished)
    if not outcomes:
        return []
    rows, stored = [], []
    for o in outcomes:
        c, eq = o.comparison, o.equivalence
        rows.append([o.contrast.about, o.contrast.a.label, o.contrast.b.label,
                     "-" if c is None else f"{100 * c.difference:+.2f} ± {100 * c.half_width:.2f}",
                     "-" if c is None else _p_cell(c.p), "-" if c is None else _p_cell(o.p_adjusted),
                     "-" if c is None else c.test,
                     "-" if eq is None else f"±{100 * eq.margin:.2f}: {o.equivalence_word} ({p_text(eq.p)})", o.text])
        stored.append({"about": o.contrast.about, "a": o.contrast.a.label, "b": o.contrast.b.label,
                       "difference": None if c is None else c.difference,
                       "half_width": None if c is None else c.half_width, "p": None if c is None else c.p,
                       "p_adjusted": None if c is None else o.p_adjusted, "adjustment": o.adjustment,
                       "family": o.family, "test": None if c is None else c.test, "n": None if c is None else c.n,
                       "margin": o.contrast.margin, "equivalence": o.equivalence_word or None,
                       "p_equivalence": None if eq is None else eq.p, "verdict": o.text, "finding": o.finding})
    family = next((o for o in outcomes if o.adjustment), None)
    adjusted = (f", p adjusted by {family.adjustment} over this section's {family.family} comparisons"
                if family is not None else "")
    one_seed = len(seeds) == 1
    how = (f"paired t-tests across {len(seeds)} seeds" if not one_seed else
           f"McNemar's exact test on the two trained networks' test-set predictions ({ONE_RUN}, one seed)")
    result.tables["comparisons"] = Table(
        ["question", "A", "B", "A - B, points (95%)", "p", "adjusted p", "test", "equivalence (TOST)", "verdict"],
        rows, f"Every comparison this section draws, tested by {how}{adjusted}; "
              + ("'beat' only where the adjusted p < 0.05." if not one_seed else
                 "with one seed a test compares two trained networks, never two configurations."))
    lead = f"{COMPARISONS_LABEL}, tested by {how}{adjusted}"
    texts = "; ".join(o.text for o in outcomes)
    if profile == "quick":
        result.paragraphs["comparisons"] = (f"{lead} (quick profile: {PROFILES['quick'].summary}, so these verdicts "
                                            f"test the machinery, not the networks): {texts}.")
    elif one_seed:
        result.paragraphs["comparisons"] = f"{lead}: {texts}. {_one_seed_caveat(outcomes, seeds[0], cache)}"
    else:
        # The comparisons that survive the section's adjustment across seeds are its one finding here.
        found = [o.text for o in outcomes if o.finding]
        how_found = (f"{family.adjustment}-adjusted over {family.family} comparisons" if family is not None
                     else "tested")
        finding = f"Across seeds ({how_found}): {'; '.join(found)}." if found else ""
        result.paragraphs["comparisons"] = Paragraph(finding, f"{lead}: {texts}.") if found else f"{lead}: {texts}."
    return stored


def _p_cell(p: float) -> str:
    return "-" if p != p else (f"{p:.4f}" if p >= 0.0001 else "< 0.0001")


SPREAD_SEEDS = range(10)  # the seeds whose cached networks the one-seed caveat looks up


def _one_seed_caveat(outcomes: Sequence[Any], seed: int, cache: SubRunCache | None) -> str:
    """Once per section with one-seed comparisons: what one run per configuration cannot tell, with the
    run-to-run spread of the same configurations where the cache holds them trained with other seeds."""
    from mnistlab.analysis.contrasts import ONE_RUN

    spreads = _cached_spread(outcomes, seed, cache) if cache is not None else []
    gaps = [abs(100 * o.comparison.difference) for o in outcomes if o.comparison is not None]
    text = (f"These tests compare trained networks, {ONE_RUN}: one run per configuration cannot separate the "
            "configurations from run-to-run spread (another seed trains other networks), so none of them says that "
            "one configuration beats another")
    if not spreads:
        return text + "; `--seeds 3` tests them across seeds."
    widest = max(spreads, key=lambda s: s[2])
    quoted = "; ".join(f"{label}: {', '.join(f'{100 * v:.2f}%' for v in values)} over seeds "
                       f"{', '.join(map(str, seeds))} (range {spread:.2f} points)"
                       for label, values, spread, seeds in sorted(spreads, key=lambda s: -s[2])[:3])
    wider = sum(g < widest[2] for g in gaps)
    return (text + f". The cache holds the same configurations trained with other seeds: {quoted}; the widest "
            f"range, {widest[2]:.2f} points, is larger than {wider} of the {len(gaps)} gaps tested here.")


Spread = tuple[str, list[float], float, list[int]]  # arm label, test accuracies, their range in points, seeds


def _cached_spread(outcomes: Sequence[Any], seed: int, cache: SubRunCache) -> list[Spread]:
    """(arm label, test accuracies, their range in points, seeds) of each arm that the cache holds trained with at
    least two seeds (this run's among them); nothing is trained."""
    out, seen = [], set()
    for arm in (arm for o in outcomes for arm in (o.contrast.a, o.contrast.b)):
        if arm.run is None or arm.label in seen:
            continue
        seen.add(arm.label)
        values, seeds = [], []
        for s in SPREAD_SEEDS:
            try:
                run = arm.run(s)
                if not cache.has(run):
                    continue
                acc = cache.load(run).record.get("test_acc")
            except Exception:
                continue
            if isinstance(acc, int | float) and not isinstance(acc, bool):
                values.append(float(acc))
                seeds.append(s)
        if len(values) >= 2 and seed in seeds:
            out.append((arm.label, values, 100 * (max(values) - min(values)), seeds))
    return out
