"""Benchmark of the derivatives data: the loader on every futures dataset, and `dbt build` on a large lake.

1. Loader throughput. Binance-format archives (tests/fixtures/derivatives.py) of `--load-symbols` um
   symbols over `--load-months` months, served by the test suite's Binance server on 127.0.0.1: metrics
   (daily, 288 rows each), funding (monthly), mark/index/premium 1h candles (monthly), and, for
   comparison on the same machine, klines 1h and 1m (monthly). One loader process per dataset (4 workers):
   rows/s and archives/s.
2. `dbt build` on `--symbols` um symbols x `--months` months of every futures dataset (default 200 x 36:
   ~63M metrics rows in ~219k daily files, plus funding, 1h klines and mark/index/premium candles),
   written straight into the lake layout with the loader's Parquet settings and manifests: the full
   build (wall, peak RSS of the dbt process tree), the same compiled models and tests run by DuckDB alone
   (benchmarks/bench_dbt.py's floor), dbt's fixed start-up, then an incremental build after one more
   month of every dataset.

Goals (issue 13): full build <= 1.5 x floor + start-up; incremental <= 15% of the full build.

    .venv/bin/python benchmarks/bench_derivatives.py                          # ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_derivatives.py --symbols 10 --months 3 --load-symbols 2 --load-months 1
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench_dbt import node_timings, raw_sql  # noqa: E402
from benchmarks.dbt_cli import dbt_command, dbt_env  # noqa: E402
from benchmarks.lake_manifest import write_manifest  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402
from loaders import config, contract  # noqa: E402
from loaders.binance.convert import parquet_writer  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_derivatives"
HOUR_US = 3_600_000_000
FIVE_MIN_US = 300_000_000
KLINE_DATASETS = ("klines", "markPriceKlines", "indexPriceKlines", "premiumIndexKlines")


def months_from(first: str, count: int) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    for _ in range(count):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def us(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp()) * 1_000_000


def symbols(n: int) -> list[str]:
    return ["".join(chr(65 + (i // 26**k) % 26) for k in range(3)) + "USDT" for i in range(n)]


# --- 1. loader throughput ---------------------------------------------------------------------------


def serve_archives(root: Path, names: list[str], months: list[str]) -> dict[str, int]:
    """Binance-format archives of every futures dataset; returns data rows per dataset."""
    from tests.fixtures import derivatives
    from tests.fixtures.binance_server import BinanceServer, kline_table, table_csv

    server = BinanceServer(root)
    rows: dict[str, int] = dict.fromkeys([*KLINE_DATASETS, "klines_1m", "fundingRate", "metrics"], 0)
    for i, symbol in enumerate(names):
        oi = 80000.0
        for k, month in enumerate(months):
            by_dataset, _ = derivatives.futures_hourly_month(month, 100 * i + k, 60000.0)
            for dataset, csv in by_dataset.items():
                key = f"data/futures/um/monthly/{dataset}/{symbol}/1h/{symbol}-1h-{month}.zip"
                server.add_zip(key, _zip(csv, f"{symbol}-1h-{month}.csv"))
                rows[dataset] += csv.count(b"\n") - 1
            table = kline_table("1m", month, seed=i * 100 + k, price=60000.0)
            server.add_csv("um", symbol, "1m", month, table_csv(table, header=True))
            rows["klines_1m"] += table.num_rows
            csv = derivatives.funding_month(month, 100 * i + k)
            server.add_zip(
                f"data/futures/um/monthly/fundingRate/{symbol}/{symbol}-fundingRate-{month}.zip",
                _zip(csv, f"{symbol}-fundingRate-{month}.csv"),
            )
            rows["fundingRate"] += csv.count(b"\n") - 1
            first = date.fromisoformat(f"{month}-01")
            for d in range(calendar.monthrange(first.year, first.month)[1]):
                day = first + timedelta(days=d)
                csv, oi = derivatives.metrics_day(day, symbol, i * 10000 + day.toordinal(), oi, 60000.0)
                server.add_zip(
                    f"data/futures/um/daily/metrics/{symbol}/{symbol}-metrics-{day}.zip",
                    _zip(csv, f"{symbol}-metrics-{day}.csv"),
                )
                rows["metrics"] += csv.count(b"\n") - 1
    return rows


def _zip(csv: bytes, member: str) -> bytes:
    from tests.fixtures.binance_server import zip_csv

    return zip_csv(csv, member)


def loader_throughput(work: Path, names: list[str], months: list[str]) -> list[dict]:
    from tests.fixtures.binance_server import BinanceServer

    root = work / "bucket"
    rows = serve_archives(root, names, months)
    out = []
    runs = [
        ("klines 1m (monthly)", "klines", ["--intervals", "1m"], "klines_1m"),
        ("klines 1h (monthly)", "klines", ["--intervals", "1h"], "klines"),
        ("markPriceKlines 1h (monthly)", "markPriceKlines", ["--intervals", "1h"], "markPriceKlines"),
        ("indexPriceKlines 1h (monthly)", "indexPriceKlines", ["--intervals", "1h"], "indexPriceKlines"),
        (
            "premiumIndexKlines 1h (monthly)",
            "premiumIndexKlines",
            ["--intervals", "1h"],
            "premiumIndexKlines",
        ),
        ("fundingRate (monthly)", "fundingRate", [], "fundingRate"),
        ("metrics (daily)", "metrics", [], "metrics"),
    ]
    with BinanceServer(root) as server:
        for label, dataset, extra, key in runs:
            lake = work / "lake-load"
            shutil.rmtree(lake, ignore_errors=True)
            m = run_measured(
                [sys.executable, "-m", "loaders.binance", "--market", "um", "--dataset", dataset, "--symbols",
                 *names, *extra, "--lake", str(lake), "--quiet", "--base-url", server.base_url,
                 "--listing-url", server.listing_url]
            )  # fmt: skip
            if m.exit_code != 0:
                raise SystemExit(f"loader failed on {label}: {m.stderr[-2000:]}")
            archives = int(m.stdout.split("loaded ")[1].split(",")[0])
            out.append(
                {"dataset": label, "archives": archives, "rows": rows[key], "seconds": round(m.seconds, 2),
                 "rows_per_s": round(rows[key] / m.seconds), "archives_per_s": round(archives / m.seconds, 1),
                 "peak_rss_mb": round(m.peak_rss_mb)}
            )  # fmt: skip
            print(f"loader {label}: {out[-1]}", flush=True)
    return out


# --- 2. the lake for dbt -----------------------------------------------------------------------------


def write(lake: Path, dataset: str, symbol: str, interval: str, period: str, table: pa.Table) -> Path:
    ds = contract.DATASETS[dataset]
    folder = contract.partition_dir(lake, dataset, "um", interval, symbol, period[:7])
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{ds.stem(symbol, interval, period)}.parquet"
    tmp = contract.temp_path(final)
    with parquet_writer(tmp, ds.schema) as writer:  # the loader's own settings
        writer.write_table(table, row_group_size=config.PARQUET_ROW_GROUP_ROWS)
    os.replace(tmp, final)
    return final


def hourly(start: int, n: int, rng: np.random.Generator, price: float, traded: bool) -> pa.Table:
    t = start + np.arange(n, dtype=np.int64) * HOUR_US
    close = np.round(price * np.exp(np.cumsum(rng.normal(0, 0.004, n))), 2)
    open_ = np.concatenate([[price], close[:-1]])
    spread = np.round(np.abs(rng.normal(0, 0.002, n)) * close, 2)
    volume = np.round(rng.gamma(2, 400, n), 3) if traded else np.zeros(n)
    cols = [
        pa.array(t, pa.timestamp("us")),
        pa.array(t + HOUR_US - 1000, pa.timestamp("us")),
        open_,
        np.maximum(open_, close) + spread,
        np.minimum(open_, close) - spread,
        close,
        volume,
        volume * close,
        volume / 2,
        volume * close / 2,
        rng.integers(1000, 9000, n) if traded else np.full(n, 3600),
    ]
    return pa.Table.from_arrays(cols, schema=contract.KLINE_SCHEMA)


def replace(table: pa.Table, **columns: np.ndarray) -> pa.Table:
    """`table` with some columns' values replaced (keeping the lake schema's fields)."""
    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values))
    return table


def write_month(lake: Path, symbol: str, month: str, rng: np.random.Generator, state: dict) -> int:
    """Every futures dataset of one symbol for one month; returns the rows written."""
    first = date.fromisoformat(f"{month}-01")
    days = calendar.monthrange(first.year, first.month)[1]
    start, n = us(first), days * 24
    price = state.setdefault("price", 60000.0)
    rows = 0
    index = hourly(start, n, rng, price, traded=False)
    premium_close = np.round(0.0002 + rng.normal(0, 0.0003, n), 8)
    premium = replace(
        index,
        open=np.concatenate([[premium_close[0]], premium_close[:-1]]),
        high=premium_close + 0.0001,
        low=premium_close - 0.0001,
        close=premium_close,
    )
    mark = replace(index, close=np.round(index.column("close").to_numpy() * (1 + premium_close), 2))
    for dataset, table in (
        ("klines", hourly(start, n, rng, price, traded=True)),
        ("indexPriceKlines", index),
        ("markPriceKlines", mark),
        ("premiumIndexKlines", premium),
    ):
        write(lake, dataset, symbol, "1h", month, table)
        rows += n
    state["price"] = float(index.column("close")[-1].as_py())
    events = days * 3
    funding = pa.Table.from_arrays(
        [
            pa.array(start + np.arange(events, dtype=np.int64) * 8 * HOUR_US + 5000, pa.timestamp("us")),
            np.full(events, 8, dtype=np.int64),
            np.round(rng.normal(0.0001, 0.0001, events), 8),
        ],
        schema=contract.DATASETS["fundingRate"].schema,
    )
    write(lake, "fundingRate", symbol, "", month, funding)
    rows += events
    oi = state.setdefault("oi", 80000.0)
    for d in range(days):
        day = first + timedelta(days=d)
        walk = oi * np.exp(np.cumsum(rng.normal(0, 0.002, 288)))
        oi = float(walk[-1])
        ratios = rng.uniform(0.5, 3.0, (4, 288))
        table = pa.Table.from_arrays(
            [
                pa.array(us(day) + np.arange(288, dtype=np.int64) * FIVE_MIN_US, pa.timestamp("us")),
                np.round(walk, 8),
                np.round(walk * state["price"], 8),
                *[np.round(r, 8) for r in ratios],
            ],
            schema=contract.DATASETS["metrics"].schema,
        )
        write(lake, "metrics", symbol, "", str(day), table)
        rows += 288
    state["oi"] = oi
    return rows


def write_manifests(lake: Path) -> None:
    """Manifests like the loader's for every dataset of the lake (dbt reads them to know what changed)."""
    for name in (
        "klines",
        "markPriceKlines",
        "indexPriceKlines",
        "premiumIndexKlines",
        "fundingRate",
        "metrics",
    ):
        write_manifest(lake, name)


