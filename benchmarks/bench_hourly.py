"""Benchmark of the hourly marts (docs/features.md#hourly-grain) against the daily ones, on the futures lake
of benchmarks/bench_update.py (default /tmp/bench_update/lake: 200 um symbols x 36 months of 1h klines,
2023-01 .. 2025-12, plus Binance's daily files of 2026-01-01; 5.3M hourly rows).

That lake is never written: step `lake` keeps a copy of its klines manifest in the work folder and builds
a klines-only lake there whose files are hard links to its klines files (no copy; same inode, same bytes
and file times), without the manifest's last daily archive day, with a manifest without that day's
entries; step `incremental` links that day in and writes the whole manifest, as a loader adding one
day would.

Steps (`--steps`, default all; each one command, a few minutes at 200 x 36):

1. lake: the linked lake, all but the last day.
2. daily: `dbt build` of the daily marts' klines chain (fct_ohlcv_daily and int_binance__price_features_daily
   with what they read, and their tests) into a fresh DuckDB file: the daily equivalent of the hourly marts.
3. hourly: `dbt build` of the hourly marts (models/marts/hourly, what they read, their tests) into another
   fresh DuckDB file. Goal: <= 3 x the daily build.
4. incremental: the last day added, then `dbt build` of the hourly marts again, on the file of step 3.
   Goal: <= 10 % of step 3.

Wall seconds of each dbt process, CPU, peak RSS, and seconds per resource type (run_results.json) go
to `{work}/results.json`.

    .venv/bin/python benchmarks/bench_hourly.py                     # every step
    .venv/bin/python benchmarks/bench_hourly.py --steps lake,daily   # then --steps hourly, incremental
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench_dbt import node_timings  # noqa: E402
from benchmarks.dbt_cli import dbt_command, dbt_env  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402

DEFAULT_SOURCE = Path("/tmp/bench_update/lake")
DEFAULT_WORK = Path("/tmp/bench_hourly")
STEPS = ("lake", "daily", "hourly", "incremental")
SELECT_DAILY = ("+fct_ohlcv_daily", "+int_binance__price_features_daily")
SELECT_HOURLY = ("+path:models/marts/hourly",)
KLINES = Path("binance") / "klines"
MANIFEST = Path("binance") / "manifest" / "klines.parquet"
GOAL_FULL_RATIO = 3.0
GOAL_INCREMENTAL_SHARE = 0.10


def last_day(manifest: Path) -> str:
    """The last daily archive period ('YYYY-MM-DD') of a klines manifest: the day the incremental step
    adds."""
    con = duckdb.connect()
    try:
        row = con.execute(
            "select max(period) from read_parquet(?) where kind = 'daily'", [str(manifest)]
        ).fetchone()
    finally:
        con.close()
    if not row or not row[0]:
        raise SystemExit(f"{manifest} has no daily archive to add as the incremental day")
    return str(row[0])


def write_manifest(snapshot: Path, lake: Path, without_day: str | None) -> None:
    """The klines manifest `snapshot`, without `without_day`'s entries when given (atomic write)."""
    target = lake / MANIFEST
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    con = duckdb.connect()
    try:
        where = "where period != ?" if without_day else ""
        params = [str(snapshot), *([without_day] if without_day else [])]
        con.execute(f"copy (select * from read_parquet(?) {where}) to '{tmp}' (format parquet)", params)
    finally:
        con.close()
    os.replace(tmp, target)


def link_klines(source: Path, lake: Path, day: str, *, only_day: bool) -> int:
    """Hard-link the klines files of `source` into `lake`: those up to the day before `day`, or
    (only_day) `day`'s. Later days (another process may add some to `source` meanwhile) never."""
    count = 0
    for path in sorted((source / KLINES).rglob("*.parquet")):
        period = path.stem.rsplit("-1h-", 1)[-1]
        if (period == day) != only_day or (not only_day and period > day):
            continue
        dest = lake / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            os.link(path, dest)
            count += 1
    return count


