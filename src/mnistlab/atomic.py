"""Atomic file writes whose temporary files are recognisable, so that nothing is left behind.

A temporary file is named `.mnistlab-tmp-<pid>-<random><suffix>` in the folder of its target. It is
removed when the write fails, and one left by a killed process (kill -9 runs no cleanup) is removed
by `clean_stale_temps` at the next start: the pid in its name no longer runs. Files of a process
that is still running are kept, so concurrent runs never delete each other's half-written files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_PREFIX = ".mnistlab-tmp-"
_OURS = re.compile(re.escape(TEMP_PREFIX) + r"(\d+)-")
# What tempfile.NamedTemporaryFile named our temporary files before they carried a pid.
_LEGACY = re.compile(r"tmp[a-z0-9_]{8}\.(?:tmp|png)")
# A temp file older than this belongs to no live write, even if its pid was reused by another process.
STALE_SECONDS = 24 * 3600
LEGACY_STALE_SECONDS = 600


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", *, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on any exception it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix or ".tmp")
    try:
        with open(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(name, 0o666 & ~current_umask())  # mkstemp makes 0600; results should read like any other file
        os.replace(name, path)
    except BaseException:  # KeyboardInterrupt and SIGTERM too: never leave the temporary file
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (also one of another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files that killed runs left in `folder`; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        ours = _OURS.match(entry.name)
        if not ours and not _LEGACY.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            stale = (age > STALE_SECONDS or not pid_alive(int(ours.group(1)))) if ours else age > LEGACY_STALE_SECONDS
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except (OSError, ValueError, OverflowError):
            continue  # gone already, or not ours to remove
    return removed


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks (checkpoints and image sets run to hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