def dbt(args: list[str], lake: Path, db: Path, work: Path):
    """`dbt <args>` as benchmarks/dbt_cli.py runs it, with CPU and peak RSS measured."""
    m = run_measured(dbt_command(args, work), env=dbt_env(lake, db))
    if m.exit_code != 0:
        raise SystemExit(f"{m.stdout[-4000:]}\ndbt {' '.join(args)} failed; see {work / 'logs'}")
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--first-month", default="2023-01")
    p.add_argument("--load-symbols", type=int, default=4)
    p.add_argument("--load-months", type=int, default=3)
    p.add_argument("--skip-loader", action="store_true")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    results: dict = {}
    if not args.skip_loader:
        results["loader"] = loader_throughput(
            out / "load", symbols(args.load_symbols), months_from(args.first_month, args.load_months)
        )
        shutil.rmtree(out / "load", ignore_errors=True)

    lake, work = out / "lake", out / "dbt"
    db, raw_db = work / "warehouse.duckdb", out / "raw" / "warehouse.duckdb"
    work.mkdir()
    raw_db.parent.mkdir()
    names = symbols(args.symbols)
    months = months_from(args.first_month, args.months + 1)
    states: dict[str, dict] = {s: {} for s in names}
    t0 = time.perf_counter()
    rows = 0
    for i, symbol in enumerate(names):
        for k, month in enumerate(months[:-1]):
            rows += write_month(lake, symbol, month, np.random.default_rng([i, k]), states[symbol])
        if (i + 1) % 20 == 0:
            print(f"generated {i + 1}/{len(names)} symbols, {rows:,} rows", flush=True)
    write_manifests(lake)
    files = sum(1 for _ in lake.glob("binance/*/**/*.parquet"))
    results["lake"] = {"symbols": len(names), "months": args.months, "rows": rows, "files": files,
                       "generate_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    print(f"lake: {results['lake']}", flush=True)

    dbt(["parse"], lake, db, work)
    full = dbt(["build"], lake, db, work)
    full_nodes = node_timings(work)
    print(
        f"full dbt build: {full.seconds:.1f}s, peak RSS {full.peak_rss_mb:.0f} MB ({full_nodes})", flush=True
    )
    raw_s, raw_nodes = raw_sql(work, db, raw_db)
    print(f"raw DuckDB SQL of the same models and tests: {raw_s:.1f}s", flush=True)
    startup = dbt(["build", "--select", "test_type:unit"], lake, db, work)
    print(f"dbt fixed start-up: {startup.seconds:.1f}s", flush=True)

    t0 = time.perf_counter()
    added = sum(
        write_month(lake, s, months[-1], np.random.default_rng([i, len(months)]), states[s])
        for i, s in enumerate(names)
    )
    write_manifests(lake)
    print(f"added {months[-1]}: {added:,} rows in {time.perf_counter() - t0:.1f}s", flush=True)
    incr = dbt(["build"], lake, db, work)
    incr_nodes = node_timings(work)
    print(f"incremental dbt build: {incr.seconds:.1f}s ({incr_nodes})", flush=True)

    results["dbt"] = {
        "full_build_s": round(full.seconds, 1),
        "full_build_cpu_s": round(full.cpu_seconds, 1),
        "full_build_peak_rss_mb": round(full.peak_rss_mb),
        "full_build_nodes_s": {k: round(v, 1) for k, v in full_nodes.items()},
        "raw_sql_s": round(raw_s, 1),
        "raw_sql_slowest_s": {
            k: round(v, 2) for k, v in sorted(raw_nodes.items(), key=lambda kv: -kv[1])[:8]
        },
        "startup_s": round(startup.seconds, 1),
        "full_vs_raw_plus_startup": round(full.seconds / (raw_s + startup.seconds), 3),
        "added_rows": added,
        "incremental_build_s": round(incr.seconds, 1),
        "incremental_build_peak_rss_mb": round(incr.peak_rss_mb),
        "incremental_nodes_s": {k: round(v, 1) for k, v in incr_nodes.items()},
        "incremental_vs_full": round(incr.seconds / full.seconds, 3),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
