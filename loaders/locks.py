"""File locks (flock) that let loaders and dbt builds share one lake (docs/failure-contract.md,
"Locks"). A lock dies with its process, so a killed loader or build never leaves one behind.

- The manifest lock (contract.manifest_lock_path): held exclusively by a loader for each manifest
  read-merge-write.
- The readers lock (contract.readers_lock_path): held shared by every `dbt build` on the lake; a loader
  deletes lake files only while it holds it exclusively, which it never waits for.

Off POSIX (no fcntl) the locks are no-ops: one writer at a time is then the user's business.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LockUnusable(OSError):
    """The lock file cannot be opened (a folder where it should be, a read-only lake): the message
    names the lock file, not the file it protects."""


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        err = LockUnusable(f"lock file {path}: {reason}")
        err.errno = exc.errno
        raise err from exc


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Wait for and hold an exclusive lock on `path` (created if missing) for the block (yields True,
    like try_exclusive when it gets the lock)."""
    fd = _open(path)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_exclusive(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` for the block if nobody holds it; yields whether it did."""
    fd = _open(path)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        os.close(fd)


def hold_shared(path: Path) -> int | None:
    """Take a shared lock on `path` and return its descriptor (close it to release); None when the
    lock file cannot be opened (e.g. a read-only lake: then no loader can delete anything either)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if path.parent.is_dir() else None
    except OSError:
        fd = None
    if fd is None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_SH)
    return fd
