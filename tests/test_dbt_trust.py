"""dbt builds next to loaders (docs/failure-contract.md): a build never goes silently
stale (files no manifest records are picked up), never fails because a loader ran at the same time,
and every var or environment value that reaches SQL is validated in one line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from loaders import contract, locks
from loaders.binance.manifest import read_entries
from tests.dbt_helpers import MARTS, grains, query
from tests.fixtures.binance_server import BinanceServer, Fault, kline_table
from tests.fixtures.dbt import run_dbt
from tests.fixtures.loader_cli import loaders_at_once
from tests.fixtures.paths import REPO_ROOT
from tests.test_dbt_incremental import _differences

pytestmark = pytest.mark.slow

SYMBOL = "BTCUSDT"


def assert_marts_equal_full_refresh(lake: Path, incremental: Path, work: Path) -> None:
    """The incrementally built marts equal a full build of the same lake, row for row."""
    full = work / "full.duckdb"
    run = run_dbt("build", "--full-refresh", lake_dir=lake, duckdb_path=full, work_dir=work / "full")
    assert run.success, run.statuses()
    keys = grains(run.target_path)
    for table in MARTS:
        rows = {db: query(db, f"select * from main.{table}") for db in (full, incremental)}
        assert _differences(rows[full], rows[incremental], keys[table]) == [], table


def load_all(server: BinanceServer, lake: Path, **kw: object):
    return server.load(lake, "spot", [SYMBOL], ["1h"], **kw)


def publish_month(server: BinanceServer, month: str, seed: int, *, daily: bool) -> None:
    """A month of 1h candles as Binance publishes it: daily files first, the monthly file later."""
    table = kline_table("1h", month, seed=seed)
    if not daily:
        server.add_klines("spot", SYMBOL, "1h", month, table)
        return
    for day in range(table.num_rows // 24):
        server.add_klines("spot", SYMBOL, "1h", f"{month}-{day + 1:02d}", table.slice(day * 24, 24))


def test_lake_file_missing_from_the_manifest_is_built_and_reported(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """A loader killed between writing a file and saving the manifest leaves an unrecorded file: the
    next incremental build includes it (and warns), instead of silently building without it."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    publish_month(binance_server, "2024-01", 1, daily=False)
    load_all(binance_server, lake)
    assert run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "1").success
    # Load February, then take its entry out of the manifest (as if the run died before saving it).
    publish_month(binance_server, "2024-02", 2, daily=False)
    load_all(binance_server, lake)
    manifest = contract.manifest_path(lake, "klines")
    kept = {p: e for p, e in read_entries(manifest, "klines").items() if "2024-02" not in p}
    from loaders.binance.manifest import Manifest

    m = Manifest(lake, "klines")
    for path in set(m.entries) - set(kept):
        m.remove(path)
    m.save()
    assert len(read_entries(manifest, "klines")) == 1

    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "2")
    assert run.success
    assert run.statuses()["warn_lake_files_not_in_manifest"] == "warn"
    days = query(db, "select count(*) as n, max(trade_date) as last from fct_ohlcv_daily")[0]
    assert (days["n"], str(days["last"])) == (31 + 29, "2024-02-29")
    assert_marts_equal_full_refresh(lake, db, work)


