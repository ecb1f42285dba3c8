"""Sub-runs as data: keys, the locked and verified cache, plans, and the cache commands."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from mnistlab.cli import main
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.runner import execute_plan
from mnistlab.execution.subrun import SubRun, canonical, key_hash
from mnistlab.models import parse_mlp
from mnistlab.tasks.common import classifier_run
from mnistlab.train import TrainConfig

TINY = {"train_limit": 300, "test_limit": 200}


def tiny_run(width: int = 16, seed: int = 0, keep: bool = False) -> SubRun:
    return classifier_run(parse_mlp(str(width)), TrainConfig(epochs=1, batch_size=50), seed=seed,
                          keep_checkpoint=keep, **TINY)


def _changed(value):
    """A different value of the same type (what a user could put in that field)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, tuple):
        return (*value, value[-1]) if value else (1,)
    if value is None:
        return 7
    raise TypeError(type(value))


def test_every_field_of_a_sub_run_is_in_its_key():
    run = tiny_run()
    seen = {run.hash}
    for part in ("model", "data", "train"):
        obj = getattr(run, part)
        for f in dataclasses.fields(obj):
            changed = dataclasses.replace(obj, **{f.name: _changed(getattr(obj, f.name))})
            other = dataclasses.replace(run, **{part: changed})
            assert other.hash not in seen, f"{part}.{f.name} does not change the key"
            seen.add(other.hash)
    assert dataclasses.replace(run, seed=1).hash not in seen
    assert dataclasses.replace(run, objective="other").hash not in seen
    # How a sub-run is shown or stored is not what it computes.
    same = dataclasses.replace(run, name="another name", keep_checkpoint=True, cost=1.0)
    assert same.hash == run.hash and same == run and len({same, run}) == 1


def test_keys_never_merge_distinct_floats():
    values = [float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1e-300, None]
    assert len({key_hash({"x": v}) for v in values}) == len(values)
    assert canonical({"a": (1, 2.5)}) == {"a": [1, 2.5]}


def test_a_plan_runs_once_and_a_rerun_is_all_cache_hits(tmp_path):
    cache = SubRunCache(tmp_path / "cache")
    runs = [tiny_run(16), tiny_run(8, keep=True)]
    first = execute_plan(runs, cache, show_progress=False)
    assert (cache.hits, cache.misses) == (0, 2) and all(t.fresh for t in first.values())
    again = execute_plan([*runs, tiny_run(16)], cache, show_progress=False)
    assert (cache.hits, cache.misses) == (2, 2) and not any(t.fresh for t in again.values())
    assert again[runs[0]].record["test_acc"] == first[runs[0]].record["test_acc"]
    assert np.array_equal(again[runs[0]].arrays["test_pred"], first[runs[0]].arrays["test_pred"])
    # Only the sub-run that keeps its checkpoint has one; its model predicts what was recorded.
    assert first[runs[0]].checkpoint is None and (cache.folder(runs[1]) / "model.pt").is_file()
    model = again[runs[1]].model(torch.device("cpu"))
    from mnistlab.data import load

    xt, _ = load("mnist", "test", view="flat", limit=TINY["test_limit"])
    with torch.no_grad():
        assert np.array_equal(model(xt).argmax(1).numpy(), again[runs[1]].arrays["test_pred"])


def test_a_cached_entry_without_the_checkpoint_a_task_needs_is_trained_again(tmp_path, capsys):
    cache = SubRunCache(tmp_path / "cache")
    execute_plan([tiny_run()], cache, show_progress=False)
    trained = execute_plan([tiny_run(keep=True)], cache, show_progress=False)
    assert cache.misses == 2 and next(iter(trained.values())).checkpoint is not None
    assert "without its checkpoint" in capsys.readouterr().err


