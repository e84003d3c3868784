"""Benchmark of the R2 mirror and of `dbt build --target r2`, against an S3-compatible server on loopback.

One run, on a lake generated here (daily 1h Parquet files in the lake layout plus a loader-style
manifest, deterministic random walks; thousands of small files, the shape that makes a sync tool slow):

1. baseline: one paginated ListObjectsV2 of the whole prefix (what any sync must do at least);
2. `push` with --workers 1 and with --workers N into empty buckets (first push);
3. a second push with nothing changed (should cost little more than the listing: the state cache
   answers every checksum), and the same without the state cache (one HEAD per object for its stored
   sha256, plus a re-hash of every file);
4. `dbt build` from the local lake vs `dbt build --target r2` reading the bucket through DuckDB's
   httpfs (empty LAKE_DIR), same marts checked equal; on the same candles stored as monthly files
   (what the loader writes for past months) and as daily files (the push lake, the worst case: every
   file costs its own requests).

The S3 server is moto's server mode in its own process (`moto_server`), so it does not share the
benchmark's GIL; on real R2 every request has tens of milliseconds of latency instead of <1 ms, which
favours the cache and parallel uploads even more.

    .venv/bin/python benchmarks/bench_r2.py                        # 8 symbols x 365 days = 2920 files
    .venv/bin/python benchmarks/bench_r2.py --symbols 2 --days 30 --dbt-layouts monthly   # quick smoke run

Output: benchmarks/out/bench_r2/ (git-ignored): the lake, DuckDB files, dbt logs, results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.dbt_cli import run_dbt  # noqa: E402
from benchmarks.lake_manifest import write_manifest  # noqa: E402
from loaders import config, contract  # noqa: E402
from loaders.r2 import R2Settings, push  # noqa: E402
from loaders.r2.mirror import list_remote  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_r2"
MOTO = REPO_ROOT / ".venv" / "bin" / "moto_server"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT")
FIRST_DAY = datetime(2023, 1, 1, tzinfo=timezone.utc)
HOUR_US = 3_600_000_000
PREFIX = "bench/lake"


# --- the lake ----------------------------------------------------------------------------------


def day_table(day: datetime, rng: np.random.Generator, price: float) -> tuple[pa.Table, float]:
    """One day of 1h candles of a random walk; returns (table, last close)."""
    start = int(day.timestamp()) * 1_000_000
    open_time = start + np.arange(24, dtype=np.int64) * HOUR_US
    close = price * np.exp(np.cumsum(rng.normal(0.0, 4e-3, 24)))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(0.0, 2e-3, (2, 24)))
    volume = rng.gamma(2.0, 50.0, 24)
    quote = volume * (open_ + close) / 2
    taker = rng.uniform(0.3, 0.7, 24)
    table = pa.Table.from_arrays(
        [
            pa.array(open_time, pa.timestamp("us")),
            pa.array(open_time + HOUR_US - 1000, pa.timestamp("us")),
            open_,
            np.maximum(open_, close) * (1 + wick[0]),
            np.minimum(open_, close) * (1 - wick[1]),
            close,
            volume,
            quote,
            volume * taker,
            quote * taker,
            rng.integers(10, 5000, 24, dtype=np.int64),
        ],
        schema=contract.KLINE_SCHEMA,
    )
    return table, float(close[-1])


def generate(lake: Path, symbols: Sequence[str], days: int, monthly: bool) -> int:
    """The same candles either as one file per day (daily archives) or per month (monthly archives),
    plus a loader-style manifest; returns the number of files."""
    shutil.rmtree(lake, ignore_errors=True)
    files = 0

    def write(symbol: str, period: str, tables: list[pa.Table]) -> None:
        nonlocal files
        folder = contract.partition_dir(lake, "klines", "spot", "1h", symbol, period[:7])
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), folder / f"{symbol}-1h-{period}.parquet", compression="zstd")
        files += 1

    for i, symbol in enumerate(symbols):
        rng = np.random.default_rng(1000 + i)
        price = 100.0 * (i + 1)
        month: list[pa.Table] = []
        for d in range(days):
            day = FIRST_DAY + timedelta(days=d)
            table, price = day_table(day, rng, price)
            if not monthly:
                write(symbol, f"{day:%Y-%m-%d}", [table])
                continue
            month.append(table)
            if (day + timedelta(days=1)).month != day.month or d == days - 1:
                write(symbol, f"{day:%Y-%m}", month)
                month = []
    write_manifest(lake, "klines")
    return files + 1


# --- the S3 server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/moto-api/", timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"moto_server did not start on {url}; see {log}")


def settings(url: str, bucket: str) -> R2Settings:
    return R2Settings.from_env(
        {
            "R2_ENDPOINT_URL": url,
            "R2_ACCESS_KEY_ID": "bench",
            "R2_SECRET_ACCESS_KEY": "bench-secret",
            "R2_BUCKET": bucket,
            "R2_PREFIX": PREFIX,
        }
    )


def make_bucket(url: str, name: str) -> None:
    import boto3

    boto3.client(
        "s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).create_bucket(Bucket=name)


def median_of(repeat: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(repeat))


# --- dbt ---------------------------------------------------------------------------------------


def dbt_build(lake: Path, db: Path, work: Path, extra_env: dict[str, str], target: str) -> float:
    db.unlink(missing_ok=True)
    return run_dbt(["build", "--target", target], lake=lake, db=db, work=work, extra_env=extra_env)[0]


def mart_fingerprint(db: Path) -> dict[str, tuple]:
    """Row count and column sums of each mart (bookkeeping `_` columns aside), to check both builds agree."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("fct_ohlcv_daily", "fct_regime_features_daily"):
            out[table] = con.execute(
                f"select count(*), round(sum(close_price), 6), count(distinct trade_date) from {table}"
            ).fetchone()
    return out


