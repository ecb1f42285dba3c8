"""Cache keys know the code: a sub-run's key carries the fingerprint of the code its kind runs, so an edit
of one kind's training code retrains exactly that kind's networks, an edit of a comment, a docstring or
of code no kind reaches retrains nothing, and a memoised result follows its compute function the same way.

The kinds live in a throw-away package written into tmp_path, which registers them, and are trained
through the runner's own `execute_plan` with a real cache: the test sees which networks were trained."""

from __future__ import annotations

import importlib
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from mnistlab.execution import fingerprint
from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.runner import execute_plan
from mnistlab.execution.subrun import KINDS, SubRun
from mnistlab.models import parse_mlp
from mnistlab.tasks.common import classifier_run
from mnistlab.train import TrainConfig

ENGINE = '''
"""A shared helper, as train.py is for the real kinds."""

SCALE = 2.0


def scaled(x):
    return x * SCALE
'''

KIND = '''
"""A fake kind {name}: a one-weight model whose 'training' records a number."""

import torch
from torch import nn

from mnistlab.execution.subrun import SubRunKind, register_kind
from {package}.engine import scaled

OFFSET = 1.0  # the number the training adds


def _train(run, model, env):
    with torch.no_grad():
        model.weight.fill_(scaled(run.seed) + OFFSET)
    return {{"value": float(model.weight.item())}}, {{}}


def prose():
    """What a report would say: reached by no kind."""
    return "a paragraph"


KIND_{upper} = register_kind(SubRunKind("fake-{name}", build=lambda run: nn.Linear(1, 1, bias=False), train=_train))


def memo_compute(params):
    def compute(folder):
        return {{"total": sum(params) + OFFSET}}
    return compute
'''


@pytest.fixture
def fake_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two kinds, fake-a and fake-b, in a package `fakelab_<n>` on sys.path; returns its folder."""
    package = f"fakelab_{abs(hash(str(tmp_path))) % 10**8}"
    folder = tmp_path / "src" / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "engine.py").write_text(ENGINE)
    for name in ("a", "b"):
        (folder / f"kind_{name}.py").write_text(KIND.format(name=name, package=package, upper=f"FAKE_{name.upper()}"))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    importlib.invalidate_caches()
    for name in ("a", "b"):
        importlib.import_module(f"{package}.kind_{name}")  # the module registers its kind, as a task's does
    yield folder
    for name in ("a", "b"):
        KINDS.pop(f"fake-{name}", None)
    for module in [m for m in sys.modules if m.startswith(package)]:
        del sys.modules[module]
    fingerprint.forget()


def _plan() -> list[SubRun]:
    return [SubRun(kind=f"fake-{k}", model=("width", 1), data=None, train=None, seed=s, name=f"{k}{s}")
            for k in ("a", "b") for s in (0, 1)]


def _edit(path: Path, old: str, new: str) -> None:
    """Edit a source file as a developer would, and let this process see it (as a new process would)."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    package = path.parent.name
    for module in [m for m in sys.modules if m.startswith(package + ".")]:
        importlib.reload(sys.modules[module])
    fingerprint.forget()


def _retrained(cache: SubRunCache) -> list[str]:
    finished = execute_plan(_plan(), cache, show_progress=False, log=lambda line: None)
    return sorted(run.name for run, trained in finished.items() if trained.fresh)


def test_an_edit_retrains_exactly_the_kind_whose_code_changed(fake_kinds: Path, tmp_path: Path) -> None:
    cache = SubRunCache(tmp_path / "cache")
    assert _retrained(cache) == ["a0", "a1", "b0", "b1"]
    assert _retrained(cache) == []

    _edit(fake_kinds / "kind_a.py", "# the number the training adds", "# what training adds (reworded)")
    _edit(fake_kinds / "kind_a.py", '"""What a report would say: reached by no kind."""', '"""Reworded."""')
    _edit(fake_kinds / "kind_b.py", "def _train(run, model, env):", "def _train(run, model, env) -> tuple:")
    assert _retrained(cache) == [], "comments, docstrings and type hints are not code"

    _edit(fake_kinds / "kind_a.py", 'return "a paragraph"', 'return "another paragraph"')
    assert _retrained(cache) == [], "prose that no kind reaches is not the kind's code"

    _edit(fake_kinds / "kind_a.py", "OFFSET = 1.0", "OFFSET = 3.0")
    finished = execute_plan(_plan(), cache, show_progress=False, log=lambda line: None)
    assert sorted(r.name for r, t in finished.items() if t.fresh) == ["a0", "a1"]
    assert {r.name: t.record["value"] for r, t in finished.items()} == {"a0": 3.0, "a1": 5.0, "b0": 1.0, "b1": 3.0}

    _edit(fake_kinds / "engine.py", "SCALE = 2.0", "SCALE = 4.0")
    assert _retrained(cache) == ["a0", "a1", "b0", "b1"], "a helper both kinds call is both kinds' code"


def test_retrain_replaces_the_cached_networks(fake_kinds: Path, tmp_path: Path) -> None:
    cache = SubRunCache(tmp_path / "cache")
    plan = _plan()[:2]
    first = execute_plan(plan, cache, show_progress=False, log=lambda line: None)
    created = {run: (cache.folder(run) / "record.json").read_text() for run in plan}
    again = execute_plan(plan, cache, show_progress=False, log=lambda line: None, retrain=True)
    assert all(again[run].fresh for run in plan) and not any(first[run].fresh is False for run in plan)
    assert all((cache.folder(run) / "record.json").read_text() != created[run] for run in plan)
    assert not any(execute_plan(plan, cache, show_progress=False, log=lambda line: None)[r].fresh for r in plan)


