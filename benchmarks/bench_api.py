"""Benchmark: the read API's candles() on a long 1m series, against reading the series' whole glob.

Writes a lake of one symbol's 1m candles for `--months` months (default 36, ~1.6M rows, one Parquet file
per month like the loader's; cached in $TMPDIR/bench_api_lake), then times, best of `--repeat`,
interleaved: `Warehouse.candles()` for one day and for one month (it opens only the month folders of
the period), the same day through DuckDB over the series' glob with a time filter (what one writes
without the API: DuckDB then opens every file's footer), and the whole series.

    .venv/bin/python benchmarks/bench_api.py               # ~1 min
    .venv/bin/python benchmarks/bench_api.py --months 12   # quicker
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from binance_warehouse import Warehouse  # noqa: E402
from loaders import contract  # noqa: E402

SYMBOL, INTERVAL, FIRST_YEAR = "BTCUSDT", "1m", 2023


def month_table(year: int, month: int, rng: np.random.Generator, price: float) -> tuple[pa.Table, float]:
    first = np.datetime64(f"{year}-{month:02d}-01T00:00", "us")
    nxt = np.datetime64(f"{year + (month == 12)}-{month % 12 + 1:02d}-01T00:00", "us")
    open_time = np.arange(first, nxt, np.timedelta64(60, "s"))
    close = price * np.exp(np.cumsum(rng.normal(0.0, 0.001, len(open_time))))
    ones = np.ones(len(open_time))
    cols = {"open_time": open_time, "close_time": open_time + np.timedelta64(59_999, "ms")}
    cols |= {c: close for c in ("open", "high", "low", "close")}
    cols |= {c: ones for c in ("volume", "quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume")}
    cols["trade_count"] = ones.astype(np.int64)
    return pa.table(cols).select(contract.KLINE_SCHEMA.names).cast(contract.KLINE_SCHEMA), float(close[-1])


def build_lake(lake: Path, months: int) -> None:
    rng, price = np.random.default_rng(1), 30_000.0
    for k in range(months):
        year, month = FIRST_YEAR + k // 12, k % 12 + 1
        folder = contract.partition_dir(lake, "klines", "spot", INTERVAL, SYMBOL, f"{year}-{month:02d}")
        target = folder / f"{SYMBOL}-{INTERVAL}-{year}-{month:02d}.parquet"
        if target.exists():
            continue
        table, price = month_table(year, month, rng, price)
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target, compression="zstd", row_group_size=122_880)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lake = Path(tempfile.gettempdir()) / f"bench_api_lake_{args.months}"
    build_lake(lake, args.months)
    wh = Warehouse(lake / "unused.duckdb", lake, output="arrow")
    mid = FIRST_YEAR + (args.months // 2) // 12, (args.months // 2) % 12 + 1
    day, month = f"{mid[0]}-{mid[1]:02d}-15", f"{mid[0]}-{mid[1]:02d}"
    series_glob = contract.partition_dir(lake, "klines", "spot", INTERVAL, SYMBOL, "*") / "*.parquet"
    glob_sql = (
        f"select * from read_parquet('{series_glob}') where open_time >= '{day}'"
        f" and open_time < '{day}'::date + 1 order by open_time"
    )
    cases: dict[str, Callable[[], pa.Table]] = {
        "candles(), one day": lambda: wh.candles(SYMBOL, INTERVAL, start=day, end=day),
        "DuckDB over the series' glob, one day": lambda: duckdb.sql(glob_sql).to_arrow_table(),
        "candles(), one month": lambda: wh.candles(SYMBOL, INTERVAL, start=month, end=month),
        "candles(), the whole series": lambda: wh.candles(SYMBOL, INTERVAL),
    }
    best: dict[str, float] = dict.fromkeys(cases, float("inf"))
    rows: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, case in cases.items():
            started = time.perf_counter()
            rows[name] = case().num_rows
            best[name] = min(best[name], time.perf_counter() - started)
    print(f"{SYMBOL} {INTERVAL}, {args.months} monthly files; best of {args.repeat}:")
    for name in cases:
        print(f"  {name:40s} {best[name] * 1000:8.0f} ms  {rows[name]:>9,} rows")


if __name__ == "__main__":
    main()
