"""Hostile input: damaged data, a tampered array cache, broken result.json files, files where folders
belong, fuzzed `--set` values, and real kills. Each ends in one line and exit code 2 (or a rerun where
a stored file is at fault), never a traceback, a silently wrong number, or a file left behind.

The real data and the user's cache are never touched: data folders are copies (symlinks to the real
files, a damaged file copied in their place) and $XDG_CACHE_HOME points under tmp_path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import math
import os
import signal
import subprocess
import sys
import time
import types
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import mnistlab
import mnistlab.execution.executors
import mnistlab.execution.runner
import mnistlab.execution.store
from mnistlab.cli import main
from mnistlab.data import _load_cached, load_arrays, sources
from mnistlab.errors import DataError, MnistlabError
from mnistlab.execution.atomic import TEMP_PREFIX, atomic_file, clean_stale_temps
from mnistlab.execution.runner import result_path, run_task
from mnistlab.execution.store import atomic_write_text, config_hash, read_result
from mnistlab.tasks import REGISTRY
from mnistlab.tasks.base import Result, Task
from mnistlab.viz import save_figure

REAL = sources.REPO_DATA_DIR
LABELS = "t10k-labels-idx1-ubyte"
IMAGES = "t10k-images-idx3-ubyte"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistlab: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def temp_leftovers(root: Path) -> list[Path]:
    """Temporary files of ours (either naming) anywhere below `root`."""
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX)
            or (p.name.startswith("tmp") and p.suffix in (".tmp", ".png"))]


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No place but the ones a test makes: empty repository data/, user cache and Debian folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)
    monkeypatch.setattr(sources, "DEBIAN_DIRS", {"fashion-mnist": tmp_path / "no-debian"})
    _load_cached.cache_clear()
    yield tmp_path
    _load_cached.cache_clear()


def data_copy(root: Path) -> Path:
    """A data folder whose files are symlinks to the real ones, cheap to make and safe to damage
    (a damaged file replaces its symlink; the real file is never opened for writing)."""
    for name in sources.DATASETS:
        (root / name).mkdir(parents=True)
        for f in (REAL / name).glob("*.gz"):
            (root / name / f.name).symlink_to(f)
    return root


def replace_file(path: Path, content: bytes) -> None:
    path.unlink()
    path.write_bytes(content)


def flip_in_gzip_member(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the deflate stream, past the gzip header
    replace_file(path, bytes(raw))


DAMAGES = {
    "flip": flip_in_gzip_member,
    "truncate": lambda p: replace_file(p, p.read_bytes()[: p.stat().st_size // 2]),
    "empty": lambda p: replace_file(p, b""),
    "wrong-file": lambda p: replace_file(p, (REAL / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes()),
    "not-gzip": lambda p: replace_file(p, b"\x00" * 5000),
    "missing": lambda p: p.unlink(),
    "folder": lambda p: (p.unlink(), p.mkdir()),
}


# ----------------------------------------------------------------------------------------------------- data


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("stem", [LABELS, IMAGES])
def test_damaged_data_file_is_one_line_naming_it(capsys, isolated, damage, stem):
    data = data_copy(isolated / "data")
    path = data / "mnist" / f"{stem}.gz"
    DAMAGES[damage](path)
    code, _, err = run_cli(capsys, "data", "verify", "--data-dir", data)
    if damage in ("missing", "folder"):
        line = assert_one_line_error(code, err, f"--data-dir {data}", f"mnist/{stem}.gz")
    else:
        line = assert_one_line_error(code, err, str(path), "corrupt", sources.SHA256["mnist"][stem])
    # a run loads the same split through the array cache: refused the same way, never a fallback
    with pytest.raises(DataError) as caught:
        load_arrays("mnist", "test", data_dir=data)
    assert stem in str(caught.value) and str(data) in str(caught.value)
    assert line  # (the CLI line was checked above)


@pytest.mark.parametrize("place", ["missing", "file", "lacks-dataset"])
def test_explicit_data_dir_never_falls_back(capsys, isolated, monkeypatch, place):
    target = isolated / "mine"
    if place == "file":
        target.write_text("not a folder")
    elif place == "lacks-dataset":
        (target / "mnist").mkdir(parents=True)
    code, _, err = run_cli(capsys, "data", "verify", "--data-dir", target)
    assert_one_line_error(code, err, f"--data-dir {target}")
    # the environment variable is an explicit place as well
    monkeypatch.setenv("MNISTLAB_DATA", str(target))
    with pytest.raises(DataError, match=r"\$MNISTLAB_DATA"):
        sources.locate("mnist", "test", "labels")


def test_tampered_array_cache_is_detected_and_rebuilt(isolated, capsys):
    _, labels = load_arrays("mnist", "test")
    assert np.bincount(labels)[0] == 980
    folder = next((isolated / "xdg" / "mnistlab" / "arrays").glob("mnist-test-*"))
    tampered = np.load(folder / "labels.npy")
    tampered[:3000] = 0
    np.save(folder / "labels.npy", tampered)
    _load_cached.cache_clear()
    _, labels = load_arrays("mnist", "test")
    assert np.bincount(labels)[0] == 980  # not the 2,800-odd zeros of the edited file
    assert "decoding mnist test again" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(folder / "labels.npy"), labels)  # and the cache is repaired
    _load_cached.cache_clear()


def test_data_verify_reports_and_removes_a_tampered_array_cache(isolated, capsys):
    load_arrays("mnist", "test")
    folder = next((isolated / "xdg" / "mnistlab" / "arrays").glob("mnist-test-*"))
    images = np.load(folder / "images.npy")
    images[0, 0, 0] ^= 1  # one bit of one pixel
    np.save(folder / "images.npy", images)
    code, out, err = run_cli(capsys, "data", "verify")
    assert code == 0 and err == ""
    flagged = [line for line in out.splitlines() if "damaged, removed" in line]
    assert len(flagged) == 1 and "mnist" in flagged[0] and "test arrays" in flagged[0], out
    assert not folder.exists()


def test_source_rewritten_in_place_with_same_size_and_mtime_is_checked_again(isolated, monkeypatch):
    data = isolated / "data"
    (data / "mnist").mkdir(parents=True)
    (data / "mnist" / f"{IMAGES}.gz").symlink_to(REAL / "mnist" / f"{IMAGES}.gz")
    raw = bytearray(gzip.decompress((REAL / "mnist" / f"{LABELS}.gz").read_bytes()))
    plain = data / "mnist" / LABELS
    plain.write_bytes(bytes(raw))
    load_arrays("mnist", "test", data_dir=data)  # verified and cached
    before = plain.stat()
    raw[100] = (raw[100] + 1) % 10
    with open(plain, "r+b") as f:  # same size, in place
        f.write(bytes(raw))
    os.utime(plain, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert plain.stat().st_size == before.st_size and plain.stat().st_mtime_ns == before.st_mtime_ns
    _load_cached.cache_clear()
    with pytest.raises(DataError, match="corrupt"):
        load_arrays("mnist", "test", data_dir=data)


# ----------------------------------------------------------------------------------- --set and the hash


@pytest.mark.parametrize("setting", ["lr=inf", "l2_weight=nan", "lr=-inf", "tv_weight=1e400", "lr=NaN"])
def test_non_finite_floats_are_refused_at_the_door(capsys, tmp_path, setting):
    code, _, err = run_cli(capsys, "run", "task5", "--out", tmp_path, "--set", setting)
    assert_one_line_error(code, err, setting.split("=")[0], "finite")
    assert not (tmp_path / "task5").exists()


def test_config_hash_never_merges_distinct_values():
    values = [float("nan"), float("inf"), float("-inf"), None, 0.0, 1e308, "nan", "inf"]
    assert len({config_hash({"l2_weight": v}) for v in values}) == len(values)
    assert config_hash({"a": (1, 2.5, "x")}) == config_hash({"a": [1, 2.5, "x"]})  # finite values unchanged


@pytest.mark.parametrize(("argv", "needle"), [
    (["run", "task3", "--set", "models=1000000000"], "parameters"),
    (["run", "task4", "--set", "models=100000k4s1-100000k4s1"], "parameters"),
    (["run", "permutation", "--set", "permutation_seed=18446744073709551616"], "64 bits"),
    (["run", "task3", "--seed", "1180591620717411303424"], "--seed"),
    (["run", "task3", "--seed", "-1"], "--seed"),
    (["run", "task3", "--set", "epochs=1000000000000"], "epochs must be positive and at most"),
    (["run", "task3", "--set", "batch_size=10000000"], "batch_size must be positive and at most 200,000, got"),
    (["run", "task6", "--set", "eval_batch_size=0"], "eval_batch_size"),
    (["run", "task3", "--set", "models=(1000,1000)"], "repeats the network '1000'"),
    (["run", "task3", "--set", "models=((1000, 1000), (500,))"], "list inside a list"),
    (["run", "task3", "--set", "epochs=٣"], "digits 0-9"),
    (["run", "task3", "--set", "epochs=１"], "digits 0-9"),
    (["run", "task3", "--set", "epochs=" + "9" * 100_000], "characters"),
    (["run", "task3", "--out", ""], "empty path"),
])
def test_refused_before_any_work(capsys, tmp_path, argv, needle):
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out")]
    code, _, err = run_cli(capsys, *argv)
    line = assert_one_line_error(code, err, needle)
    assert len(line) < 400  # a 100 kB value is not echoed whole
    assert not (tmp_path / "out" / "task3").exists()


# Texts that tripped the parser before, beside whatever Hypothesis makes up.
AWKWARD = ["nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "٣", "１", "²", "", " ", "none", "None", "true",
           "(1000,1000)", "((1000, 1000), (500,))", "[]", "()", "1_000", "0x10", "1e3", "-0", "0.0", "-1",
           "18446744073709551616", "9" * 5000, "32k4s1-64k4s2", "1000-1000,500", "fp32", "bf16", "auto",
           "mnist", "adam", "1e300", "-1e300", "1000000000000", "\x00", "a\nb", "1000000000", "10**12", "1.5e-7",
           ".5", "5."]
VALUES = st.one_of(
    st.sampled_from(AWKWARD),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr),
    st.text(alphabet="0123456789-,.()[]ksxe+ ", max_size=24),
    st.text(max_size=16),
)
FIELDS = sorted({(task.name, f.name) for task in REGISTRY.values() for f in dataclasses.fields(task.config_cls)})


def typed_values(annotation) -> st.SearchStrategy[str]:
    """Text of the field's own type, mostly plausible: so that many fuzzed values are accepted and the
    property is tested on both sides, not only on refusals."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(st.just("none"), *(typed_values(a) for a in args if a is not type(None)))
    if origin in (tuple, list):
        return st.lists(typed_values(args[0] if args else str), max_size=4).map(",".join)
    if origin is typing.Literal:
        return st.sampled_from([str(a) for a in args])
    if annotation is bool:
        return st.sampled_from(["true", "false", "1", "0", "yes", "off"])
    if annotation is int:
        return st.one_of(st.integers(-3, 5000), st.integers(-(2**70), 2**70)).map(str)
    if annotation is float:
        return st.one_of(st.floats(-2, 2, allow_subnormal=False), st.floats(allow_subnormal=False)).map(repr)
    return st.one_of(st.sampled_from(["32", "16-16", "0", "32k4s1", "mnist", "fashion-mnist", "pcgrad"]),
                     st.text(max_size=12))


