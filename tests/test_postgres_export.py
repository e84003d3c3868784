"""The Postgres export post-hook (macros/export/export_to_postgres.sql) against a real PostgreSQL 15.

Real parts only: the session lake (tests/fixtures/warehouse.py), real `dbt build` runs with the libpq
variables of the session Postgres server (tests/fixtures/postgres.py), and checks through psycopg2
(never through DuckDB's postgres extension, which is what is under test).

The tests of this module share one export (module fixture `exported`) and run in file order: window and
schema checks, a second build under a polling reader, an outage, the export switched off, and last the
password scan over everything the runs left behind. The session lake's series end years apart (spot
in 2023, USD-M in 2026): each must keep its own last 30 days (docs/postgres.md, "What is written").
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from dbt.cli.main import dbtRunner

from tests.fixtures.dbt import DBT, DbtRun, patched_env, process_env, project_args, release_duckdb, run_dbt
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.warehouse import LoadedLake
from tests.regime_lake import finish, markov_returns, write_daily_series

pytestmark = pytest.mark.slow

MARTS = ("fct_ohlcv_daily", "fct_regime_features_daily")
LATEST = "latest_regime"  # table of model dim_latest_regime
EXPORTED = (*MARTS, LATEST)  # the tables the polling reader watches
SERIES = ("market", "symbol")  # meta export_window_by's default
GRAIN = ("market", "symbol", "trade_date")
SCHEMA = "analytics"  # dbt var export_schema's default
WINDOW_DAYS = 30  # dbt var export_window_days's default
# DuckDB type of a mart column -> the Postgres type the export must give it (information_schema names).
PG_TYPES = {
    "VARCHAR": "text",
    "DATE": "date",
    "DOUBLE": "double precision",
    "FLOAT": "double precision",
    "BIGINT": "bigint",
    "INTEGER": "bigint",
    "SMALLINT": "bigint",
    "HUGEINT": "bigint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp with time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
}
ALLOWED_PG_TYPES = {"date", "timestamp with time zone", "double precision", "bigint", "text", "boolean"}


@dataclass
class Export:
    """The module's warehouse, exported to the session Postgres server by a first `dbt build`."""

    server: PostgresServer
    lake: LoadedLake
    duckdb_path: Path
    root: Path
    runs: list[DbtRun] = field(default_factory=list)

    def dbt(self, name: str, *args: str, env: dict[str, str | None] | None = None) -> DbtRun:
        """A dbt command on this module's warehouse; target/ and logs/ in their own folder per run."""
        run = run_dbt(
            *args,
            lake_dir=self.lake.path,
            duckdb_path=self.duckdb_path,
            work_dir=self.root / name,
            env=self.server.env() if env is None else env,
        )
        self.runs.append(run)
        return run


def failures(run: DbtRun) -> str:
    """The failed nodes and their messages, for assertion messages."""
    res = run.result.result
    if res is None or not hasattr(res, "results"):
        return str(run.result.exception)
    return "; ".join(f"{r.node.name}: {r.status}: {r.message}" for r in res.results if r.status != "success")


def assert_marts_ok(run: DbtRun) -> None:
    """Both marts built and exported. Only the marts' nodes are checked: a data test failing elsewhere in
    the project is the subject of the dbt tests, not of the export."""
    statuses = run.statuses()
    assert {m: statuses.get(m) for m in MARTS} == dict.fromkeys(MARTS, "success"), failures(run)


def duck_rows(duckdb_path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows from the warehouse (read-only; run_dbt releases dbt's connection)."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def expected_window(
    duckdb_path: Path,
    mart: str,
    days: int = WINDOW_DAYS,
    date_column: str = "trade_date",
    by: tuple[str, ...] = SERIES,
    order: tuple[str, ...] | None = None,
) -> tuple[list[str], list[tuple]]:
    """docs/postgres.md's window, computed in Python from the whole DuckDB table: for each series (the
    `by` columns), the rows whose date is after that series' latest date minus N days, in key order."""
    names, rows = duck_rows(duckdb_path, f"select * from main.{mart}")
    at = names.index(date_column)
    keys = [names.index(c) for c in by]
    latest: dict[tuple, Any] = {}
    for row in rows:
        key = tuple(row[i] for i in keys)
        if row[at] is not None and (key not in latest or row[at] > latest[key]):
            latest[key] = row[at]
    kept = [
        r
        for r in rows
        if r[at] is not None and r[at] > latest[tuple(r[i] for i in keys)] - timedelta(days=days)
    ]
    sort_at = [names.index(c) for c in (order or (*by, date_column))]
    return names, sorted(kept, key=lambda r: tuple(r[i] for i in sort_at))


def pg_query(server: PostgresServer, sql: str, params: tuple = ()) -> list[tuple]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def pg_table(server: PostgresServer, mart: str) -> tuple[list[str], list[tuple]]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"select * from {SCHEMA}.{mart} order by market, symbol, trade_date")
            return [d[0] for d in cur.description], cur.fetchall()
    finally:
        conn.close()


