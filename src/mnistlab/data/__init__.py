"""MNIST and Fashion-MNIST: verified IDX files, decoded once, served as arrays or tensors.

    >>> from mnistlab.data import load
    >>> x, y = load("mnist", "train", normalise="pm1", view="flat")   # (60000, 784), labels (60000,)

The first load of a split reads and verifies the IDX files (SHA-256 of the
decompressed content) and caches the decoded arrays as .npy in the user cache;
later loads read the .npy (well under a second).
"""

from __future__ import annotations

import hashlib
import json
import struct
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mnistlab.data.idx import parse_idx, read_bytes
from mnistlab.data.sources import DATASETS, SHA256, SPLITS, cache_root, locate, stem, verify
from mnistlab.errors import DataError
from mnistlab.execution.atomic import atomic_file, clean_stale_temps

Normalise = Literal["pm1", "unit", "none"]
View = Literal["image", "flat"]

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CLASS_NAMES = {"mnist": MNIST_CLASSES, "fashion-mnist": FASHION_CLASSES}

# The brief's Task 6 mapping: shoes {5,7,9} -> 0, gendered {3,6,8} -> 1, unisex {0,1,2,4} -> 2.
FASHION_GROUP_NAMES = ("shoes", "gendered", "unisex")
FASHION_GROUP_OF_ITEM = np.array([2, 2, 2, 1, 2, 0, 1, 0, 1, 0], dtype=np.int64)

__all__ = [
    "CLASS_NAMES", "DATASETS", "FASHION_GROUP_NAMES", "FASHION_GROUP_OF_ITEM", "SPLITS", "check_array_caches",
    "fashion_groups", "load", "load_arrays", "normalise_images", "permute_pixels", "pixel_permutation",
    "pm1_flat", "verify_all",
]


