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
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from filelock import FileLock, Timeout

from mnistlab.execution.atomic import current_umask, file_digest, pid_alive
from mnistlab.execution.fingerprint import fingerprint_of
from mnistlab.execution.store import DIGEST, absurd_number, content_digest, read_json, with_digest, write_json
from mnistlab.execution.subrun import Outcome, SubRun, Trained, canonical, key_hash

RECORD = "record.json"
ARRAYS = "arrays.npz"
MODEL = "model.pt"
PARTIAL = ".partial-"
_HEX64 = frozenset("0123456789abcdef")


class DamagedEntry(ValueError):
    """A cache entry whose record.json or files fail their checks (the message says how)."""


def stored_problem(stored: Any) -> str | None:
    """What is wrong with the parsed record.json of an entry, or None: its shape, its own digest (every
    record is written with one, so an edited number is found), its file list, and its numbers (finite,
    not absurd)."""
    if not isinstance(stored, dict) or not isinstance(stored.get("record"), dict):
        return f"has a {RECORD} of the wrong shape"
    if stored.get(DIGEST) != content_digest(stored):
        return (f"has a {RECORD} without a digest of its content (written before mnistlab kept one, or edited)"
                if DIGEST not in stored else
                f"has a {RECORD} whose content differs from its digest (edited or damaged)")
    files = stored.get("files", {})
    if not (isinstance(files, dict) and all(
            isinstance(name, str) and _plain_name(name) and isinstance(digest, str) and len(digest) == 64
            and set(digest) <= _HEX64 for name, digest in files.items())):
        return f"has a {RECORD} whose file list is of the wrong shape"
    tasks = stored.get("tasks", [])
    if not (isinstance(tasks, list) and all(isinstance(t, str) for t in tasks)):
        return f"has a {RECORD} whose task list is of the wrong shape"
    for name in ("kind", "name"):
        if not isinstance(stored.get(name, ""), str):
            return f"has a {RECORD} whose {name} is not a string"
    absurd = absurd_number(stored)
    if absurd is not None:
        return f"has a {RECORD} where {absurd}"
    return None


def _plain_name(name: str) -> bool:
    """A file name of an entry: no folder part, not hidden, not the record itself."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".") and name != RECORD


def read_stored(folder: Path) -> dict[str, Any]:
    """The checked record.json of the entry at `folder` (a regular file inside it, of the right shape,
    matching its digest); DamagedEntry (or OSError) otherwise. Never anything else: any error a crafted
    file provokes in the JSON decoder is a damaged entry too."""
    try:
        stored = read_json(folder / RECORD, within=folder)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DamagedEntry(f"has an unreadable {RECORD} ({exc})") from None
    except Exception as exc:  # bad JSON, not UTF-8, nested past the recursion limit, NaN ...
        raise DamagedEntry(f"has an unreadable {RECORD} ({exc.__class__.__name__})") from None
    try:
        problem = stored_problem(stored)
    except Exception as exc:
        problem = f"has a {RECORD} the checks cannot read ({exc.__class__.__name__})"
    if problem is not None:
        raise DamagedEntry(problem)
    return stored


def thread_notice(label: str, before: Any, now: Any) -> str:
    """The one-line notice that a network was retrained with other thread counts than the one it replaces."""
    def counts(value: Any) -> str:
        return "/".join(map(str, value)) if isinstance(value, list) else str(value)

    return (f"notice: {label} was trained again with {counts(now)} thread(s), the network it replaces with "
            f"{counts(before)}: its numbers may differ in the last digits (fix $MNISTLAB_THREADS for "
            "bit-identical reruns)")


def _threads_of(folder: Path) -> Any:
    """The thread counts recorded in an entry about to be removed (even a damaged one), or None."""
    try:
        threads = read_json(folder / RECORD, within=folder)["record"]["threads"]
    except Exception:
        return None
    return threads if isinstance(threads, list) and all(isinstance(t, int) for t in threads) else None


def _check_arrays(path: Path) -> None:
    """Every array of an entry's .npz or .npy file readable, without pickles (object arrays are refused)."""
    if path.suffix == ".npy":
        np.load(path, allow_pickle=False, mmap_mode="r")
        return
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            data[name]


def _check_checkpoint(path: Path) -> None:
    """A checkpoint that `torch.load(weights_only=True)` accepts; memory-mapped, so no weights are read."""
    with warnings.catch_warnings():  # torch's word on a foreign pickle protocol: the refusal says enough
        warnings.simplefilter("ignore")
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)


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
    # The checked record.json (None for a damaged entry), so that readers of every entry read each once.
    stored: dict[str, Any] | None = field(default=None, repr=False, compare=False)


