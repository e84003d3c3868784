"""Fail fast, in one line, when another process holds the warehouse's DuckDB file.

DuckDB lets one process write a database file, or many processes read it, never both. When a BI tool
(DBeaver, Superset, a notebook, the `duckdb` CLI) has `warehouse.duckdb` open and the user runs
`dbt build`, DuckDB's own error is a paragraph that dbt wraps further. This module asks the operating
system, before dbt connects, whether another process holds a lock on the file, and if so raises one line
that names the file, the process and what to do.

It is registered in profiles.yml as a dbt-duckdb plugin (`plugins: [{module: dbt_plugins.lock_check}]`):
dbt-duckdb calls `update_connection_config` right before `duckdb.connect`, which is the last moment
the check can run. Off Linux it does nothing and DuckDB's own (longer) error stands. Usable on its own
too: `python -m dbt_plugins.lock_check warehouse.duckdb`.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loaders import config

try:  # POSIX only; on Windows the check is skipped.
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    fcntl = None  # type: ignore[assignment]

# struct flock differs between Linux and the BSDs/macOS; only Linux's (64-bit) layout is used, so elsewhere
# the check is skipped and DuckDB's own lock error stands.
_FLOCK_FORMAT = "hhqqi4x"  # l_type, l_whence, l_start, l_len, l_pid (+ padding)
_CHECKED = fcntl is not None and sys.platform.startswith("linux") and struct.calcsize("q") == 8

# What the user should do, appended to every lock error (docs/bi.md).
_ADVICE = (
    "close it there (BI tool, notebook, duckdb CLI) and re-run, or build a copy with "
    "DUCKDB_PATH=build/warehouse.duckdb and swap it in (docs/bi.md: build-then-swap)"
)


# DuckDB database files carry this magic at byte 8 (after the checksum of the first block).
_DUCKDB_MAGIC = b"DUCK"
_DUCKDB_MAGIC_OFFSET = 8


class NotAWarehouseError(RuntimeError):
    """DUCKDB_PATH names an existing file that is not a DuckDB database (a .parquet, a CSV): dbt-duckdb
    would otherwise build into a database it never saves and report success."""


class WarehouseLockedError(RuntimeError):
    """The DuckDB file is open in another process. A RuntimeError so dbt-duckdb reports it as a failed
    connection with our message rather than as an internal error."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a conflicting lock: pid 0 when the OS cannot tell (another PID namespace, NFS)."""

    pid: int
    exclusive: bool

    def describe(self) -> str:
        mode = "for writing" if self.exclusive else "read-only"
        if self.pid <= 0:
            return f"another process ({mode})"
        return f"process {self.pid} ({_process_name(self.pid)}, {mode})"


def _process_name(pid: int) -> str:
    """The holder in a few words (`dbt build`, `duckdb`, `jupyter`), so the user recognises the BI
    tool or notebook: the program, or the script or module Python runs, plus dbt's command."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "unknown program"
    return short_command(raw.decode(errors="replace").split("\0"))


def short_command(argv: list[str]) -> str:
    """`/venv/bin/python3.11 /venv/bin/dbt build --select x` -> `dbt build`; `python -m notebook` ->
    `notebook`; a duckdb CLI wrapper's -cmd scripts are left out (the message stays one line)."""
    words = [w for w in argv if w]
    if not words:
        return "unknown program"
    program, rest = os.path.basename(words[0]), words[1:]
    if re.fullmatch(r"python[\d.]*", program) and rest:
        if rest[0] == "-m" and len(rest) > 1:
            program, rest = rest[1], rest[2:]
        elif not rest[0].startswith("-"):
            program, rest = os.path.basename(rest[0]), rest[1:]
    if program in ("dbt", "dbt.cli.main"):
        command = next((w for w in rest if not w.startswith("-")), "")
        return f"dbt {command}".strip()
    return program[:40]


def lock_holder(path: str | os.PathLike[str]) -> LockHolder | None:
    """The process holding a lock on the DuckDB file at `path`, or None when it is free or absent.

    F_GETLK only reports locks of *other* processes (POSIX record locks are per process), which is
    exactly the question: this process's own connections are DuckDB's business.
    """
    if not _CHECKED:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None  # a new warehouse: nothing to hold
    try:
        query = struct.pack(_FLOCK_FORMAT, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK_FORMAT, answer)
    if l_type == fcntl.F_UNLCK:
        return None
    return LockHolder(pid=pid, exclusive=l_type == fcntl.F_WRLCK)


def check_is_duckdb_file(path: Path) -> None:
    """Raise NotAWarehouseError (one line) when `path` exists and is not a DuckDB database file. A
    missing or empty file is a new warehouse."""
    try:
        with open(path, "rb") as f:
            head = f.read(_DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC))
    except (FileNotFoundError, NotADirectoryError):
        return
    except IsADirectoryError:
        raise NotAWarehouseError(f"DUCKDB_PATH {path} is a directory: name a DuckDB file") from None
    if head and head[_DUCKDB_MAGIC_OFFSET:] != _DUCKDB_MAGIC:
        raise NotAWarehouseError(
            f"DUCKDB_PATH {path} is not a DuckDB database: name a new file or an existing warehouse"
        )


def check_not_locked(path: str | os.PathLike[str]) -> None:
    """Raise WarehouseLockedError (one line: file, holder, what to do) if another process holds `path`."""
    if str(path) in ("", ":memory:") or str(path).startswith(("md:", "motherduck:")):
        return
    resolved = Path(path).expanduser().resolve()
    check_is_duckdb_file(resolved)
    holder = lock_holder(resolved)
    if holder is not None:
        raise WarehouseLockedError(f"{resolved} is locked by {holder.describe()}: {_ADVICE}")


def _make_plugin() -> type:
    """The dbt-duckdb plugin class: checks the lock before every new connection to the warehouse file."""
    from dbt.adapters.duckdb.plugins import BasePlugin

    class Plugin(BasePlugin):
        def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
            check_not_locked(creds.path)

    return Plugin


def __getattr__(name: str) -> Any:
    """dbt-duckdb looks up `Plugin` in this module; build it on first use so that the command line
    (`python -m dbt_plugins.lock_check`) does not pay for importing dbt (about 3 s)."""
    if name == "Plugin":
        plugin = globals()["Plugin"] = _make_plugin()
        return plugin
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """`python -m dbt_plugins.lock_check [PATH]`: exit 1 with the one-line reason if PATH is held."""
    args = sys.argv[1:] if argv is None else argv
    path = args[0] if args else config.env("DUCKDB_PATH", config.DEFAULT_DUCKDB_PATH)
    try:
        check_not_locked(path)
    except WarehouseLockedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{Path(path).resolve()} is free")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