def dbt_build(select: tuple[str, ...], lake: Path, db: Path, work: Path) -> dict:
    """One measured `dbt build --select ...` (tests whose parents are all selected)."""
    args = ["build", "--select", *select, "--indirect-selection", "cautious"]
    measured = run_measured(dbt_command(args, work), env=dbt_env(lake, db))
    if measured.exit_code != 0:
        raise SystemExit(f"{measured.stdout[-3000:]}\ndbt build failed; see {work / 'logs'}")
    rows = duckdb.connect(str(db), read_only=True)
    try:
        tables = {
            name: rows.execute(f"select count(*) from main.{name}").fetchone()[0]  # type: ignore[index]
            for name in ("fct_ohlcv_daily", "fct_ohlcv_hourly", "fct_regime_features_hourly")
            if rows.execute("select count(*) from duckdb_tables() where table_name = ?", [name]).fetchone()[0]  # type: ignore[index]
        }
    finally:
        rows.close()
    return {
        "wall_s": round(measured.seconds, 1),
        "cpu_s": round(measured.cpu_seconds, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
        "nodes_s": {k: round(v, 1) for k, v in node_timings(work).items()},
        "rows": tables,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="lake to read (never written)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--steps", default=",".join(STEPS))
    args = parser.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    if unknown := set(steps) - set(STEPS):
        raise SystemExit(f"unknown steps {sorted(unknown)}; choose from {', '.join(STEPS)}")
    source, work = args.source.resolve(), args.work.resolve()
    if work == source or source in work.parents:
        raise SystemExit(f"--work {work} must not be inside the source lake {source}")
    lake = work / "lake"
    results_path = work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    snapshot = work / "source_klines_manifest.parquet"

    if "lake" in steps:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        # The source's manifest as it is now, kept here: the day added later is this one's last.
        shutil.copyfile(source / MANIFEST, snapshot)
        day = last_day(snapshot)
        results = {"source": str(source), "added_day": day}
        results["lake_files"] = link_klines(source, lake, day, only_day=False)
        write_manifest(snapshot, lake, without_day=day)
    if not snapshot.exists():
        raise SystemExit(f"no lake under {work}: run --steps lake first")
    day = results["added_day"]
    if "daily" in steps:
        shutil.rmtree(work / "daily", ignore_errors=True)
        results["daily"] = dbt_build(SELECT_DAILY, lake, work / "daily" / "warehouse.duckdb", work / "daily")
    if "hourly" in steps:
        shutil.rmtree(work / "hourly", ignore_errors=True)
        results["hourly"] = dbt_build(
            SELECT_HOURLY, lake, work / "hourly" / "warehouse.duckdb", work / "hourly"
        )
    if "incremental" in steps:
        results["incremental_files"] = link_klines(source, lake, day, only_day=True)
        write_manifest(snapshot, lake, without_day=None)
        results["incremental"] = dbt_build(
            SELECT_HOURLY, lake, work / "hourly" / "warehouse.duckdb", work / "incremental"
        )
    if "daily" in results and "hourly" in results:
        ratio = results["hourly"]["wall_s"] / results["daily"]["wall_s"]
        results["hourly_vs_daily"] = {
            "ratio": round(ratio, 2),
            "goal": GOAL_FULL_RATIO,
            "ok": ratio <= GOAL_FULL_RATIO,
        }
    if "hourly" in results and "incremental" in results:
        share = results["incremental"]["wall_s"] / results["hourly"]["wall_s"]
        results["incremental_vs_full"] = {
            "share": round(share, 3),
            "goal": GOAL_INCREMENTAL_SHARE,
            "ok": share <= GOAL_INCREMENTAL_SHARE,
        }
    results["load_average_1m"] = round(os.getloadavg()[0], 2)
    work.mkdir(parents=True, exist_ok=True)
    tmp = results_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, results_path)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