def fashion_groups(items: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Map Fashion-MNIST item labels (0-9) to the brief's three groups (0 shoes, 1 gendered, 2 unisex)."""
    if isinstance(items, torch.Tensor):
        return torch.as_tensor(FASHION_GROUP_OF_ITEM, device=items.device)[items.long()]
    return FASHION_GROUP_OF_ITEM[np.asarray(items, dtype=np.int64)]


def _check(name: str, split: str) -> None:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _array_cache(name: str, split: str) -> Path:
    """Keyed by the digests of both source files: only sources with exactly these contents fill it."""
    digests = SHA256[name]
    return (cache_root() / "arrays"
            / f"{name}-{split}-{digests[stem(split, 'images')][:12]}-{digests[stem(split, 'labels')][:12]}")


_KNOWN_SOURCES = 8


def _source_stamp(paths: list[Path]) -> list[list]:
    """What identifies the verified source files. The ctime and inode change with any rewrite of a
    file, even one that keeps its size and restores its mtime, so such an edit is checked afresh."""
    stamp = []
    for p in paths:
        st = p.stat()
        stamp.append([str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    return stamp


def _idx_digest(array: np.ndarray) -> str:
    """The SHA-256 of the IDX file that `array` decodes from (uint8 data): the published digest when
    the array is intact. Checking it costs a hash of the array, not a decompression."""
    header = bytes((0, 0, 0x08, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    digest = hashlib.sha256(header)
    digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return digest.hexdigest()


def _arrays_intact(name: str, split: str, images: np.ndarray, labels: np.ndarray) -> bool:
    return (images.dtype == np.uint8 and labels.dtype == np.uint8 and images.ndim == 3 and labels.ndim == 1
            and _idx_digest(images) == SHA256[name][stem(split, "images")]
            and _idx_digest(labels) == SHA256[name][stem(split, "labels")])


def _read_array_cache(folder: Path) -> tuple[np.ndarray, np.ndarray, object] | None:
    try:
        stamp = json.loads((folder / "source.json").read_text())
        images = np.load(folder / "images.npy", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # no cache yet, or a damaged one: decode the IDX files again
    return images, labels, stamp


def _decode_verified(path: Path, name: str, split: str, kind: str) -> np.ndarray:
    try:
        raw = read_bytes(path)
    except DataError:
        verify(path, name, stem(split, kind))  # the same failure, told with the digests to compare
        raise
    expected = SHA256[name][stem(split, kind)]
    if hashlib.sha256(raw).hexdigest() != expected:
        verify(path, name, stem(split, kind))  # raises the usual message naming both digests
    return parse_idx(raw, str(path))


@lru_cache(maxsize=8)
def _load_cached(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    paths = [locate(name, split, kind, data_dir) for kind in ("images", "labels")]
    folder = _array_cache(name, split)
    stamp = _source_stamp(paths)
    cached = _read_array_cache(folder)
    if cached is not None:
        images, labels, stored_stamp = cached
        if _arrays_intact(name, split, images, labels):
            known = stored_stamp if isinstance(stored_stamp, list) else []
            if stamp not in known:  # new or rewritten source files: they must match too
                for path, kind in zip(paths, ("images", "labels"), strict=True):
                    verify(path, name, stem(split, kind))
                # a few places at once (worktrees, --data-dir copies) without re-verifying in turn
                _write_array_cache(folder, None, None, [stamp, *known][:_KNOWN_SOURCES])
            return images, labels
        print(f"mnistlab: note: the decoded-array cache {folder} does not match the published digests; "
              f"decoding {name} {split} again", file=sys.stderr)
    images, labels = (_decode_verified(p, name, split, kind) for p, kind in zip(paths, ("images", "labels"),
                                                                                    strict=True))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise DataError(f"{paths[0]}: unexpected shapes images {images.shape}, labels {labels.shape}")
    _write_array_cache(folder, images, labels, [stamp])
    return images, labels


def _write_array_cache(folder: Path, images: np.ndarray | None, labels: np.ndarray | None, stamp: list) -> None:
    """Best effort: a read-only home only costs the decode next time. Arrays given as None are kept."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(folder)
        for fname, arr in (("images.npy", images), ("labels.npy", labels)):
            if arr is not None:
                with atomic_file(folder / fname, "wb", fsync=False) as tmp:
                    np.save(tmp, arr)
        with atomic_file(folder / "source.json", "w", fsync=False) as tmp:
            json.dump(stamp, tmp)
    except OSError:
        pass


def load_arrays(name: str, split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw uint8 images (n, 28, 28) and int64 labels (n,) of a verified split. Read-only arrays."""
    _check(name, split)
    images, labels = _load_cached(name, split, None if data_dir is None else str(data_dir))
    images.flags.writeable = False
    return images, labels.astype(np.int64)


def normalise_images(images: np.ndarray | torch.Tensor, normalise: Normalise):
    """'pm1': x/127.5 - 1 (the brief's Tasks 1-2); 'unit': x/255 (Tasks 3-6); 'none': raw 0..255 floats."""
    if normalise == "pm1":
        return images / 127.5 - 1.0
    if normalise == "unit":
        return images / 255.0
    if normalise == "none":
        return images * 1.0
    raise DataError(f"unknown normalisation {normalise!r}; choose pm1, unit or none")


def pm1_flat(images: np.ndarray) -> np.ndarray:
    """The brief's input of Tasks 1-2: images (n, 28, 28) as x/127.5 - 1, flat (n, 784) float32."""
    return normalise_images(images.reshape(len(images), 784).astype(np.float32), "pm1")


def load(
    name: str,
    split: str,
    *,
    normalise: Normalise = "unit",
    view: View = "image",
    limit: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    data_dir: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float tensors, (n, 1, 28, 28) for view='image' or (n, 784) for 'flat', and int64 labels.

    `limit` keeps the first n examples (the files' order is already shuffled).
    """
    if view not in ("image", "flat"):
        raise DataError(f"unknown view {view!r}; choose image or flat")
    images, labels = load_arrays(name, split, data_dir)
    if limit is not None:
        if limit < 1:
            raise DataError(f"limit must be positive, got {limit}")
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(np.array(images)).to(device=device)  # a writable copy
    x = normalise_images(x.to(dtype), normalise)
    x = x.reshape(len(x), 784) if view == "flat" else x.reshape(len(x), 1, 28, 28)
    return x.contiguous(), torch.from_numpy(labels).to(device)


def pixel_permutation(seed: int, pixels: int = 784) -> torch.Tensor:
    """One fixed permutation of the pixel positions, the same for a given seed on every machine."""
    return torch.randperm(pixels, generator=torch.Generator().manual_seed(seed))


def permute_pixels(x: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
    """Shuffle the pixel positions of every image by `permutation`; flat (n, 784) or image (n, 1, 28, 28)."""
    flat = x.reshape(len(x), -1)
    if flat.shape[1] != len(permutation):
        raise DataError(f"a permutation of {len(permutation)} pixels cannot shuffle images of {flat.shape[1]}")
    return flat[:, permutation.to(x.device)].reshape(x.shape).contiguous()


def verify_all(data_dir: str | Path | None = None) -> list[tuple[str, Path, str]]:
    """Verify every file of every dataset: a list of (dataset, path, digest); raises on the first bad one."""
    report = []
    for name in DATASETS:
        for split in SPLITS:
            for kind in ("images", "labels"):
                path = locate(name, split, kind, data_dir)
                report.append((name, path, verify(path, name, stem(split, kind))))
    return report


def check_array_caches() -> list[tuple[str, str, Path, str]]:
    """Check every decoded-array cache against the published digests: (dataset, split, folder, state),
    state 'ok', 'absent', or 'damaged, removed' (the next load decodes the IDX files again)."""
    import shutil

    report = []
    for name in DATASETS:
        for split in SPLITS:
            folder = _array_cache(name, split)
            if not folder.exists():
                report.append((name, split, folder, "absent"))
                continue
            cached = _read_array_cache(folder)
            if cached is not None and _arrays_intact(name, split, cached[0], cached[1]):
                report.append((name, split, folder, "ok"))
                continue
            shutil.rmtree(folder, ignore_errors=True)
            _load_cached.cache_clear()
            report.append((name, split, folder, "damaged, removed"))
    return report