def test_loader_waits_for_a_build_before_replacing_daily_files(
    binance_server: BinanceServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While a build holds the lake's readers lock, a monthly file does not replace its month's daily
    files: the loader says it waits, and swaps them in once the build is done."""
    caplog.set_level(logging.INFO, logger="loaders")
    lake = tmp_path / "lake"
    publish_month(binance_server, "2024-03", 3, daily=True)
    load_all(binance_server, lake)
    publish_month(binance_server, "2024-03", 3, daily=False)
    build = locks.hold_shared(contract.readers_lock_path(lake))  # what a build's on-run-start takes
    assert build is not None
    release = threading.Timer(2.0, os.close, [build])
    release.start()
    started = time.monotonic()
    summary = load_all(binance_server, lake)
    release.join()
    # It finished only after the build let go, having waited (how long depends on when it got there).
    assert time.monotonic() - started >= 1.9 and summary.waited > 0.5
    assert any("waiting for the dbt build" in r.getMessage() for r in caplog.records)
    assert summary.removed == 31
    month = lake / "binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-03"
    assert [p.name for p in month.glob("*.parquet")] == ["BTCUSDT-1h-2024-03.parquet"]
    assert set(read_entries(contract.manifest_path(lake, "klines"), "klines")) == {
        (month / "BTCUSDT-1h-2024-03.parquet").relative_to(lake).as_posix()
    }


def dbt_build_process(lake: Path, db: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """`dbt build` as a user runs it: its own process (its own readers lock)."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(REPO_ROOT),
         "--profiles-dir", str(REPO_ROOT), "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=REPO_ROOT,
        env={**os.environ, "LAKE_DIR": str(lake), "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
             **dict.fromkeys(("PGHOST",), "")},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


def test_builds_never_fail_while_a_loader_replaces_daily_files(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """dbt builds in a loop in one process, a loader in another that keeps replacing a month's daily
    files by its monthly file: every build succeeds, and the end state equals a full refresh."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    publish_month(binance_server, "2023-12", 0, daily=False)
    load_all(binance_server, lake)
    assert dbt_build_process(lake, db, work / "first").returncode == 0
    months = [f"{y}-{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    stop = threading.Event()
    builds: list[subprocess.CompletedProcess[str]] = []

    def build_loop() -> None:
        k = 0
        while not stop.is_set():
            builds.append(dbt_build_process(lake, db, work / f"loop{k}"))
            k += 1

    builder = threading.Thread(target=build_loop)
    builder.start()
    waited, loaded = 0.0, []
    try:
        for k, month in enumerate(months):  # a month at a time, until three builds have run alongside
            if len(builds) >= 3:
                break
            publish_month(binance_server, month, k + 1, daily=True)
            load_all(binance_server, lake)
            publish_month(binance_server, month, k + 1, daily=False)
            waited += load_all(binance_server, lake).waited
            loaded.append(month)
    finally:
        stop.set()
        builder.join(timeout=600)
    failed = [b for b in builds if b.returncode != 0]
    assert builds and not failed, failed[0].stdout[-3000:] if failed else "no build ran"
    # The runs did overlap: the loader had to wait for a build at least once.
    assert waited > 0, f"the loader never met a build ({len(builds)} builds)"
    for month in loaded:
        folder = lake / f"binance/klines/market=spot/interval=1h/symbol={SYMBOL}/month={month}"
        assert [p.name for p in folder.glob("*.parquet")] == [f"{SYMBOL}-1h-{month}.parquet"]
    assert dbt_build_process(lake, db, work / "last").returncode == 0
    assert_marts_equal_full_refresh(lake, db, work)


def test_concurrent_loaders_then_a_build_equal_a_full_refresh(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """Two loaders on different symbols and a third on both, at once; then `dbt build`: the manifest
    lists every archive on disk and the incremental marts equal a full refresh of the lake."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    for k, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        for m, month in enumerate(("2024-01", "2024-02", "2024-03")):
            binance_server.add_klines("spot", symbol, "1h", month, seed=10 * k + m)
    first = binance_server.load(lake, "spot", ["BTCUSDT"], ["1h"], end="2024-01", check=False)
    assert first.loaded == 1
    assert run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "1").success
    binance_server.zip_fault = Fault(chunk_delay=0.05, chunk_size=8192)
    outcomes = loaders_at_once(
        binance_server, lake, [["ETHUSDT"], ["BTCUSDT"], ["BTCUSDT", "ETHUSDT"]], "--intervals", "1h"
    )
    assert [code for code, _, _ in outcomes] == [0, 0, 0], outcomes
    on_disk = {p.relative_to(lake).as_posix() for p in lake.glob("binance/klines/**/*.parquet")}
    assert len(on_disk) == 6
    assert set(read_entries(contract.manifest_path(lake, "klines"), "klines")) == on_disk
    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "2")
    assert run.success and run.statuses()["warn_lake_files_not_in_manifest"] == "pass"
    assert query(db, "select count(distinct symbol) as n, max(trade_date) as last from fct_ohlcv_daily")[
        0
    ] == {
        "n": 2,
        "last": __import__("datetime").date(2024, 3, 31),
    }
    assert_marts_equal_full_refresh(lake, db, work)


