"""Benchmark of `dbt build` on a lake of >= 20 million 1m candles, against the same SQL run by DuckDB alone.

One run measures, on a lake generated here (Parquet written directly in the lake layout, deterministic
random walks, so generation takes seconds, not a download):

1. the full `dbt build --vars '{daily_source_interval: 1m}'` into a fresh DuckDB file (seeds, unit tests,
   models, data tests), as a user runs it;
2. dbt's fixed start-up: `dbt build` of the unit tests only (parse, connect, run-start hooks and
   the fixed-size unit tests; nothing that grows with the lake);
3. the floor: every model and data test of that build, as compiled by dbt (target/manifest.json), executed
   by DuckDB directly in dependency order (`create table/view ... as <compiled sql>`, `select count(*)
   from (<compiled test>)`) into another fresh file;
4. an incremental `dbt build` after one more month is added to every symbol, `--incremental-runs` times
   (a month more each time; the median counts).

Steps 1-3 run `--repeat` times (default 2), alternating, and the fastest of each counts: the machine is
shared, and the least disturbed run is the best estimate of each cost.

Goals (issue 3): full build <= 1.5 x (floor + fixed start-up); incremental < 10% of the full build.

    .venv/bin/python benchmarks/bench_dbt.py                 # 8 symbols x 60 months = 21.0M candles
    .venv/bin/python benchmarks/bench_dbt.py --symbols 80 --months 96 --first-month 2017-01 --repeat 1 \
        --out /tmp/bench_dbt_large                           # 337M candles, 13 GB of lake (~12 min)
    .venv/bin/python benchmarks/bench_dbt.py --symbols 2 --months 6   # a quick smoke run

An incremental build costs dbt's fixed start-up plus work proportional to the added data, a full build
grows with the whole lake: the incremental/full ratio is a property of the lake's size, which is why the
large run exists.

Output goes to benchmarks/out/bench_dbt/ (git-ignored): the lake, both DuckDB files, dbt's target/ and
logs/, and results.json. The figures go into docs/benchmarks.md ("dbt build") by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.dbt_cli import run_dbt  # noqa: E402
from benchmarks.lake_manifest import write_manifest  # noqa: E402
from binance_warehouse.update.selection import excluded  # noqa: E402

try:  # the lake plugin's SQL functions, which the compiled SQL calls (absent in older checkouts)
    from dbt_plugins.lake import register_functions
except ImportError:
    register_functions = None
from loaders import config, contract  # noqa: E402
from loaders.binance.convert import parquet_writer  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_dbt"
SOURCE_INTERVAL = "1m"
MINUTE_US = 60_000_000
SEED = 42
SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT", "LTCUSDT")
MAX_SYMBOLS = 200  # beyond the named eight: SYN009USDT, SYN010USDT, ... (a warn-only test flags them)


def symbol_names(count: int) -> tuple[str, ...]:
    return SYMBOLS[:count] + tuple(f"SYN{i:03d}USDT" for i in range(len(SYMBOLS) + 1, count + 1))


FIRST_MONTH = "2019-01"


def month_list(first: str, count: int) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_start_us(month: str) -> int:
    dt = datetime.strptime(month, "%Y-%m").replace(tzinfo=timezone.utc)
    return int(dt.timestamp()) * 1_000_000


def write_month(
    lake: Path, symbol: str, month: str, rng: np.random.Generator, price: float
) -> tuple[int, float]:
    """One month of 1m candles of a random walk as `{symbol}-1m-{month}.parquet`; returns (rows, last close).

    Prices sit on a 0.01 tick and base volumes on a 0.00001 lot, as on Binance: full-precision random
    doubles would make the files ~3x larger than real ones and the benchmark disk-bound."""
    start = month_start_us(month)
    end = month_start_us(month_list(month, 2)[1])
    n = (end - start) // MINUTE_US
    open_time = start + np.arange(n, dtype=np.int64) * MINUTE_US
    close = np.maximum(np.round(price * np.exp(np.cumsum(rng.normal(0.0, 8e-4, n))), 2), 0.01)
    open_ = np.concatenate([[round(price, 2)], close[:-1]])
    wick = np.abs(rng.normal(0.0, 4e-4, (2, n)))
    # Rounding to the tick keeps high >= max(open, close) and low <= min(open, close): both are ticks.
    high = np.round(np.maximum(open_, close) * (1 + wick[0]), 2)
    low = np.maximum(np.round(np.minimum(open_, close) * (1 - wick[1]), 2), 0.01)
    volume = np.round(rng.gamma(2.0, 5.0, n), 5)
    quote = np.round(volume * (open_ + close) / 2, 8)
    taker = rng.uniform(0.3, 0.7, n)
    table = pa.Table.from_arrays(
        [
            pa.array(open_time, pa.timestamp("us")),
            pa.array(open_time + MINUTE_US - 1000, pa.timestamp("us")),
            open_,
            high,
            low,
            close,
            volume,
            quote,
            np.round(volume * taker, 5),
            np.round(quote * taker, 8),
            rng.integers(10, 5000, n, dtype=np.int64),
        ],
        schema=contract.KLINE_SCHEMA,
    )
    folder = contract.partition_dir(lake, "klines", "spot", SOURCE_INTERVAL, symbol, month)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{symbol}-{SOURCE_INTERVAL}-{month}.parquet"
    tmp = contract.temp_path(final)
    with parquet_writer(
        tmp, contract.KLINE_SCHEMA
    ) as writer:  # the loader's own settings: the lake is what it would write
        writer.write_table(table, row_group_size=config.PARQUET_ROW_GROUP_ROWS)
    os.replace(tmp, final)
    return n, float(close[-1])


def generate(lake: Path, symbols: Sequence[str], months: Sequence[str], state: dict[str, dict]) -> int:
    """Write `months` for every symbol, continuing each random walk from `state`; returns rows."""
    rows = 0
    for i, symbol in enumerate(symbols):
        st = state.setdefault(symbol, {"price": 100.0 * (i + 1), "seed": SEED + i, "month": 0})
        for month in months:
            rng = np.random.default_rng([st["seed"], st["month"]])
            n, st["price"] = write_month(lake, symbol, month, rng, st["price"])
            st["month"] += 1
            rows += n
    write_manifest(lake, "klines")
    return rows


# Nodes `binance-warehouse update` leaves out of its builds (binance_warehouse/update/selection.py:
# those reading only datasets with no file in the lake), set after the warm-up parse; --all-nodes: none.
EXCLUDE: list[str] = []
UNIT_TESTS_OFF = ["--exclude-resource-type=unit_test"]


def dbt(args: Sequence[str], lake: Path, db: Path, work: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of one `dbt ...` process, as a user would run it, aggregating from 1m candles."""
    exclude = ["--exclude", *EXCLUDE] if EXCLUDE and args[0] == "build" else []
    return run_dbt(
        [*args, *exclude, "--vars", json.dumps({"daily_source_interval": SOURCE_INTERVAL})],
        lake=lake,
        db=db,
        work=work,
    )


