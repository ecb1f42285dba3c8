"""The committed example report: the brief profile of the assignment, run in parts, kept in examples/brief/.

`make example TASKS="task3 task4"` (or `mnistlab example task3 task4`) runs one part: the brief profile of
those tasks with their own default seeds (`EXAMPLE_PROFILE=extended`, or `--profile extended`, for a study that
is not the assignment's and that the brief profile only sketches, such as the recipes' ablation), into a working
folder (runs/example/, with the networks' cache; not committed), then copies each task's result.json and the
figures it names into examples/brief/<task>/, records the part (its tasks, profile, date, wall time and machine)
in examples/brief/parts.json, and writes examples/brief/index.html from every part committed so far. Each task's
result stands alone, so the parts may run on different days; the page says which machine and date each came from.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.execution.atomic import read_regular
from mnistlab.execution.progress import duration_text
from mnistlab.execution.store import atomic_write_text, read_result

EXAMPLE_PROFILE = "brief"
PARTS_FILE = "parts.json"
SIZE_LIMIT = 10 * 2**20  # the committed folder stays small enough to clone without noticing


def run_part(tasks: Sequence[str], *, runs: Path, dest: Path, command: Callable[[list[str]], int],
             log: Callable[[str], None] = print, profile: str = EXAMPLE_PROFILE) -> list[str]:
    """Run `profile` (the brief one unless told) of `tasks` into `runs` through `command` (the `mnistlab`
    command line's main, given the arguments of `mnistlab run`), time it, and keep its results in `dest`;
    returns the task names whose results were copied. A task already up to date in `runs` is copied without
    running again (its part keeps the wall time it had)."""
    from mnistlab.tasks import resolve_tasks

    names = [t.name for t in resolve_tasks(list(tasks))]
    started = datetime.now(UTC)
    start = time.perf_counter()
    code = command(["run", *names, "--profile", profile, "--out", str(runs)])
    wall = time.perf_counter() - start
    if code != 0:
        raise MnistlabError(f"the example run of {', '.join(names)} failed (exit {code}); nothing was copied")
    fresh = [n for n in names if _finished_at(runs / n / "result.json") >= started]
    for name in names:
        copy_result(runs / name, dest / name)
    if fresh:
        record_part(dest, fresh, started, wall, profile, networks=_networks(runs, fresh))
    log(f"example: {len(names)} task(s) copied to {dest} ({len(fresh)} run now, in {duration_text(wall)})")
    return names


def _networks(runs: Path, names: list[str]) -> dict[str, int | float]:
    """What the part's run of `names` did with its sub-runs: how many it trained and how many it took from the
    cache (an earlier part's or an interrupted run's), and the seconds all of them took when they trained (each
    result's `seconds`: its networks' training as recorded, wherever it ran, and its analysis)."""
    records = [read_result(runs / n / "result.json", n) for n in names]
    cache = [r.get("cache") or {} for r in records]
    return {"trained": sum(int(c.get("misses", 0)) for c in cache),
            "reused": sum(int(c.get("hits", 0)) for c in cache),
            "compute_seconds": round(sum(float(r.get("seconds", 0.0)) for r in records), 1)}


def _finished_at(path: Path) -> datetime:
    try:
        return datetime.fromisoformat(str(read_result(path).get("finished_at")))
    except (OSError, MnistlabError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


def copy_result(source: Path, target: Path) -> None:
    """Copy a task's result.json and the figures it names (only those, each a regular file inside the task
    folder), replacing what `target` held; PNGs are re-compressed (a large one with a 256-colour palette)."""
    record = read_result(source / "result.json", source.name)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "result.json").write_bytes(read_regular(source / "result.json", within=source))
    for figure in record.get("figures", []):
        path = staging / figure["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(read_regular(source / figure["file"], within=source))
        if path.suffix.lower() == ".png":
            _optimise_png(path)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)


# A figure larger than this is stored with a 256-colour palette (a plot's colours fit; a scatter of 60,000
# antialiased points shrinks about 4x), so that the committed folder stays under SIZE_LIMIT.
PALETTE_ABOVE = 256 * 2**10


def _optimise_png(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if path.stat().st_size > PALETTE_ABOVE:
            image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                  dither=Image.Dither.NONE)
        image.save(path, optimize=True)


def record_part(dest: Path, tasks: list[str], started: datetime, wall_seconds: float,
                profile: str = EXAMPLE_PROFILE, networks: dict[str, int | float] | None = None) -> None:
    """Add a part to dest/parts.json; a task run again leaves the part that ran it before. `networks`: how many
    sub-runs the part trained and reused, and their recorded seconds (`_networks`), so that a part that resumed
    from the cache does not pass its short wall time off as the work's."""
    from mnistlab.execution.runtime import available_cores, cpu_description

    parts = [p for p in load_parts(dest) if not set(p["tasks"]) <= set(tasks)]
    for part in parts:
        part["tasks"] = [t for t in part["tasks"] if t not in tasks]
    command = f"make example TASKS=\"{' '.join(tasks)}\""
    parts.append({"tasks": tasks, "profile": profile, "started": started.isoformat(timespec="seconds"),
                  "wall_seconds": round(wall_seconds, 1), "cpu": cpu_description().get("cpu_model", ""),
                  "cores": available_cores(),
                  "command": command if profile == EXAMPLE_PROFILE else f"{command} EXAMPLE_PROFILE={profile}",
                  **(networks or {})})
    atomic_write_text(dest / PARTS_FILE, json.dumps([p for p in parts if p["tasks"]], indent=2) + "\n")


