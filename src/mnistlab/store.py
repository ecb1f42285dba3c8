"""Results on disk: OUT/<task>/result.json and a cache of finished sub-runs.

Everything is written atomically (a temporary file in the same folder, then
`os.replace`), so an interrupted run never leaves a half-written file, and a
rerun finds exactly the sub-runs that had finished.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError

# Bump when a change to the code makes old cached sub-runs wrong.
CACHE_VERSION = 1


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, paths and NumPy/torch scalars as plain JSON values (NaN/inf as null)."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "tolist"):  # NumPy or torch arrays and scalars
        return to_jsonable(value.tolist())
    return str(value)


def config_hash(config: Any) -> str:
    """A short, stable hash of a JSON-able description (key order does not matter)."""
    text = json.dumps({"v": CACHE_VERSION, "c": to_jsonable(config)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(tmp_name: str, path: Path) -> None:
    """Give a finished temporary file the usual permissions and rename it into place."""
    os.chmod(tmp_name, 0o666 & ~_umask())
    os.replace(tmp_name, path)


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    publish(f.name, path)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def check_writable(folder: Path) -> None:
    """Fail early, with one line, if results cannot be written to `folder`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise MnistlabError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None


class SubRunCache:
    """Finished sub-runs (one model of a sweep, say), stored under OUT/cache/<hash>/.

    `get_or_run(key, compute)` returns the stored record when a sub-run with the
    same key finished before; otherwise it calls `compute(folder)` with an empty
    scratch folder (for checkpoints and the like), and publishes folder and
    record together by renaming the folder into place. The cache is shared by
    all tasks, so a model that two tasks both need (CNN-1 for Tasks 4 and 5) is
    trained once.
    """

    def __init__(self, root: Path):
        self.root = root
        self.hits = 0
        self.misses = 0

    def folder(self, key: Any) -> Path:
        return self.root / config_hash(key)

    def lookup(self, key: Any) -> dict | None:
        record = self.folder(key) / "record.json"
        if record.is_file():
            try:
                return read_json(record)["record"]
            except (ValueError, KeyError):
                return None
        return None

    def get_or_run(self, key: Any, compute: Callable[[Path], dict]) -> dict:
        found = self.lookup(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=".partial-"))
        try:
            record = compute(scratch)
            write_json(scratch / "record.json", {"key": key, "record": record})
            final = self.folder(key)
            if final.exists():  # a stale or damaged entry: replace it
                shutil.rmtree(final)
            os.replace(scratch, final)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        return to_jsonable(record)
