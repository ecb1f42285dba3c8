import gzip
import shutil
import struct

import numpy as np
import pytest
import torch

from mnistlab.data import (
    FASHION_GROUP_OF_ITEM,
    fashion_groups,
    load,
    load_arrays,
    normalise_images,
    sources,
    verify_all,
)
from mnistlab.data.idx import parse_idx, read_idx
from mnistlab.errors import DataError


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def test_parse_idx_roundtrip_and_shape():
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(arr))
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def test_parse_idx_big_endian_int32():
    raw = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + struct.pack(">3i", 1, -2, 70000)
    np.testing.assert_array_equal(parse_idx(raw), [1, -2, 70000])


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x00\x08\x01", "magic"),
    (bytes([0, 0, 0x08, 2, 0, 0]), "truncated"),
    (bytes([0, 0, 0x08, 1]) + struct.pack(">I", 5) + b"abc", "declares shape"),
    (bytes([0, 0, 0x77, 1]) + struct.pack(">I", 1) + b"a", "data type"),
])
def test_parse_idx_rejects_bad_files(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "bad-file")


def test_read_idx_gz(tmp_path):
    arr = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    path = tmp_path / "x-idx2-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(path), arr)


def test_real_splits_have_published_shapes():
    for name in ("mnist", "fashion-mnist"):
        images, labels = load_arrays(name, "test")
        assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (10_000,) and set(np.unique(labels)) == set(range(10))


def test_load_views_and_normalisations():
    x, y = load("mnist", "train", normalise="pm1", view="flat", limit=300)
    assert x.shape == (300, 784) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.min() == -1.0 and x.max() == 1.0
    xi, _ = load("mnist", "train", normalise="unit", view="image", limit=300)
    assert xi.shape == (300, 1, 28, 28) and xi.min() == 0.0 and xi.max() == 1.0
    torch.testing.assert_close(xi.reshape(300, 784), (x + 1) / 2)
    with pytest.raises(DataError, match="normalisation"):
        normalise_images(np.zeros(3), "zscore")
    with pytest.raises(DataError, match="view"):
        load("mnist", "train", view="cube")
    with pytest.raises(DataError, match="split"):
        load("mnist", "validation")


def test_fashion_groups_follow_the_brief():
    brief = [0 if y in [5, 7, 9] else 1 if y in [3, 6, 8] else 2 for y in range(10)]
    assert FASHION_GROUP_OF_ITEM.tolist() == brief
    assert fashion_groups(np.array([5, 3, 0])).tolist() == [0, 1, 2]
    assert fashion_groups(torch.tensor([9, 8, 4])).tolist() == [0, 1, 2]


def _isolate(monkeypatch, tmp_path, repo=None):
    """Point every look-up place at empty folders under tmp_path (repo optionally at `repo`)."""
    monkeypatch.setattr(sources, "REPO_DATA_DIR", repo or tmp_path / "no-repo")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "DEBIAN_DIRS", {"fashion-mnist": tmp_path / "no-debian"})
    monkeypatch.delenv("MNISTLAB_DATA", raising=False)


def test_missing_data_lists_every_place_tried(monkeypatch, tmp_path):
    _isolate(monkeypatch, tmp_path)
    with pytest.raises(DataError) as err:
        sources.locate("fashion-mnist", "train", "images")
    message = str(err.value)
    for place in ("repository data/", "user cache", "Debian", "--data-dir"):
        assert place in message


def test_lookup_order(monkeypatch, tmp_path):
    repo_copy = tmp_path / "repo"
    shutil.copytree(sources.REPO_DATA_DIR / "mnist", repo_copy / "mnist")
    _isolate(monkeypatch, tmp_path, repo=repo_copy)
    assert sources.locate("mnist", "test", "labels").parent == repo_copy / "mnist"
    # the user cache comes after the repository's data/
    (tmp_path / "cache" / "mnistlab" / "data" / "mnist").mkdir(parents=True)
    shutil.copy(repo_copy / "mnist" / "t10k-labels-idx1-ubyte.gz", tmp_path / "cache" / "mnistlab" / "data" / "mnist")
    assert sources.locate("mnist", "test", "labels").parent == repo_copy / "mnist"
    # an explicit folder (environment variable, then --data-dir) comes first
    env_dir = tmp_path / "env"
    shutil.copytree(repo_copy / "mnist", env_dir / "mnist")
    monkeypatch.setenv("MNISTLAB_DATA", str(env_dir))
    assert sources.locate("mnist", "test", "labels").parent == env_dir / "mnist"
    explicit = tmp_path / "explicit"
    shutil.copytree(repo_copy / "mnist", explicit / "mnist")
    assert sources.locate("mnist", "test", "labels", data_dir=explicit).parent == explicit / "mnist"
    # uncompressed files are found too
    shutil.rmtree(explicit / "mnist")
    (explicit / "mnist").mkdir()
    raw = gzip.decompress((repo_copy / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (explicit / "mnist" / "t10k-labels-idx1-ubyte").write_bytes(raw)
    found = sources.locate("mnist", "test", "labels", data_dir=explicit)
    assert found.name == "t10k-labels-idx1-ubyte"
    assert sources.verify(found, "mnist", "t10k-labels-idx1-ubyte") == sources.SHA256["mnist"]["t10k-labels-idx1-ubyte"]


def test_corrupt_file_names_file_and_both_digests(monkeypatch, tmp_path):
    original = sources.REPO_DATA_DIR / "mnist" / "t10k-labels-idx1-ubyte.gz"
    _isolate(monkeypatch, tmp_path)
    folder = tmp_path / "bad" / "mnist"
    folder.mkdir(parents=True)
    raw = bytearray(gzip.decompress(original.read_bytes()))
    raw[100] ^= 0xFF
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    path = sources.locate("mnist", "test", "labels", data_dir=tmp_path / "bad")
    with pytest.raises(DataError) as err:
        sources.verify(path, "mnist", "t10k-labels-idx1-ubyte")
    message = str(err.value)
    assert str(path) in message and sources.SHA256["mnist"]["t10k-labels-idx1-ubyte"] in message
    assert "got " in message and "corrupt" in message


def test_truncated_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:200])
    with pytest.raises(DataError, match="cannot read"):
        read_idx(path)


def test_decoded_arrays_are_cached_as_npy(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from mnistlab.data import _load_cached

    _load_cached.cache_clear()
    load_arrays("mnist", "test")
    folder = next((tmp_path / "mnistlab" / "arrays").glob("mnist-test-*"))
    assert (folder / "images.npy").is_file() and (folder / "source.json").is_file()
    _load_cached.cache_clear()
    calls = []
    monkeypatch.setattr(sources, "sha256_of", lambda p: calls.append(p))  # must not be needed now
    images, _ = load_arrays("mnist", "test")
    assert images.shape == (10_000, 28, 28) and calls == []
    _load_cached.cache_clear()


def test_verify_all_checks_eight_files():
    report = verify_all()
    assert len(report) == 8
    assert all(digest == sources.SHA256[name][path.name.removesuffix(".gz")] for name, path, digest in report)
