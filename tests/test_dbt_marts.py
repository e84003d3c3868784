"""`dbt build` on a lake the real loader built from real Binance archives: the marts hold what docs/features.md says,
checked against tests/reference.py, which recomputes everything from the archives in numpy/Python."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from datetime import date

import numpy as np
import pytest

from tests.dbt_helpers import (
    DEFAULT_SOURCE_INTERVAL,
    MART_DAILY,
    MART_FEATURES,
    MARTS,
    ExpectedSeries,
    expected_series,
    mart_by_date,
    query,
    regime_thresholds,
)
from tests.fixtures.dbt import failed_nodes
from tests.fixtures.warehouse import GENERATED_MISSING_DAY, BuiltWarehouse, LoadedLake
from tests.reference import DAILY_COLUMNS, FEATURE_COLUMNS, mismatches

pytestmark = pytest.mark.slow

# Every (market, symbol) with `daily_source_interval` candles in the session lake.
SERIES = [("spot", "BTCUSDT"), ("spot", "ETHUSDT"), ("um", "ETHUSDT"), ("um", "BTCUSDT")]
OUTAGE_DAY = date(2023, 3, 24)


@pytest.fixture(scope="module")
def expected(loaded_lake: LoadedLake) -> dict[tuple[str, str], ExpectedSeries]:
    thresholds = regime_thresholds()
    return {
        (market, symbol): expected_series(
            loaded_lake.sources(market, DEFAULT_SOURCE_INTERVAL, symbol), thresholds
        )
        for market, symbol in SERIES
    }


def _failed_nodes(built: BuiltWarehouse) -> dict[str, str]:
    return failed_nodes(built.run.target_path)


def test_build_succeeds_with_every_node(built_warehouse: BuiltWarehouse) -> None:
    statuses = built_warehouse.run.statuses()
    assert built_warehouse.run.success, f"dbt build failed: {_failed_nodes(built_warehouse)}"
    assert set(MARTS) <= set(statuses), f"marts not built: {sorted(statuses)}"
    assert not _failed_nodes(built_warehouse)


def test_reconciliation_with_binance_1d_candles_passes(built_warehouse: BuiltWarehouse) -> None:
    """The lake holds Binance's own 1d candles for BTCUSDT 2023-01/02; the 1h aggregate equals them."""
    statuses = built_warehouse.run.statuses()
    reconcile = {n: s for n, s in statuses.items() if "reconcil" in n}
    assert reconcile, f"no reconciliation data test among {sorted(statuses)}"
    assert set(reconcile.values()) == {"pass"}, reconcile


def test_gap_reporting_warns_on_real_outage(
    built_warehouse: BuiltWarehouse, expected: dict[tuple[str, str], ExpectedSeries]
) -> None:
    """BTCUSDT spot misses the 13:00 candle of 2023-03-24, spot ETHUSDT a whole day, um ETHUSDT the
    days between its monthly and its daily file: reported as a warning, not an error (Binance has real
    outages), one row per incomplete or missing day of fct_coverage_daily."""
    results = {r.node.name: r for r in built_warehouse.run.result.result.results}
    warned = {n: r for n, r in results.items() if str(r.status) == "warn" and "coverage" in n}
    assert list(warned) == ["warn_coverage_gaps"], {n: str(r.status) for n, r in results.items()}
    want = 0
    for series in expected.values():
        days = sorted(series.daily)
        want += sum(not series.daily[d]["is_complete"] for d in days)
        want += sum((b - a).days - 1 for a, b in itertools.pairwise(days))
    assert want == 24  # the outage day, ETHUSDT's missing day, um ETHUSDT's 22 days missing in June 2026
    (result,) = warned.values()
    # ... and, beyond the klines, the metrics day lacking its 10:00 hour (tests/test_dbt_coverage.py).
    assert result.failures == want + 1, result.message


def test_marts_cover_exactly_the_source_days(
    built_warehouse: BuiltWarehouse, expected: dict[tuple[str, str], ExpectedSeries]
) -> None:
    for table in MARTS:
        rows = query(built_warehouse.duckdb_path, f"select market, symbol, trade_date from main.{table}")
        got = {(r["market"], r["symbol"], r["trade_date"]) for r in rows}
        want = {(m, s, d) for (m, s), e in expected.items() for d in e.daily}
        assert len(rows) == len(got), f"{table}: duplicate keys"
        assert got == want, f"{table}: extra {sorted(got - want)[:5]}, missing {sorted(want - got)[:5]}"


@pytest.mark.parametrize(("market", "symbol"), SERIES)
def test_daily_ohlcv_matches_archives(
    built_warehouse: BuiltWarehouse,
    expected: dict[tuple[str, str], ExpectedSeries],
    market: str,
    symbol: str,
) -> None:
    mart = mart_by_date(built_warehouse.duckdb_path, MART_DAILY, market, symbol)
    problems = mismatches(expected[(market, symbol)].daily, mart, DAILY_COLUMNS)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize(("market", "symbol"), SERIES)
