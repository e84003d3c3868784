"""The read API (binance_warehouse, docs/api.md) on the session warehouse: candles from the lake agree
with the dbt-built daily mart, the mart readers with plain SQL, bad arguments give one ValueError line,
and reads work next to a real `dbt build` and a process holding the DuckDB file for writing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binance_warehouse import Warehouse, WarehouseBusyError
from dbt_plugins.lock_check import lock_holder
from tests.fixtures.binance_server import BinanceServer, kline_table
from tests.fixtures.dbt import DBT, process_env, project_args
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.warehouse import BuiltWarehouse

pytestmark = pytest.mark.slow
HOLD_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def wh(built_warehouse: BuiltWarehouse) -> Warehouse:
    assert built_warehouse.run.success, (
        "the session dbt build failed (tests/test_dbt_marts.py says which node)"
    )
    return Warehouse(built_warehouse.duckdb_path, built_warehouse.lake_dir)


def private_copy(built_warehouse: BuiltWarehouse, tmp_path: Path) -> tuple[Path, Path]:
    """A lake and a warehouse file of the test's own (the session ones are read-only)."""
    lake = tmp_path / "lake"
    shutil.copytree(built_warehouse.lake_dir, lake)
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, path)
    return lake, path


def month_file(lake: Path, month: str) -> Path:
    folder = lake / "binance/klines/market=spot/interval=1h/symbol=BTCUSDT" / f"month={month}"
    (only,) = folder.glob("*.parquet")
    return only


# --- candles from the lake ----------------------------------------------------------------------


def test_hourly_candles_add_up_to_the_daily_mart(wh: Warehouse, built_warehouse: BuiltWarehouse) -> None:
    candles = wh.candles("btcusdt", "1h")
    assert candles["open_at"].is_monotonic_increasing and candles["open_at"].is_unique
    days = candles.groupby(candles["open_at"].dt.date).agg(
        candle_count=("open_at", "size"),
        open_price=("open_price", "first"),
        high_price=("high_price", "max"),
        close_price=("close_price", "last"),
        base_volume=("base_volume", "sum"),
    )
    mart = built_warehouse.rows(
        "select trade_date, candle_count, open_price, high_price, close_price, base_volume from fct_ohlcv_daily"
        " where market = 'spot' and symbol = 'BTCUSDT' order by trade_date"
    )
    assert [d for d in days.index] == [r["trade_date"] for r in mart]
    for row in mart:
        day = days.loc[row["trade_date"]]
        assert day["candle_count"] == row["candle_count"]
        for col in ("open_price", "high_price", "close_price", "base_volume"):
            assert day[col] == pytest.approx(row[col], rel=1e-12), (row["trade_date"], col)
    outage = wh.candles("BTCUSDT", "1h", start="2023-03-24", end="2023-03-24")
    assert len(outage) == 23 and 13 not in set(outage["open_at"].dt.hour)  # Binance's 2023-03-24 outage


def test_any_loaded_interval_and_several_symbols(wh: Warehouse, built_warehouse: BuiltWarehouse) -> None:
    daily = wh.candles("BTCUSDT", "1d", end="2023-02")
    assert len(daily) == 59 and set(daily["interval"]) == {"1d"}
    closes = {
        r["trade_date"]: r["close_price"]
        for r in built_warehouse.rows(
            "select trade_date, close_price from fct_ohlcv_daily where market = 'spot' and symbol = 'BTCUSDT'"
        )
    }
    for row in daily.itertuples():
        assert row.close_price == pytest.approx(closes[row.open_at.date()], rel=1e-12)
    both = wh.candles(["BTCUSDT", "ETHUSDT"], "1h", start="2023-02-14", end="2023-02-15")
    # ETHUSDT's generated series lacks 2023-02-14 as a whole day.
    assert both.groupby("symbol").size().to_dict() == {"BTCUSDT": 48, "ETHUSDT": 24}
    futures = wh.candles("ETHUSDT", "1h", market="um", start="2026-06-23T05:00", end="2026-06-23T07:00")
    assert list(futures["open_at"].dt.hour) == [5, 6, 7]


