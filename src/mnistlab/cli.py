"""The `mnistlab` command: list, run, report, notebook, data verify.

Every mistake a user can make ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.tasks.base import PROFILE_NAMES, Task

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see '{self.prog} --help')")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mnistlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the experiments and their options")

    run = sub.add_parser("run", help="run experiments and store their results")
    run.add_argument("tasks", nargs="+", metavar="TASK", help="task names, or 'all'")
    run.add_argument("--profile", default="quick", choices=PROFILE_NAMES,
                     help="quick: subsets and 1 epoch, minutes on 2 cores; brief: the assignment's settings")
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", type=Path, default=Path("results"), help="results folder (default: results)")
    run.add_argument("--data-dir", type=Path, default=None, help="folder holding mnist/ and fashion-mnist/")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (TASK.KEY=VALUE for one task only); repeatable")
    run.add_argument("--force", action="store_true", help="run again even if an identical result exists")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--executor", default="inline", choices=("inline", "processes", "ray"),
                     help="who trains the networks the cache lacks: this process (inline), --jobs worker "
                          "processes here (processes), or Ray tasks on a local or running cluster (ray)")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="processes: worker processes (default: one per core); ray: most sub-runs at once")
    run.add_argument("--address", default=None, metavar="HOST:PORT",
                     help="ray: join this running cluster (the head's GCS address) instead of starting a local one")

    report = sub.add_parser("report", help="write the HTML report from the stored results")
    report.add_argument("--out", type=Path, default=Path("results"), help="results folder to read")
    report.add_argument("--report-dir", type=Path, default=Path("report"), help="where index.html goes")

    notebook = sub.add_parser("notebook", help="write a Jupyter notebook that reproduces the tasks")
    notebook.add_argument("--path", type=Path, default=Path("report/mnistlab.ipynb"))
    notebook.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    notebook.add_argument("--execute", action="store_true", help="also execute it (needs the notebook extra)")

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    verify = data_sub.add_parser("verify", help="check every dataset file against its SHA-256")
    verify.add_argument("--data-dir", type=Path, default=None)
    return parser


def parse_overrides(items: list[str], tasks: list[Task]) -> dict[str, dict[str, Any]]:
    """`--set key=value` (every selected task with that option) or `--set task.key=value`."""
    per_task: dict[str, dict[str, Any]] = {t.name: {} for t in tasks}
    by_name = {t.name: t for t in tasks}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        task_name, _, field = key.rpartition(".")
        if task_name:
            if task_name not in by_name:
                raise ConfigError(f"--set {item!r}: task {task_name!r} is not among the tasks being run")
            targets = [by_name[task_name]]
        else:
            targets = [t for t in tasks if field in t.field_names()]
            if not targets:
                if len(tasks) == 1:
                    tasks[0].parse_override(field, raw)  # raises with a suggestion
                raise ConfigError(f"--set {item!r}: none of {', '.join(by_name)} has an option {field!r}")
        for task in targets:
            per_task[task.name][field] = task.parse_override(field, raw)
    return per_task


def _cmd_list() -> int:
    from dataclasses import fields

    from mnistlab.tasks import REGISTRY

    for task in REGISTRY.values():
        print(f"{task.name:<14} {task.title}")
        for f in fields(task.config_cls):
            quick = task.profiles.get("quick", {}).get(f.name, f.default)
            brief = task.profiles.get("brief", {}).get(f.name, f.default)
            shown = f"{brief!r}" if quick == brief else f"quick {quick!r}, brief {brief!r}"
            print(f"    {f.name:<24} {shown}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from mnistlab.executors import make_executor
    from mnistlab.runner import run_tasks
    from mnistlab.runtime import configure_torch, resolve_device
    from mnistlab.store import check_writable
    from mnistlab.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    overrides = parse_overrides(args.overrides, tasks)
    configs = {t.name: t.config(args.profile, overrides[t.name]) for t in tasks}  # validate all first
    device = resolve_device(args.device)
    configure_torch()  # checks $MNISTLAB_THREADS before any work
    check_writable(args.out)
    show = False if args.no_progress else None
    executor = make_executor(args.executor, device=device, data_dir=args.data_dir, show_progress=show,
                             jobs=args.jobs, address=args.address)
    names = ", ".join(t.name for t in tasks)
    how = "" if args.executor == "inline" else f", {args.executor} executor"
    print(f"{names}: running ({args.profile} profile, {device}, seed {args.seed}{how})", flush=True)
    try:
        run_tasks(tasks, profile=args.profile, configs=configs, out=args.out, device=device, seed=args.seed,
                  data_dir=args.data_dir, force=args.force, show_progress=show, executor=executor)
    finally:
        executor.close()
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from mnistlab.report.html import write_report
    from mnistlab.store import check_writable

    check_writable(args.report_dir)
    path = write_report(args.out, args.report_dir / "index.html")
    print(f"report written to {path}")
    return 0


def _cmd_notebook(args: argparse.Namespace) -> int:
    from mnistlab.report.notebook import write_notebook

    path = write_notebook(args.path, profile=args.profile, execute=args.execute)
    print(f"notebook written to {path}")
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    from mnistlab.data import verify_all

    for name, path, digest in verify_all(args.data_dir):
        print(f"OK  {name:<14} {path.name:<28} sha256 {digest[:16]}…  {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _build_parser().parse_args(argv)
        if args.command == "list":
            return _cmd_list()
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "notebook":
            return _cmd_notebook(args)
        return _cmd_data_verify(args)
    except MnistlabError as exc:
        print(f"mnistlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mnistlab: interrupted; finished sub-runs are cached, run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
