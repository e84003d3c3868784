"""Benchmark of the Postgres export post-hook on a window of >= 2 million rows, against psycopg2.

One run, same rows, same Postgres server, measures:

1. the project's post-hook (macros/export/export_to_postgres.sql, DuckDB's postgres extension: binary
   COPY into a staging table, primary key + date index, swap), run by a real `dbt run` of a synthetic
   mart shaped like `fct_ohlcv_daily` (17 columns); the figure is the hook's own timing from its log
   line (read the window, load, index, swap), median of `--repeat` runs (the 2nd+ replace the table);
2. psycopg2 COPY: the same window read from DuckDB as CSV and streamed with `copy_expert`, then the
   same key, index and analyze (the alternative the issue asks to compare);
3. the baseline: psycopg2 `execute_values` batch inserts of the same rows (how dbt seeds load), then
   the same key, index and analyze.

Goals: hook >= 300k rows/s and >= 5x the execute_values baseline (issue 5, daily case); the hot
window of 200 series x 30 days of hourly rows (144k rows) >= 200k rows/s (issue 26, hourly case).

`--case hourly`: a mart shaped like `fct_ohlcv_hourly` (hour_start timestamp, meta export_date_column),
200 series whose latest hours are up to 6 days apart, so each series' own window is what is exported.
`--compare-ref REV`: the hook of git revision REV (e.g. the commit before a change) is timed in the same
run, alternating with the working tree's, on the same mart: before/after figures under the same load.

    .venv/bin/python benchmarks/bench_pg_export.py                  # 70,000 symbols x 30 days = 2.1M rows
    .venv/bin/python benchmarks/bench_pg_export.py --symbols 5000   # a quick smoke run (150k rows)
    .venv/bin/python benchmarks/bench_pg_export.py --case hourly --symbols 200   # 144k hourly rows
    .venv/bin/python benchmarks/bench_pg_export.py --compare-ref HEAD~3 --no-baselines

Postgres: a throw-away PostgreSQL 15 cluster (tests/fixtures/postgres.py) unless PGHOST is set, in which
case the libpq variables' server is used (schema `bench_export` is created and dropped there).
Output: benchmarks/out/bench_pg_export/ (git-ignored): the dbt project, DuckDB file, logs, results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import psycopg2
from psycopg2.extras import execute_values

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.fixtures.postgres import PG_BIN, PostgresServer, start_postgres  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_pg_export"
SCHEMA = "bench_export"
WINDOW_DAYS = 30
EXTRA_DAYS = 10  # history older than the window, so the window filter does real work
STAGGER_DAYS = 7  # hourly case: series i ends (i % 7) days before the latest, so windows differ
MACRO_FILES = ("macros/export/export_to_postgres.sql", "macros/export/export_to_postgres.yml")
GUARDS = "macros/binance/guards.sql"  # identifier and number checks the hook calls
LOG_LINE = re.compile(r"export_to_postgres: wrote (\d+) rows to Postgres \S+ in ([0-9.]+)s")

# A synthetic mart with fct_ohlcv_daily's columns and types (docs/features.md).
MART_SQL = """
select
    'spot' as market,
    'S' || lpad(cast(i % {symbols} as varchar), 7, '0') || 'USDT' as symbol,
    date '2024-01-01' + cast(i // {symbols} as integer) as trade_date,
    100 + random() as open_price,
    101 + random() as high_price,
    99 + random() as low_price,
    100 + random() as close_price,
    random() * 1000 as base_volume,
    random() * 100000 as quote_volume,
    random() * 500 as taker_buy_base_volume,
    random() * 50000 as taker_buy_quote_volume,
    cast(i % 100000 as bigint) as trade_count,
    100 + random() as vwap,
    cast(24 as bigint) as candle_count,
    cast(24 as bigint) as expected_candle_count,
    i % 97 <> 0 as is_complete,
    '1h' as source_interval
from range({rows}) as t (i)
"""

# A synthetic mart with fct_ohlcv_hourly's key (market, symbol, hour_start) and the same 17 columns;
# (WINDOW_DAYS + EXTRA_DAYS) x 24 hours per series, series i ending (i % STAGGER_DAYS) days early.
HOURLY_SQL = """
select
    'spot' as market,
    'S' || lpad(cast(i % {symbols} as varchar), 7, '0') || 'USDT' as symbol,
    timestamp '2024-01-01' + to_hours(cast(i // {symbols} as bigint))
        - to_days(cast((i % {symbols}) % {stagger} as integer)) as hour_start,
    100 + random() as open_price,
    101 + random() as high_price,
    99 + random() as low_price,
    100 + random() as close_price,
    random() * 1000 as base_volume,
    random() * 100000 as quote_volume,
    random() * 500 as taker_buy_base_volume,
    random() * 50000 as taker_buy_quote_volume,
    cast(i % 100000 as bigint) as trade_count,
    100 + random() as vwap,
    cast(60 as bigint) as candle_count,
    cast(60 as bigint) as expected_candle_count,
    i % 97 <> 0 as is_complete,
    '1m' as source_interval
from range({rows}) as t (i)
"""

# (column, contract data_type) of both marts: the hook takes its Postgres types from these.
COLUMN_TYPES = [
    ("market", "varchar"),
    ("symbol", "varchar"),
    ("{date_column}", "{date_type}"),
    *((c, "double") for c in ("open_price", "high_price", "low_price", "close_price", "base_volume")),
    *((c, "double") for c in ("quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume")),
    ("trade_count", "bigint"),
    ("vwap", "double"),
    ("candle_count", "bigint"),
    ("expected_candle_count", "bigint"),
    ("is_complete", "boolean"),
    ("source_interval", "varchar"),
]
CASES = {
    "daily": {"mart": "fct_ohlcv_daily", "date_column": "trade_date", "date_type": "date"},
    "hourly": {"mart": "fct_ohlcv_hourly", "date_column": "hour_start", "date_type": "timestamp"},
}

PROJECT_YML = f"""
name: bench_pg_export
version: "1.0"
profile: bench_pg_export
config-version: 2
vars:
  export_schema: {SCHEMA}
  export_window_days: {WINDOW_DAYS}
models:
  bench_pg_export:
    +materialized: table
    +post-hook:
      - sql: "{{{{ export_to_postgres() }}}}"
        transaction: false
"""

PROFILES_YML = """
bench_pg_export:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('DUCKDB_PATH') }}"
      threads: 2
      settings:
        preserve_insertion_order: false  # as in the project's profiles.yml
"""


def macro_text(path: str, ref: str | None) -> str:
    """A macro file of the working tree, or of git revision `ref` (the hook before a change)."""
    if ref is None:
        return (REPO_ROOT / path).read_text()
    shown = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "show", f"{ref}:{path}"], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise SystemExit(f"error: cannot read {path} at git revision {ref}: {shown.stderr.strip()}")
    return shown.stdout


def make_project(out: Path, name: str, case: str, symbols: int, ref: str | None = None) -> Path:
    """A minimal dbt project: the synthetic mart with its column types, plus the export macro (of the
    working tree, or of git revision `ref`) and the guards it calls, copied as they are."""
    spec = CASES[case]
    project = out / name
    shutil.rmtree(project, ignore_errors=True)
    (project / "models").mkdir(parents=True)
    for path in (*MACRO_FILES, GUARDS):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(macro_text(path, ref))
    (project / "dbt_project.yml").write_text(PROJECT_YML)
    (project / "profiles.yml").write_text(PROFILES_YML)
    mart = spec["mart"]
    if case == "daily":
        sql = MART_SQL.format(symbols=symbols, rows=symbols * (WINDOW_DAYS + EXTRA_DAYS))
    else:
        sql = HOURLY_SQL.format(
            symbols=symbols, rows=symbols * (WINDOW_DAYS + EXTRA_DAYS) * 24, stagger=STAGGER_DAYS
        )
    (project / "models" / f"{mart}.sql").write_text(sql)
    columns = "".join(
        f"      - name: {c.format(**spec)}\n        data_type: {t.format(**spec)}\n" for c, t in COLUMN_TYPES
    )
    (project / "models" / f"{mart}.yml").write_text(
        f"version: 2\nmodels:\n  - name: {mart}\n    config:\n      meta:\n"
        f"        export_date_column: {spec['date_column']}\n"
        f"        export_grain: [market, symbol, {spec['date_column']}]\n"
        f"    columns:\n{columns}"
    )
    return project


def dbt_run(project: Path, out: Path, env: dict[str, str | None]) -> tuple[bool, list[str]]:
    """`dbt run` in-process; returns success and every log message (the hook's timing is one of them)."""
    from dbt.cli.main import dbtRunner

    messages: list[str] = []

    def keep(event) -> None:  # dbt EventMsg
        messages.append(event.info.msg)

    saved = {k: os.environ.get(k) for k in env}
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        result = dbtRunner(callbacks=[keep]).invoke(
            [
                "run",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target-path",
                str(out / "target"),
                "--log-path",
                str(out / "logs"),
                "--quiet",
            ]
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return result.success, messages


def hook_timing(messages: list[str]) -> tuple[int, float]:
    for msg in messages:
        m = LOG_LINE.search(msg)
        if m:
            return int(m.group(1)), float(m.group(2))
    raise SystemExit("error: the export hook did not log its timing; see benchmarks/out/bench_pg_export/logs")


def window_sql(mart: str, date_column: str) -> str:
    """Each series' own last WINDOW_DAYS days: the rows the hook exports (docs/postgres.md)."""
    return (
        f"select * from main.{mart} as m where {date_column} > (select max({date_column}) from main.{mart} "
        f"as s where s.market = m.market and s.symbol = m.symbol) - interval '{WINDOW_DAYS} days'"
    )


def finish_table(cur, table: str, date_column: str) -> None:
    """The same key, index and statistics the hook builds, so every method ends with the same table."""
    cur.execute("set maintenance_work_mem = '512MB'")
    cur.execute(f"alter table {SCHEMA}.{table} add primary key (market, symbol, {date_column})")
    cur.execute(f"create index on {SCHEMA}.{table} ({date_column})")
    cur.execute(f"analyze {SCHEMA}.{table}")


def fresh_table(cur, table: str, mart: str) -> None:
    """An empty table with the hook's column types (copied from the exported table, without indexes)."""
    cur.execute(f"drop table if exists {SCHEMA}.{table}")
    cur.execute(f"create table {SCHEMA}.{table} (like {SCHEMA}.{mart} including defaults)")


def bench_execute_values(pg, duckdb_path: Path, spec: dict[str, str], page_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    with duckdb.connect(str(duckdb_path)) as con:  # dbt (in-process) still holds it read-write
        rows = con.execute(window_sql(spec["mart"], spec["date_column"])).fetchall()
    with pg.cursor() as cur:
        fresh_table(cur, "baseline_execute_values", spec["mart"])
        execute_values(
            cur, f"insert into {SCHEMA}.baseline_execute_values values %s", rows, page_size=page_size
        )
        finish_table(cur, "baseline_execute_values", spec["date_column"])
    pg.commit()
    return len(rows), time.perf_counter() - started


def bench_copy(pg, duckdb_path: Path, spec: dict[str, str], out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    csv_path = out / "window.csv"
    date_column = spec["date_column"]
    with duckdb.connect(str(duckdb_path)) as con:  # dbt (in-process) still holds it read-write
        con.execute(
            f"copy ({window_sql(spec['mart'], date_column)} order by market, symbol, {date_column}) "
            f"to '{csv_path}' (header false)"
        )
    with pg.cursor() as cur:
        fresh_table(cur, "baseline_copy", spec["mart"])
        with csv_path.open("rb") as fh:
            cur.copy_expert(f"copy {SCHEMA}.baseline_copy from stdin with (format csv)", fh)
        rows = cur.rowcount
        finish_table(cur, "baseline_copy", date_column)
    pg.commit()
    csv_path.unlink()
    return rows, time.perf_counter() - started


def time_hook(project: Path, out: Path, env: dict[str, str | None]) -> tuple[int, float]:
    """One `dbt run` of the project with the export on: the rows and seconds of the hook's log line."""
    ok, messages = dbt_run(project, out, env)
    if not ok:
        raise SystemExit(f"error: dbt run with the export failed; see {out / 'logs'}")
    return hook_timing(messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--case", choices=sorted(CASES), default="daily", help="daily or hourly mart")
    parser.add_argument(
        "--symbols", type=int, default=None, help="series (default: 70,000 daily, 200 hourly)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="hook runs (the median is reported)")
    parser.add_argument("--page-size", type=int, default=1000, help="execute_values rows per statement")
    parser.add_argument("--compare-ref", default=None, help="also time the hook of this git revision")
    parser.add_argument("--no-baselines", action="store_true", help="skip psycopg2 COPY and execute_values")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    symbols = args.symbols if args.symbols is not None else (70_000 if args.case == "daily" else 200)
    if symbols < 1 or args.repeat < 1 or args.page_size < 1:
        parser.error("--symbols, --repeat and --page-size must be >= 1")
    spec = CASES[args.case]

    load_start = round(os.getloadavg()[0], 2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    duckdb_path = out / "bench.duckdb"
    duckdb_path.unlink(missing_ok=True)
    project = make_project(out, "project", args.case, symbols)
    before = (
        make_project(out, "project_before", args.case, symbols, args.compare_ref)
        if args.compare_ref
        else None
    )

    server: PostgresServer | None = None
    if os.environ.get("PGHOST"):
        pg_env: dict[str, str | None] = {
            k: os.environ.get(k) for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")
        }
        pg = psycopg2.connect("")  # libpq variables, like the hook
    else:
        if not (PG_BIN / "initdb").exists():
            raise SystemExit(
                f"error: no PostgreSQL server binaries in {PG_BIN}; install postgresql-15 or set PGHOST"
            )
        server = start_postgres()
        pg_env = dict(server.env())
        pg = server.connect()
    env = {"DUCKDB_PATH": str(duckdb_path), **pg_env}
    try:
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
        pg.commit()

        # Build the mart once with the export off (not timed), then time the hook on re-runs; with
        # --compare-ref, the two hooks alternate so both see the same load.
        ok, _ = dbt_run(project, out, {"DUCKDB_PATH": str(duckdb_path), **dict.fromkeys(pg_env)})
        if not ok:
            raise SystemExit(f"error: dbt run of the synthetic mart failed; see {out / 'logs'}")
        hook_runs, before_runs = [], []
        for _ in range(args.repeat):
            if before is not None:
                before_runs.append(time_hook(before, out, env))
            hook_runs.append(time_hook(project, out, env))
        rows = hook_runs[0][0]
        hook_s = statistics.median(s for _, s in hook_runs)

        baselines: dict[str, tuple[int, float]] = {}
        if not args.no_baselines:
            baselines["psycopg2_copy"] = bench_copy(pg, duckdb_path, spec, out)
            baselines["execute_values"] = bench_execute_values(pg, duckdb_path, spec, args.page_size)
            counts = {name: n for name, (n, _) in baselines.items()}
            if any(n != rows for n in counts.values()):
                raise SystemExit(f"error: row counts differ: hook {rows}, {counts}")
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
        pg.commit()
    finally:
        pg.close()
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)

    results: dict = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "case": args.case,
        "series": symbols,
        "rows": rows,
        "columns": len(COLUMN_TYPES),
        "hook_seconds": round(hook_s, 2),
        "hook_runs_seconds": [round(s, 2) for _, s in hook_runs],
        "hook_rows_per_s": round(rows / hook_s),
    }
    if before_runs:
        before_s = statistics.median(s for _, s in before_runs)
        results |= {
            "compare_ref": args.compare_ref,
            "before_rows": before_runs[0][0],
            "before_hook_seconds": round(before_s, 2),
            "before_hook_runs_seconds": [round(s, 2) for _, s in before_runs],
            "before_hook_rows_per_s": round(before_runs[0][0] / before_s),
        }
    for name, (_, secs) in baselines.items():
        results[f"{name}_seconds"] = round(secs, 2)
        results[f"{name}_rows_per_s"] = round(rows / secs)
        results[f"speedup_vs_{name}"] = round(secs / hook_s, 2)
    # The machine is shared: the load average says how much CPU the figures had to fight for.
    results["load_average_1m_start_end"] = [load_start, round(os.getloadavg()[0], 2)]
    results["cpu_count"] = os.cpu_count()
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(
        f"| export post-hook (DuckDB postgres extension) | {rows:,} | {hook_s:.2f} s | {rows / hook_s:,.0f} |"
    )
    if before_runs:
        n, secs = before_runs[0][0], results["before_hook_seconds"]
        print(f"| export post-hook at {args.compare_ref} | {n:,} | {secs:.2f} s | {n / secs:,.0f} |")
    for name, (_, secs) in baselines.items():
        print(f"| {name} | {rows:,} | {secs:.1f} s | {rows / secs:,.0f} |")
    if args.case == "daily" and baselines:
        goal = rows / hook_s >= 300_000 and baselines["execute_values"][1] / hook_s >= 5
        print(f"goal (>= 300k rows/s and >= 5x execute_values): {'met' if goal else 'NOT met'}")
    elif args.case == "daily":
        print(f"goal (>= 300k rows/s): {'met' if rows / hook_s >= 300_000 else 'NOT met'}")
    else:
        print(f"goal (>= 200k rows/s): {'met' if rows / hook_s >= 200_000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