def pg_definition(server: PostgresServer, mart: str) -> dict[str, Any]:
    """Everything a reader sees of the table besides its rows: columns, constraints, indexes, comment."""
    regclass = f"{SCHEMA}.{mart}"
    return {
        "columns": pg_query(
            server,
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (SCHEMA, mart),
        ),
        "constraints": pg_query(
            server,
            "select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass "
            "order by conname",
            (regclass,),
        ),
        "indexes": pg_query(
            server,
            "select indexname, indexdef from pg_indexes where schemaname = %s and tablename = %s "
            "order by indexname",
            (SCHEMA, mart),
        ),
        "comment": pg_query(server, "select obj_description(%s::regclass, 'pg_class')", (regclass,))[0][0],
    }


def table_oid(server: PostgresServer, mart: str) -> int:
    return pg_query(server, "select %s::regclass::oid", (f"{SCHEMA}.{mart}",))[0][0]


def normalized(value: Any) -> Any:
    """One comparable form for a DuckDB and a psycopg2 value (naive timestamps are UTC; NaN equals NaN)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if hasattr(value, "as_integer_ratio") and not isinstance(value, (int, float)):
        return float(value)  # Decimal
    return value


def assert_same_rows(actual: list[tuple], expected: list[tuple], what: str) -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} rows in Postgres, {len(expected)} expected"
    for got, want in zip(actual, expected, strict=True):
        assert [normalized(v) for v in got] == [normalized(v) for v in want], f"{what}: row differs"


@pytest.fixture(scope="module")
def exported(postgres_server: PostgresServer, loaded_lake: LoadedLake, tmp_path_factory) -> Export:
    """A fresh warehouse built by `dbt build` with the export on (export_window_days = 30)."""
    root = tmp_path_factory.mktemp("pg_export")
    export = Export(
        server=postgres_server, lake=loaded_lake, duckdb_path=root / "warehouse.duckdb", root=root
    )
    conn = postgres_server.connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
    finally:
        conn.close()
    run = export.dbt("build-1", "build")
    assert_marts_ok(run)
    return export


def test_export_holds_exactly_each_series_window(exported: Export) -> None:
    """Series whose latest days are years apart are all in Postgres, each with its own last 30 days (the
    window used to be the mart's last 30 days: the stale series vanished)."""
    for mart in MARTS:
        latest = dict(
            ((m, s), d)
            for m, s, d in duck_rows(
                exported.duckdb_path, f"select market, symbol, max(trade_date) from main.{mart} group by all"
            )[1]
        )
        assert len(latest) == 4 and (max(latest.values()) - min(latest.values())).days > 365, latest
        names, expected = expected_window(exported.duckdb_path, mart)
        pg_names, actual = pg_table(exported.server, mart)
        assert pg_names == names
        per_series = pg_query(
            exported.server,
            f"select market, symbol, count(*), min(trade_date), max(trade_date) from {SCHEMA}.{mart} "
            "group by market, symbol",
        )
        assert {(m, s): last for m, s, _, _, last in per_series} == latest, f"{mart}: a series is missing"
        for m, s, count, first, last in per_series:
            assert (last - first).days < WINDOW_DAYS and count <= WINDOW_DAYS, (mart, m, s, first, last)
        assert_same_rows(actual, expected, mart)


def dbt_models_by_table(run: DbtRun) -> dict[str, dict]:
    """Table name (alias) -> manifest node of every model of the run's project."""
    manifest = json.loads((run.target_path / "manifest.json").read_text())
    return {n["alias"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_every_exported_table_holds_every_series_last_days(exported: Export) -> None:
    """Every table the export wrote (marts, operations tables, latest_regime) equals its DuckDB model's
    per-series window, by the model's meta (export_date_column, export_window_by, export_grain)."""
    models = dbt_models_by_table(exported.runs[0])
    tables = [
        t
        for (t,) in pg_query(
            exported.server, "select tablename from pg_tables where schemaname = %s order by 1", (SCHEMA,)
        )
    ]
    assert set(EXPORTED) <= set(tables), tables
    for table in tables:
        meta = models[table]["config"]["meta"]
        names = duck_rows(exported.duckdb_path, f"select * from main.{table} limit 0")[0]
        # docs/postgres.md's defaults: the meta grain's hour_start or trade_date, and the grain as key.
        dates = [c for c in ("hour_start", "trade_date") if c in meta.get("grain", ())]
        dates += [c for c in ("trade_date", "hour_start") if c in names]
        date_column = meta.get("export_date_column") or dates[0]
        grain = tuple(meta.get("export_grain") or meta.get("grain") or ("market", "symbol", date_column))
        by = tuple(meta.get("export_window_by", SERIES if set(SERIES) <= set(names) else ()))
        names, expected = expected_window(
            exported.duckdb_path,
            table,
            int(meta.get("export_window_days", WINDOW_DAYS)),
            date_column,
            by,
            grain,
        )
        conn = exported.server.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"select * from {SCHEMA}.{table} order by {', '.join(grain)}")
                pg_names, actual = [d[0] for d in cur.description], cur.fetchall()
        finally:
            conn.close()
        assert pg_names == names, table
        assert_same_rows(actual, expected, table)
        if set(SERIES) <= set(names):
            series = {
                (r[0], r[1])
                for r in duck_rows(exported.duckdb_path, f"select market, symbol from main.{table}")[1]
            }
            assert {(r[names.index("market")], r[names.index("symbol")]) for r in actual} == series, table


def test_latest_regime_is_each_series_latest_day(exported: Export) -> None:
    """latest_regime: one row per series of fct_ohlcv_daily, however stale, equal to the marts on its
    latest day, with the hour of the series' latest candle read from the lake itself; the same rows in
    DuckDB and Postgres."""
    names, daily = duck_rows(exported.duckdb_path, "select * from main.fct_ohlcv_daily")
    fnames, features = duck_rows(exported.duckdb_path, "select * from main.fct_regime_features_daily")
    latest: dict[tuple, tuple] = {}
    for row in daily:
        key = (row[0], row[1])
        if key not in latest or row[names.index("trade_date")] > latest[key][names.index("trade_date")]:
            latest[key] = row
    feature_of = {(r[0], r[1], r[fnames.index("trade_date")]): r for r in features}
    glob = exported.lake.path / "binance" / "klines" / "**" / "*.parquet"
    con = duckdb.connect()
    try:
        last_candle = {
            (m, s): t
            for m, s, t in con.execute(
                f"select market, symbol, max(open_time) from read_parquet('{glob}', hive_partitioning = true) "
                "where \"interval\" = '1h' group by all"
            ).fetchall()
        }
    finally:
        con.close()
    built_at = duck_rows(exported.duckdb_path, f"select max(_built_at) from main.{LATEST}")[1][0][0]
    expected = []
    for (market, symbol), row in sorted(latest.items()):
        day = row[names.index("trade_date")]
        f = feature_of[(market, symbol, day)]
        expected.append(
            (
                market,
                symbol,
                day,
                last_candle[(market, symbol)].replace(minute=0, second=0, microsecond=0),
                row[names.index("close_price")],
                row[names.index("is_complete")],
                *(f[fnames.index(c)] for c in ("regime", "vol_state", "vol_state_probability")),
                *(
                    f[fnames.index(c)]
                    for c in ("turbulent_probability", "derivatives_market", "leverage_regime")
                ),
                (built_at.date() - day).days,
            )
        )
    assert len(expected) == 4 and len({r[2] for r in expected}) >= 3, "the lake's series should end apart"
    columns = (
        "market, symbol, trade_date, latest_hour_start, close_price, is_complete, regime, vol_state, "
        "vol_state_probability, turbulent_probability, derivatives_market, leverage_regime, data_age_days"
    )
    in_duckdb = duck_rows(
        exported.duckdb_path, f"select {columns} from main.{LATEST} order by market, symbol"
    )[1]
    in_postgres = pg_query(
        exported.server, f"select {columns} from {SCHEMA}.{LATEST} order by market, symbol"
    )
    assert_same_rows(in_duckdb, expected, f"{LATEST} in DuckDB")
    assert_same_rows(in_postgres, expected, f"{LATEST} in Postgres")
    assert any(r[11] is not None for r in expected), "no leverage regime on any latest day"
    # The regime of that latest hour, from the hourly features mart.
    hourly_regime = dict(
        ((m, s_), r)
        for m, s_, r in duck_rows(
            exported.duckdb_path,
            "select market, symbol, regime from main.fct_regime_features_hourly "
            "qualify hour_start = max(hour_start) over (partition by market, symbol)",
        )[1]
    )
    got = duck_rows(exported.duckdb_path, f"select market, symbol, latest_hour_regime from main.{LATEST}")[1]
    assert {(m, s_): r for m, s_, r in got} == {k: hourly_regime.get(k) for k in latest}
    assert any(r is not None for r in hourly_regime.values()), "no hourly regime on any latest hour"
    key = pg_query(
        exported.server,
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass",
        (f"{SCHEMA}.{LATEST}",),
    )
    assert key == [("PRIMARY KEY (market, symbol)",)]


def test_export_types_key_index_and_comment(exported: Export) -> None:
    for mart in MARTS:
        duck_types = dict(
            duck_rows(exported.duckdb_path, f"select column_name, column_type from (describe main.{mart})")[1]
        )
        definition = pg_definition(exported.server, mart)
        for name, pg_type, nullable in definition["columns"]:
            assert pg_type in ALLOWED_PG_TYPES, f"{mart}.{name}: {pg_type}"
            assert pg_type == PG_TYPES[duck_types[name]], (
                f"{mart}.{name}: DuckDB {duck_types[name]} -> {pg_type}"
            )
            if name in GRAIN:
                assert nullable == "NO"
        assert [c[0] for c in definition["columns"]] == list(duck_types)
        types = {c[0]: c[1] for c in definition["columns"]}
        assert (types["market"], types["symbol"], types["trade_date"]) == ("text", "text", "date")
        assert types["close_price"] == "double precision"
        assert definition["constraints"] == [(f"{mart}_pkey", "PRIMARY KEY (market, symbol, trade_date)")]
        index_defs = [d for _, d in definition["indexes"]]
        assert any(d.endswith("USING btree (trade_date)") for d in index_defs), index_defs
        comment = definition["comment"] or ""
        assert "window" in comment and f"{WINDOW_DAYS} days" in comment and "export_to_postgres" in comment
    leftovers = pg_query(
        exported.server,
        "select tablename from pg_tables where schemaname = %s and tablename like %s",
        (SCHEMA, "%staging%"),
    )
    assert leftovers == []


class Poller(threading.Thread):
    """Counts the rows of every exported table, as fast as it can, until told to stop."""

    def __init__(self, server: PostgresServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop_event = threading.Event()
        self.counts: dict[str, list[int]] = {m: [] for m in EXPORTED}
        self.errors: list[str] = []

    def run(self) -> None:
        conn = self.server.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.stop_event.is_set():
                    for mart in EXPORTED:
                        try:
                            cur.execute(f"select count(*) from {SCHEMA}.{mart}")
                            self.counts[mart].append(cur.fetchone()[0])
                        except psycopg2.Error as exc:
                            self.errors.append(f"{mart}: {exc}".strip())
                    time.sleep(0.002)
        finally:
            conn.close()


def without_built_at(table: tuple[list[str], list[tuple]]) -> tuple[list[str], list[tuple]]:
    """A table's rows without _built_at (latest_regime is rebuilt whole: its build time changes)."""
    names, rows = table
    keep = [i for i, n in enumerate(names) if n != "_built_at"]
    return [names[i] for i in keep], [tuple(r[i] for i in keep) for r in rows]


def test_second_build_is_identical_and_readers_never_see_an_empty_table(exported: Export) -> None:
    """Readers polling every exported table (each series' window, latest_regime) during a build see the
    old table or the new one, never an empty or half one; the second build gives the same tables."""
    before = {
        m: (without_built_at(pg_table(exported.server, m)), pg_definition(exported.server, m))
        for m in EXPORTED
    }
    oids = {m: table_oid(exported.server, m) for m in EXPORTED}
    poller = Poller(exported.server)
    poller.start()
    try:
        time.sleep(0.2)  # the reader is polling before the build starts
        run = exported.dbt("build-2", "build")
        time.sleep(0.2)
    finally:
        poller.stop_event.set()
        poller.join(timeout=30)
    assert_marts_ok(run)
    assert poller.errors == []
    for mart in EXPORTED:
        assert table_oid(exported.server, mart) != oids[mart], f"{mart} was not replaced"
        after = (without_built_at(pg_table(exported.server, mart)), pg_definition(exported.server, mart))
        assert after == before[mart], mart
        window = len(before[mart][0][1])
        assert len(poller.counts[mart]) > 20, "the reader hardly ran"
        assert set(poller.counts[mart]) == {window}, f"{mart}: a reader saw {set(poller.counts[mart])}"


def test_window_var_override_exports_every_market_and_symbol(exported: Export) -> None:
    """A window wide enough for the whole lake: every market and symbol, nulls and all, exactly."""
    days = 1500
    run = exported.dbt("wide", "run", "--select", "marts", "--vars", f"{{export_window_days: {days}}}")
    assert_marts_ok(run)
    for mart in MARTS:
        names, expected = expected_window(exported.duckdb_path, mart, days)
        assert {(r[0], r[1]) for r in expected} == {
            ("spot", "BTCUSDT"),
            ("spot", "ETHUSDT"),
            ("um", "ETHUSDT"),
            ("um", "BTCUSDT"),
        }
        pg_names, actual = pg_table(exported.server, mart)
        assert pg_names == names
        assert_same_rows(actual, expected, mart)
        assert f"{days} days" in pg_definition(exported.server, mart)["comment"]


def test_postgres_refusing_the_login_fails_and_keeps_the_window(exported: Export) -> None:
    before = pg_table(exported.server, MARTS[0])
    env: dict[str, str | None] = {**exported.server.env(), "PGPASSWORD": "not-the-password"}
    run = exported.dbt("refused", "run", "--select", MARTS[0], "--vars", "{export_window_days: 5}", env=env)
    assert not run.success
    assert run.statuses()[MARTS[0]] == "error"
    assert "password authentication failed" in failures(run) and "export_to_postgres" in failures(run)
    assert pg_table(exported.server, MARTS[0]) == before


def test_postgres_down_fails_clearly_keeps_marts_and_window(exported: Export, capfd) -> None:
    before = {m: pg_table(exported.server, m) for m in MARTS}
    built = {m: duck_rows(exported.duckdb_path, f"select count(*) from main.{m}")[1][0][0] for m in MARTS}
    con = duckdb.connect(str(exported.duckdb_path))
    try:
        for mart in MARTS:  # so "the marts stay built" can only mean this run built them
            con.execute(f"drop table main.{mart}")
    finally:
        con.close()
    capfd.readouterr()
    exported.server.stop()
    try:
        # A 5-day window: had anything reached Postgres, the row counts below would change.
        run = exported.dbt("down", "build", "--select", "marts", "--vars", "{export_window_days: 5}")
    finally:
        exported.server.start()
    output = capfd.readouterr()
    assert not run.success
    statuses = run.statuses()
    messages = failures(run)
    for mart in MARTS:
        if statuses.get(mart) == "error":
            assert "export_to_postgres" in messages and "Postgres" in messages, messages
    assert "error" in statuses.values(), statuses
    assert "Unable to connect to Postgres" in output.out and "export_to_postgres" in output.out
    assert exported.server.password not in output.out + output.err
    for mart in MARTS:
        (count,) = duck_rows(exported.duckdb_path, f"select count(*) from main.{mart}")[1][0]
        assert count == built[mart], f"{mart} is not built in DuckDB after the failed export"
        assert pg_table(exported.server, mart) == before[mart], f"{mart}: the previous window did not survive"


def test_postgres_dying_mid_export_fails_as_an_export_failure(exported: Export) -> None:
    """Postgres killed while an export is under way (here: its swap waits on a reader's lock) used to
    end `dbt` with exit 2, "Exited because of keyboard interrupt": the on-run-end lease release listed
    duckdb_functions() across every attached catalog, the dead Postgres included. Now: exit 1, one line
    "Postgres export failed" naming the mart, DuckDB's mart built, Postgres' previous window kept."""
    mart = MARTS[0]
    before = pg_table(exported.server, mart)
    work = exported.root / "killed"
    reader = exported.server.connect()  # holds ACCESS SHARE on the mart until Postgres goes away
    reader.cursor().execute(f"select 1 from {SCHEMA}.{mart} limit 1")
    proc = subprocess.Popen(
        [str(DBT), "run", "--select", mart, *project_args(work)],
        cwd=REPO_ROOT,
        env=process_env(
            exported.lake.path, {**exported.server.env(), "DUCKDB_PATH": str(exported.duckdb_path)}
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        waiting: list[tuple] = []
        while not waiting and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            waiting = pg_query(
                exported.server,
                "select pid from pg_stat_activity where wait_event_type = 'Lock' "
                "and application_name like 'dbt post-hook export_to_postgres%%'",
            )
        assert waiting, "the export never reached its swap"
        exported.server.stop()  # `fast`: every session is terminated, the export's and the reader's
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        exported.server.start()
    assert proc.returncode == 1, out[-3000:]
    assert "keyboard interrupt" not in out.lower()
    lines = [ln for ln in out.splitlines() if "Postgres export failed" in ln]
    assert len(lines) == 1 and mart in lines[0], out[-3000:]
    assert pg_table(exported.server, mart) == before
    assert duck_rows(exported.duckdb_path, f"select count(*) from main.{mart}")[1][0][0] > 0


def test_export_off_without_pghost_writes_nothing(exported: Export) -> None:
    oids = {m: table_oid(exported.server, m) for m in MARTS}
    env: dict[str, str | None] = {**exported.server.env(), "PGHOST": None}
    run = exported.dbt(
        "off", "build", "--select", "marts", "--vars", "{export_schema: analytics_off}", env=env
    )
    assert_marts_ok(run)
    log = (run.log_path / "dbt.log").read_text()
    assert log.count("PGHOST is not set") == 1  # one line per build, not one per mart
    assert "export_to_postgres: exporting" not in log
    schemas = pg_query(exported.server, "select nspname from pg_namespace where nspname = 'analytics_off'")
    assert schemas == []
    assert {m: table_oid(exported.server, m) for m in MARTS} == oids


# The suite's lake has at most five months of daily candles per series, fewer than the year a regime
# fit needs (var regime_min_days), so its fct_regime_probabilities_daily is empty and not exported: the
# probabilities' export is checked on a generated daily lake (tests/regime_lake.py) that has a fit.
REGIME_SCHEMA = "analytics_regimes"
REGIME_DAYS = 540  # 2022-01-01 .. 2023-06-24: fits at 2023-03-31 (K = 3, regime_min_days = 365)
REGIME_SERIES = {"SYNAUSDT": 11, "SYNBUSDT": 22}
REGIME_MART = "fct_regime_probabilities_daily"
REGIME_GRAIN = ("market", "symbol", "trade_date", "state")
FEATURE_PROBABILITY_TYPES = {
    "vol_state": "text",
    "vol_state_probability": "double precision",
    "turbulent_probability": "double precision",
}


@pytest.fixture(scope="module")
def regime_export(postgres_server: PostgresServer, tmp_path_factory) -> Export:
    """A generated lake with a year and a half of daily candles per series, built with the export on."""
    root = tmp_path_factory.mktemp("pg_export_regimes")
    lake = root / "lake"
    for symbol, seed in REGIME_SERIES.items():
        returns, _ = markov_returns(REGIME_DAYS, seed)
        write_daily_series(lake, symbol, date(2022, 1, 1), returns)
    finish(lake)
    export = Export(
        server=postgres_server,
        lake=LoadedLake(path=lake, archives=[]),
        duckdb_path=root / "warehouse.duckdb",
        root=root,
    )
    run = export.dbt(
        "build", "build", "--vars", f"{{daily_source_interval: 1d, export_schema: {REGIME_SCHEMA}}}"
    )
    statuses = run.statuses()
    assert statuses.get(REGIME_MART) == "success", failures(run)
    assert statuses.get("fct_regime_features_daily") == "success", failures(run)
    return export


def test_regime_probabilities_export_types_and_window(regime_export: Export) -> None:
    """fct_regime_probabilities_daily reaches Postgres: its own grain as key, contract types, exactly the
    DuckDB mart's 30-day window; fct_regime_features_daily carries the three probability columns."""
    export = regime_export
    names, expected = duck_rows(
        export.duckdb_path,
        f"select * from main.{REGIME_MART} where trade_date > (select max(trade_date) from main.{REGIME_MART})"
        f" - {WINDOW_DAYS} order by market, symbol, trade_date, state",
    )
    assert {(r[0], r[1]) for r in expected} == {("spot", s) for s in REGIME_SERIES}, "no probabilities"
    conn = export.server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"select * from {REGIME_SCHEMA}.{REGIME_MART} order by market, symbol, trade_date, state"
            )
            pg_names, actual = [d[0] for d in cur.description], cur.fetchall()
    finally:
        conn.close()
    assert pg_names == names
    assert_same_rows(actual, expected, REGIME_MART)
    columns = pg_query(
        export.server,
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (REGIME_SCHEMA, REGIME_MART),
    )
    duck_types = dict(
        duck_rows(export.duckdb_path, f"select column_name, column_type from (describe main.{REGIME_MART})")[
            1
        ]
    )
    for name, pg_type, nullable in columns:
        assert pg_type == PG_TYPES[duck_types[name]], f"{REGIME_MART}.{name}: {duck_types[name]} -> {pg_type}"
        assert (nullable == "NO") == (name in REGIME_GRAIN), name
    assert {c[0]: c[1] for c in columns}["probability"] == "double precision"
    constraints = pg_query(
        export.server,
        "select pg_get_constraintdef(oid) from pg_constraint where conrelid = %s::regclass",
        (f"{REGIME_SCHEMA}.{REGIME_MART}",),
    )
    assert constraints == [("PRIMARY KEY (market, symbol, trade_date, state)",)]
    sums = pg_query(
        export.server,
        f"select min(s), max(s) from (select sum(probability) as s from {REGIME_SCHEMA}.{REGIME_MART} "
        "group by market, symbol, trade_date) as days",
    )[0]
    assert abs(sums[0] - 1) < 1e-9 and abs(sums[1] - 1) < 1e-9

    names, expected = expected_window(export.duckdb_path, "fct_regime_features_daily")
    conn = export.server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"select * from {REGIME_SCHEMA}.fct_regime_features_daily order by market, symbol, trade_date"
            )
            pg_names, actual = [d[0] for d in cur.description], cur.fetchall()
    finally:
        conn.close()
    assert pg_names == names
    assert_same_rows(actual, expected, "fct_regime_features_daily")
    types = dict(
        (name, pg_type)
        for name, pg_type, _ in pg_query(
            export.server,
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = %s and table_name = 'fct_regime_features_daily'",
            (REGIME_SCHEMA,),
        )
    )
    assert {c: types.get(c) for c in FEATURE_PROBABILITY_TYPES} == FEATURE_PROBABILITY_TYPES
    filled = [r for r in expected if r[names.index("vol_state_probability")] is not None]
    assert len(filled) == len(expected), "window days without a most likely state"


# A project of its own (the repository's export macros copied as they are, synthetic models), for the
# paths the warehouse's daily marts do not take: a timestamp window column (the hourly marts' hour_start),
# a key that does not serve "latest rows of a series" (series index), a model without market/symbol
# (one window for the whole model) and a model that opts out of per-series windows.
HOT_SCHEMA = "analytics_hot"
HOT_ENDS = {("spot", "AAAUSDT"): datetime(2024, 6, 30, 23), ("um", "BBBUSDT"): datetime(2024, 2, 10, 5)}
HOT_HOURS = 40 * 24  # hourly rows per series: 30 days in the window, 10 before
HOT_DAYS = 60  # daily rows per series
HOT_SERIES_SQL = (
    "(values ('spot', 'AAAUSDT', timestamp '2024-06-30 23:00:00'), "
    "('um', 'BBBUSDT', timestamp '2024-02-10 05:00:00')) as s (market, symbol, last_hour)"
)
HOT_MODELS: dict[str, tuple[str, dict[str, Any], list[tuple[str, str]]]] = {
    # name: (sql, meta, columns with their contract types)
    "hourly_bars": (
        f"select market, symbol, last_hour - to_hours(i) as hour_start, cast(i as double) as close_price "
        f"from {HOT_SERIES_SQL} cross join range({HOT_HOURS}) as t (i)",
        {"export_date_column": "hour_start", "export_grain": ["market", "symbol", "hour_start"]},
        [
            ("market", "varchar"),
            ("symbol", "varchar"),
            ("hour_start", "timestamp"),
            ("close_price", "double"),
        ],
    ),
    # The same without meta: hour_start is the date column when there is no trade_date.
    "hourly_default": (
        f"select market, symbol, last_hour - to_hours(i) as hour_start, cast(i as double) as close_price "
        f"from {HOT_SERIES_SQL} cross join range({HOT_HOURS}) as t (i)",
        {},
        [
            ("market", "varchar"),
            ("symbol", "varchar"),
            ("hour_start", "timestamp"),
            ("close_price", "double"),
        ],
    ),
    "state_probs": (
        f"select market, symbol, state, cast(last_hour as date) - cast(i as integer) as trade_date, "
        f"0.5 as probability from {HOT_SERIES_SQL} cross join range({HOT_DAYS}) as t (i) "
        "cross join (values ('calm'), ('turbulent')) as states (state)",
        {"export_grain": ["market", "symbol", "state", "trade_date"]},
        [
            ("market", "varchar"),
            ("symbol", "varchar"),
            ("state", "varchar"),
            ("trade_date", "date"),
            ("probability", "double"),
        ],
    ),
    "run_log": (
        f"select 'run-' || i as run_id, date '2024-06-30' - cast(i as integer) as run_date from range({HOT_DAYS}) as t (i)",
        {"export_grain": ["run_id"], "export_date_column": "run_date"},
        [("run_id", "varchar"), ("run_date", "date")],
    ),
    "one_window": (
        f"select market, symbol, cast(last_hour as date) - cast(i as integer) as trade_date "
        f"from {HOT_SERIES_SQL} cross join range({HOT_DAYS}) as t (i)",
        {"export_window_by": []},
        [("market", "varchar"), ("symbol", "varchar"), ("trade_date", "date")],
    ),
}


def make_hot_project(root: Path) -> Path:
    """The dbt project of HOT_MODELS, with the repository's export macros and the guards they call."""
    project = root / "project"
    for path in ("macros/export/export_to_postgres.sql", "macros/binance/guards.sql"):
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text((REPO_ROOT / path).read_text())
    (project / "models").mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: hot_export\nversion: '1.0'\nprofile: hot_export\nconfig-version: 2\n"
        f"vars: {{export_schema: {HOT_SCHEMA}, export_window_days: {WINDOW_DAYS}}}\n"
        "models:\n  hot_export:\n    +materialized: table\n    +post-hook:\n"
        '      - sql: "{{ export_to_postgres() }}"\n        transaction: false\n'
    )
    (project / "profiles.yml").write_text(
        "hot_export:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: \"{{ env_var('DUCKDB_PATH') }}\"\n      threads: 1\n"
    )
    models = []
    for name, (sql, meta, columns) in HOT_MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql + "\n")
        models.append(
            {
                "name": name,
                "config": {"meta": meta},
                "columns": [{"name": c, "data_type": t} for c, t in columns],
            }
        )
    (project / "models" / "models.yml").write_text(json.dumps({"version": 2, "models": models}))
    return project


def run_hot_project(project: Path, work: Path, server: PostgresServer) -> None:
    env = {"DUCKDB_PATH": str(work / "hot.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **server.env()}
    with patched_env(env):
        try:
            result = dbtRunner().invoke(
                [
                    "run",
                    "--project-dir",
                    str(project),
                    "--profiles-dir",
                    str(project),
                    "--target-path",
                    str(work / "target"),
                    "--log-path",
                    str(work / "logs"),
                ]
            )
        finally:
            release_duckdb()
    assert result.success, result.exception or [str(r.message) for r in result.result.results]


def pg_rows(server: PostgresServer, table: str, order: str) -> list[tuple]:
    return pg_query(server, f"select * from {HOT_SCHEMA}.{table} order by {order}")


def plan(server: PostgresServer, sql: str) -> str:
    """The plan Postgres picks when sequential scans are off (the tables are too small to need indexes)."""
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("set enable_seqscan = off")
            cur.execute("explain " + sql)
            return "\n".join(r[0] for r in cur.fetchall())
    finally:
        conn.close()


def test_timestamp_window_series_index_and_global_window(postgres_server: PostgresServer, tmp_path) -> None:
    """hour_start (timestamp) windows: each series its own last 30 x 24 hours, however far apart their
    latest hours; "latest rows of a series" served by an index in every table (the key, or the series
    index the export adds, renamed with the table); a model without market/symbol, and one with
    export_window_by: [], keep one window over the model. Twice: the swap renames cleanly again."""
    project = make_hot_project(tmp_path)
    for attempt in ("first", "second"):
        run_hot_project(project, tmp_path / attempt, postgres_server)
        utc = timezone.utc
        hourly = pg_rows(postgres_server, "hourly_bars", "market, symbol, hour_start")
        expected_hourly = sorted(
            (m, s, (end - timedelta(hours=i)).replace(tzinfo=utc), float(i))
            for (m, s), end in HOT_ENDS.items()
            for i in range(WINDOW_DAYS * 24)
        )
        assert hourly == expected_hourly, f"{attempt}: hourly_bars is not each series' last 720 hours"
        assert pg_rows(postgres_server, "hourly_default", "market, symbol, hour_start") == expected_hourly
        states = pg_rows(postgres_server, "state_probs", "market, symbol, state, trade_date")
        expected_states = sorted(
            (m, s, state, end.date() - timedelta(days=i), 0.5)
            for (m, s), end in HOT_ENDS.items()
            for i in range(WINDOW_DAYS)
            for state in ("calm", "turbulent")
        )
        assert states == expected_states
        runs = pg_rows(postgres_server, "run_log", "run_date")
        assert [r[1] for r in runs] == sorted(
            date(2024, 6, 30) - timedelta(days=i) for i in range(WINDOW_DAYS)
        )
        # One window over the model: only the fresh series' last 30 days (the stale one ends in February).
        one = pg_rows(postgres_server, "one_window", "market, symbol, trade_date")
        assert {(m, s) for m, s, _ in one} == {("spot", "AAAUSDT")} and len(one) == WINDOW_DAYS
        indexes = dict(
            pg_query(
                postgres_server,
                "select indexname, indexdef from pg_indexes where schemaname = %s",
                (HOT_SCHEMA,),
            )
        )
        assert not [n for n in indexes if "staging" in n], indexes
        assert indexes["hourly_bars_hour_start_idx"].endswith("USING btree (hour_start)")
        assert "hourly_bars_series_idx" not in indexes  # its key serves "latest rows of a series"
        assert indexes["state_probs_series_idx"].endswith("USING btree (market, symbol, trade_date DESC)")
        latest = "select * from {} where market = 'um' and symbol = 'BBBUSDT' order by {} desc limit 5"
        hourly_plan = plan(postgres_server, latest.format(f"{HOT_SCHEMA}.hourly_bars", "hour_start"))
        assert "Index Scan Backward using hourly_bars_pkey" in hourly_plan and "Sort" not in hourly_plan
        states_plan = plan(postgres_server, latest.format(f"{HOT_SCHEMA}.state_probs", "trade_date"))
        assert "state_probs_series_idx" in states_plan and "Sort" not in states_plan, states_plan
        tables = {
            t
            for (t,) in pg_query(
                postgres_server, "select tablename from pg_tables where schemaname = %s", (HOT_SCHEMA,)
            )
        }
        assert tables == set(HOT_MODELS)


def test_password_is_nowhere_in_artifacts_or_logs(exported: Export) -> None:
    secret = exported.server.password.encode()
    scanned = 0
    for run in exported.runs:
        assert (run.target_path / "run_results.json").is_file() and (run.log_path / "dbt.log").is_file()
        for folder in (run.target_path, run.log_path):
            for path in folder.rglob("*"):
                if path.is_file():
                    scanned += 1
                    assert secret not in path.read_bytes(), f"the Postgres password is in {path}"
    assert secret not in exported.duckdb_path.read_bytes()
    assert scanned > 10
    assert len(exported.runs) >= 4