def test_candles_open_only_the_month_folders_of_the_period(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    lake, path = private_copy(built_warehouse, tmp_path)
    before = Warehouse(path, lake).candles("BTCUSDT", "1h", start="2023-03-01", end="2023-03-31")
    month_file(lake, "2023-01").write_bytes(b"not parquet")  # any read of January would fail now
    after = Warehouse(path, lake).candles("BTCUSDT", "1h", start="2023-03-01", end="2023-03-31")
    pd.testing.assert_frame_equal(before, after)
    with pytest.raises(duckdb.Error):
        Warehouse(path, lake).candles("BTCUSDT", "1h", start="2023-01-31", end="2023-03-01")


def test_a_monthly_file_next_to_daily_ones_wins(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """A loader killed between writing the monthly file and removing the daily ones leaves both: each
    candle once, the monthly file's (as in the staging views)."""
    lake, path = private_copy(built_warehouse, tmp_path)
    wh = Warehouse(path, lake)
    before = wh.candles("BTCUSDT", "1h", start="2023-03-05", end="2023-03-05")
    monthly = month_file(lake, "2023-03")
    rows = pq.read_table(monthly).to_pandas()
    day = rows[rows["open_time"].dt.date == date(2023, 3, 5)].copy()
    day["close"] += 1.0
    day["trade_count"] += 1
    pq.write_table(
        pa.Table.from_pandas(day, preserve_index=False), monthly.with_name("BTCUSDT-1h-2023-03-05.parquet")
    )
    after = wh.candles("BTCUSDT", "1h", start="2023-03-05", end="2023-03-05")
    pd.testing.assert_frame_equal(before, after)


# --- the marts ----------------------------------------------------------------------------------


def test_mart_readers_return_what_sql_returns(wh: Warehouse, built_warehouse: BuiltWarehouse) -> None:
    features = wh.features("BTCUSDT", start="2023-02", end="2023-02")
    assert len(features) == 28 and set(features["trade_date"].dt.month) == {2}
    assert not any(c.startswith("_") for c in features.columns) and "rsi_14" in features.columns
    expected = built_warehouse.rows(
        "select trade_date, rsi_14 from fct_regime_features_daily where market = 'spot' and symbol = 'BTCUSDT'"
        " and trade_date between '2023-02-01' and '2023-02-28' order by trade_date"
    )
    assert list(features["rsi_14"].fillna(-1)) == [
        r["rsi_14"] if r["rsi_14"] is not None else -1 for r in expected
    ]

    count = built_warehouse.rows("select count(*) as n from fct_regime_features_daily")[0]["n"]
    assert len(wh.features(market=None)) == count
    derivatives = wh.derivatives("BTCUSDT")
    assert set(derivatives["market"]) == {"um"} and derivatives["open_interest"].notna().all()
    assert len(derivatives) == built_warehouse.rows("select count(*) as n from fct_derivatives_daily")[0]["n"]

    gaps = wh.coverage(status=["missing", "incomplete"])
    assert (
        len(gaps)
        == built_warehouse.rows("select count(*) as n from fct_coverage_daily where status <> 'complete'")[0][
            "n"
        ]
        > 0
    )
    outage = wh.coverage("BTCUSDT", start="2023-03-24", end="2023-03-24", market="spot", interval="1h")
    assert list(outage["status"]) == ["incomplete"] and outage["known_reason"].notna().all()
    assert len(wh.coverage(dataset="metrics", status="incomplete")) == 1  # 2026-03-20 without its 10:00 hour

    symbols = wh.symbols()
    assert len(symbols) == built_warehouse.rows("select count(*) as n from dim_symbols")[0]["n"]
    assert set(wh.symbols(market="spot")["symbol"]) == {"BTCUSDT", "ETHUSDT"}
    assert wh.sql("select count(*) as n from fct_ohlcv_daily where symbol = ?", ["ETHUSDT"])["n"][0] == len(
        wh.features("ETHUSDT", market=None)
    )


def test_regimes_without_the_probability_model(wh: Warehouse) -> None:
    regimes = wh.regimes("BTCUSDT", market="um")
    assert {"regime", "leverage_regime", "trend_30d", "volatility_30d"} <= set(regimes.columns)
    assert not any(c.startswith("prob_") for c in regimes.columns)
    assert regimes["leverage_regime"].notna().any()


def test_regimes_add_the_probabilities_when_the_table_exists(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """fct_regime_probabilities_daily (docs/regimes.md) is optional: when a build made it,
    regimes() pivots its states into prob_<state_name> columns, null on days it does not cover."""
    lake, path = private_copy(built_warehouse, tmp_path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            """
            create or replace table fct_regime_probabilities_daily as
            with days as (
                select market, symbol, trade_date, row_number() over (order by trade_date) as n
                from fct_regime_features_daily
                where market = 'spot' and symbol = 'BTCUSDT' and trade_date >= '2023-04-01'
            ),
            states as (
                select * from (values (0, 'calm'), (1, 'normal'), (2, 'turbulent')) as s (state, state_name)
            )
            select
                days.market, days.symbol, days.trade_date, states.state, states.state_name,
                case states.state when 2 then 0.5 else (0.5 * ((days.n % 4) + states.state + 1))
                    / ((days.n % 4) * 2 + 3) end as probability,
                'fit-2023-03' as fit_id
            from days cross join states
            """
        )
        # The suite's series are shorter than a first fit needs: give them probabilities and a state.
        con.execute("update fct_regime_features_daily set vol_state = 'calm'")
        stored = con.execute(
            "select state_name, probability from fct_regime_probabilities_daily where trade_date = '2023-04-10'"
        ).fetchall()
    regimes = Warehouse(path, lake).regimes("BTCUSDT")
    assert [c for c in regimes.columns if c.startswith("prob_")] == [
        "prob_calm",
        "prob_normal",
        "prob_turbulent",
    ]
    day = regimes.set_index("trade_date").loc[pd.Timestamp("2023-04-10")]
    assert {name: day[f"prob_{name}"] for name, _ in stored} == pytest.approx(dict(stored))
    covered = regimes[regimes["trade_date"] >= "2023-04-01"]
    assert covered[["prob_calm", "prob_normal", "prob_turbulent"]].sum(axis=1).tolist() == pytest.approx(
        [1.0] * len(covered)
    )
    assert regimes[regimes["trade_date"] < "2023-04-01"]["prob_calm"].isna().all()
    assert set(covered["fit_id"]) == {"fit-2023-03"}
    assert set(regimes["vol_state"]) == {"calm"}  # the model's columns of the features mart, when present


def test_results_as_arrow_polars_and_relation(wh: Warehouse) -> None:
    assert isinstance(wh.features("BTCUSDT", output="arrow"), pa.Table)
    frame = wh.candles("BTCUSDT", "1d", output="polars")
    assert isinstance(frame, pl.DataFrame) and frame.height == 59
    relation = wh.features("BTCUSDT", output="relation")
    assert len(relation.df()) == relation.arrow().read_all().num_rows == relation.pl().height == 151
    assert relation.filter("regime is not null").aggregate("count(*)").fetchone()[0] == 121
    assert Warehouse(wh.duckdb_path, wh.lake_dir, output="arrow").symbols().num_rows == 5
    assert pd.api.types.is_datetime64_any_dtype(wh.features("BTCUSDT")["trade_date"])


def test_settings_come_from_the_environment(
    built_warehouse: BuiltWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUCKDB_PATH", str(built_warehouse.duckdb_path))
    monkeypatch.setenv("LAKE_DIR", str(built_warehouse.lake_dir))
    wh = Warehouse()
    assert (wh.duckdb_path, wh.lake_dir) == (
        built_warehouse.duckdb_path.resolve(),
        built_warehouse.lake_dir.resolve(),
    )
    assert len(wh.candles("ETHUSDT", "1h", start="2023-05-31")) == 24


# --- bad arguments ----------------------------------------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[Warehouse], Any], str]] = [
    (
        "unknown symbol",
        lambda w: w.candles("XRPUSDT", "1h"),
        r"^unknown symbol 'XRPUSDT': no spot candles .*\(symbols there: BTCUSDT, ETHUSDT\)$",
    ),
    (
        "interval not loaded",
        lambda w: w.candles("BTCUSDT", "1m"),
        r"^no spot 1m candles for BTCUSDT in .* \(intervals loaded: 1h, 1d\)$",
    ),
    (
        "unknown interval",
        lambda w: w.candles("BTCUSDT", "7h"),
        r"^unknown interval '7h': use one of 1s, 1m, ",
    ),
    ("bad symbol", lambda w: w.features("BTC/USDT"), r"^bad symbol 'BTC/USDT': "),
    (
        "unknown mart symbol",
        lambda w: w.features("XRPUSDT"),
        r"^unknown symbol 'XRPUSDT': no spot rows in fct_regime_features_daily \(symbols there: BTCUSDT, ETHUSDT\)$",
    ),
    (
        "bad date",
        lambda w: w.features(start="2023-13-01"),
        r"^bad start '2023-13-01': use YYYY-MM, YYYY-MM-DD",
    ),
    (
        "bad date type",
        lambda w: w.candles("BTCUSDT", "1h", end=20230101),
        r"^end must be a date, a datetime or a string",
    ),
    (
        "end before start",
        lambda w: w.regimes(start="2023-03", end="2023-02"),
        r"^end '2023-02' is before start '2023-03'$",
    ),
    (
        "unknown market",
        lambda w: w.features(market="usdm"),
        r"^unknown market 'usdm': use one of spot, um, cm$",
    ),
    (
        "spot derivatives",
        lambda w: w.derivatives(market="spot"),
        r"^unknown market 'spot': use one of um, cm$",
    ),
    ("unknown status", lambda w: w.coverage(status="gone"), r"^unknown status 'gone'"),
    ("unknown dataset", lambda w: w.coverage(dataset="trades"), r"^unknown dataset 'trades'"),
    (
        "unknown output",
        lambda w: w.symbols(output="csv"),
        r"^unknown output 'csv': use one of pandas, arrow, polars, relation$",
    ),
]


@pytest.mark.parametrize(
    ("call", "pattern"), [(c, p) for _, c, p in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_arguments_are_one_clear_value_error(
    wh: Warehouse, call: Callable[[Warehouse], Any], pattern: str
) -> None:
    with pytest.raises(ValueError) as caught:
        call(wh)
    message = str(caught.value)
    assert "\n" not in message and re.search(pattern, message), message


def test_a_missing_warehouse_or_lake_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^no warehouse at .*: run `dbt build` first"):
        Warehouse(tmp_path / "none.duckdb", tmp_path).features()
    with pytest.raises(ValueError, match=r"^no candles in .*: set LAKE_DIR to your lake, or load some"):
        Warehouse(tmp_path / "none.duckdb", tmp_path).candles("BTCUSDT", "1h")


# --- read-only, next to writers -------------------------------------------------------------------------


@contextmanager
def writer_holding(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with `path` open for writing until its stdin closes."""
    code = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        if proc.stdin and not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=HOLD_TIMEOUT_S)


def test_candles_hold_the_lake_readers_lock(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """A loader deletes lake files only under the readers lock held exclusively (loaders/locks.py):
    candles() takes it shared, like a dbt build, so it waits while a deletion runs and reads after."""
    lake, path = private_copy(built_warehouse, tmp_path)
    code = (
        "import sys, time; from pathlib import Path; from loaders import contract, locks\n"
        "with locks.exclusive(contract.readers_lock_path(Path(sys.argv[1]))):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    deleter = subprocess.Popen(
        [sys.executable, "-c", code, str(lake)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    result: list[int] = []
    try:
        assert deleter.stdout is not None and deleter.stdout.readline().strip() == "held"
        reader = threading.Thread(
            target=lambda: result.append(len(Warehouse(path, lake).candles("BTCUSDT", "1d")))
        )
        reader.start()
        reader.join(timeout=1.0)
        assert reader.is_alive() and not result, (
            "candles() read the lake while a loader held the readers lock"
        )
    finally:
        assert deleter.stdin is not None
        deleter.stdin.close()
        deleter.wait(timeout=HOLD_TIMEOUT_S)
    reader.join(timeout=HOLD_TIMEOUT_S)
    assert result == [59]


def test_candles_while_a_loader_swaps_daily_files_for_the_monthly_one(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """A real loader replacing a month's daily files by Binance's monthly file, while candles() reads
    that month again and again: every read sees each candle once, none missing."""

    month = kline_table("1h", "2024-02", seed=3)
    for day in range(29):
        binance_server.add_klines(
            "spot", "SOLUSDT", "1h", f"2024-02-{day + 1:02d}", month.slice(day * 24, 24)
        )
    lake = tmp_path / "lake"

    def run_loader() -> None:
        binance_server.load(lake, "spot", ["SOLUSDT"], ["1h"])

    run_loader()
    folder = lake / "binance/klines/market=spot/interval=1h/symbol=SOLUSDT/month=2024-02"
    assert len(list(folder.glob("*.parquet"))) == 29
    wh = Warehouse(tmp_path / "unused.duckdb", lake, output="arrow")
    expected = wh.candles("SOLUSDT", "1h", start="2024-02", end="2024-02")
    assert expected.num_rows == 29 * 24
    binance_server.add_klines("spot", "SOLUSDT", "1h", "2024-02", month)
    loader = threading.Thread(target=run_loader)
    loader.start()
    reads = 0
    while loader.is_alive() or reads == 0:
        assert wh.candles("SOLUSDT", "1h", start="2024-02", end="2024-02").equals(expected)
        reads += 1
    loader.join()
    assert [f.name for f in folder.glob("*.parquet")] == ["SOLUSDT-1h-2024-02.parquet"]
    assert wh.candles("SOLUSDT", "1h", start="2024-02", end="2024-02").equals(expected)


def test_reads_never_write_and_never_keep_the_file(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    lake, path = private_copy(built_warehouse, tmp_path)
    wh = Warehouse(path, lake)
    with pytest.raises(duckdb.Error, match="read-only"):
        wh.sql("create table scratch as select 1 as a")
    wh.features("BTCUSDT")
    wh.regimes()
    # Right after the reads another process can open the file for writing (a build could start).
    with writer_holding(path) as proc:
        assert lock_holder(path) is not None and lock_holder(path).pid == proc.pid


def test_a_writer_holding_the_file(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """While a writer holds the DuckDB file: candles still read the lake, a mart read waits and, after
    `wait`, names the writer in one line; once the writer lets go, the waiting read returns."""
    lake, path = private_copy(built_warehouse, tmp_path)
    wh = Warehouse(path, lake, wait=0.5)
    expected = wh.features("BTCUSDT")
    with writer_holding(path) as proc:
        assert len(wh.candles("BTCUSDT", "1h", start="2023-05")) == 31 * 24
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as caught:
            wh.features("BTCUSDT")
        assert 0.5 <= time.monotonic() - started < 5
        message = str(caught.value)
        assert "\n" not in message and f"process {proc.pid}" in message and "for writing" in message, message
        assert proc.stdin is not None
        threading.Timer(1.0, proc.stdin.close).start()
        started = time.monotonic()
        waited = Warehouse(path, lake, wait=HOLD_TIMEOUT_S).features("BTCUSDT")
        assert time.monotonic() - started >= 0.5
    pd.testing.assert_frame_equal(waited, expected)


def test_reads_during_a_real_dbt_build(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """A real `dbt build` in another process on a copy: candles keep coming from the lake while the
    build holds the file, a mart read waits for the build and returns its result, and the build (which
    refuses to start while anyone holds the file) is not disturbed by the reads."""
    lake, path = private_copy(built_warehouse, tmp_path)
    wh = Warehouse(path, lake, wait=300)
    argv = [str(DBT), "build", "--full-refresh", *project_args(tmp_path), "--no-partial-parse"]
    # Its output goes to a file: a pipe nobody reads until the end fills up (64 KB) and stops the build
    # mid-run, holding the file, while this test waits for it.
    log = tmp_path / "build.out"
    with log.open("w") as out:
        build = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=process_env(lake, {"DUCKDB_PATH": str(path)}),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        while not ((holder := lock_holder(path)) and holder.exclusive):
            assert build.poll() is None, f"the build ended before it held the file: {log.read_text()}"
            assert time.monotonic() < deadline, "the build did not open the warehouse"
            time.sleep(0.05)
        reads_while_held = 0
        while reads_while_held < 3:
            before = lock_holder(path)
            assert len(wh.candles("ETHUSDT", "1h", start="2023-02-13", end="2023-02-15")) == 48
            after = lock_holder(path)
            if before is None or after is None:
                break
            reads_while_held += before.exclusive and after.exclusive
        assert reads_while_held >= 1, "the build released the file before a lake read"
        features = wh.features("BTCUSDT")  # waits for the build's end
        assert len(features) == 151
    finally:
        build.wait(timeout=600)
    assert build.returncode == 0, log.read_text()[-3000:]
    built_after = duckdb.connect(str(path), read_only=True)
    try:
        rebuilt = built_after.execute("select count(*) from fct_regime_features_daily").fetchone()[0]
    finally:
        built_after.close()
    assert rebuilt == len(wh.features(market=None))


# --- the docs ---------------------------------------------------------------------------------------


def doc_python_block(doc: Path) -> str:
    """The first ```python block of a docs page (the notebook example), as written there."""
    match = re.search(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert match, f"{doc} has no python block"
    return match[1]


def test_the_notebook_example_runs(built_warehouse: BuiltWarehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUCKDB_PATH", str(built_warehouse.duckdb_path))
    monkeypatch.setenv("LAKE_DIR", str(built_warehouse.lake_dir))
    namespace: dict[str, Any] = {}
    exec(compile(doc_python_block(REPO_ROOT / "docs/api.md"), "docs/api.md", "exec"), namespace)
    last_day = namespace["last_day"]
    hourly = namespace["hourly"]
    assert len(hourly) == 7 * 24 and hourly["open_at"].min() == last_day - timedelta(days=6)
    assert len(namespace["daily_range"]) == 7
    assert namespace["features"]["regime"].notna().any()
    assert namespace["funding"]["funding_rate_annualized"].notna().all()
    assert len(namespace["gaps"]) > 0 and len(namespace["ranking"]) == 2
    assert isinstance(namespace["as_arrow"], pa.Table) and len(namespace["quiet_days"]) > 0