def test_a_memoised_result_follows_the_code_of_its_compute_function(fake_kinds: Path, tmp_path: Path) -> None:
    cache = SubRunCache(tmp_path / "cache")
    module = importlib.import_module(f"{fake_kinds.name}.kind_a")
    assert cache.memo("tsne", [1, 2], module.memo_compute([1, 2]))[0] == {"total": 4.0}
    _edit(fake_kinds / "kind_a.py", '"""A fake kind a', '"""A fake kind, reworded,')
    cache.memo("tsne", [1, 2], importlib.import_module(f"{fake_kinds.name}.kind_a").memo_compute([1, 2]))
    assert (cache.hits, cache.misses) == (1, 1)
    _edit(fake_kinds / "kind_a.py", "OFFSET = 1.0", "OFFSET = 10.0")
    record = cache.memo("tsne", [1, 2], importlib.import_module(f"{fake_kinds.name}.kind_a").memo_compute([1, 2]))[0]
    assert record == {"total": 13.0} and cache.misses == 2


def test_the_real_kinds_reach_their_engine_and_not_their_prose() -> None:
    """What each kind's fingerprint covers: its training and the engine, not the analysis beside it."""
    def reached(module: str, name: str) -> set[str]:
        walk = fingerprint._Walk({"mnistlab"})
        walk.reach(module, name)
        return {f"{m}:{n}" for m, i in walk.statements for n, where in fingerprint._parsed(m).defines.items()
                if i in where}

    mtl = reached("mnistlab.tasks.multitask", "KIND_MTL")
    assert {"mnistlab.train:fit", "mnistlab.models.mtl:build_mtl", "mnistlab.weighting.gradnorm:GradNormWeighting",
            "mnistlab.weighting.pcgrad:PCGradWeighting", "mnistlab.augment:augment_batch"} <= mtl
    analysis = tuple(f"mnistlab.tasks.task6.{m}:" for m in ("findings", "present", "prose", "plan"))
    assert not any(name.startswith((*analysis, "mnistlab.viz", "mnistlab.tasks.common")) for name in mtl)
    assert "mnistlab.tasks.task6:TASK" not in mtl
    classifier = reached("mnistlab.tasks.common", "ImageData")
    assert "mnistlab.data:load" in classifier and "mnistlab.tasks.common:KIND_CLASSIFIER" not in classifier


def _hash_of_a_classifier_run() -> str:
    return classifier_run(parse_mlp("32"), TrainConfig(epochs=1), seed=3, train_limit=100).hash


def test_worker_processes_compute_the_same_keys() -> None:
    here = _hash_of_a_classifier_run()
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(_hash_of_a_classifier_run).result(timeout=120) == here


def test_a_key_holds_the_code_of_its_kind_and_of_its_values() -> None:
    run = classifier_run(parse_mlp("32"), TrainConfig(epochs=1), seed=3, train_limit=100)
    key = run.key()
    assert set(key) == {"kind", "code", "model", "data", "train", "objective", "seed"}
    assert key["code"] == fingerprint.code_fingerprint(
        [("mnistlab.tasks.common", "KIND_CLASSIFIER"), ("mnistlab.execution.subrun", "execute"),
         ("mnistlab.models.mlp", "MLPSpec"), ("mnistlab.tasks.common", "ImageData"), ("mnistlab.train", "TrainConfig")])


TINY_TASK3 = ("run", "task3", "--profile", "quick", "--set", "train_limit=300", "--set", "test_limit=200",
              "--set", "epochs=1", "--set", "models=32", "--set", "precision=fp32", "--no-progress")


def test_the_command_line_retrains_with_retrain_and_only_analyses_with_force(tmp_path: Path, capsys) -> None:
    from mnistlab.cli import main
    from mnistlab.execution.store import read_json

    def created() -> dict[str, float]:
        return {p.parent.name: read_json(p)["created"] for p in (tmp_path / "cache").glob("*/record.json")}

    assert main([*TINY_TASK3, "--out", str(tmp_path)]) == 0
    first = created()
    assert len(first) == 1
    assert main([*TINY_TASK3, "--out", str(tmp_path), "--force"]) == 0
    assert created() == first  # analysed again, the network reused
    assert main([*TINY_TASK3, "--out", str(tmp_path), "--retrain"]) == 0
    again = created()
    assert set(again) == set(first) and all(again[h] > first[h] for h in first)  # trained again, same key
    assert read_json(tmp_path / "task3" / "result.json")["cache"]["misses"] == 1
    capsys.readouterr()


def test_a_module_used_through_its_name_reaches_only_the_names_used(tmp_path: Path, monkeypatch) -> None:
    """`import pkg.engine as e` then `e.scaled(...)`: the function reaches `scaled`, not all of the module."""
    package = tmp_path / "alias_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "engine.py").write_text("def scaled(x):\n    return 2 * x\n\n\ndef other():\n    return 1\n")
    (package / "user.py").write_text(
        "import alias_pkg.engine as e\n\n\ndef run(x):\n    return e.scaled.__name__ + str(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fingerprint.forget()
    try:
        first = fingerprint.code_fingerprint([("alias_pkg.user", "run")])
        (package / "engine.py").write_text("def scaled(x):\n    return 2 * x\n\n\ndef other():\n    return 2\n")
        fingerprint.forget()
        assert fingerprint.code_fingerprint([("alias_pkg.user", "run")]) == first
        (package / "engine.py").write_text("def scaled(x):\n    return 3 * x\n\n\ndef other():\n    return 2\n")
        fingerprint.forget()
        assert fingerprint.code_fingerprint([("alias_pkg.user", "run")]) != first
    finally:
        fingerprint.forget()
