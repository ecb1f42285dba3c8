"""The `mnistlab` command: list, show, run, plan, status, report, example, notebook, cache, data verify.

Every mistake a user can make ends in one line on stderr and exit code 2, never a traceback. Building the
parser imports neither torch nor a task module (their names come from mnistlab.catalog), so `--help` is fast;
each command imports what it needs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mnistlab.catalog import PROFILE_NAMES, SPEC_GRAMMAR, TASK_NAMES, describe_profile, profiles_help
from mnistlab.constraints import shorten
from mnistlab.errors import ConfigError, MnistlabError

if TYPE_CHECKING:
    from mnistlab.tasks.base import Task

# The tasks (and torch with them) are imported when main() runs, after its SIGTERM handler is in place:
# a SIGTERM in the first seconds of a run, while torch loads, ends with the same one line as later.

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM
# An error line longer than this is cut: a 100 kB value must not be echoed whole.
MAX_ERROR_CHARS = 600


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (temporary files, partial sub-runs)."""


def _seed(text: str) -> int:
    """--seed: a whole number in [0, 2**63), the range every generator takes without overflowing."""
    from mnistlab.tasks.base import INT_RANGE, parse_value

    try:
        value = parse_value(text, int)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{shorten(text)!r} ({exc})") from None
    if not 0 <= value <= INT_RANGE[1]:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 2**63 - 1")
    return value


