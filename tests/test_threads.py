"""The adaptive thread policy: fewer threads when other processes keep cores busy, all of them when idle."""

from __future__ import annotations

import pytest
import torch

from mnistlab.errors import MnistlabError
from mnistlab.execution import runtime
from mnistlab.execution.runtime import ThreadGovernor


def _governor(monkeypatch, samples: list[tuple[float, float, float]], cores: int = 2) -> ThreadGovernor:
    feed = iter(samples)
    monkeypatch.setattr(ThreadGovernor, "_sample", lambda self: next(feed))
    governor = ThreadGovernor()
    governor.cpus, governor.max_threads, governor.threads = list(range(cores)), cores, cores
    return governor


@pytest.mark.parametrize(("other_cores", "threads"), [(0.0, 2), (0.2, 2), (0.6, 1), (1.0, 1), (2.0, 1)])
def test_threads_follow_the_cores_other_processes_leave(monkeypatch, other_cores, threads):
    before = torch.get_num_threads()
    try:
        # one second: the machine's cores were busy for 0.5 + other_cores seconds, 0.5 of them ours
        governor = _governor(monkeypatch, [(0.0, 0.0, 0.0), (1.0, 0.5 + other_cores, 0.5)])
        assert governor.choose() == threads
        assert governor.last_other == pytest.approx(other_cores)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_a_window_too_short_to_judge_keeps_the_count(monkeypatch):
    governor = _governor(monkeypatch, [(0.0, 0.0, 0.0), (0.01, 0.02, 0.0)])
    assert governor.choose() == 2 and governor.last_other is None


def test_the_governor_reads_this_machine():
    sample = ThreadGovernor()._sample()
    if sample is None:
        pytest.skip("no /proc/stat here")
    wall, busy, own = sample
    assert wall > 0 and busy >= 0 and own > 0


def test_environment_fixes_or_frees_the_thread_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(runtime.ENV_THREADS, "1")
        runtime.configure_torch()
        assert runtime.thread_governor() is None and torch.get_num_threads() == 1
        monkeypatch.setenv(runtime.ENV_THREADS, "auto")
        runtime.configure_torch()
        assert runtime.thread_governor() is not None
        assert runtime.environment(torch.device("cpu"))["thread_policy"] == "adaptive"
        monkeypatch.setenv(runtime.ENV_THREADS, "lots")
        with pytest.raises(MnistlabError, match="MNISTLAB_THREADS"):
            runtime.configure_torch()
    finally:
        runtime.configure_torch(before)


def test_freed_large_blocks_stay_with_the_process_where_glibc_allows():
    import sys

    took = runtime.keep_freed_memory()
    assert took is False or sys.platform.startswith("linux")
    x = torch.empty(3136, 6272)  # allocating and freeing a large block still works afterwards
    del x


def test_fit_records_its_thread_count_per_epoch():
    from mnistlab.models import MLPSpec, build_mlp
    from mnistlab.train import TrainConfig, fit

    x, y = torch.rand(64, 784), torch.randint(0, 10, (64,))
    result = fit(build_mlp(MLPSpec(hidden=(8,))), (x, y), None, TrainConfig(epochs=2, batch_size=32),
                 show_progress=False)
    assert result.threads == [torch.get_num_threads()] * 2


def test_a_run_decides_before_its_first_step(monkeypatch):
    before = torch.get_num_threads()
    try:
        # construction, the fresh look that start() takes, and one second later: one core busy elsewhere
        governor = _governor(monkeypatch, [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (1.0, 1.5, 0.5)])
        governor.start()
        assert governor.threads == 1 and governor.last_other == pytest.approx(1.0)
    finally:
        torch.set_num_threads(before)