DAMAGE = {
    "model.pt truncated": lambda d: (d / "model.pt").write_bytes((d / "model.pt").read_bytes()[:100]),
    "model.pt empty": lambda d: (d / "model.pt").write_bytes(b""),
    "model.pt missing": lambda d: (d / "model.pt").unlink(),
    "model.pt zeroed": lambda d: (d / "model.pt").write_bytes(bytes(len((d / "model.pt").read_bytes()))),
    "model.pt from another entry": lambda d: (d / "model.pt").write_bytes(
        next(p for p in d.parent.glob("*/model.pt") if p.parent != d).read_bytes()),
    "record.json a list": lambda d: (d / "record.json").write_text("[]"),
    "record.json without its record": lambda d: (d / "record.json").write_text(json.dumps({"key": 1})),
    "record.json not JSON": lambda d: (d / "record.json").write_text("{not json"),
    "record.json missing": lambda d: (d / "record.json").unlink(),
    "arrays.npz damaged": lambda d: (d / "arrays.npz").write_bytes(b"PK\x03\x04 broken"),
    "entry is a file": lambda d: (__import__("shutil").rmtree(d), d.write_text("x")),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_reported_in_one_line_and_trained_again(tmp_path, capsys, damage):
    cache = SubRunCache(tmp_path / "cache")
    runs = [tiny_run(16, keep=True), tiny_run(8, keep=True)]
    first = execute_plan(runs, cache, show_progress=False)
    capsys.readouterr()
    DAMAGE[damage](cache.folder(runs[0]))
    again = execute_plan(runs, cache, show_progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "computing it again" in err[0] and "Traceback" not in err[0]
    assert cache.misses == 3  # the damaged one only
    assert again[runs[0]].record["test_acc"] == first[runs[0]].record["test_acc"]
    again[runs[0]].model(torch.device("cpu"))  # loads


def test_partial_entries_of_dead_processes_are_cleaned(tmp_path):
    cache = SubRunCache(tmp_path / "cache")
    cache.root.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = cache.root / f".partial-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "model.pt").write_bytes(b"")
    live = cache.root / f".partial-{os.getppid()}-def"  # a live process's scratch is left alone
    live.mkdir()
    assert cache.clean_partials() == 1
    assert not stale.exists() and live.exists()


def test_two_processes_on_one_cache_train_a_sub_run_once(tmp_path):
    script = textwrap.dedent("""
        import sys
        from mnistlab.execution.cache import SubRunCache
        from mnistlab.models import parse_mlp
        from mnistlab.execution.runner import execute_plan
        from mnistlab.tasks.common import classifier_run
        from mnistlab.train import TrainConfig
        run = classifier_run(parse_mlp("64"), TrainConfig(epochs=3, batch_size=20), seed=0, train_limit=2000,
                             test_limit=200)
        out = execute_plan([run], SubRunCache(sys.argv[1], log=lambda line: None), show_progress=False)
        print("trained" if out[run].fresh else "waited", out[run].record["test_acc"])
    """)
    env = {**os.environ, "MNISTLAB_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "cache")], stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    lines = sorted(p.communicate(timeout=300)[0].split() for p in procs)
    assert [line[0] for line in lines] == ["trained", "waited"]
    assert lines[0][1] == lines[1][1]
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 1


def test_memo_caches_results_that_are_not_networks(tmp_path):
    cache = SubRunCache(tmp_path / "cache")
    calls = []

    def compute(folder: Path) -> dict:
        calls.append(1)
        np.save(folder / "x.npy", np.arange(3))
        return {"n": 3}

    record, folder = cache.memo("tsne", {"n": 3}, compute)
    assert record == {"n": 3} and np.array_equal(np.load(folder / "x.npy"), np.arange(3))
    assert cache.memo("tsne", {"n": 3}, compute)[0] == {"n": 3} and len(calls) == 1
    (folder / "x.npy").write_bytes(b"broken")
    cache.memo("tsne", {"n": 3}, compute)
    assert len(calls) == 2  # the damaged result was computed again


def test_plan_and_cache_commands(tmp_path, capsys):
    out = tmp_path / "results"
    # fp32 pinned: one network per model on every machine (in bf16 Task 3 also trains its first MLP in fp32)
    args = ["--profile", "quick", "--out", str(out), "--set", "models=16,8", "--set", "epochs=1",
            "--set", "train_limit=300", "--set", "test_limit=200", "--set", "precision=fp32"]
    assert main(["plan", "task3", *args]) == 0
    text = capsys.readouterr().out
    assert text.count("classifier to train") == 2 and "2 distinct sub-run(s), 0 cached, 2 to train" in text
    assert main(["run", "task3", *args, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["plan", "task3", *args]) == 0
    assert "2 distinct sub-run(s), 2 cached, 0 to train" in capsys.readouterr().out
    assert main(["cache", "ls", "--out", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "MLP 16" in listing and "2 entries" in listing and "model" in listing  # the first keeps its weights
    assert main(["cache", "du", "--out", str(out)]) == 0
    assert "classifier" in capsys.readouterr().out
    assert main(["cache", "prune", "--checkpoints", "--out", str(out)]) == 0
    assert "removed 1 checkpoints" in capsys.readouterr().out
    assert main(["cache", "prune", "--unused", "--out", str(out)]) == 0
    assert "removed 0 entries" in capsys.readouterr().out  # task3's result uses both
    assert main(["cache", "prune", "--out", str(out)]) == 0
    assert "removed 2 entries" in capsys.readouterr().out


def test_the_time_left_weighs_each_sub_run_by_its_planned_seconds_not_its_flops(tmp_path, monkeypatch):
    """A small MLP's time goes mostly to its steps' fixed costs, so its FLOPs undercount it: with the CNN
    beside it, a time-left line weighted by FLOPs alone would put nearly all the work in the CNN."""
    from mnistlab.execution import runner
    from mnistlab.execution.estimate import Throughput, training_seconds
    from mnistlab.models import CNN1

    rates = Throughput(fallback={"bf16": 292.8e9, "fp32": 67.0e9})  # the reference machine's
    monkeypatch.setattr(runner, "throughput_table", lambda cache: rates)
    recipe = TrainConfig(epochs=1, batch_size=50, precision="bf16")
    mlp = classifier_run(parse_mlp("16"), recipe, seed=0, **TINY)
    cnn = classifier_run(CNN1, recipe, seed=0, **TINY)
    shares = runner._shares([mlp, cnn], SubRunCache(tmp_path / "cache"))
    assert shares == {mlp.hash: training_seconds(mlp, rates), cnn.hash: training_seconds(cnn, rates)}
    assert shares[mlp.hash] / shares[cnn.hash] > 2 * mlp.cost / cnn.cost
