"""Exceptions the loader raises, sorted by what the caller should do about them."""

from __future__ import annotations


class BadInput(ValueError):
    """The request itself is wrong (unknown market, malformed date, unreachable URL, ...): nothing was
    written; the CLI prints the one-line message and exits 2."""


class LoadError(RuntimeError):
    """The run could not proceed (e.g. the listing kept failing); the CLI exits 1."""


class ArchiveError(RuntimeError):
    """One archive failed (download, checksum or conversion); the run goes on with the others and the
    lake keeps whatever good file it had for that archive."""


class NotPublished(ArchiveError):
    """HTTP 404: the object does not exist (yet). Not an outage, so never retried."""