def node_timings(work: Path) -> dict[str, float]:
    """Seconds per resource type, from run_results.json."""
    results = json.loads((work / "target" / "run_results.json").read_text())
    out: dict[str, float] = {}
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        out[kind] = out.get(kind, 0.0) + float(r["execution_time"])
    out["total_elapsed"] = float(results["elapsed_time"])
    return out


def raw_sql(work: Path, dbt_db: Path, raw_db: Path) -> tuple[float, dict[str, float]]:
    """Execute the compiled SQL of every model and data test of the last build, without dbt.

    Seeds are copied from the dbt-built file first (not timed: a seed is a few CSV rows). Returns total
    seconds and seconds per node."""
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    results = json.loads((work / "target" / "run_results.json").read_text())
    ran = {r["unique_id"] for r in results["results"]}
    nodes = {
        k: v for k, v in manifest["nodes"].items() if k in ran and v["resource_type"] in ("model", "test")
    }
    seeds = [v for k, v in manifest["nodes"].items() if k in ran and v["resource_type"] == "seed"]
    graph = {k: [d for d in v["depends_on"]["nodes"] if d in nodes] for k, v in nodes.items()}
    order = list(TopologicalSorter(graph).static_order())

    # dbt Python models (the regime fits) have no SQL to replay: their tables are copied from the
    # dbt-built file and their cost is dbt's own execution time for them (the same Python either way).
    python_nodes = {k for k, v in nodes.items() if v.get("language") == "python"}
    dbt_seconds = {r["unique_id"]: float(r["execution_time"]) for r in results["results"]}

    raw_db.unlink(missing_ok=True)
    con = duckdb.connect(str(raw_db))
    try:
        if register_functions is not None:
            register_functions(con)
        # The profile's settings (profiles.yml), so the floor runs under the same conditions.
        con.execute("set preserve_insertion_order = false")
        con.execute("set memory_limit = '8GB'")
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{dbt_db}' as built (read_only)")
        for s in seeds:
            con.execute(
                f'create table main."{s["alias"] or s["name"]}" as select * from built.main."{s["alias"] or s["name"]}"'
            )
        for uid in python_nodes:
            name = nodes[uid]["alias"]
            con.execute(f'create table main."{name}" as select * from built.main."{name}"')
        con.execute("detach built")
        per_node: dict[str, float] = {nodes[uid]["name"]: dbt_seconds[uid] for uid in python_nodes}
        t_all = time.perf_counter()
        for uid in order:
            if uid in python_nodes:
                continue
            node = nodes[uid]
            code = node.get("compiled_code")
            if not code:
                raise SystemExit(f"no compiled SQL for {uid} in manifest.json")
            t0 = time.perf_counter()
            if node["resource_type"] == "test":
                con.execute(f"select count(*) from ({code}) as t").fetchone()
            else:
                kind = "view" if node["config"]["materialized"] == "view" else "table"
                con.execute(f'create or replace {kind} main."{node["alias"]}" as {code}')
            per_node[node["name"]] = time.perf_counter() - t0
        return time.perf_counter() - t_all + sum(dbt_seconds[uid] for uid in python_nodes), per_node
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=8, help=f"number of symbols (max {MAX_SYMBOLS})")
    parser.add_argument("--months", type=int, default=60, help="months per symbol before the added one")
    parser.add_argument(
        "--incremental-runs", type=int, default=3, help="incremental builds, each after adding one more month"
    )
    parser.add_argument("--first-month", default=FIRST_MONTH, help="YYYY-MM of the lake's first month")
    parser.add_argument("--repeat", type=int, default=2, help="full build / raw SQL / start-up rounds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="work folder (wiped first)")
    parser.add_argument(
        "--all-nodes",
        action="store_true",
        help="build every node (default: what `update` builds, without the nodes of datasets with no file)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.symbols <= MAX_SYMBOLS:
        parser.error(f"--symbols must be 1..{MAX_SYMBOLS}")
    if args.repeat < 1 or args.incremental_runs < 1:
        parser.error("--repeat and --incremental-runs must be at least 1")

    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    lake, work = out / "lake", out / "dbt"
    dbt_db, raw_db = work / "warehouse.duckdb", out / "raw" / "warehouse.duckdb"  # same catalog name
    work.mkdir(parents=True)
    raw_db.parent.mkdir(parents=True)
    symbols = symbol_names(args.symbols)
    months = month_list(args.first_month, args.months + args.incremental_runs)
    state: dict[str, dict] = {}

    t0 = time.perf_counter()
    rows = generate(lake, symbols, months[: args.months], state)
    gen_s = time.perf_counter() - t0
    print(f"generated {rows:,} 1m candles ({len(symbols)} symbols x {args.months} months) in {gen_s:.1f}s")

    dbt(["parse"], lake, dbt_db, work)  # warm: every timed run below uses partial parsing, as users do
    if not args.all_nodes:
        EXCLUDE[:] = excluded(work / "target" / "manifest.json", lake, REPO_ROOT)
        print(f"left out as `update` does (datasets with no file): {len(EXCLUDE)} nodes")
    # The machine is shared: each measurement is repeated, alternating, and the fastest run counts
    # (the least disturbed one); every run is kept in results.json.
    full_runs: list[float] = []
    raw_runs: list[float] = []
    startup_runs: list[float] = []
    for i in range(args.repeat):
        dbt_db.unlink(missing_ok=True)
        elapsed, _ = dbt(["build"], lake, dbt_db, work)
        nodes = node_timings(work)
        if not full_runs or elapsed < min(full_runs):
            full_nodes = nodes
        full_runs.append(elapsed)
        print(f"[{i + 1}/{args.repeat}] full dbt build: {elapsed:.1f}s  (per type: {nodes})")

        elapsed, per_node = raw_sql(work, dbt_db, raw_db)
        if not raw_runs or elapsed < min(raw_runs):
            raw_nodes = per_node
        raw_runs.append(elapsed)
        print(f"[{i + 1}/{args.repeat}] raw DuckDB SQL (same compiled models + tests): {elapsed:.1f}s")

        elapsed, _ = dbt(["build", "--select", "test_type:unit"], lake, dbt_db, work)
        startup_runs.append(elapsed)
        print(f"[{i + 1}/{args.repeat}] dbt fixed start-up (build of unit tests only): {elapsed:.1f}s")
    full_s, raw_s, startup_s = min(full_runs), min(raw_runs), min(startup_runs)

    t0 = time.perf_counter()
    incr_runs: list[tuple[float, dict[str, float]]] = []  # (seconds, node times) per run
    for month in months[args.months :]:
        t0 = time.perf_counter()
        added = generate(lake, symbols, [month], state)
        print(f"added month {month}: {added:,} candles in {time.perf_counter() - t0:.1f}s")
        # As `update` runs it: the unit tests passed on this code at the full build.
        elapsed, _ = dbt(["build", *([] if args.all_nodes else UNIT_TESTS_OFF)], lake, dbt_db, work)
        nodes = node_timings(work)
        print(f"incremental dbt build: {elapsed:.1f}s  (per type: {nodes})")
        incr_runs.append((elapsed, nodes))
    # The median run by time, with its own node times.
    incr_s, incr_nodes = sorted(incr_runs, key=lambda run: run[0])[len(incr_runs) // 2]

    ratio_full = full_s / (raw_s + startup_s)
    ratio_incr = incr_s / full_s
    # The same ratio without dbt's fixed start-up (it does not grow with the lake), and for the models
    # alone (run_results execution times): the part of the work that incremental models can save.
    ratio_incr_variable = (incr_s - startup_s) / (full_s - startup_s)
    ratio_incr_models = incr_nodes.get("model", 0.0) / full_nodes["model"]
    results = {
        "candles": rows,
        "added_candles_per_month": added,
        "symbols": len(symbols),
        "months": args.months,
        "generate_s": round(gen_s, 2),
        "repeat": args.repeat,
        "full_build_runs_s": [round(x, 2) for x in full_runs],
        "raw_sql_runs_s": [round(x, 2) for x in raw_runs],
        "startup_runs_s": [round(x, 2) for x in startup_runs],
        "full_build_s": round(full_s, 2),
        "full_build_nodes_s": {k: round(v, 2) for k, v in full_nodes.items()},
        "raw_sql_s": round(raw_s, 2),
        "raw_sql_nodes_s": {k: round(v, 3) for k, v in sorted(raw_nodes.items(), key=lambda kv: -kv[1])},
        "startup_s": round(startup_s, 2),
        "incremental_build_runs_s": [round(x, 2) for x, _ in incr_runs],
        "incremental_build_s": round(incr_s, 2),
        "incremental_nodes_s": {k: round(v, 2) for k, v in incr_nodes.items()},
        "full_vs_raw_plus_startup": round(ratio_full, 3),
        "incremental_vs_full": round(ratio_incr, 3),
        "incremental_vs_full_without_startup": round(ratio_incr_variable, 3),
        "incremental_vs_full_models_only": round(ratio_incr_models, 3),
        "nodes_left_out": len(EXCLUDE),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(
        f"full build / (raw SQL + start-up) = {ratio_full:.2f} (goal <= 1.5); "
        f"incremental / full = {ratio_incr:.1%} (goal < 10%); without the fixed start-up "
        f"{ratio_incr_variable:.1%}; models alone {ratio_incr_models:.1%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