def _path(text: str) -> Path:
    """A path option: an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not allowed (write . for the current folder)")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a path cannot contain a NUL character")
    return Path(text)


class _Parser(argparse.ArgumentParser):
    """Refuses abbreviated options ('--prof' is not taken as '--profile') and turns argparse errors into one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def _results_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--results DIR (and its old name --out): the results folder a command reads."""
    parser.add_argument("--results", "--out", dest="results", type=_path, default=Path("results"), metavar="DIR",
                        help=f"{help} (default: results; --out is the same)")


def _build_parser() -> argparse.ArgumentParser:
    from mnistlab import __version__

    epilog = ("tasks: " + ", ".join(TASK_NAMES) + " (or all). profiles: "
              + "; ".join(describe_profile(name) for name in PROFILE_NAMES) + ".")
    parser = _Parser(prog="mnistlab", description=__doc__.splitlines()[0], epilog=epilog)
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    task_help = f"task names ({', '.join(TASK_NAMES)}), or 'all'"
    profile_help = profiles_help().replace("%", "%%")

    sub.add_parser("list", help="list the experiments and their options")

    show = sub.add_parser("show", help="one task: its options with their meaning and value in each profile, "
                                       "and whether it has results")
    show.add_argument("task", metavar="TASK", help=f"a task name ({', '.join(TASK_NAMES)})")
    _results_option(show, "results folder to look in")

    run = sub.add_parser("run", help="run experiments and store their results")
    run.add_argument("tasks", nargs="+", metavar="TASK", help=task_help)
    run.add_argument("--profile", default="quick", choices=PROFILE_NAMES, help=profile_help)
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    run.add_argument("--seed", type=_seed, default=None,
                     help="one seed for every task (default: each task's own seeds for the profile, from 0)")
    run.add_argument("--seeds", default=None, metavar="N|S,S,...",
                     help="several seeds: a count (3 = seeds 0, 1, 2) or a list; metrics get 95%% intervals "
                          "(default: each task's own count for the profile; 'mnistlab plan' shows it)")
    run.add_argument("--out", type=_path, default=Path("results"), help="results folder (default: results)")
    run.add_argument("--data-dir", type=_path, default=None, help="folder holding mnist/ and fashion-mnist/")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (TASK.KEY=VALUE for one task only); repeatable; "
                          "'mnistlab show TASK' lists them")
    run.add_argument("--force", action="store_true",
                     help="analyse again even if an identical result exists (cached networks are reused)")
    run.add_argument("--retrain", action="store_true",
                     help="train the selected tasks' networks again, replacing their cache entries (implies --force)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--figure-format", default="png", choices=("png", "svg", "pdf"),
                     help="format of the saved figures (svg or pdf for LaTeX; the report embeds png and svg "
                          "and links pdf); recorded in result.json")
    run.add_argument("--tensorboard", type=_path, default=None, metavar="DIR",
                     help="also write each trained network's per-epoch history as TensorBoard event files under "
                          "DIR (needs the 'tensorboard' extra)")
    # Checked by executors.make_executor against its registry (EXECUTORS), not repeated here.
    run.add_argument("--executor", default="inline", metavar="NAME",
                     help="who trains the networks the cache lacks: this process (inline), --jobs worker "
                          "processes here (processes), or Ray tasks on a local or running cluster (ray)")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="processes: worker processes (default: one per core); ray: most sub-runs at once")
    run.add_argument("--address", default=None, metavar="HOST:PORT",
                     help="ray: join this running cluster (the head's GCS address) instead of starting a local one")

    plan = sub.add_parser("plan", help="list the sub-runs that tasks would train, which are cached, and the "
                                       "estimated time of training and analysis")
    plan.add_argument("tasks", nargs="+", metavar="TASK", help=task_help)
    plan.add_argument("--profile", default="quick", choices=PROFILE_NAMES, help=profile_help)
    plan.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    plan.add_argument("--seed", type=_seed, default=None,
                      help="one seed for every task (default: each task's own seeds for the profile)")
    plan.add_argument("--seeds", default=None, metavar="N|S,S,...",
                      help="several seeds, as for run: each seed's networks and analysis are counted")
    plan.add_argument("--out", type=_path, default=Path("results"), help="results folder whose cache to look in")
    plan.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a config field, as for run")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    status = sub.add_parser("status", help="which tasks have results: profile, seeds, date, and whether they "
                                           "are stale")
    _results_option(status, "results folder to read")
    status.add_argument("--json", action="store_true", help="print the states as JSON")

    cache = sub.add_parser("cache", help="inspect or prune the sub-run cache (OUT/cache)")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    for name, text in (("ls", "one line per cached sub-run"), ("du", "disk used, per kind"),
                       ("prune", "remove cached sub-runs (all, or only their checkpoints)")):
        p = cache_sub.add_parser(name, help=text)
        p.add_argument("--out", type=_path, default=Path("results"), help="results folder (default: results)")
        if name == "prune":
            p.add_argument("--checkpoints", action="store_true",
                           help="remove only model.pt files (tasks that reload a network will retrain it)")
            p.add_argument("--unused", action="store_true",
                           help="keep what the current results of every task use (their sub-runs)")

    report = sub.add_parser("report", help="write the HTML report from the stored results")
    _results_option(report, "results folder to read")
    report.add_argument("--report-dir", type=_path, default=Path("report"), help="where index.html goes")
    report.add_argument("--open", action="store_true", help="open the written page in a web browser")

    example = sub.add_parser("example", help="run one part of the committed example report (the brief profile) "
                                              "and rebuild examples/brief/index.html from all parts")
    example.add_argument("tasks", nargs="*", metavar="TASK", help="the part's tasks (none: only rebuild the page)")
    example.add_argument("--runs", type=_path, default=Path("runs/example"), metavar="DIR",
                         help="working results folder, with the networks' cache (default: runs/example)")
    example.add_argument("--dest", type=_path, default=Path("examples/brief"), metavar="DIR",
                         help="the committed example folder (default: examples/brief)")
    example.add_argument("--profile", choices=PROFILE_NAMES, default="brief",
                         help="the part's profile (default: brief, the assignment's settings; extended for a "
                              "study whose brief profile only sketches it, such as the recipes' ablation)")
    example.add_argument("--readme", type=_path, default=None, metavar="FILE",
                         help="also rewrite the results table of this README from the example")

    notebook = sub.add_parser("notebook", help="write a Jupyter notebook that reproduces the tasks")
    notebook.add_argument("--path", type=_path, default=Path("report/mnistlab.ipynb"))
    notebook.add_argument("--profile", default="quick", choices=PROFILE_NAMES, help=profile_help)
    notebook.add_argument("--results", type=_path, default=Path("results"), metavar="DIR",
                          help="results folder the notebook reads and adds to: tasks already run there are shown, "
                               "not trained again (default: results)")
    notebook.add_argument("--execute", action="store_true", help="also execute it (needs the notebook extra)")

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    verify = data_sub.add_parser("verify", help="check every dataset file against its SHA-256")
    verify.add_argument("--data-dir", type=_path, default=None)
    return parser


def parse_overrides(items: list[str], tasks: list[Task]) -> dict[str, dict[str, Any]]:
    """`--set key=value` (every selected task with that option) or `--set task.key=value`."""
    from mnistlab.tasks import override_targets

    per_task: dict[str, dict[str, Any]] = {t.name: {} for t in tasks}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {shorten(item)!r}")
        key, raw = item.split("=", 1)
        targets, name = override_targets(key.strip(), tasks, f"--set {shorten(item)!r}")
        for task in targets:
            per_task[task.name][name] = task.parse_override(name, raw)
    return per_task


def _profile_values(task: Task) -> dict[str, dict[str, Any]]:
    """{field: {profile: its value}} of a task, each profile's config built as `run` builds it."""
    from dataclasses import fields

    configs = {name: task.config(name) for name in PROFILE_NAMES}
    return {f.name: {name: getattr(configs[name], f.name) for name in PROFILE_NAMES}
            for f in fields(task.config_cls)}


