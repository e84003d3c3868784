"""Candles straight from the Parquet lake, at any loaded interval, without the DuckDB file.

The read lists the series' month folders (`.../symbol=S/month=YYYY-MM/`) and opens only those in the
period, so a day of 1m candles costs one month's files, not the series'. It holds the lake's readers
lock (shared, like a `dbt build`) while it reads, so no loader deletes a file under it; a file that
vanishes anyway (a lake without locks) makes it list the folders again.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from binance_warehouse import arguments, settings
from loaders import contract, locks

_DAILY_FILE = re.compile(r"-\d{4}-\d{2}-\d{2}\.parquet$")
_DATASET = "klines"


def _series_dir(lake: Path, market: str, interval: str, symbol: str) -> Path:
    return contract.partition_dir(lake, _DATASET, market, interval, symbol, "x").parent


def _explain_missing(lake: Path, market: str, interval: str, symbol: str) -> str:
    """Why a series is not in the lake, in one line: what is there instead."""
    market_dir = contract.dataset_root(lake, _DATASET) / f"market={market}"
    loaded = {
        p.name.removeprefix("interval="): {s.name.removeprefix("symbol=") for s in p.glob("symbol=*")}
        for p in market_dir.glob("interval=*")
    }
    known = set().union(*loaded.values()) if loaded else set()
    if symbol not in known:
        return (
            f"unknown symbol {symbol!r}: no {market} candles for it in {lake}"
            f" (symbols there: {arguments.listing(known)})"
        )
    intervals = sorted((i for i, s in loaded.items() if symbol in s), key=contract.INTERVAL_SECONDS.get)
    return f"no {market} {interval} candles for {symbol} in {lake} (intervals loaded: {', '.join(intervals)})"


def _month_files(series: Path, period: arguments.Period) -> list[Path]:
    """The Parquet files of the months that overlap the period (hive folder names, no file opened)."""
    first = period.start.strftime("%Y-%m") if period.start else None
    # The end is exclusive: the last month read is the one of the instant before it.
    last = (period.end - timedelta(microseconds=1)).strftime("%Y-%m") if period.end else None
    files = []
    for folder in series.glob("month=*"):
        month = folder.name.removeprefix("month=")
        if (first is None or month >= first) and (last is None or month <= last):
            files.extend(folder.glob("*.parquet"))
    return sorted(files)


def _has_overlap(files: list[Path]) -> bool:
    """Whether some month holds a monthly file next to daily ones (see binance_overlapping_files in
    macros/binance/staging.sql): only then can two files share a candle."""
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    return any(len(fs) > 1 and any(not _DAILY_FILE.search(f.name) for f in fs) for fs in by_folder.values())


def _empty() -> pa.Table:
    """No candle in the period: the same columns, no row."""
    types = {settings.CANDLE_COLUMNS[f.name]: f.type for f in contract.KLINE_SCHEMA}
    names = ["market", "symbol", "interval", *settings.CANDLE_COLUMNS.values()]
    return pa.table({n: pa.array([], types.get(n, pa.string())) for n in names})


def _select(overlap: bool) -> str:
    renamed = ", ".join(f"{lake} as {api}" for lake, api in settings.CANDLE_COLUMNS.items())
    # A monthly file next to daily ones: its row wins (shortest name), as in the staging views. Only
    # then is the file name read (it costs a column).
    dedup = (
        "qualify row_number() over (partition by open_time order by length(filename), trade_count desc) = 1"
    )
    return f"""
        select ? as market, ? as symbol, ? as "interval", {renamed}
        from read_parquet(?, filename = {str(overlap).lower()}, hive_partitioning = false)
        where open_time >= coalesce(?, '-infinity'::timestamp) and open_time < coalesce(?, 'infinity'::timestamp)
        {dedup if overlap else ""}
        order by open_time
    """


def candles(
    con: duckdb.DuckDBPyConnection,
    lake: Path,
    market: str,
    interval: str,
    symbol: str,
    period: arguments.Period,
) -> pa.Table:
    """One series' candles in the period, as Arrow, unique on open_at and in time order. `con` is an
    in-memory DuckDB (it locks no file, so it can be kept across calls)."""
    series = _series_dir(lake, market, interval, symbol)
    if not contract.dataset_root(lake, _DATASET).is_dir():
        raise ValueError(f"no candles in {lake}: set LAKE_DIR to your lake, or load some (docs/loading.md)")
    if not series.is_dir():
        raise ValueError(_explain_missing(lake, market, interval, symbol))
    lock_fd = locks.hold_shared(contract.readers_lock_path(lake))
    try:
        for attempt in range(settings.LAKE_READ_ATTEMPTS):
            files = _month_files(series, period)
            if not files:
                return _empty()
            params = [market, symbol, interval, [str(f) for f in files], period.start, period.end]
            try:
                return con.execute(_select(_has_overlap(files)), params).to_arrow_table()
            except duckdb.IOException as exc:
                vanished = "no files found" in str(exc).lower() or "no such file" in str(exc).lower()
                if not vanished or attempt == settings.LAKE_READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
