import math
import os
import stat

import pytest

from mnistlab.store import SubRunCache, config_hash, read_json, to_jsonable, write_json


def test_write_json_is_atomic_and_readable(tmp_path):
    path = tmp_path / "a" / "result.json"
    write_json(path, {"x": 1.5, "nan": math.nan, "t": (1, 2)})
    assert read_json(path) == {"x": 1.5, "nan": None, "t": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]  # no temporary file left behind
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # readable by others, like any file the user writes


class _RaisesOnJson:
    def __str__(self):
        raise ValueError("cannot serialise")


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    write_json(path, {"v": 1})
    with pytest.raises(ValueError):
        write_json(path, {"v": _RaisesOnJson()})
    assert read_json(path) == {"v": 1}
    assert len(os.listdir(tmp_path)) == 1


def test_config_hash_is_stable_and_order_free():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert len(config_hash({})) == 16


def test_to_jsonable_handles_numpy_and_torch():
    import numpy as np
    import torch

    assert to_jsonable({"a": np.float32(0.5), "b": torch.tensor(3), "c": np.arange(3)}) == {
        "a": 0.5, "b": 3, "c": [0, 1, 2]}


def test_subrun_cache_hit_skips_work(tmp_path):
    cache = SubRunCache(tmp_path / "cache")
    calls = []

    def compute(folder):
        calls.append(folder)
        (folder / "model.pt").write_text("weights")
        return {"acc": 0.9}

    assert cache.get_or_run({"model": "a"}, compute) == {"acc": 0.9}
    assert cache.get_or_run({"model": "a"}, compute) == {"acc": 0.9}
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    assert (cache.folder({"model": "a"}) / "model.pt").read_text() == "weights"
    cache.get_or_run({"model": "b"}, compute)
    assert len(calls) == 2


def test_interrupted_subrun_leaves_nothing_and_resumes(tmp_path):
    cache = SubRunCache(tmp_path / "cache")

    def interrupted(folder):
        (folder / "half.pt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.get_or_run({"m": 1}, interrupted)
    assert cache.lookup({"m": 1}) is None
    assert list((tmp_path / "cache").iterdir()) == []  # the partial folder was removed
    assert cache.get_or_run({"m": 1}, lambda folder: {"done": True}) == {"done": True}


def test_damaged_record_is_recomputed(tmp_path):
    cache = SubRunCache(tmp_path / "cache")
    cache.get_or_run({"m": 1}, lambda folder: {"v": 1})
    (cache.folder({"m": 1}) / "record.json").write_text("{not json")
    assert cache.get_or_run({"m": 1}, lambda folder: {"v": 2}) == {"v": 2}
