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
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mnistlab.errors import MnistlabError

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


class NotARegularFile(OSError):
    """A file the lab was asked to read is a FIFO, device, socket or folder, or lies outside its folder."""


def open_regular(path: Path, within: Path | None = None) -> IO[bytes]:
    """`path` opened for reading in binary, but only when it is a regular file (after following links)
    and, with `within`, lies inside that folder once every link is resolved; else NotARegularFile.

    The file is opened without blocking, so a FIFO put where a result or record belongs is refused at
    once instead of hanging the reader, and its type is checked on the open descriptor (no race
    between a check and the open).
    """
    path = Path(path)
    if within is not None:
        target, root = path.resolve(), Path(within).resolve()
        if not target.is_relative_to(root):
            raise NotARegularFile(f"{path} leads outside {within} (to {target}); not read")
        path = target
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, device or socket)"
            raise NotARegularFile(f"{path} is {what}; not read")
        os.set_blocking(fd, True)
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, within: Path | None = None) -> bytes:
    """The bytes of `path`, read through `open_regular` (a regular file, inside `within` if given)."""
    with open_regular(path, within) as f:
        return f.read()


def check_write_target(path: Path) -> None:
    """Refuse, with one line naming `path`, to replace anything but a regular file (or nothing) there.

    `os.replace` would put a new file in the place of a symbolic link, a FIFO or a device (run as root,
    `--path /dev/null` once turned /dev/null into a regular file), and a folder makes it fail with a
    message that names the temporary file; so every writer of the lab checks here first.
    """
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (a file among its folders is said later)
        return
    except OSError as exc:
        raise MnistlabError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        what = "a folder"
    elif stat.S_ISLNK(mode):
        what = "a symbolic link"
    else:
        what = "not a regular file (a FIFO, device or socket)"
    raise MnistlabError(f"{path} is {what}; the lab replaces only regular files: move it away or choose "
                        "another path")


def check_folder(folder: Path, what: str = "folder") -> None:
    """Refuse, with a clear line, a folder path that is a dangling or looping symbolic link, or a file
    (mkdir would only say 'File exists')."""
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        try:
            folder.resolve(strict=True)
            state = "a symbolic link to nothing"
        except RuntimeError:
            state = "a symbolic link that loops"
        except OSError as exc:
            state = ("a symbolic link that loops" if exc.errno == 40  # ELOOP
                     else f"a symbolic link to nothing ({os.readlink(folder)})")
        raise MnistlabError(f"{what} {folder} is {state}; remove it or point it at a folder")
    if folder.exists() and not folder.is_dir():
        raise MnistlabError(f"{what} {folder} is a file, not a folder; move it away or choose another")


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", *, fsync: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success it replaces `path`, on any exception it is removed.
    `path` must hold a regular file or nothing (`check_write_target`)."""
    check_write_target(path)
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
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