def _as_set(value: Any) -> str:
    """A config value written as --set takes it: 1000-1000,500 for a tuple, None, true/false."""
    if isinstance(value, tuple | list):
        return ",".join(_as_set(v) for v in value) if value else "()"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _values_text(values: dict[str, Any]) -> str:
    """'10' when every profile agrees, else 'quick 1, brief 10' (extended only where it differs from brief)."""
    quick, brief, extended = (_as_set(values[name]) for name in PROFILE_NAMES)
    if quick == brief == extended:
        return brief
    shown = brief if quick == brief else f"quick {quick}, brief {brief}"
    return shown + (f", extended {extended}" if extended != brief else "")


def _cmd_list() -> int:
    from mnistlab.tasks import REGISTRY
    from mnistlab.tasks.base import field_help

    print("profiles:")
    for name in PROFILE_NAMES:
        print(f"  {describe_profile(name)}")
    for task in REGISTRY.values():
        print(f"{task.name:<14} {task.title}")
        helps = field_help(task.config_cls)
        for name, values in _profile_values(task).items():
            print(f"    {name:<22} {_values_text(values):<28} {helps[name]}")
    print("'mnistlab show TASK' explains one task's options and shows whether it has results.")
    return 0


def _choices(config_cls: type, name: str) -> str:
    """'one of: a, b' or 'any of: a, b' where a field's type or rules list its values (Literal, OneOf, Members)."""
    import typing

    from mnistlab.constraints import Members, OneOf

    for rule in getattr(config_cls, "CONSTRAINTS", {}).get(name, ()):
        if isinstance(rule, OneOf | Members):
            return ("any of: " if isinstance(rule, Members) else "one of: ") + ", ".join(map(str, rule.choices))
    annotation = typing.get_type_hints(config_cls).get(name)
    if typing.get_origin(annotation) is typing.Literal:
        return "one of: " + ", ".join(map(str, typing.get_args(annotation)))
    return ""


def _state_line(state: Any) -> str:
    """One result's state, as `status` and `show` print it."""
    if state.state == "damaged":
        return f"damaged ({state.error})"
    seeds = ", ".join(map(str, state.seeds)) or "?"
    when = state.finished_at.replace("T", " ").removesuffix("+00:00") + " UTC" if state.finished_at else "?"
    what = state.state
    if state.state == "custom":
        changed = ", ".join(f"{k}={v[0]!r}" for k, v in state.differs.items())
        what = f"custom --set {changed}" + ("; stale" if state.stale else "")
    return f"{state.profile} profile, seed{'s' if len(state.seeds) > 1 else ''} {seeds}, {when}: {what}"


