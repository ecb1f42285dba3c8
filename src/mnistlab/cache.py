"""The sub-run cache: OUT/cache/<hash>/ holds one finished sub-run (or one memoised result).

An entry is a folder with `record.json` (the key, the record, and a SHA-256 of every other file) and
optionally `arrays.npz` and `model.pt`. It is built in a scratch folder and renamed into place, so a
killed run never leaves half an entry; a per-key file lock means two processes (two `mnistlab run`s
into one results folder, or executor workers) never train or write the same entry at once. An entry
that fails its checks (unreadable JSON, a key that does not match, a file that is missing or whose
digest differs: truncated, zeroed or copied from another entry) is reported in one line, removed and
computed again.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout

from mnistlab.atomic import current_umask, file_digest, pid_alive
from mnistlab.fingerprint import fingerprint_of
from mnistlab.store import read_json, write_json
from mnistlab.subrun import Outcome, SubRun, Trained, canonical, key_hash

RECORD = "record.json"
ARRAYS = "arrays.npz"
MODEL = "model.pt"
PARTIAL = ".partial-"


@dataclass
class EntryInfo:
    """One cache entry, as `mnistlab cache ls` shows it."""

    hash: str
    kind: str
    name: str
    bytes: int
    modified: float
    has_model: bool
    tasks: list[str]


class SubRunCache:
    """Finished sub-runs and memoised results under `root` (OUT/cache), shared by all tasks."""

    def __init__(self, root: Path, log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self._log = log or (lambda line: print(f"mnistlab: {line}", file=sys.stderr, flush=True))

    # ------------------------------------------------------------------ layout and locking
    def folder(self, key_or_run: Any) -> Path:
        return self.root / (key_or_run.hash if isinstance(key_or_run, SubRun) else key_hash(key_or_run))

    def _prepare(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            from mnistlab.errors import MnistlabError

            raise MnistlabError(f"the cache folder {self.root} is a file; move it away or choose another --out")
        (self.root / ".locks").mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self, digest: str, timeout: float = -1) -> Iterator[None]:
        """Hold the lock of one entry (blocking unless `timeout` >= 0; raises filelock.Timeout)."""
        self._prepare()
        with FileLock(self.root / ".locks" / f"{digest}.lock", timeout=timeout):
            yield

    def try_lock(self, digest: str) -> FileLock | None:
        """The entry's lock, acquired, or None when another process holds it."""
        self._prepare()
        lock = FileLock(self.root / ".locks" / f"{digest}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    def clean_partials(self) -> int:
        """Remove scratch folders left by killed runs (their process is gone); returns how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for path in self.root.glob(f"{PARTIAL}*"):
            parts = path.name[len(PARTIAL):].split("-")
            pid = int(parts[0]) if parts and parts[0].isdigit() else None
            if pid is None or not pid_alive(pid) or pid == os.getpid():
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
        return removed

    # ------------------------------------------------------------------ checking entries
    def _check(self, folder: Path, key: Any, need_model: bool = False) -> str | None:
        """None if the entry at `folder` is whole and belongs to `key`; else what is wrong with it."""
        if not folder.exists():
            return "missing"
        if not folder.is_dir():
            return "is a file, not an entry folder"
        try:
            stored = read_json(folder / RECORD)
        except FileNotFoundError:
            return f"has no {RECORD}"
        except (OSError, ValueError) as exc:
            return f"has an unreadable {RECORD} ({exc.__class__.__name__})"
        if not isinstance(stored, dict) or not isinstance(stored.get("record"), dict):
            return f"has a {RECORD} of the wrong shape"
        if canonical(stored.get("key")) != canonical(key):
            return "belongs to another key"
        files = stored.get("files", {})
        if not isinstance(files, dict):
            return f"has a {RECORD} of the wrong shape"
        for name, digest in files.items():
            path = folder / name
            if not path.is_file():
                return f"lacks {name}"
            if file_digest(path) != digest:
                return f"has a damaged {name} (its SHA-256 differs from the one recorded)"
        if need_model and MODEL not in files:
            return "keeps no checkpoint"
        return None

    def _usable(self, folder: Path, key: Any, label: str, need_model: bool = False) -> bool:
        problem = self._check(folder, key, need_model)
        if problem is None:
            return True
        if problem == "missing":
            return False
        if problem == "keeps no checkpoint":
            self._log(f"cache: {label} was cached without its checkpoint, which this task needs; training it again")
        else:
            self._log(f"cache: entry {folder.name} ({label}) {problem}; removing it and computing it again")
        self._remove(folder)
        return False

    def _remove(self, folder: Path) -> None:
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.exists():
            folder.unlink()

    def has(self, run: SubRun) -> bool:
        """True when `run` finished before and its entry is whole (a damaged one is removed)."""
        return self._usable(self.folder(run), run.key(), run.label, need_model=run.keep_checkpoint)

    # ------------------------------------------------------------------ writing
    def _publish(self, digest: str, key: Any, write: Callable[[Path], dict[str, Any]],
                 meta: dict[str, Any]) -> None:
        """Build an entry in a scratch folder with `write(folder) -> record`, then rename it into place."""
        self._prepare()
        scratch = Path(tempfile.mkdtemp(dir=self.root, prefix=f"{PARTIAL}{os.getpid()}-"))
        os.chmod(scratch, 0o777 & ~current_umask())  # mkdtemp's 0700 would hide a shared cache from its group
        try:
            record = write(scratch)
            files = {p.name: file_digest(p) for p in sorted(scratch.iterdir()) if p.is_file()}
            write_json(scratch / RECORD, {"key": canonical(key), "record": record, "files": files,
                                          "created": time.time(), **meta})
            final = self.root / digest
            self._remove(final)
            os.replace(scratch, final)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)

    def store(self, run: SubRun, outcome: Outcome, task: str = "") -> None:
        """Write a finished sub-run (called by the driver, never by a remote worker)."""
        def write(folder: Path) -> dict[str, Any]:
            if outcome.arrays:
                np.savez(folder / ARRAYS, **outcome.arrays)
            if outcome.state is not None:
                buffer = io.BytesIO()
                torch.save(outcome.state, buffer)
                (folder / MODEL).write_bytes(buffer.getvalue())
            return outcome.record

        self._publish(run.hash, run.key(), write,
                      {"kind": run.kind, "name": run.label, "tasks": [task], "cost": run.cost})

    def load(self, run: SubRun) -> Trained:
        folder = self.folder(run)
        stored = read_json(folder / RECORD)
        arrays: dict[str, np.ndarray] = {}
        if (folder / ARRAYS).is_file():
            with np.load(folder / ARRAYS) as data:
                arrays = {k: data[k] for k in data.files}
        checkpoint = folder / MODEL if (folder / MODEL).is_file() else None
        return Trained(run=run, record=stored["record"], arrays=arrays, checkpoint=checkpoint)

    # ------------------------------------------------------------------ results that are not networks
    def memo(self, kind: str, params: Any, compute: Callable[[Path], dict[str, Any]],
             label: str = "", task: str = "") -> tuple[dict[str, Any], Path]:
        """A cached result that is not a network (t-SNE, pair classifiers, ...): `compute(folder)` writes
        its files into `folder` and returns a JSON-able record. Returns (record, entry folder). The key
        holds the fingerprint of `compute`'s code (the function that defines it and all it reaches)."""
        key = {"memo": kind, "code": fingerprint_of(compute), "params": canonical(params)}
        digest = key_hash(key)
        folder = self.root / digest
        label = label or kind
        with self.lock(digest):
            if self._usable(folder, key, label):
                self.hits += 1
            else:
                self.misses += 1
                self._publish(digest, key, compute, {"kind": kind, "name": label, "tasks": [task]})
            return read_json(folder / RECORD)["record"], folder

    # ------------------------------------------------------------------ inspection (mnistlab cache ...)
    def entries(self) -> list[EntryInfo]:
        out = []
        if not self.root.is_dir():
            return out
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                stored = read_json(folder / RECORD)
                kind, name, tasks = stored.get("kind", "?"), stored.get("name", ""), stored.get("tasks", [])
            except (OSError, ValueError, AttributeError):
                kind, name, tasks = "damaged", "", []
            size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            out.append(EntryInfo(hash=folder.name, kind=str(kind), name=str(name), bytes=size,
                                 modified=folder.stat().st_mtime, has_model=(folder / MODEL).is_file(),
                                 tasks=[str(t) for t in tasks if t]))
        return out

    def prune(self, *, keep: set[str] | None = None, checkpoints_only: bool = False) -> tuple[int, int]:
        """Remove entries not in `keep` (or, with checkpoints_only, just their model.pt files; an entry
        whose checkpoint is removed stays usable by tasks that do not reload it). Returns (count, bytes)."""
        count = freed = 0
        for entry in self.entries():
            if keep is not None and entry.hash in keep:
                continue
            folder = self.root / entry.hash
            with self.lock(entry.hash):
                if checkpoints_only:
                    if not entry.has_model:
                        continue
                    freed += (folder / MODEL).stat().st_size
                    stored = read_json(folder / RECORD)
                    stored.get("files", {}).pop(MODEL, None)
                    write_json(folder / RECORD, stored)
                    (folder / MODEL).unlink()
                else:
                    freed += entry.bytes
                    self._remove(folder)
                count += 1
        return count, freed