class SubRunCache:
    """Finished sub-runs and memoised results under `root` (OUT/cache), shared by all tasks."""

    def __init__(self, root: Path, log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0
        self._replaced_threads: dict[str, Any] = {}  # entry hash -> thread counts of the entry removed
        self.thread_noticed: set[str] = set()  # entries whose new thread counts were already announced
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
        if not folder.exists() and not folder.is_symlink():
            return "missing"
        if folder.is_symlink() or not folder.is_dir():
            return "is not an entry folder (a file or a link)"
        try:
            return self._entry_problem(folder, key, need_model)
        except Exception as exc:  # whatever a crafted entry provokes: a damaged entry, never a traceback
            return f"is damaged ({exc.__class__.__name__}: {' '.join(str(exc).split())[:120]})"

    def _entry_problem(self, folder: Path, key: Any, need_model: bool) -> str | None:
        try:
            stored = read_stored(folder)
        except FileNotFoundError:
            return f"has no {RECORD}"
        except (OSError, DamagedEntry) as exc:
            return str(exc)
        if canonical(stored.get("key")) != canonical(key):
            return "belongs to another key"
        files = stored.get("files", {})
        for name in (ARRAYS, MODEL):  # a file the record does not vouch for is not used
            if name not in files and (folder / name).exists():
                return f"holds a {name} that its {RECORD} does not list"
        for name, digest in files.items():
            path = folder / name
            if path.is_symlink() or not path.is_file():
                return f"lacks {name}" if not path.exists() else f"has a {name} that is not a regular file"
            if file_digest(path) != digest:
                return f"has a damaged {name} (its SHA-256 differs from the one recorded)"
        for name in files:
            if name.endswith((".npz", ".npy")):
                _check_arrays(folder / name)
        if MODEL in files:
            _check_checkpoint(folder / MODEL)
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
        self._replaced_threads[folder.name] = _threads_of(folder)
        self._remove(folder)
        return False

    def _remove(self, folder: Path) -> None:
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.exists() or folder.is_symlink():
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
            write_json(scratch / RECORD, with_digest({"key": canonical(key), "record": record, "files": files,
                                                      "created": time.time(), **meta}))
            final = self.root / digest
            self._remove(final)
            os.replace(scratch, final)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)

    def store(self, run: SubRun, outcome: Outcome, task: str = "") -> None:
        """Write a finished sub-run (called by the driver, never by a remote worker)."""
        before, now = self._replaced_threads.pop(run.hash, None), outcome.record.get("threads")
        if before is not None and now is not None and before != now:
            self._log(thread_notice(run.label, before, now))
            self.thread_noticed.add(run.hash)
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
        """The finished sub-run as stored (checked by `has` just before); an entry damaged in between is
        removed and reported in one line (MnistlabError), so that the same command retrains it."""
        folder = self.folder(run)
        try:
            stored = read_stored(folder)
            files = stored.get("files", {})
            arrays: dict[str, np.ndarray] = {}
            if ARRAYS in files:
                with np.load(folder / ARRAYS, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
        except Exception as exc:
            self._remove(folder)
            from mnistlab.errors import MnistlabError

            raise MnistlabError(f"cache entry {folder.name} ({run.label}) was damaged while in use "
                                f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}); removed it: run the "
                                "same command again to retrain it") from None
        checkpoint = folder / MODEL if MODEL in files else None
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
            return read_stored(folder)["record"], folder

    # ------------------------------------------------------------------ inspection (mnistlab cache ...)
    def entries(self) -> list[EntryInfo]:
        out = []
        if not self.root.is_dir():
            return out
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            stored: dict[str, Any] | None = None
            try:
                if folder.is_symlink():  # an entry is a folder of its own; a link is never followed
                    raise DamagedEntry("is a link")
                stored = read_stored(folder)
                kind, name, tasks = stored.get("kind", "?"), stored.get("name", ""), stored.get("tasks", [])
            except Exception:  # any damage at all: listed as damaged, and the next run retrains it
                stored, kind, name, tasks = None, "damaged", "", []
            try:
                size = sum(p.lstat().st_size for p in folder.iterdir() if p.is_file() and not p.is_symlink())
                modified = folder.stat().st_mtime
            except OSError:
                size, modified = 0, 0.0
            out.append(EntryInfo(hash=folder.name, kind=str(kind), name=str(name), bytes=size,
                                 modified=modified,
                                 has_model=not folder.is_symlink() and (folder / MODEL).is_file(),
                                 tasks=[t for t in tasks if t], stored=stored))
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
                    if not entry.has_model or folder.is_symlink() or not (folder / MODEL).is_file():
                        continue
                    freed += (folder / MODEL).lstat().st_size
                    try:
                        stored = read_stored(folder)
                    except Exception as exc:  # damaged: the whole entry goes (a run would retrain it anyway)
                        self._log(f"cache: entry {entry.hash} {exc}; removing it")
                        freed += entry.bytes - (folder / MODEL).lstat().st_size
                        self._remove(folder)
                        count += 1
                        continue
                    stored.setdefault("files", {}).pop(MODEL, None)
                    write_json(folder / RECORD, with_digest(stored))
                    (folder / MODEL).unlink()
                else:
                    freed += entry.bytes
                    self._remove(folder)
                count += 1
        return count, freed