def field_values(field: tuple[str, str]) -> st.SearchStrategy[str]:
    task_name, key = field
    annotation = typing.get_type_hints(REGISTRY[task_name].config_cls)[key]
    return st.one_of(VALUES, typed_values(annotation), typed_values(annotation), typed_values(annotation))


def _check_runnable(task_name: str, config) -> None:
    """What a run relies on: every number finite and within 64 bits, and the config survives JSON."""
    def walk(v):
        if isinstance(v, float):
            assert math.isfinite(v), (task_name, config)
        elif isinstance(v, int) and not isinstance(v, bool):
            assert -(2**63) <= v < 2**63, (task_name, config)
        elif isinstance(v, tuple | list):
            for item in v:
                walk(item)
    for f in dataclasses.fields(config):
        walk(getattr(config, f.name))
    json.dumps(dataclasses.asdict(config), allow_nan=False)


EDGES = ["0", "-1", "1", "1000000000000", "-1000000000000", "1e300", "-1e300", "1e-300", "nan", "", "none", "()",
         "0.5", "2", "99999", "1e6"]


@pytest.mark.parametrize("task_name", list(REGISTRY))
def test_every_option_takes_edge_values_without_a_crash(task_name):
    """Each option of each task, each edge value: a ConfigError or a config a run can rely on. (The
    fuzz below samples; this covers every field, where a crash like octave_scale=1e300 hid.)"""
    task = REGISTRY[task_name]
    for f in dataclasses.fields(task.config_cls):
        for raw in EDGES:
            try:
                config = task.config("quick", {f.name: task.parse_override(f.name, raw)})
            except MnistlabError:
                continue
            _check_runnable(task_name, config)


