"""Exceptions the loader raises, sorted by what the caller should do about them."""

from __future__ import annotations

import os
import re


class BadInput(ValueError):
    """The request or the set-up is wrong (unknown market, malformed date, unreachable URL, unusable
    lake, a base URL serving none of the listed archives, ...): nothing was written; the CLI prints the
    one-line message and exits 2."""


class ManifestUnreadable(BadInput):
    """A manifest that is not one (random bytes, truncated, empty, another table): refused before
    anything is downloaded, with the command that rebuilds it from the lake files (exit 2)."""


class LoadError(RuntimeError):
    """The run could not proceed (e.g. the listing kept failing); the CLI exits 1."""


class ArchiveError(RuntimeError):
    """One archive failed (download, checksum or conversion); the run goes on with the others and the
    lake keeps whatever good file it had for that archive."""


class NotPublished(ArchiveError):
    """HTTP 404: the object does not exist (yet). Not an outage, so never retried."""


class Cancelled(Exception):
    """The run was interrupted (Ctrl-C, SIGTERM): work in flight stops at its next check."""


class Interrupted(KeyboardInterrupt):
    """Raised by `load` after Ctrl-C once the finished archives are recorded; `line` says what was
    loaded and what was not started."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def os_reason(exc: OSError) -> str:
    """`no space left on device` rather than `[Errno 28] No space left on device: '/x/y'` (or pyarrow's
    `Error writing bytes to file. Detail: [errno 28] ...`)."""
    code = exc.errno
    if code is None:
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(found[1]) if found else None
    if code:
        return os.strerror(code).lower()
    return (str(exc) or type(exc).__name__).lower()
