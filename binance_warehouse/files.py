"""The DuckDB file, read-only and never held between calls.

DuckDB lets one process write a file or many read it, never both. A `dbt build` holds the warehouse
for writing from its first model to its end, and refuses to start while anyone holds it
(dbt_plugins.lock_check). So every read here opens the file read-only, runs one query, copies the
result out as Arrow and closes the file: a notebook never blocks a build for longer than a query, and a
read that meets a build waits (retrying) up to `wait` seconds for it to finish.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from binance_warehouse import settings
from dbt_plugins.lock_check import lock_holder


class WarehouseBusyError(RuntimeError):
    """The DuckDB file stayed locked for writing (a `dbt build`, a writer) for the whole wait."""


def _busy_message(path: Path, wait: float) -> str:
    holder = lock_holder(path)
    who = holder.describe() if holder is not None else "another process"
    return (
        f"{path} is being written by {who}, e.g. a dbt build; waited {wait:g} s: read again when it "
        f"finishes, or wait longer with Warehouse(wait=600) (candles() reads the lake and works meanwhile)"
    )


@contextlib.contextmanager
def read_only(path: Path, wait: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to `path` for the block, retried while a writer holds the file."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no warehouse at {path}: run `dbt build` first, or set DUCKDB_PATH to the file it built"
        )
    deadline = time.monotonic() + wait
    delay = settings.RETRY_FIRST_SECONDS
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseBusyError(_busy_message(path, wait)) from None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, settings.RETRY_MAX_SECONDS)
    try:
        yield con
    finally:
        con.close()


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pa.Table:
    """The whole result as an Arrow table (it outlives the connection)."""
    return con.execute(sql, params if isinstance(params, dict) else list(params)).to_arrow_table()


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of a table of schema main, in order; empty when the table does not exist."""
    rows = con.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'main' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]
