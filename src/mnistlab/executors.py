"""Executors: who trains the sub-runs that the cache lacks.

    inline     in this process, one after another (the default; what a laptop wants)

Every executor has one method, `run(runs, on_done)`: it trains each sub-run and calls
`on_done(run, outcome)` in the driver process as each one finishes, in any order; the driver alone
writes the cache, so workers need no shared filesystem. A failure raises `ExecutorError` naming
the sub-run; sub-runs that finished before it have already been handed to `on_done`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from mnistlab.errors import MnistlabError
from mnistlab.subrun import Env, Outcome, SubRun, execute

OnDone = Callable[[SubRun, Outcome], None]
EXECUTORS = ("inline",)


class ExecutorError(MnistlabError):
    """A sub-run could not be executed (after its retry, where the executor retries)."""


@dataclass
class InlineExecutor:
    """Train in this process, one sub-run after another."""

    device: torch.device
    data_dir: Path | None = None
    show_progress: bool | None = None

    def run(self, runs: Sequence[SubRun], on_done: OnDone) -> None:
        env = Env(device=self.device, data_dir=self.data_dir, show_progress=self.show_progress)
        for run in runs:
            on_done(run, execute(run, env))

    def close(self) -> None:
        pass


def make_executor(name: str, *, device: torch.device, data_dir: Path | None = None,
                  show_progress: bool | None = None, jobs: int | None = None,
                  address: str | None = None):
    """The executor called `name`, checked at the door (one clear line for a bad choice)."""
    if name == "inline":
        return InlineExecutor(device=device, data_dir=data_dir, show_progress=show_progress)
    raise MnistlabError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
