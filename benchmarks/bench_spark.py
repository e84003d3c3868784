"""Benchmark of the same dbt project on DuckDB and on Spark (local[2]), and of the aggTrades loader.

One run:

1. Loader throughput: Binance-format archives served by the test suite's Binance server on 127.0.0.1
   (tests/fixtures/binance_server.py), loaded by the real loader in its own process (4 workers): daily
   spot aggTrades archives of `--load-symbols` symbols x `--load-days` days (tests/fixtures/derivatives.py
   `agg_trades_day`, `--load-agg-trades` trades a day), against monthly 1m klines archives of the same
   symbols for one month: rows/s, wall, CPU, peak RSS.
2. A lake written straight in the loader's layout with its Parquet settings (benchmarks/bench_dbt.py's
   generator): `--candles-millions` million spot 1m candles over `--symbols` symbols, plus the last month
   of aggTrades of `--agg-symbols` of them (`--agg-trades-per-day` a day), with manifests like the
   loaders'.
3. The same `dbt build --vars '{daily_source_interval: 1m}'` on that lake by DuckDB (default target,
   fresh warehouse file) and by Spark (`--target spark`, local[2], fresh warehouse and metastore), each
   in its own process: wall, CPU (the process and its children: the JVM), peak RSS of the process tree,
   the time dbt reports per resource type; then every mart's row count on both (they must agree:
   tests/test_spark.py compares the values).

    .venv/bin/python benchmarks/bench_spark.py                          # 20M candles (full run)
    .venv/bin/python benchmarks/bench_spark.py --candles-millions 0.5 --agg-trades-per-day 2000 \\
        --load-days 1 --load-agg-trades 20000 --load-kline-months 1     # a quick smoke run (~4 min)

Output goes to benchmarks/out/bench_spark/ (git-ignored): the lake, both warehouses, dbt's target/ and
logs/ per engine, and results.json. The figures go into docs/scaling.md by hand.
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench_dbt import generate, month_list, node_timings, symbol_names  # noqa: E402
from benchmarks.dbt_cli import dbt_command, dbt_env  # noqa: E402
from benchmarks.lake_manifest import write_manifest  # noqa: E402
from benchmarks.measure import Measured, run_measured  # noqa: E402
from loaders import config, contract  # noqa: E402
from loaders.binance.convert import parquet_writer  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_spark"
FIRST_MONTH = "2019-01"
SOURCE_INTERVAL = "1m"
MINUTES_PER_MONTH = 43_830  # average (365.25 / 12 days)
MARTS = (
    "fct_ohlcv_daily",
    "fct_regime_features_daily",
    "fct_derivatives_daily",
    "fct_trade_flow_daily",
    "fct_coverage_daily",
    "dim_symbols",
)


# --- 1. loader throughput ----------------------------------------------------------------------------


def loader_throughput(
    work: Path, names: list[str], days: int, trades_per_day: int, kline_months: int
) -> list[dict]:
    """The loader on daily aggTrades archives and on monthly 1m klines archives of the same symbols."""
    from tests.fixtures import derivatives
    from tests.fixtures.binance_server import BinanceServer, kline_table, table_csv, zip_csv

    root = work / "bucket"
    server = BinanceServer(root)
    first = date(2024, 3, 1)
    agg_rows = 0
    for i, symbol in enumerate(names):
        for d in range(days):
            day = first + timedelta(days=d)
            csv = derivatives.agg_trades_day(day, 1000 * i + d, trades_per_day, spot=True)
            stem = f"{symbol}-aggTrades-{day}"
            server.add_zip(f"data/spot/daily/aggTrades/{symbol}/{stem}.zip", zip_csv(csv, f"{stem}.csv"))
            agg_rows += trades_per_day
    kline_rows = 0
    months = month_list(f"{first:%Y-%m}", kline_months)
    for i, symbol in enumerate(names):
        for k, month in enumerate(months):
            table = kline_table("1m", month, seed=100 * i + k, price=100.0 * (i + 1))
            server.add_csv("spot", symbol, "1m", month, table_csv(table))
            kline_rows += table.num_rows

    runs = [
        ("aggTrades (daily archives)", ["--dataset", "aggTrades", "--start", f"{first}",
                                        "--end", f"{first + timedelta(days=days - 1)}"], agg_rows),
        ("klines 1m (monthly archives)", ["--intervals", "1m", "--start", months[0], "--end", months[-1]],
         kline_rows),
    ]  # fmt: skip
    out = []
    with BinanceServer(root) as serving:
        for label, extra, rows in runs:
            lake = work / "lake-load"
            shutil.rmtree(lake, ignore_errors=True)
            m = run_measured(
                [sys.executable, "-m", "loaders.binance", "--market", "spot", "--symbols", *names, *extra,
                 "--lake", str(lake), "--quiet", "--base-url", serving.base_url,
                 "--listing-url", serving.listing_url]
            )  # fmt: skip
            if m.exit_code != 0:
                raise SystemExit(f"loader failed on {label}: {m.stderr[-2000:]}")
            stored = sum(
                pq.read_metadata(f).num_rows for f in lake.rglob("*.parquet") if "manifest" not in f.parts
            )
            if stored != rows:
                raise SystemExit(f"loader {label}: {stored:,} rows in the lake, {rows:,} served")
            out.append(
                {"dataset": label, "rows": rows, "seconds": round(m.seconds, 2),
                 "cpu_seconds": round(m.cpu_seconds, 2), "rows_per_s": round(rows / m.seconds),
                 "peak_rss_mb": round(m.peak_rss_mb)}
            )  # fmt: skip
            print(f"loader {label}: {out[-1]}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return out


# --- 2. the lake -------------------------------------------------------------------------------------


def write_agg_trades_month(lake: Path, symbol: str, month: str, per_day: int, seed: int) -> int:
    """A month of spot aggTrades of one symbol, one Parquet file a day as the loader writes daily
    archives: ids consecutive across days, times sorted within each day. Returns rows written."""
    first = date.fromisoformat(f"{month}-01")
    rng = np.random.default_rng(seed)
    next_id, next_trade, price = 1_000_000, 5_000_000, 100.0 * (seed % 97 + 1)
    schema = contract.DATASETS["aggTrades"].schema
    folder = contract.partition_dir(lake, "aggTrades", "spot", "", symbol, month)
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for d in range(calendar.monthrange(first.year, first.month)[1]):
        day = first + timedelta(days=d)
        start_us = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()) * 1_000_000
        times = start_us + np.sort(rng.integers(0, 86_400_000_000, per_day))
        prices = np.round(price * np.exp(np.cumsum(rng.normal(0, 2e-5, per_day))), 2)
        price = float(prices[-1])
        trades = rng.integers(1, 6, per_day)
        last = next_trade + np.cumsum(trades) - 1
        table = pa.Table.from_arrays(
            [
                pa.array(next_id + np.arange(per_day, dtype=np.int64)),
                pa.array(last - trades + 1),
                pa.array(last),
                prices,
                np.round(rng.gamma(1.2, 0.05, per_day), 5) + 0.00001,
                pa.array(times, pa.timestamp("us")),
                rng.random(per_day) < 0.5,
                np.ones(per_day, dtype=bool),
            ],
            schema=schema,
        )
        next_id += per_day
        next_trade = int(last[-1]) + 1
        final = folder / f"{symbol}-aggTrades-{day}.parquet"
        tmp = contract.temp_path(final)
        with parquet_writer(tmp, schema) as writer:
            writer.write_table(table, row_group_size=config.PARQUET_ROW_GROUP_ROWS)
        os.replace(tmp, final)
        rows += per_day
    return rows


def size_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


# --- 3. dbt on both engines --------------------------------------------------------------------------


def dbt_build(engine: str, lake: Path, work: Path) -> Measured:
    """`dbt build` (from 1m candles) by one engine in its own process; target/ and logs/ under `work`."""
    work.mkdir(parents=True, exist_ok=True)
    env = dbt_env(
        lake,
        work / "warehouse.duckdb",
        {
            "SPARK_WAREHOUSE_DIR": str(work / "spark-warehouse"),
            "SPARK_METASTORE_DIR": str(work / "metastore_db"),
        },
    )
    args = ["build", "--vars", json.dumps({"daily_source_interval": SOURCE_INTERVAL})]
    m = run_measured(
        dbt_command([*args, *(["--target", "spark"] if engine == "spark" else [])], work),
        env=env,
        cwd=work,
        count_unreaped=True,
    )
    if m.exit_code != 0:
        raise SystemExit(
            f"{m.stdout[-4000:]}\n{m.stderr[-2000:]}\ndbt build ({engine}) failed; see {work / 'logs'}"
        )
    return m


def mart_rows(duckdb_file: Path, spark_warehouse: Path) -> dict[str, dict[str, int]]:
    """Rows of every mart on each engine (the Spark tables read from their Parquet files)."""
    out = {}
    with duckdb.connect(str(duckdb_file), read_only=True) as con:
        for mart in MARTS:
            files = sorted((spark_warehouse / "analytics.db" / mart).rglob("*.parquet"))
            spark = sum(pq.read_metadata(f).num_rows for f in files)  # an empty table has no file
            out[mart] = {
                "duckdb": con.execute(f"select count(*) from main.{mart}").fetchone()[0],
                "spark": spark,
            }
    return out


def summary(m: Measured, work: Path) -> dict:
    return {
        "wall_s": round(m.seconds, 1),
        "cpu_s": round(m.cpu_seconds, 1),
        "peak_rss_mb": round(m.peak_rss_mb),
        "nodes_s": {k: round(v, 1) for k, v in node_timings(work).items()},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--candles-millions", type=float, default=20.0, help="1m candles in the lake (millions)")
    p.add_argument("--symbols", type=int, default=8, help="spot symbols of the klines")
    p.add_argument("--first-month", default=FIRST_MONTH)
    p.add_argument("--agg-symbols", type=int, default=5, help="symbols with a month of aggTrades")
    p.add_argument("--agg-trades-per-day", type=int, default=100_000)
    p.add_argument("--load-symbols", type=int, default=5, help="loader benchmark: symbols")
    p.add_argument("--load-days", type=int, default=3, help="loader benchmark: daily aggTrades archives each")
    p.add_argument("--load-agg-trades", type=int, default=200_000, help="loader benchmark: trades a day")
    p.add_argument("--load-kline-months", type=int, default=6, help="loader benchmark: 1m klines months each")
    p.add_argument("--skip-loader", action="store_true")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="work folder (wiped first)")
    args = p.parse_args(argv)
    if not 1 <= args.agg_symbols <= args.symbols:
        p.error("--agg-symbols must be 1..--symbols")

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    }
    if not args.skip_loader:
        results["loader"] = loader_throughput(
            out / "load",
            list(symbol_names(args.load_symbols)),
            args.load_days,
            args.load_agg_trades,
            args.load_kline_months,
        )

    lake = out / "lake"
    names = symbol_names(args.symbols)
    months = month_list(
        args.first_month, max(1, math.ceil(args.candles_millions * 1e6 / (len(names) * MINUTES_PER_MONTH)))
    )
    t0 = time.perf_counter()
    candles = generate(lake, names, months, {})
    agg = sum(
        write_agg_trades_month(lake, s, months[-1], args.agg_trades_per_day, seed=i)
        for i, s in enumerate(names[: args.agg_symbols])
    )
    write_manifest(lake, "aggTrades")
    results["lake"] = {
        "candles_1m": candles, "symbols": len(names), "months": len(months),
        "agg_trades": agg, "agg_trades_symbols": args.agg_symbols, "agg_trades_month": months[-1],
        "klines_mb": size_mb(lake / "binance" / "klines"), "agg_trades_mb": size_mb(lake / "binance" / "aggTrades"),
        "generate_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    print(f"lake: {results['lake']}", flush=True)

    for engine in ("duckdb", "spark"):
        work = out / engine
        m = dbt_build(engine, lake, work)
        results[engine] = summary(m, work)
        print(f"dbt build on {engine}: {results[engine]}", flush=True)
    results["duckdb"]["warehouse_mb"] = round((out / "duckdb" / "warehouse.duckdb").stat().st_size / 1e6, 1)
    results["spark"]["warehouse_mb"] = size_mb(out / "spark" / "spark-warehouse")
    results["spark_vs_duckdb_wall"] = round(results["spark"]["wall_s"] / results["duckdb"]["wall_s"], 2)
    results["mart_rows"] = mart_rows(out / "duckdb" / "warehouse.duckdb", out / "spark" / "spark-warehouse")
    differing = {k: v for k, v in results["mart_rows"].items() if v["duckdb"] != v["spark"]}
    results["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if differing:
        print(f"mart row counts differ between the engines: {differing}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