def test_every_feature_matches_reference(
    built_warehouse: BuiltWarehouse,
    expected: dict[tuple[str, str], ExpectedSeries],
    market: str,
    symbol: str,
) -> None:
    mart = mart_by_date(built_warehouse.duckdb_path, MART_FEATURES, market, symbol)
    problems = mismatches(expected[(market, symbol)].features, mart, FEATURE_COLUMNS)
    assert not problems, "\n".join(problems[:20])


def test_long_windows_fill_on_the_real_series(expected: dict[tuple[str, str], ExpectedSeries]) -> None:
    """Guards the comparison itself: the real BTCUSDT series is long enough that every feature,
    including the 90-day ones and the regime, has values to compare (not only nulls)."""
    feats = expected[("spot", "BTCUSDT")].features
    for col in FEATURE_COLUMNS:
        filled = sum(v[col] is not None for v in feats.values())
        assert filled >= 30, f"{col}: only {filled} non-null reference values"


def test_outage_day_is_flagged_incomplete(built_warehouse: BuiltWarehouse) -> None:
    """2023-03-24: Binance's 12:00 candle has zero volume and 13:00 is missing -> 23 of 24 candles."""
    mart = mart_by_date(built_warehouse.duckdb_path, MART_DAILY, "spot", "BTCUSDT")
    day = mart[OUTAGE_DAY]
    assert (day["candle_count"], day["expected_candle_count"], day["is_complete"]) == (23, 24, False)
    assert day["source_interval"] == DEFAULT_SOURCE_INTERVAL
    incomplete = sorted(d for d, r in mart.items() if not r["is_complete"])
    assert incomplete == [OUTAGE_DAY]


def test_wilder_averages_start_over_after_a_missing_day(built_warehouse: BuiltWarehouse) -> None:
    """The generated ETHUSDT spot series lacks 2023-02-14: RSI/ATR need 14 new changes after it."""
    mart = mart_by_date(built_warehouse.duckdb_path, MART_FEATURES, "spot", "ETHUSDT")
    assert GENERATED_MISSING_DAY not in mart
    after = sorted(d for d in mart if d > GENERATED_MISSING_DAY)
    first_rsi = next(d for d in after if mart[d]["rsi_14"] is not None)
    first_atr = next(d for d in after if mart[d]["atr_14"] is not None)
    assert (first_rsi - after[0]).days == 14
    assert (first_atr - after[0]).days == 14
    assert mart[after[0]]["log_return"] is None


def test_rsi_and_atr_equal_talib(built_warehouse: BuiltWarehouse) -> None:
    """docs/features.md: rsi_14 and atr_14 equal TA-Lib's RSI and ATR (on a series without missing days)."""
    talib = pytest.importorskip("talib")
    daily = mart_by_date(built_warehouse.duckdb_path, MART_DAILY, "spot", "BTCUSDT")
    feats = mart_by_date(built_warehouse.duckdb_path, MART_FEATURES, "spot", "BTCUSDT")
    dates = sorted(daily)
    assert all((b - a).days == 1 for a, b in itertools.pairwise(dates))
    col = {k: np.array([daily[d][k] for d in dates], dtype=float) for k in ("high_price", "low_price")}
    close = np.array([daily[d]["close_price"] for d in dates], dtype=float)
    for name, want in (
        ("rsi_14", talib.RSI(close, timeperiod=14)),
        ("atr_14", talib.ATR(col["high_price"], col["low_price"], close, timeperiod=14)),
    ):
        got = np.array([np.nan if feats[d][name] is None else feats[d][name] for d in dates], dtype=float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: null pattern")
        np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True, err_msg=name)


READ_ONLY_SCRIPT = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {}
for (name,) in con.execute(
    "select table_name from information_schema.tables where table_schema = 'main' order by 1"
).fetchall():
    out[name] = con.execute(f'select count(*) from main."{name}"').fetchone()[0]
print(json.dumps(out))
"""


def test_marts_open_read_only_from_another_directory(built_warehouse: BuiltWarehouse, tmp_path) -> None:
    """A BI tool opens the file read-only from anywhere: every table and view (staging views read the
    lake) must resolve without the repository or the lake's relative path."""
    elsewhere = tmp_path / "bi-tool"
    elsewhere.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", READ_ONLY_SCRIPT, str(built_warehouse.duckdb_path)],
        cwd=elsewhere,
        env={"PATH": "/usr/bin:/bin", "HOME": str(elsewhere)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = json.loads(proc.stdout)
    for mart in MARTS:
        assert counts.get(mart, 0) > 0, counts
    assert counts.get("stg_binance__klines", 0) > 0, counts