@pytest.fixture(scope="module")
def fuzz_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_set_is_one_line_or_a_valid_config(monkeypatch, capsys, fuzz_out, data):
    """Either one line and exit 2 before any work, or a config that can be trained and stored.

    The run itself is replaced by a probe (a valid fuzzed config can ask for minutes of training):
    it checks what a run would rely on, that every number is finite and fits in 64 bits and that
    the config survives JSON without loss.
    """
    started = []

    def probe(tasks, *, configs, **kw):
        for task in tasks:
            _check_runnable(task.name, configs[task.name])
            started.append(task.name)
        return {}

    import mnistlab.execution.runner

    monkeypatch.setattr(mnistlab.execution.runner, "run_tasks", probe)
    task, key = field = data.draw(st.sampled_from(FIELDS), label="field")
    value = data.draw(field_values(field), label="value")
    argv = ["run", task, "--out", str(fuzz_out), "--no-progress", "--set", f"{key}={value}"]
    if data.draw(st.integers(0, 3), label="second --set") == 0:
        other = data.draw(st.sampled_from([f for f in FIELDS if f[0] == task]), label="field 2")
        argv += ["--set", f"{other[0]}.{other[1]}={data.draw(field_values(other), label='value 2')}"]
    code = main(argv)
    _out, err = capsys.readouterr()
    assert "Traceback" not in err
    event("accepted" if code == 0 else "refused")  # both kinds occur (--hypothesis-show-statistics)
    if code == 0:
        assert started == [task] and err == ""
    else:
        assert code == 2 and started == []
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mnistlab: error: ") and len(lines[0]) <= 700, err


# ------------------------------------------------------------------------------------------- result.json


def _good_record(name: str = "toy") -> dict:
    return {"task": name, "title": "Toy", "profile": "quick", "seed": 0, "seconds": 1.0, "run_key": "k",
            "config": {}, "environment": {}, "metrics": {"acc": 0.5}, "tables": {}, "figures": [], "paragraphs": [],
            "references": []}


RESULT_DAMAGES = {
    "list": "[]",
    "empty-object": "{}",
    "number": "42",
    "string": '"hello"',
    "seconds-a-string": json.dumps({**_good_record(), "seconds": "fast"}),
    "seed-a-float": json.dumps({**_good_record(), "seed": 0.5}),
    "metrics-a-list": json.dumps({**_good_record(), "metrics": [1, 2]}),
    "metric-a-dict": json.dumps({**_good_record(), "metrics": {"acc": {"x": 1}}}),
    "table-no-rows": json.dumps({**_good_record(), "tables": {"t": {"columns": ["a"]}}}),
    "figure-outside": json.dumps({**_good_record(), "figures": [{"file": "../../secret.png", "caption": ""}]}),
    "paragraphs-numbers": json.dumps({**_good_record(), "paragraphs": [1, 2]}),
    "paragraph-no-finding": json.dumps({**_good_record(), "paragraphs": [{"id": "a", "text": "b"}]}),
    "references-strings": json.dumps({**_good_record(), "references": ["x"]}),
    "seeds-a-number": json.dumps({**_good_record(), "seeds": 3}),
    "truncated-json": json.dumps(_good_record())[:40],
    "not-utf8": b"\xff\xfe\x00garbage",
    "folder": None,
}


