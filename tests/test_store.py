import math
import os
import stat

import pytest

from mnistlab.execution.cache import SubRunCache
from mnistlab.execution.store import config_hash, read_json, to_jsonable, write_json


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


def test_an_interrupted_entry_leaves_nothing_and_resumes(tmp_path):
    """A cache entry is built in a scratch folder and renamed into place: Ctrl-C in the middle of one
    leaves no partial entry, and the next run computes it (tests/test_subruns.py covers the rest)."""
    cache = SubRunCache(tmp_path / "cache")

    def interrupted(folder):
        (folder / "half.npy").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.memo("tsne", {"m": 1}, interrupted)
    assert cache.entries() == [] and not list((tmp_path / "cache").glob(".partial-*"))
    assert cache.memo("tsne", {"m": 1}, lambda folder: {"done": True})[0] == {"done": True}