def _cmd_show(args: argparse.Namespace) -> int:
    import textwrap
    from dataclasses import fields

    from mnistlab.api import result_state
    from mnistlab.tasks import get_task

    task = get_task(args.task)
    print(f"{task.name}: {task.title}")
    if task.description:
        print(textwrap.fill(task.description, 110, initial_indent="  ", subsequent_indent="  "))
    print("\nprofiles (mnistlab run " + task.name + " --profile NAME):")
    for name in PROFILE_NAMES:
        print(textwrap.fill(describe_profile(name), 110, initial_indent="  ", subsequent_indent="    "))
    print(f"\noptions (mnistlab run {task.name} --set NAME=VALUE), each with its value per profile:")
    values = _profile_values(task)
    grammars: list[str] = []
    for f in fields(task.config_cls):
        print(f"  {f.name:<22} {f.metadata.get('help', '')}")
        print(f"  {'':<22}   {_values_text(values[f.name])}")
        choices = _choices(task.config_cls, f.name)
        if choices:
            print(textwrap.fill(choices, 116, initial_indent=" " * 27, subsequent_indent=" " * 29))
        spec = f.metadata.get("spec")
        if spec and spec not in grammars:
            grammars.append(spec)
    for spec in grammars:
        print(f"\n{spec.upper()} specs:")
        print(textwrap.fill(SPEC_GRAMMAR[spec], 110, initial_indent="  ", subsequent_indent="  "))
    state = result_state(args.results, task)
    print(f"\nresults in {args.results}: " + ("none yet" if state is None else _state_line(state)))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from mnistlab.api import status

    if not args.results.is_dir():
        state = "is not a folder" if args.results.exists() else "does not exist"
        raise MnistlabError(f"results folder {args.results} {state}; run 'mnistlab run' first or point --results "
                            "at one")
    states = status(args.results)
    if args.json:
        print(json.dumps([asdict(s) for s in states], indent=1, default=str))
        return 0
    by_name = {s.task: s for s in states}
    for name in TASK_NAMES:
        state = by_name.get(name)
        print(f"{name:<14} " + ("no results" if state is None else _state_line(state)))
    for state in states:  # a task registered but not in the catalog (should not happen; the tests check)
        if state.task not in TASK_NAMES:
            print(f"{state.task:<14} {_state_line(state)}")
    stale = [s.task for s in states if s.stale]
    if stale:
        print(f"stale: {', '.join(stale)} (the code or the profile changed since; 'mnistlab run' computes them "
              "again)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from mnistlab.execution.atomic import check_folder
    from mnistlab.execution.executors import make_executor
    from mnistlab.execution.runner import run_tasks
    from mnistlab.execution.runtime import configure_torch, resolve_device
    from mnistlab.execution.store import check_writable
    from mnistlab.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    overrides = parse_overrides(args.overrides, tasks)
    configs = {t.name: t.config(args.profile, overrides[t.name]) for t in tasks}  # validate all first
    device = resolve_device(args.device)
    configure_torch()  # checks $MNISTLAB_THREADS before any work
    check_folder(args.out, "results folder")
    check_writable(args.out)
    _check_folders(args.out, [t.name for t in tasks])
    if args.tensorboard is not None:
        from mnistlab.execution.logs import require_tensorboard

        require_tensorboard()  # before any training, not after hours of it
        check_folder(args.tensorboard, "--tensorboard folder")
        check_writable(args.tensorboard)
    show = False if args.no_progress else None
    seeds = _seeds_of(args, tasks)
    executor = make_executor(args.executor, device=device, data_dir=args.data_dir, show_progress=show,
                             jobs=args.jobs, address=args.address)
    names = ", ".join(t.name for t in tasks)
    how = "" if args.executor == "inline" else f", {args.executor} executor"
    print(f"{names}: running ({args.profile} profile, {device}, {_seeds_words(seeds)}{how})", flush=True)
    try:
        run_tasks(tasks, profile=args.profile, configs=configs, out=args.out, device=device, seeds=seeds,
                  data_dir=args.data_dir, force=args.force, retrain=args.retrain, show_progress=show, executor=executor,
                  tensorboard_dir=args.tensorboard, figure_format=args.figure_format)
    finally:
        executor.close()
    return 0


def _seeds_of(args: argparse.Namespace, tasks: list[Task]) -> list[int] | dict[str, list[int]]:
    """The seeds of `run` and `plan`: --seeds, else one --seed for every task, else each task's own seeds for
    the profile (Task.default_seeds), by task name."""
    from mnistlab.analysis.contrasts import parse_seeds

    if args.seeds is not None:
        return parse_seeds(args.seeds)
    if args.seed is not None:
        return [args.seed]
    return {t.name: t.seeds_for(args.profile) for t in tasks}


def _seeds_words(seeds: list[int] | dict[str, list[int]]) -> str:
    """'seeds 0, 1, 2' for every task, or 'task1: seed 0; task3: seeds 0, 1, 2' where each runs its own."""
    def one(s: list[int]) -> str:
        return f"seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))}"

    return one(seeds) if isinstance(seeds, list) else "; ".join(f"{name}: {one(s)}" for name, s in seeds.items())


def _check_folders(out: Path, task_names: list[str]) -> None:
    """Refuse, before any work, a results folder whose task or cache folder is a file; and remove the
    temporary files that killed runs left there."""
    from mnistlab.execution.atomic import clean_stale_temps
    from mnistlab.execution.store import check_writable

    for sub in [*task_names, "cache"]:
        folder = out / sub
        if folder.exists() and not folder.is_dir():
            raise MnistlabError(f"{folder} is a file, not a folder; move it away so that results can go there")
    for name in task_names:
        result = out / name / "result.json"
        if (result.exists() or result.is_symlink()) and (result.is_symlink() or not result.is_file()):
            raise MnistlabError(f"{result} is not a file (or is a link); move it away so that the result can be stored "
                                "there")
    # Read-only folders are found now, not after hours of training: the cache receives every network,
    # and a task folder that exists already receives the task's files.
    check_writable(out / "cache")
    for name in task_names:
        if (out / name).is_dir():
            check_writable(out / name)
    clean_stale_temps(out)
    for name in task_names:  # the task folder and its subfolders (history/, seed-N/ figures)
        for folder, _, _ in os.walk(out / name):
            clean_stale_temps(Path(folder))


def _cmd_plan(args: argparse.Namespace) -> int:
    import json

    from mnistlab.execution.estimate import ANALYSIS_SOURCE, plan_tasks
    from mnistlab.execution.progress import duration_text
    from mnistlab.execution.runtime import resolve_device
    from mnistlab.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    overrides = parse_overrides(args.overrides, tasks)
    seeds = _seeds_of(args, tasks)
    plan = plan_tasks(tasks, profile=args.profile, overrides=overrides, out=args.out, seeds=seeds,
                      device=resolve_device(args.device))
    if args.json:
        print(json.dumps(plan.as_dict(), indent=1))
        return 0
    for task in plan.tasks:
        over = f" over seeds {', '.join(map(str, task.seeds))}" if len(task.seeds) > 1 else ""
        head = f"{len(task.runs)} sub-run(s){over}" if task.runs else "no networks"
        print(f"{task.name}: {head}, about {duration_text(task.seconds)} "
              f"(training {duration_text(task.train_seconds)}, analysis {duration_text(task.analysis_seconds)})")
        for run in task.runs:
            when = "" if run.state != "to train" or run.seconds is None else f"  ~{duration_text(run.seconds)}"
            seed = f" seed {run.seed}" if len(task.seeds) > 1 else ""
            print(f"  {run.hash[:10]}  {run.kind:<10} {run.state:<13} {run.label}{seed}{when}")
    summary = plan.as_dict()
    print(f"{summary['distinct_sub_runs']} distinct sub-run(s), {summary['cached']} cached, {summary['to_train']} "
          f"to train; about {duration_text(plan.total_seconds)} on one worker (training estimated from {plan.source}; "
          f"analysis from {ANALYSIS_SOURCE})")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from mnistlab.execution.cache import SubRunCache

    if not args.out.is_dir():
        state = "is not a folder" if args.out.exists() else "does not exist"
        raise MnistlabError(f"results folder {args.out} {state}; point --out at the folder 'mnistlab run' wrote")
    cache = SubRunCache(args.out / "cache")
    entries = cache.entries()
    if args.cache_command == "ls":
        for e in entries:
            print(f"{e.hash[:10]}  {e.kind:<18} {e.bytes / 1e6:9.1f} MB  {'model' if e.has_model else '     '}  "
                  f"{e.name}")
        print(f"{len(entries)} entries, {sum(e.bytes for e in entries) / 1e6:.1f} MB in {cache.root}")
        return 0
    if args.cache_command == "du":
        by_kind: dict[str, list[int]] = {}
        for e in entries:
            slot = by_kind.setdefault(e.kind, [0, 0, 0])
            slot[0] += 1
            slot[1] += e.bytes
            slot[2] += e.has_model
        for kind, (count, size, models) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
            print(f"{kind:<18} {count:5d} entries {size / 1e6:10.1f} MB  ({models} with a checkpoint)")
        print(f"{'total':<18} {len(entries):5d} entries {sum(e.bytes for e in entries) / 1e6:10.1f} MB")
        return 0
    keep = _used_entries(args.out) if args.unused else None
    count, freed = cache.prune(keep=keep, checkpoints_only=args.checkpoints)
    what = "checkpoints" if args.checkpoints else "entries"
    print(f"removed {count} {what}, {freed / 1e6:.1f} MB freed")
    return 0


def _used_entries(out: Path) -> set[str]:
    """The sub-runs that the stored results of every task were computed from."""
    from mnistlab.execution.store import read_json

    used: set[str] = set()
    for path in out.glob("*/result.json"):
        try:
            used |= {r["hash"] for r in read_json(path, within=path.parent).get("sub_runs", [])
                     if isinstance(r, dict) and isinstance(r.get("hash"), str)}
        except Exception:  # a damaged result keeps nothing (any error a crafted file provokes)
            continue
    return used


def _cmd_example(args: argparse.Namespace) -> int:
    from mnistlab.example import run_part, update_readme, write_page

    if args.tasks:
        run_part(args.tasks, runs=args.runs, dest=args.dest, command=main, profile=args.profile)
    elif not args.dest.is_dir():
        raise MnistlabError(f"{args.dest} holds no example yet; name the tasks of a part: mnistlab example task3 task4")
    print(f"example report written to {write_page(args.dest)}")
    if args.readme is not None:
        changed = update_readme(args.readme, args.dest)
        print(f"{args.readme}: results table {'rewritten' if changed else 'already up to date'}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mnistlab.execution.atomic import check_folder, check_write_target, clean_stale_temps
    from mnistlab.execution.store import check_writable
    from mnistlab.report.html import write_report

    if not args.results.is_dir():
        state = "is not a folder" if args.results.exists() else "does not exist"
        raise MnistlabError(f"results folder {args.results} {state}; run 'mnistlab run' first or point --results "
                            "at one")
    target = args.report_dir / "index.html"
    if target.exists() and not target.is_file():
        raise MnistlabError(f"{target} is not a file; move it away so that the report can be written there")
    check_write_target(target)  # nor a link, a FIFO or a device
    check_folder(args.report_dir, "--report-dir")
    check_writable(args.report_dir)
    clean_stale_temps(args.report_dir)
    path = write_report(args.results, target)
    print(f"report written to {path}")
    if args.open:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print(f"mnistlab: no web browser could be started; open {path} yourself", file=sys.stderr)
    return 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    from mnistlab.report.notebook import write_notebook

    path = write_notebook(args.path, profile=args.profile, execute=args.execute, results=args.results)
    print(f"notebook written to {path}")
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    from mnistlab.data import check_array_caches, verify_all

    for name, path, digest in verify_all(args.data_dir):
        print(f"OK  {name:<14} {path.name:<28} sha256 {digest[:16]}…  {path}")
    # The decoded arrays are checked at every load as well; this only says so, and tidies a damaged one.
    for name, split, folder, state in check_array_caches():
        if state != "absent":
            print(f"{'OK' if state == 'ok' else '!!':<3} {name:<14} {split + ' arrays':<28} {state:<16} {folder}")
    return 0


def _cpu_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc)
    return "can't allocate memory" in text or "not enough memory" in text


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _error_line(message: str) -> str:
    line = " ".join(str(message).split())  # one line, whatever the message held
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread may set handlers; elsewhere keep the default
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        try:
            args = _build_parser().parse_args(argv)
        except SystemExit as exc:  # --help and --version: return their exit code rather than exit the caller
            return exc.code if isinstance(exc.code, int) else 0
        if args.command == "list":
            return _cmd_list()
        if args.command == "show":
            return _cmd_show(args)
        if args.command == "status":
            return _cmd_status(args)
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "cache":
            return _cmd_cache(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "notebook":
            return _cmd_notebook(args)
        if args.command == "example":
            return _cmd_example(args)
        return _cmd_data_verify(args)
    except MnistlabError as exc:
        print(f"mnistlab: error: {_error_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file system refusal no check foresaw: still one line, naming the file
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"mnistlab: error: {_error_line(where + (exc.strerror or str(exc)))}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("mnistlab: error: out of memory; use smaller models, batches or data limits", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:
        if _cpu_out_of_memory(exc):  # torch's CPU allocator: "DefaultCPUAllocator: can't allocate memory"
            print("mnistlab: error: out of memory (" + _error_line(str(exc).strip().splitlines()[0])[:200]
                  + "); use smaller models, batches or data limits", file=sys.stderr)
            return EXIT_USAGE
        if type(exc).__name__ != "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch here
            raise
        print("mnistlab: error: the GPU ran out of memory; use smaller models or batches, or --device cpu",
              file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("mnistlab: terminated; finished sub-runs are cached, run the same command to resume",
              file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("mnistlab: interrupted; finished sub-runs are cached, run the same command to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