BAD_VARS = [
    ("{export_schema: 's$export$x'}", 'var export_schema "s$export$x" is not an identifier'),
    ("{export_schema: ''}", 'var export_schema "" is not an identifier'),
    ("{export_schema: 'a-b'}", 'var export_schema "a-b" is not an identifier'),
    ("{export_window_days: '30; drop table x'}", "var export_window_days"),
    ('{daily_source_interval: "1h\'"}', 'var daily_source_interval "1h\'" is not a Binance interval'),
    ("{staging_test_months: -1}", "var staging_test_months"),
    (
        "{hourly_source_interval: 4h}",
        'var hourly_source_interval "4h" is not a Binance interval that divides',
    ),
    # Digits, but past SQL's 32-bit integers: every export failed in SQL (77 lines).
    (
        "{export_window_days: 2147483648}",
        'var export_window_days "2147483648" is not a whole number of days from 1',
    ),
]


@pytest.mark.parametrize(("dbt_vars", "message"), BAD_VARS, ids=[m for _, m in BAD_VARS])
def test_vars_that_reach_sql_are_validated_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], dbt_vars: str, message: str
) -> None:
    lake = tmp_path / "lake"
    folder = contract.partition_dir(lake, "klines", "spot", "1h", SYMBOL, "2024-01")
    folder.mkdir(parents=True)
    (folder / "x.parquet").write_bytes(b"")  # the lake is not empty (nothing reads the file)
    run = run_dbt(
        "build", "--vars", dbt_vars, lake_dir=lake, duckdb_path=tmp_path / "w.duckdb", work_dir=tmp_path
    )
    assert not run.success
    out = capfd.readouterr().out
    lines = [ln for ln in out.splitlines() if message in ln]
    assert len(lines) == 1, out[-3000:]
    assert "Traceback" not in out
    assert "$export$" not in out.replace(lines[0], "")  # no SQL was generated from the value
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_tables()").fetchone()[0] == 0  # nothing built


def test_builds_read_the_manifest_whole_while_a_loader_saves_it(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """A loader replaces its manifest file as it goes (under the manifest lock), while builds read it.
    Every build must succeed and see each lake file once. When stg_binance__manifest was a view, each
    query read whatever manifest it met, sometimes a file swapped mid-query ("Invalid data"), or the
    file both as recorded and as not (its grain test failed): 1 build in ~10 of the loop test above."""
    lake, db = tmp_path / "lake", tmp_path / "w.duckdb"
    for k, month in enumerate(("2024-01", "2024-02")):
        publish_month(binance_server, month, k, daily=False)
    load_all(binance_server, lake)
    manifest = contract.manifest_path(lake, "klines")
    entries = pq.read_table(manifest)
    versions = [entries.slice(0, entries.num_rows - 1), entries]  # a save before the last file's, then after
    stop = threading.Event()

    def saves() -> None:  # what a loader does as it goes: a new manifest, atomically, under the lock
        k = 0
        while not stop.is_set():
            tmp = contract.temp_path(manifest)
            pq.write_table(versions[k % 2], tmp)
            with locks.exclusive(contract.manifest_lock_path(lake)):
                os.replace(tmp, manifest)
            k += 1
            time.sleep(0.002)

    saver = threading.Thread(target=saves)
    saver.start()
    try:
        for k in range(6):
            run = run_dbt(
                "build",
                "--select",
                "+stg_binance__manifest",
                lake_dir=lake,
                duckdb_path=db,
                work_dir=tmp_path / f"b{k}",
            )
            assert run.success, run.statuses()
            files = query(
                db, "select count(distinct lake_path) as files, count(*) as n from stg_binance__manifest"
            )
            assert files == [{"files": 2, "n": 2}]
    finally:
        stop.set()
        saver.join(timeout=30)