def _damage_result(path: Path, how: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = RESULT_DAMAGES[how]
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


@pytest.mark.parametrize("how", list(RESULT_DAMAGES))
def test_damaged_result_is_a_warning_in_the_report(capsys, tmp_path, how):
    out = tmp_path / "results"
    name = "task3"
    _damage_result(out / name / "result.json", how)
    code, _stdout, err = run_cli(capsys, "report", "--out", out, "--report-dir", tmp_path / "report")
    assert code == 0 and "Traceback" not in err
    warnings = [line for line in err.splitlines() if line.startswith("mnistlab: warning: ")]
    assert len(warnings) == 1 and str(out / name / "result.json") in warnings[0], err
    page = (tmp_path / "report" / "index.html").read_text()
    section = page[page.index(f'<section id="{name}">'):]
    section = section[: section.index("</section>")]
    assert "Warning" in section and ("damaged stored result" in section or "cannot read" in section)
    assert "Not run yet" not in section
    with pytest.raises(MnistlabError):
        read_result(out / name / "result.json")


@dataclasses.dataclass(frozen=True)
class _ToyConfig:
    size: int = 3


def _toy_task(calls: list) -> Task:
    def run(config, ctx):
        calls.append(config)
        return Result(metrics={"acc": 0.5})

    return Task(name="toy", title="Toy", config_cls=_ToyConfig, profiles={}, analyse=run)


@pytest.mark.parametrize("how", [h for h in RESULT_DAMAGES if h != "folder"])
def test_damaged_result_is_rerun_with_one_line(capsys, tmp_path, how):
    calls: list = []
    task = _toy_task(calls)
    kw = {"profile": "quick", "config": _ToyConfig(), "out": tmp_path, "device": torch.device("cpu"), "seed": 0,
          "log": lambda *_: None}
    run_task(task, **kw)
    run_task(task, **kw)
    assert len(calls) == 1  # up to date: not run again
    result_path(tmp_path, "toy").unlink()
    _damage_result(result_path(tmp_path, "toy"), how)
    capsys.readouterr()
    record = run_task(task, **kw)
    assert len(calls) == 2 and record["metrics"] == {"acc": 0.5}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("damaged stored result" in err or "cannot read" in err), err
    assert "running toy again" in err
    read_result(result_path(tmp_path, "toy"))  # whole again


def test_result_as_folder_is_one_line_for_run(capsys, tmp_path):
    (tmp_path / "data-overview" / "result.json").mkdir(parents=True)
    # the stored result could not be replaced after the run: one line, before anything runs
    code, _, err = run_cli(capsys, "run", "data-overview", "--out", tmp_path, "--set", "samples_per_class=1")
    assert_one_line_error(code, err, "result.json", "is not a file")


# -------------------------------------------------------------------------------------------- file system


@pytest.mark.parametrize("blocked", ["task3", "cache"])
def test_file_where_a_results_folder_belongs(capsys, tmp_path, blocked):
    out = tmp_path / "results"
    out.mkdir()
    (out / blocked).write_text("in the way")
    code, _, err = run_cli(capsys, "run", "task3", "--out", out, "--set", "models=16")
    assert_one_line_error(code, err, str(out / blocked), "is a file")


def test_report_folder_problems(capsys, tmp_path):
    (tmp_path / "results").mkdir()
    code, _, err = run_cli(capsys, "report", "--out", tmp_path / "nowhere", "--report-dir", tmp_path / "r")
    assert_one_line_error(code, err, "nowhere", "does not exist")
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli(capsys, "report", "--out", tmp_path / "afile", "--report-dir", tmp_path / "r")
    assert_one_line_error(code, err, "afile", "is not a folder")
    (tmp_path / "r" / "index.html").mkdir(parents=True)
    code, _, err = run_cli(capsys, "report", "--out", tmp_path / "results", "--report-dir", tmp_path / "r")
    assert_one_line_error(code, err, "index.html", "is not a file")
    code, _, err = run_cli(capsys, "report", "--out", tmp_path / "results", "--report-dir", tmp_path / "afile")
    assert_one_line_error(code, err, "afile")
    assert temp_leftovers(tmp_path) == []


def test_notebook_path_problems(capsys, tmp_path, monkeypatch):
    pytest.importorskip("nbformat")
    (tmp_path / "afile").write_text("x")
    code, _, err = run_cli(capsys, "notebook", "--path", tmp_path / "afile" / "sub" / "nb.ipynb")
    assert_one_line_error(code, err, "afile is a file")
    (tmp_path / "adir").mkdir()
    code, _, err = run_cli(capsys, "notebook", "--path", tmp_path / "adir")
    assert_one_line_error(code, err, "is a folder")
    # a read-only folder (simulated: the tests may run as root, who may write anywhere)
    import mnistlab.execution.atomic

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(mnistlab.execution.atomic.os, "replace", refuse)
    code, _, err = run_cli(capsys, "notebook", "--path", tmp_path / "ro" / "nb.ipynb")
    assert_one_line_error(code, err, "Permission denied", "nb.ipynb")
    assert temp_leftovers(tmp_path) == []


def test_a_failed_figure_or_text_write_leaves_no_temp_file(tmp_path):
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()

    def broken_savefig(f, **kw):
        f.write(b"\x89PNG half")
        raise RuntimeError("disk full")

    fig.savefig = broken_savefig
    with pytest.raises(RuntimeError):
        save_figure(fig, tmp_path / "plot.png")
    plt.close(fig)
    with pytest.raises(KeyboardInterrupt), atomic_file(tmp_path / "result.json") as f:
        f.write("{")
        raise KeyboardInterrupt
    atomic_write_text(tmp_path / "ok.txt", "fine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.txt"]


def test_stale_temp_files_are_recognised(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f"{TEMP_PREFIX}{dead_pid}-abc.png"
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-abc.tmp"  # a concurrent writer's: must stay
    old_legacy, young_legacy = tmp_path / "tmpab12cd34.tmp", tmp_path / "tmpzz99yy88.png"
    keep = tmp_path / "tmpnotes.txt"
    for p in (stale, live, old_legacy, young_legacy, keep):
        p.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(old_legacy, (an_hour_ago, an_hour_ago))
    removed = clean_stale_temps(tmp_path)
    assert sorted(removed) == sorted([stale, old_legacy])
    assert live.exists() and young_legacy.exists() and keep.exists()


# ------------------------------------------------------------------------------------------- real kills


def _start(out: Path, xdg: Path, models: str) -> subprocess.Popen:
    src = str(Path(mnistlab.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "XDG_CACHE_HOME": str(xdg), "MNISTLAB_THREADS": "1", "MNISTLAB_NO_DOWNLOAD": "1"}
    env.pop("MNISTLAB_DATA", None)
    argv = [sys.executable, "-m", "mnistlab", "run", "task3", "--out", str(out), "--no-progress",
            "--set", f"models={models}", "--set", "train_limit=300", "--set", "test_limit=100",
            "--set", "epochs=1"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, proc: subprocess.Popen, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def _published(out: Path) -> list[Path]:
    cache = out / "cache"
    return [p for p in cache.iterdir() if not p.name.startswith(".")] if cache.is_dir() else []


def _no_leftovers(out: Path) -> None:
    assert temp_leftovers(out) == []
    assert list(out.glob("cache/.partial-*")) == []  # scratch folders of unfinished sub-runs
    for path in out.rglob("result.json"):
        read_result(path)  # never half-written


@pytest.mark.slow
def test_kills_leave_nothing_behind_and_a_rerun_resumes(tmp_path):
    out, xdg = tmp_path / "results", tmp_path / "xdg"
    # 1. SIGTERM early (loading data or training the first network): a clean exit with one line
    proc = _start(out, xdg, "16,24")
    assert proc.stdout.readline().startswith("task3: running")
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode != 0:  # (a very fast machine may have finished)
        assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("mnistlab: terminated")
    _no_leftovers(out)
    # 2. SIGKILL while the task writes its files (the first figure or temporary file appears; by then
    #    its networks are published in the cache), leaving what kill -9 leaves
    proc = _start(out, xdg, "16,24")
    assert _wait_for(lambda: (out / "task3").is_dir() and any((out / "task3").iterdir()), proc)
    proc.kill()
    proc.wait(timeout=30)
    assert _published(out)
    # 3. the plain rerun finishes, reuses what was finished, and leaves nothing temporary
    proc = _start(out, xdg, "16,24")
    _stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err, err
    record = read_result(out / "task3" / "result.json")
    assert record["cache"]["hits"] >= 1  # networks published before the kill of step 2
    assert all((out / "task3" / f["file"]).is_file() for f in record["figures"])
    _no_leftovers(out)


# ------------------------------------------------------------------------ second round (issue 29)


class Blocked(BaseException):
    """Raised by `deadline`; a BaseException, so that no `except OSError` or `except Exception` swallows it."""


@contextlib.contextmanager
def deadline(seconds: int):
    """Fail, instead of hanging the suite, when the body blocks (a FIFO opened for reading, say)."""
    def expired(signum, frame):
        raise Blocked(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _report(capsys, out: Path, tmp_path: Path) -> tuple[int, str, str]:
    with deadline(20):
        code, _, err = run_cli(capsys, "report", "--out", out, "--report-dir", tmp_path / "report")
    page = (tmp_path / "report" / "index.html").read_text() if code == 0 else ""
    return code, err, page


@pytest.mark.parametrize("link", ["file", "folder"])
def test_report_never_embeds_what_a_link_in_the_results_points_at(capsys, tmp_path, link):
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "passwd").write_bytes(b"MARKER-secret-content-" * 20)
    out = tmp_path / "results"
    (out / "task5").mkdir(parents=True)
    if link == "file":
        (out / "task5" / "x.png").symlink_to(secret / "passwd")
        name = "x.png"
    else:
        (out / "task5" / "etc").symlink_to(secret)
        name = "etc/passwd"
    (out / "task5" / "inside.png").write_bytes(b"\x89PNG inside")  # a figure of its own: still shown
    figures = [{"file": name, "caption": "c"}, {"file": "inside.png", "caption": "d"}]
    (out / "task5" / "result.json").write_text(json.dumps({**_good_record("task5"), "figures": figures}))
    code, err, page = _report(capsys, out, tmp_path)
    assert code == 0 and "Traceback" not in err
    import base64

    assert base64.b64encode(b"MARKER-secret-content-" * 3).decode()[:40] not in page
    assert base64.b64encode(b"\x89PNG inside").decode() in page
    warnings = [line for line in err.splitlines() if line.startswith("mnistlab: warning: figure")]
    assert len(warnings) == 1 and "outside" in warnings[0], err
    assert f"Figure {name} is missing" in page


def test_fifo_result_does_not_hang_the_report_and_is_rerun(capsys, tmp_path):
    out = tmp_path / "results"
    (out / "task3").mkdir(parents=True)
    os.mkfifo(out / "task3" / "result.json")
    code, err, _page = _report(capsys, out, tmp_path)
    assert code == 0 and "Traceback" not in err
    assert "not a regular file" in err and "task3" in err
    calls: list = []
    (tmp_path / "toy").mkdir()
    os.mkfifo(tmp_path / "toy" / "result.json")
    with deadline(20):
        assert not mnistlab.execution.runner.is_up_to_date(tmp_path, _toy_task(calls), "k")
    assert "running toy again" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["fifo", "symlink"])
def test_notebook_never_replaces_a_fifo_or_a_link(capsys, tmp_path, target):
    pytest.importorskip("nbformat")
    path = tmp_path / "nb.ipynb"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    if target == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(victim)
    code, _, err = run_cli(capsys, "notebook", "--path", path)
    assert_one_line_error(code, err, str(path), "regular")
    assert (path.is_fifo() if target == "fifo" else path.is_symlink())
    assert victim.read_text() == "keep me"


def test_every_writer_refuses_a_link_and_names_the_real_path(tmp_path):
    import matplotlib.pyplot as plt

    from mnistlab.execution.logs import write_histories

    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (tmp_path / "plot.png").mkdir()  # a figure path that is a folder: the error names it, not the temp file
    fig, _ = plt.subplots()
    with pytest.raises(MnistlabError, match=r"plot\.png is a folder"):
        save_figure(fig, tmp_path / "plot.png")
    (tmp_path / "link.png").symlink_to(victim)
    with pytest.raises(MnistlabError, match=r"link\.png is a symbolic link"):
        save_figure(fig, tmp_path / "link.png")
    plt.close(fig)
    (tmp_path / "task" / "history").mkdir(parents=True)
    (tmp_path / "task" / "history" / "net.csv").symlink_to(victim)
    with pytest.raises(MnistlabError, match=r"net\.csv is a symbolic link"):
        write_histories(tmp_path / "task", {"net": [{"epoch": 1, "train_loss": 0.5}]})
    with pytest.raises(MnistlabError, match="symbolic link"):
        mnistlab.execution.store.write_json(tmp_path / "link.png", {})
    assert victim.read_text() == "keep me"
    assert temp_leftovers(tmp_path) == []


def test_result_json_that_is_a_link_is_refused_before_the_run(capsys, tmp_path):
    (tmp_path / "elsewhere.json").write_text("{}")
    (tmp_path / "data-overview").mkdir()
    (tmp_path / "data-overview" / "result.json").symlink_to(tmp_path / "elsewhere.json")
    code, _, err = run_cli(capsys, "run", "data-overview", "--out", tmp_path, "--set", "samples_per_class=1")
    assert_one_line_error(code, err, "result.json", "link")
    assert (tmp_path / "elsewhere.json").read_text() == "{}"


# Damaged values that parse: each a damaged result (report: a warning; run: a rerun), never shown.
VALUE_DAMAGES = {
    "seconds-nan": '{"task": "task3", "profile": "quick", "seed": 0, "seconds": NaN}',
    "seconds-infinity": '{"task": "task3", "profile": "quick", "seed": 0, "seconds": Infinity}',
    "seconds-1e308": json.dumps({**_good_record("task3"), "seconds": 1e308}),
    "metric-1e308": json.dumps({**_good_record("task3"), "metrics": {"acc": 1e308}}),
    "metric-10**300": json.dumps({**_good_record("task3"), "metrics": {"acc": 10**300}}),
    "metric-nan": json.dumps({**_good_record("task3"), "metrics": {"acc": float("nan")}}),
    "swapped": json.dumps(_good_record("task5")),  # Task 5's result copied over Task 3's
}


@pytest.mark.parametrize("how", list(VALUE_DAMAGES))
def test_damaged_values_are_never_shown(capsys, tmp_path, how):
    out = tmp_path / "results"
    (out / "task3").mkdir(parents=True)
    (out / "task3" / "result.json").write_text(VALUE_DAMAGES[how])
    code, err, page = _report(capsys, out, tmp_path)
    assert code == 0 and "Traceback" not in err, err
    warnings = [line for line in err.splitlines() if line.startswith("mnistlab: warning: ")]
    assert len(warnings) == 1 and "task3" in warnings[0], err
    section = page[page.index('<section id="task3">'):]
    assert "Warning" in section[: section.index("</section>")]
    # and a run does not take it for up to date
    calls: list = []
    toy = tmp_path / "toy"
    toy.mkdir()
    (toy / "result.json").write_text(VALUE_DAMAGES[how].replace('"task3"', '"toy"').replace('"task5"', '"other"'))
    assert not mnistlab.execution.runner.is_up_to_date(tmp_path, _toy_task(calls), "k")


def test_an_edited_result_is_found_by_its_digest(capsys, tmp_path):
    calls: list = []
    task = _toy_task(calls)
    kw = {"profile": "quick", "config": _ToyConfig(), "out": tmp_path, "device": torch.device("cpu"), "seed": 0,
          "log": lambda *_: None}
    run_task(task, **kw)
    path = result_path(tmp_path, "toy")
    record = json.loads(path.read_text())
    assert "digest" in record
    record["metrics"]["acc"] = 0.99  # plausible, finite: only the digest tells
    path.write_text(json.dumps(record))
    with pytest.raises(MnistlabError, match="digest"):
        read_result(path)
    run_task(task, **kw)
    assert len(calls) == 2 and "running toy again" in capsys.readouterr().err


# --------------------------------------------------------------------------------- damaged cache records


def _entry(tmp_path: Path):
    """A cache with one stored sub-run (record, arrays and checkpoint), without training anything."""
    from mnistlab.execution.cache import SubRunCache
    from mnistlab.execution.subrun import Outcome
    from mnistlab.models import parse_mlp
    from mnistlab.tasks.common import classifier_run
    from mnistlab.train import TrainConfig

    run = dataclasses.replace(classifier_run(parse_mlp("8"), TrainConfig(epochs=1), seed=0, train_limit=30,
                                             test_limit=20), keep_checkpoint=True, name="tiny MLP")
    lines: list[str] = []
    cache = SubRunCache(tmp_path / "results" / "cache", log=lines.append)
    outcome = Outcome(record={"params": 6370, "test_acc": 0.5, "history": [], "threads": [2]},
                      arrays={"test_pred": np.arange(20)}, state={"w": torch.zeros(3)})
    cache.store(run, outcome, task="task3")
    assert cache.has(run)
    return cache, run, cache.folder(run), lines


def _rewrite(folder: Path, edit, *, redigest: bool) -> None:
    """Edit record.json; with `redigest`, as a careful forger would, with every digest made to match."""
    from mnistlab.execution.atomic import file_digest
    from mnistlab.execution.store import with_digest

    stored = json.loads((folder / "record.json").read_text())
    stored = edit(stored)
    if redigest and isinstance(stored, dict):
        if isinstance(stored.get("files"), dict):
            stored["files"] = {name: file_digest(folder / name) if (folder / name).is_file() else digest
                               for name, digest in stored["files"].items()}
        stored = with_digest(stored)
    (folder / "record.json").write_text(stored if isinstance(stored, str) else json.dumps(stored))


def _pickled_model(folder: Path) -> None:
    import pickle

    (folder / "model.pt").write_bytes(pickle.dumps({"w": [1, 2, 3]}))


def _object_arrays(folder: Path) -> None:
    np.savez(folder / "arrays.npz", test_pred=np.array([{"a": 1}, None], dtype=object))


RECORD_DAMAGES = {
    "deep-nesting": lambda f: (f / "record.json").write_text("[" * 100_000 + "]" * 100_000),
    "a-json-list": lambda f: (f / "record.json").write_text("[1, 2]"),
    "nan": lambda f: (f / "record.json").write_text((f / "record.json").read_text().replace('"test_acc": 0.5',
                                                                                          '"test_acc": NaN')),
    "missing-params": lambda f: _rewrite(f, lambda s: (s["record"].pop("params"), s)[1], redigest=False),
    "test-acc-1e308": lambda f: _rewrite(f, lambda s: (s["record"].update(test_acc=1e308), s)[1], redigest=True),
    "no-digest": lambda f: _rewrite(f, lambda s: {k: v for k, v in s.items() if k != "digest"}, redigest=False),
    "files-empty-truncated-npz": lambda f: (
        _rewrite(f, lambda s: {**s, "files": {}}, redigest=True),
        (f / "arrays.npz").write_bytes((f / "arrays.npz").read_bytes()[:50])),
    "tasks-a-number": lambda f: _rewrite(f, lambda s: {**s, "tasks": 5}, redigest=True),
    "files-a-list": lambda f: _rewrite(f, lambda s: {**s, "files": ["model.pt"]}, redigest=True),
    "files-outside": lambda f: _rewrite(f, lambda s: {**s, "files": {"../x": "0" * 64}}, redigest=True),
    "object-arrays": lambda f: (_object_arrays(f), _rewrite(f, lambda s: s, redigest=True)),
    "pickled-model": lambda f: (_pickled_model(f), _rewrite(f, lambda s: s, redigest=True)),
    "record-a-fifo": lambda f: ((f / "record.json").unlink(), os.mkfifo(f / "record.json")),
    "model-a-fifo": lambda f: ((f / "model.pt").unlink(), os.mkfifo(f / "model.pt")),
    "entry-a-link": lambda f: (f.rename(f.parent / "real"), f.symlink_to(f.parent / "real")),
    "record-a-link-outside": lambda f: ((f / "record.json").rename(f.parent / "moved.json"),
                                        (f / "record.json").symlink_to(f.parent / "moved.json")),
}


FILE_DAMAGES = ("files-empty-truncated-npz", "object-arrays", "pickled-model", "model-a-fifo")


@pytest.mark.parametrize("how", list(RECORD_DAMAGES))
def test_damaged_record_is_one_line_and_retrained(tmp_path, how):
    cache, run, folder, lines = _entry(tmp_path)
    RECORD_DAMAGES[how](folder)
    with deadline(20):
        assert not cache.has(run)
    assert len(lines) == 1 and "removing it and computing it again" in lines[0] and run.label in lines[0], lines
    assert not folder.exists() and not folder.is_symlink()


@pytest.mark.parametrize("how", list(RECORD_DAMAGES))
@pytest.mark.parametrize("command", [["ls"], ["du"], ["prune"], ["prune", "--unused"], ["prune", "--checkpoints"]])
def test_cache_commands_survive_every_damaged_record(capsys, tmp_path, how, command):
    _cache, _run, folder, _lines = _entry(tmp_path)
    RECORD_DAMAGES[how](folder)
    (tmp_path / "results" / "task3").mkdir()
    (tmp_path / "results" / "task3" / "result.json").write_text(
        json.dumps({**_good_record("task3"), "sub_runs": [{"hash": folder.name}]}))
    with deadline(20):
        code, out, err = run_cli(capsys, "cache", *command, "--out", tmp_path / "results")
    assert code == 0 and "Traceback" not in err, err
    assert len(err.splitlines()) <= 1, err
    if command == ["ls"] and how not in FILE_DAMAGES:  # (ls reads records only: checking files is a run's work)
        assert "damaged" in out


def test_a_checkpoint_damaged_after_the_check_is_one_line(tmp_path):
    cache, run, folder, _ = _entry(tmp_path)
    trained = cache.load(run)
    _pickled_model(folder)
    with pytest.raises(MnistlabError, match="cannot be loaded"):
        trained.model(torch.device("cpu"))


def test_an_entry_damaged_between_check_and_load_is_one_line(tmp_path):
    cache, run, folder, _ = _entry(tmp_path)
    _object_arrays(folder)
    _rewrite(folder, lambda s: s, redigest=True)
    with pytest.raises(MnistlabError, match="damaged while in use"):
        cache.load(run)
    assert not folder.exists()


def test_a_network_retrained_with_another_thread_count_is_announced(tmp_path):
    from mnistlab.execution.subrun import Outcome

    cache, run, folder, lines = _entry(tmp_path)
    (folder / "arrays.npz").write_bytes(b"damaged")
    assert not cache.has(run)
    cache.store(run, Outcome(record={"params": 6370, "test_acc": 0.5, "history": [], "threads": [1]}), task="task3")
    notices = [line for line in lines if line.startswith("notice")]
    assert len(notices) == 1 and "1 thread(s)" in notices[0] and "with 2" in notices[0], lines


def test_execute_records_the_thread_count(tmp_path):
    from mnistlab.execution.subrun import Env, execute
    from mnistlab.models import parse_mlp
    from mnistlab.tasks.common import classifier_run
    from mnistlab.train import TrainConfig

    run = classifier_run(parse_mlp("8"), TrainConfig(epochs=1), seed=0, train_limit=100, test_limit=50)
    outcome = execute(run, Env(device=torch.device("cpu"), show_progress=False))
    assert outcome.record["threads"] and all(isinstance(t, int) and t >= 1 for t in outcome.record["threads"])


# -------------------------------------------------------------------------------------- point 10 and memory


def test_duplicate_strategies_are_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "task6", "--out", tmp_path, "--set", "strategies=pcgrad,pcgrad")
    assert_one_line_error(code, err, "strategies", "repeat")


@pytest.mark.parametrize("command", ["ls", "du", "prune"])
def test_cache_commands_on_a_missing_results_folder(capsys, tmp_path, command):
    code, _, err = run_cli(capsys, "cache", command, "--out", tmp_path / "nonexistent")
    assert_one_line_error(code, err, "nonexistent", "does not exist")


@pytest.mark.parametrize("kind", ["dangling", "looping"])
def test_out_that_is_a_broken_link(capsys, tmp_path, kind):
    out = tmp_path / "results"
    if kind == "dangling":
        out.symlink_to(tmp_path / "gone")
    else:
        out.symlink_to(tmp_path / "results")
    code, _, err = run_cli(capsys, "run", "task3", "--out", out, "--set", "models=16")
    line = assert_one_line_error(code, err, str(out), "symbolic link")
    assert "File exists" not in line
    assert ("loops" in line) == (kind == "looping")


def test_read_only_cache_is_found_before_training(capsys, tmp_path, monkeypatch):
    import mnistlab.execution.runner
    import mnistlab.execution.store

    real = mnistlab.execution.store.tempfile.NamedTemporaryFile

    def read_only(*args, dir=None, **kw):
        if dir is not None and Path(dir).name == "cache":  # (the tests may run as root: simulated)
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(mnistlab.execution.store.tempfile, "NamedTemporaryFile", read_only)
    monkeypatch.setattr(mnistlab.execution.runner, "execute_plan",
                        lambda *a, **k: pytest.fail("trained before the check"))
    code, _, err = run_cli(capsys, "run", "task3", "--out", tmp_path, "--set", "models=16")
    assert_one_line_error(code, err, str(tmp_path / "cache"), "Permission denied")


def test_a_run_that_cannot_fit_in_memory_is_refused_with_the_figure(capsys, tmp_path, monkeypatch):
    import mnistlab.execution.estimate
    import mnistlab.execution.runner

    monkeypatch.setattr(mnistlab.execution.estimate, "available_memory",
                        lambda: (2 * 2**30, "free memory (MemAvailable)"))
    trained = []
    monkeypatch.setattr(mnistlab.execution.executors.InlineExecutor, "run",
                        lambda self, runs, on_done: trained.append(runs))
    code, _, err = run_cli(capsys, "run", "task3", "--out", tmp_path, "--set", "models=12000-12000",
                           "--no-progress")
    line = assert_one_line_error(code, err, "MLP 12000-12000", "GiB", "2.0 GiB of free memory")
    assert "about 2.3 GiB" in line or "about 2.4 GiB" in line, line  # 154 M parameters at 16 bytes, and more
    assert trained == []


def test_an_allocation_failure_is_one_line(capsys, tmp_path, monkeypatch):
    import mnistlab.execution.runner

    def fail(*args, **kw):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:119] . DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 3600000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(mnistlab.execution.runner, "run_tasks", fail)
    code, _, err = run_cli(capsys, "run", "task3", "--out", tmp_path, "--set", "models=16")
    assert_one_line_error(code, err, "out of memory")


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler of its own for `signum` (Linux: the SigCgt mask of /proc/PID/status;
    elsewhere, True: the caller has waited half a second instead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        time.sleep(0.5)
        return True
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (signum - 1) & 1)


@pytest.mark.slow
def test_sigterm_in_the_first_second_is_one_line(tmp_path):
    proc = _start(tmp_path / "results", tmp_path / "xdg", "16")
    # The moment the lab's handler is in place, before it imports torch (a fixed sleep raced the interpreter's
    # own start on a loaded machine, whose default action then ended it without a word).
    assert _wait_for(lambda: _catches(proc.pid, signal.SIGTERM), proc, timeout=30), "no SIGTERM handler in 30 s"
    maps = Path(f"/proc/{proc.pid}/maps")
    assert not maps.exists() or "libtorch" not in maps.read_text()  # the handler comes before torch loads
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("mnistlab: terminated"), err