def load_parts(dest: Path) -> list[dict[str, Any]]:
    """The parts recorded in dest/parts.json ([] where none is)."""
    try:
        parts = json.loads((dest / PARTS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise MnistlabError(f"{dest / PARTS_FILE} cannot be read ({exc}); run a part again to rewrite it") from None
    return [p for p in parts if isinstance(p, dict) and isinstance(p.get("tasks"), list)]


def intro(dest: Path) -> str:
    """The example page's first line: what it is, and each part's tasks, date, wall time and machine."""
    from mnistlab.report.html import record_seeds
    from mnistlab.tasks import REGISTRY

    parts = load_parts(dest)
    seeds = []
    for name in REGISTRY:
        try:
            record = read_result(dest / name / "result.json", name)
        except (OSError, MnistlabError):
            continue
        run = record_seeds(record)
        seeds.append(f"{name} {run[0]}" if len(run) == 1 else f"{name} {run[0]}-{run[-1]}")
    described = "; ".join(
        f"{', '.join(p['tasks'])}{_profile_note(p.get('profile', EXAMPLE_PROFILE), ' ({})')}: "
        f"{str(p.get('started', '?'))[:10]}, {duration_text(float(p.get('wall_seconds', 0)))} wall time on a "
        f"{p.get('cores', '?')}-core {p.get('cpu') or 'CPU'}{_reuse_note(p)}" for p in parts)
    return (f"The committed example report: the {EXAMPLE_PROFILE} profile of the assignment, run with `make example` "
            f"in {len(parts)} part{'s' if len(parts) != 1 else ''} ({described}). Seeds per task: "
            f"{', '.join(seeds) or 'none yet'}. Every number below was computed by those runs.")


def _reuse_note(part: dict[str, Any]) -> str:
    """', which trained N of its M sub-runs (the others from the cache; all of them took T when they trained)'
    for a part that took at least as many sub-runs from the cache as it trained, else '' (a part that trained
    most of its work: its wall time says it)."""
    trained, reused = int(part.get("trained", 0)), int(part.get("reused", 0))
    if reused == 0 or reused < trained:
        return ""
    return (f", which trained {trained} of its {trained + reused} sub-runs (the others from the cache of an earlier "
            f"run; all of them took {duration_text(float(part.get('compute_seconds', 0)))} when they trained, "
            "with scoring and analysis)")


def _profile_note(profile: object, form: str) -> str:
    """`form` with 'extended profile' in it for a part or value that is not of the example's own profile (form
    ' ({})' after a part, ', {}' inside a value's parentheses), else ''."""
    return "" if profile == EXAMPLE_PROFILE else form.format(f"{profile} profile")


def write_page(dest: Path) -> Path:
    """Write dest/index.html from the results kept in `dest`, figures shown from their files."""
    from mnistlab.report.html import write_report

    page = write_report(dest, dest / "index.html", embed=False, example=None, intro=intro(dest))
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    if size > SIZE_LIMIT:
        print(f"mnistlab: warning: {dest} holds {size / 2**20:.1f} MB, more than the {SIZE_LIMIT / 2**20:.0f} MB the "
              "committed example may take")
    return page


README_START = "<!-- results table: written by `mnistlab example --readme` from examples/brief; do not edit -->"
README_END = "<!-- end of results table -->"


def _in_percent(metric: str) -> bool:
    """Whether a metric is a fraction shown in percent (not points, minutes or seconds)."""
    return not metric.endswith(("_pp", "_minutes", "_seconds"))


def headline_value(record: dict[str, Any], metric: str) -> str:
    """The example's number for `metric`: the mean with its 95% t-interval over the seeds where it ran
    several, else the one value and its seed."""
    from mnistlab.analysis.stats import t_interval

    per_seed = [m[metric] for m in (record.get("per_seed_metrics") or {}).values()
                if isinstance(m, dict) and isinstance(m.get(metric), int | float)]
    metrics = record.get("metrics", {})
    if len(per_seed) > 1:
        interval = t_interval(per_seed)
        mean, half, count = interval.mean, interval.half_width, len(per_seed)
    else:
        # A task that runs its own seeds inside one run (the recipes) records the interval and count beside
        # the mean.
        mean, half, count = (metrics.get(f"{metric}{k}") for k in ("", "_ci95", "_seeds"))
        if not isinstance(mean, int | float):
            return "–"
    setting = _profile_note(record.get("profile", EXAMPLE_PROFILE), ", {}")
    if isinstance(half, int | float) and isinstance(count, int | float) and count > 1:
        scale, unit = (100, "%") if _in_percent(metric) else (1, "")
        return f"{scale * mean:.2f}{unit} ± {scale * half:.2f} ({count:.0f} seeds{setting})"
    shown = f"{100 * mean:.2f}%" if _in_percent(metric) and 0 <= mean <= 1 else f"{mean:.2f}"
    return f"{shown} (1 seed{setting})"


def results_table(dest: Path, link: str = "examples/brief") -> str:
    """The README's results table: each task's headline quantity, ours from the example (mean ± 95% interval
    over its seeds) beside the published figures of the same quantity, linked to the example's sections
    (`link`: the example folder as the README reaches it)."""
    from mnistlab.tasks import REGISTRY

    rows = ["| task | quantity | ours (brief profile, example run) | published |", "|---|---|---|---|"]
    for name, task in REGISTRY.items():
        if not task.headline:
            continue
        what, metric = task.headline
        try:
            record = read_result(dest / name / "result.json", name)
        except (OSError, MnistlabError):
            ours = "not run yet"
        else:
            ours = headline_value(record, metric)
        published = "; ".join(f"{r.published} ({r.source})" for r in task.published if r.metric == metric) or "–"
        rows.append(f"| [{name}]({link}/index.html#{name}) | {what} | {ours} | {published} |")
    return "\n".join(rows)


def update_readme(readme: Path, dest: Path) -> bool:
    """Rewrite the results table between README's markers; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise MnistlabError(f"{readme} has no results-table markers ({README_START} ... {README_END})")
    head, _, rest = text.partition(README_START)
    _, _, tail = rest.partition(README_END)
    link = Path(os.path.relpath(dest.resolve(), readme.resolve().parent)).as_posix()
    new = f"{head}{README_START}\n{results_table(dest, link)}\n{README_END}{tail}"
    if new != text:
        atomic_write_text(readme, new)
    return new != text


def readme_table(readme: Path) -> str:
    """The table the README holds now, between its markers."""
    text = readme.read_text(encoding="utf-8")
    return text.partition(README_START)[2].partition(README_END)[0].strip("\n")
