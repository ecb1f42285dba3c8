"""Shared fixtures: small slices of the real data, a results folder, and no downloads ever."""

from __future__ import annotations

import os

import pytest
import torch

from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.runtime import ENV_THREADS, available_cores, configure_torch
from mnistlab.tasks.base import Context


@pytest.fixture(autouse=True)
def _no_download(monkeypatch):
    monkeypatch.setenv("MNISTLAB_NO_DOWNLOAD", "1")


@pytest.fixture(scope="session", autouse=True)
def _torch_setup():
    # A fixed thread count, also for the runs that configure torch again (the runner does): the adaptive
    # policy may change it between two runs a test compares bit for bit.
    os.environ.setdefault(ENV_THREADS, str(available_cores()))
    configure_torch()


@pytest.fixture
def ctx(tmp_path) -> Context:
    """A task context writing under a temporary folder, CPU, seed 0, no progress bars."""
    out = tmp_path / "results"
    task_dir = out / "test-task"
    task_dir.mkdir(parents=True)
    return Context(out_dir=task_dir, device=torch.device("cpu"), seed=0, profile="quick",
                   cache=SubRunCache(out / "cache"), show_progress=False)
