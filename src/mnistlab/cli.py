"""The `mnistlab` command: list, run, report, notebook, data verify.

Every mistake a user can make ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from mnistlab.errors import ConfigError, MnistlabError
from mnistlab.tasks.base import INT_RANGE, PROFILE_NAMES, Task, parse_value, shorten

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM
# An error line longer than this is cut: a 100 kB value must not be echoed whole.
MAX_ERROR_CHARS = 600


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs (temporary files, partial sub-runs)."""


def _seed(text: str) -> int:
    """--seed: a whole number in [0, 2**63), the range every generator takes without overflowing."""
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
    run.add_argument("--seed", type=_seed, default=0)
    run.add_argument("--out", type=_path, default=Path("results"), help="results folder (default: results)")
    run.add_argument("--data-dir", type=_path, default=None, help="folder holding mnist/ and fashion-mnist/")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config field (TASK.KEY=VALUE for one task only); repeatable")
    run.add_argument("--force", action="store_true", help="run again even if an identical result exists")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")

    report = sub.add_parser("report", help="write the HTML report from the stored results")
    report.add_argument("--out", type=_path, default=Path("results"), help="results folder to read")
    report.add_argument("--report-dir", type=_path, default=Path("report"), help="where index.html goes")

    notebook = sub.add_parser("notebook", help="write a Jupyter notebook that reproduces the tasks")
    notebook.add_argument("--path", type=_path, default=Path("report/mnistlab.ipynb"))
    notebook.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
    notebook.add_argument("--execute", action="store_true", help="also execute it (needs the notebook extra)")

    data = sub.add_parser("data", help="dataset utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    verify = data_sub.add_parser("verify", help="check every dataset file against its SHA-256")
    verify.add_argument("--data-dir", type=_path, default=None)
    return parser


def parse_overrides(items: list[str], tasks: list[Task]) -> dict[str, dict[str, Any]]:
    """`--set key=value` (every selected task with that option) or `--set task.key=value`."""
    per_task: dict[str, dict[str, Any]] = {t.name: {} for t in tasks}
    by_name = {t.name: t for t in tasks}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {shorten(item)!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        task_name, _, field = key.rpartition(".")
        if task_name:
            if task_name not in by_name:
                raise ConfigError(f"--set {shorten(item)!r}: task {shorten(task_name)!r} is not among the tasks "
                                  "being run")
            targets = [by_name[task_name]]
        else:
            targets = [t for t in tasks if field in t.field_names()]
            if not targets:
                if len(tasks) == 1:
                    tasks[0].parse_override(field, raw)  # raises with a suggestion
                raise ConfigError(f"--set {shorten(item)!r}: none of {', '.join(by_name)} has an option "
                                  f"{shorten(field)!r}")
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
    from mnistlab.runner import run_task
    from mnistlab.runtime import configure_torch, resolve_device
    from mnistlab.store import check_writable
    from mnistlab.tasks import resolve_tasks

    tasks = resolve_tasks(args.tasks)
    overrides = parse_overrides(args.overrides, tasks)
    configs = {t.name: t.config(args.profile, overrides[t.name]) for t in tasks}  # validate all first
    device = resolve_device(args.device)
    configure_torch()  # checks $MNISTLAB_THREADS before any work
    check_writable(args.out)
    _check_folders(args.out, [t.name for t in tasks])
    show = False if args.no_progress else None
    for task in tasks:
        print(f"{task.name}: running ({args.profile} profile, {device}, seed {args.seed})", flush=True)
        run_task(task, profile=args.profile, config=configs[task.name], out=args.out, device=device,
                 seed=args.seed, data_dir=args.data_dir, force=args.force, show_progress=show)
    return 0


def _check_folders(out: Path, task_names: list[str]) -> None:
    """Refuse, before any work, a results folder whose task or cache folder is a file; and remove the
    temporary files that killed runs left there."""
    from mnistlab.atomic import clean_stale_temps

    for sub in [*task_names, "cache"]:
        folder = out / sub
        if folder.exists() and not folder.is_dir():
            raise MnistlabError(f"{folder} is a file, not a folder; move it away so that results can go there")
    for name in task_names:
        result = out / name / "result.json"
        if result.exists() and not result.is_file():
            raise MnistlabError(f"{result} is not a file; move it away so that the result can be stored there")
    for folder in (out, *(out / name for name in task_names)):
        clean_stale_temps(folder)


def _cmd_report(args: argparse.Namespace) -> int:
    from mnistlab.atomic import clean_stale_temps
    from mnistlab.report.html import write_report
    from mnistlab.store import check_writable

    if not args.out.is_dir():
        state = "is not a folder" if args.out.exists() else "does not exist"
        raise MnistlabError(f"results folder {args.out} {state}; run 'mnistlab run' first or point --out at one")
    target = args.report_dir / "index.html"
    if target.exists() and not target.is_file():
        raise MnistlabError(f"{target} is not a file; move it away so that the report can be written there")
    check_writable(args.report_dir)
    clean_stale_temps(args.report_dir)
    path = write_report(args.out, target)
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


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _error_line(message: str) -> str:
    line = " ".join(str(message).split())  # one line, whatever the message held
    return line if len(line) <= MAX_ERROR_CHARS else line[:MAX_ERROR_CHARS - 1] + "…"


def _dispatch(argv: list[str] | None) -> int:
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


def main(argv: list[str] | None = None) -> int:
    previous = None
    with contextlib.suppress(ValueError):  # only the main thread may set handlers; elsewhere keep the default
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _dispatch(argv)
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
