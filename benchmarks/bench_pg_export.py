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

Goals (issue 5): hook >= 300k rows/s and >= 5x the execute_values baseline.

    .venv/bin/python benchmarks/bench_pg_export.py                  # 70,000 symbols x 30 days = 2.1M rows
    .venv/bin/python benchmarks/bench_pg_export.py --symbols 5000   # a quick smoke run (150k rows)

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
MART = "fct_ohlcv_daily"
SCHEMA = "bench_export"
WINDOW_DAYS = 30
EXTRA_DAYS = 10  # history older than the window, so the window filter does real work
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


def make_project(out: Path, symbols: int) -> Path:
    """A minimal dbt project: the synthetic mart plus the repository's export macro (copied as is)."""
    project = out / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "models").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "macros" / "export", project / "macros" / "export")
    (project / "dbt_project.yml").write_text(PROJECT_YML)
    (project / "profiles.yml").write_text(PROFILES_YML)
    rows = symbols * (WINDOW_DAYS + EXTRA_DAYS)
    (project / "models" / f"{MART}.sql").write_text(MART_SQL.format(symbols=symbols, rows=rows))
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


def window_sql() -> str:
    return f"select * from main.{MART} where trade_date > (select max(trade_date) from main.{MART}) - {WINDOW_DAYS}"


def finish_table(cur, table: str) -> None:
    """The same key, index and statistics the hook builds, so every method ends with the same table."""
    cur.execute("set maintenance_work_mem = '512MB'")
    cur.execute(f"alter table {SCHEMA}.{table} add primary key (market, symbol, trade_date)")
    cur.execute(f"create index on {SCHEMA}.{table} (trade_date)")
    cur.execute(f"analyze {SCHEMA}.{table}")


def fresh_table(cur, table: str) -> None:
    """An empty table with the hook's column types (copied from the exported table, without indexes)."""
    cur.execute(f"drop table if exists {SCHEMA}.{table}")
    cur.execute(f"create table {SCHEMA}.{table} (like {SCHEMA}.{MART} including defaults)")


def bench_execute_values(pg, duckdb_path: Path, page_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    with duckdb.connect(str(duckdb_path)) as con:  # dbt (in-process) still holds it read-write
        rows = con.execute(window_sql()).fetchall()
    with pg.cursor() as cur:
        fresh_table(cur, "baseline_execute_values")
        execute_values(
            cur, f"insert into {SCHEMA}.baseline_execute_values values %s", rows, page_size=page_size
        )
        finish_table(cur, "baseline_execute_values")
    pg.commit()
    return len(rows), time.perf_counter() - started


def bench_copy(pg, duckdb_path: Path, out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    csv_path = out / "window.csv"
    with duckdb.connect(str(duckdb_path)) as con:  # dbt (in-process) still holds it read-write
        con.execute(
            f"copy ({window_sql()} order by market, symbol, trade_date) to '{csv_path}' (header false)"
        )
    with pg.cursor() as cur:
        fresh_table(cur, "baseline_copy")
        with csv_path.open("rb") as fh:
            cur.copy_expert(f"copy {SCHEMA}.baseline_copy from stdin with (format csv)", fh)
        rows = cur.rowcount
        finish_table(cur, "baseline_copy")
    pg.commit()
    csv_path.unlink()
    return rows, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--symbols", type=int, default=70_000, help="symbols per day (window = 30 x this)")
    parser.add_argument("--repeat", type=int, default=3, help="hook runs (the median is reported)")
    parser.add_argument("--page-size", type=int, default=1000, help="execute_values rows per statement")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.symbols < 1 or args.repeat < 1 or args.page_size < 1:
        parser.error("--symbols, --repeat and --page-size must be >= 1")

    load_start = round(os.getloadavg()[0], 2)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    duckdb_path = out / "bench.duckdb"
    duckdb_path.unlink(missing_ok=True)
    project = make_project(out, args.symbols)

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
    try:
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
        pg.commit()

        # Build the mart once with the export off (not timed), then time the hook on re-runs.
        ok, _ = dbt_run(project, out, {"DUCKDB_PATH": str(duckdb_path), **dict.fromkeys(pg_env)})
        if not ok:
            raise SystemExit(
                "error: dbt run of the synthetic mart failed; see benchmarks/out/bench_pg_export/logs"
            )
        hook_runs = []
        for _ in range(args.repeat):
            ok, messages = dbt_run(project, out, {"DUCKDB_PATH": str(duckdb_path), **pg_env})
            if not ok:
                raise SystemExit(
                    "error: dbt run with the export failed; see benchmarks/out/bench_pg_export/logs"
                )
            hook_runs.append(hook_timing(messages))
        rows = hook_runs[0][0]
        hook_s = statistics.median(s for _, s in hook_runs)

        copy_rows, copy_s = bench_copy(pg, duckdb_path, out)
        ev_rows, ev_s = bench_execute_values(pg, duckdb_path, args.page_size)
        if not rows == copy_rows == ev_rows:
            raise SystemExit(
                f"error: row counts differ: hook {rows}, copy {copy_rows}, execute_values {ev_rows}"
            )
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
        pg.commit()
    finally:
        pg.close()
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)

    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": rows,
        "columns": 17,
        "hook_seconds": round(hook_s, 2),
        "hook_runs_seconds": [round(s, 2) for _, s in hook_runs],
        "hook_rows_per_s": round(rows / hook_s),
        "psycopg2_copy_seconds": round(copy_s, 2),
        "psycopg2_copy_rows_per_s": round(rows / copy_s),
        "execute_values_seconds": round(ev_s, 2),
        "execute_values_rows_per_s": round(rows / ev_s),
        "execute_values_page_size": args.page_size,
        "speedup_vs_execute_values": round(ev_s / hook_s, 1),
        "speedup_vs_psycopg2_copy": round(copy_s / hook_s, 2),
        # The machine is shared: the load average says how much CPU the figures had to fight for.
        "load_average_1m_start_end": [load_start, round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(
        f"| export post-hook (DuckDB postgres extension) | {rows:,} | {hook_s:.1f} s | {rows / hook_s:,.0f} |\n"
        f"| psycopg2 COPY (CSV from DuckDB) | {rows:,} | {copy_s:.1f} s | {rows / copy_s:,.0f} |\n"
        f"| psycopg2 execute_values (page {args.page_size}) | {rows:,} | {ev_s:.1f} s | {rows / ev_s:,.0f} |"
    )
    goal = rows / hook_s >= 300_000 and ev_s / hook_s >= 5
    print(f"goal (>= 300k rows/s and >= 5x execute_values): {'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
