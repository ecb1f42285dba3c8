"""What a run shows while it runs: progress bars that stay quiet when output is not a terminal (CI, logs,
notebooks' captured output), lines on stderr, and durations in words."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str = "", total: int | None = None,
             leave: bool = False, enabled: bool | None = None) -> tqdm:
    """A tqdm bar on stderr; `enabled=None` shows it only when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=not enabled,
                dynamic_ncols=True, file=sys.stderr)


def stderr_line(line: str) -> None:
    """Print one line on stderr at once (the default log of the runner and the executors)."""
    print(line, file=sys.stderr, flush=True)


def duration_text(seconds: float) -> str:
    """A duration as people say it: '12.3 s', '4 min 05 s', '2 h 07 min'; '?' for a value no run takes
    (negative, NaN, infinite: a damaged result must not fail the page that shows it)."""
    if not 0 <= seconds < 1e12:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