# --- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=8, help="symbols (daily files per symbol: --days)")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=config.R2_DEFAULT_WORKERS)
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the cheap measurements (median)")
    parser.add_argument(
        "--dbt-layouts",
        default="monthly,daily",
        help="lakes to compare dbt builds on: monthly (one file per month, what the loader writes for "
        "past months) and/or daily (the push lake: one file per day); empty to skip dbt",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    symbols = (
        SYMBOLS[: args.symbols]
        if args.symbols <= len(SYMBOLS)
        else [f"S{i}USDT" for i in range(args.symbols)]
    )
    lakes = {"daily": out / "lake-daily", "monthly": out / "lake-monthly"}
    layouts = [x for x in args.dbt_layouts.split(",") if x]
    t0 = time.perf_counter()
    files = {
        layout: generate(lakes[layout], symbols, args.days, layout == "monthly")
        for layout in {"daily", *layouts}
    }
    lake = lakes["daily"]
    lake_bytes = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())
    print(
        f"lakes: {files} files, daily {lake_bytes / 2**20:.1f} MiB, generated in {time.perf_counter() - t0:.1f} s"
    )

    proc, url = start_moto(out / "moto.log")
    results: dict[str, object] = {"files": files["daily"], "lake_bytes": lake_bytes, "workers": args.workers}
    try:
        state = lake / config.R2_STATE_FILE

        def first_push(bucket: str, workers: int, lake: Path = lake) -> float:
            make_bucket(url, bucket)
            (lake / config.R2_STATE_FILE).unlink(missing_ok=True)
            summary = push(lake, settings(url, bucket), workers=workers, progress=False)
            assert summary.uploaded == sum(1 for p in lake.rglob("*.parquet")) and not summary.failed
            return summary.seconds

        results["first_push_1_worker_s"] = first_push("bench-serial", 1)
        results["first_push_s"] = first_push("bench-daily", args.workers)
        s = settings(url, "bench-daily")
        client = s.client()

        def listing() -> float:
            t = time.perf_counter()
            n = sum(1 for _ in list_remote(client, s))
            assert n == files["daily"]
            return time.perf_counter() - t

        def second_push(cached: bool) -> float:
            if not cached:
                state.unlink(missing_ok=True)
            summary = push(lake, s, workers=args.workers, progress=False)
            assert summary.uploaded == 0 and summary.skipped == files["daily"], summary.line()
            return summary.seconds

        # Interleaved, so the shared machine's drift hits baseline and measurement alike.
        pairs = [(listing(), second_push(True)) for _ in range(args.repeat)]
        results["listing_s"] = statistics.median(p[0] for p in pairs)
        results["second_push_s"] = statistics.median(p[1] for p in pairs)
        results["second_push_no_cache_s"] = second_push(False)

        for layout in layouts:
            bucket = f"bench-{layout}"
            if layout != "daily":
                first_push(bucket, args.workers, lakes[layout])
            env = {
                "R2_ENDPOINT_URL": url,
                "R2_ACCESS_KEY_ID": "bench",
                "R2_SECRET_ACCESS_KEY": "bench-secret",
                "R2_BUCKET": bucket,
                "R2_PREFIX": PREFIX,
            }
            empty = out / "empty-lake"
            empty.mkdir(exist_ok=True)
            local_db, r2_db = out / f"local-{layout}.duckdb", out / f"r2-{layout}.duckdb"
            results[f"dbt_local_{layout}_s"] = dbt_build(
                lakes[layout], local_db, out / f"dbt-local-{layout}", {}, "dev"
            )
            results[f"dbt_r2_{layout}_s"] = dbt_build(empty, r2_db, out / f"dbt-r2-{layout}", env, "r2")
            local, remote = mart_fingerprint(local_db), mart_fingerprint(r2_db)
            assert local == remote, (local, remote)
            results[f"marts_{layout}"] = {k: list(v) for k, v in local.items()}
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    r = results
    print(f"listing {files['daily']} objects (baseline) {r['listing_s']:.2f} s")
    print(f"first push, 1 worker       {r['first_push_1_worker_s']:.2f} s")
    print(
        f"first push, {args.workers} workers      {r['first_push_s']:.2f} s"
        f"  ({r['first_push_1_worker_s'] / r['first_push_s']:.1f}x faster than 1 worker)"
    )
    print(
        f"second push (cache)        {r['second_push_s']:.2f} s  ({r['second_push_s'] / r['listing_s']:.2f}x the listing)"
    )
    print(
        f"second push (no cache)     {r['second_push_no_cache_s']:.2f} s"
        f"  ({r['second_push_no_cache_s'] / r['listing_s']:.1f}x the listing)"
    )
    for layout in layouts:
        loc, rem = r[f"dbt_local_{layout}_s"], r[f"dbt_r2_{layout}_s"]
        print(
            f"dbt build, {layout} lake ({files[layout]} files): local {loc:.1f} s, --target r2 {rem:.1f} s ({rem / loc:.2f}x)"
        )
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
