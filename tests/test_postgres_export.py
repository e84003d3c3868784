"""The Postgres export post-hook (macros/export/export_to_postgres.sql) against a real PostgreSQL 15.

Real parts only: the session lake (tests/fixtures/warehouse.py), real `dbt build` runs with the libpq
variables of the session Postgres server (tests/fixtures/postgres.py), and checks through psycopg2
(never through DuckDB's postgres extension, which is what is under test).

The tests of this module share one export (module fixture `exported`) and run in file order: window and
schema checks, a second build under a polling reader, an outage, the export switched off, and last the
password scan over everything the runs left behind.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from tests.fixtures.dbt import DBT, DbtRun, process_env, project_args, run_dbt
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.warehouse import LoadedLake
from tests.regime_lake import finish, markov_returns, write_daily_series

pytestmark = pytest.mark.slow

MARTS = ("fct_ohlcv_daily", "fct_regime_features_daily")
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


def expected_window(duckdb_path: Path, mart: str, days: int = WINDOW_DAYS) -> tuple[list[str], list[tuple]]:
    """docs/postgres.md's window: rows with trade_date > (the mart's max trade_date - N days), in key order."""
    return duck_rows(
        duckdb_path,
        f"select * from main.{mart} where trade_date > (select max(trade_date) from main.{mart}) - {days} "
        "order by market, symbol, trade_date",
    )


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


def test_export_holds_exactly_the_window(exported: Export) -> None:
    for mart in MARTS:
        names, expected = expected_window(exported.duckdb_path, mart)
        pg_names, actual = pg_table(exported.server, mart)
        assert expected, f"{mart}: the test lake gives an empty window"
        assert pg_names == names
        (max_date,) = duck_rows(exported.duckdb_path, f"select max(trade_date) from main.{mart}")[1][0]
        count, first, last = pg_query(
            exported.server, f"select count(*), min(trade_date), max(trade_date) from {SCHEMA}.{mart}"
        )[0]
        assert count == len(expected)
        assert last == max_date
        assert first == min(r[names.index("trade_date")] for r in expected)
        assert (max_date - first).days < WINDOW_DAYS
        assert_same_rows(actual, expected, mart)


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
        self.counts: dict[str, list[int]] = {m: [] for m in MARTS}
        self.errors: list[str] = []

    def run(self) -> None:
        conn = self.server.connect()
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.stop_event.is_set():
                    for mart in MARTS:
                        try:
                            cur.execute(f"select count(*) from {SCHEMA}.{mart}")
                            self.counts[mart].append(cur.fetchone()[0])
                        except psycopg2.Error as exc:
                            self.errors.append(f"{mart}: {exc}".strip())
                    time.sleep(0.002)
        finally:
            conn.close()


def test_second_build_is_identical_and_readers_never_see_an_empty_table(exported: Export) -> None:
    before = {m: (pg_table(exported.server, m), pg_definition(exported.server, m)) for m in MARTS}
    oids = {m: table_oid(exported.server, m) for m in MARTS}
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
    for mart in MARTS:
        assert table_oid(exported.server, mart) != oids[mart], f"{mart} was not replaced"
        assert (pg_table(exported.server, mart), pg_definition(exported.server, mart)) == before[mart]
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
