"""The hourly marts (docs/features.md#hourly-grain) built by a real `dbt build` on real Binance 1h, 15m and
1m archives (tests/hourly_lake.py), against tests/reference_hourly.py, which recomputes every column from
the archives in plain Python: from Binance's 1h candles (var hourly_source_interval 1h, the default)
and aggregated from 1m candles (1m), across Binance's 2023-03-24 outage hour, across days missing
between files, and across the ms -> µs timestamp change of 2025."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from loaders import contract
from tests.dbt_helpers import query
from tests.fixtures.dbt import DbtRun, failed_nodes, run_dbt
from tests.fixtures.paths import REPO_ROOT
from tests.hourly_lake import HourlyLake, build_hourly_lake
from tests.reference import RegimeRule, RegimeThresholds, mismatches, read_candles
from tests.reference_hourly import (
    FEATURE_HOURLY_COLUMNS,
    OHLCV_HOURLY_COLUMNS,
    hourly_features,
    hourly_ohlcv,
)

pytestmark = pytest.mark.slow

# The hourly models, their seeds and the data tests on them only (not the daily marts').
SELECT = ("--select", "+path:models/marts/hourly", "binance_symbols", "--indirect-selection", "cautious")
OUTAGE_GAP = (datetime(2023, 3, 24, 12), datetime(2023, 3, 24, 14))  # 13:00 missing (spot BTCUSDT)
MICROSECOND_HOUR = datetime(2025, 7, 13, 0)  # first hour of a µs-timestamp file
RECONCILED_DAY_HOURS = 24  # spot BTCUSDT 2023-01-21: 1m candles and Binance's 1h candles


@dataclass(frozen=True)
class HourlyBuild:
    interval: str
    duckdb_path: Path
    run: DbtRun


def _hourly_thresholds() -> RegimeThresholds:
    """The rules of seed regime_thresholds_hourly (data: the reference applies them itself)."""

    def bound(text: str) -> float | None:
        return float(text) if text.strip() else None

    with (REPO_ROOT / "seeds" / "regime_thresholds_hourly.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return RegimeThresholds(
        rules=[
            RegimeRule(
                regime_id=int(r["regime_id"]),
                regime=r["regime"],
                trend_above=bound(r["trend_168h_above"]),
                trend_at_most=bound(r["trend_168h_at_most"]),
                volatility_above=bound(r["volatility_168h_above"]),
                volatility_at_most=bound(r["volatility_168h_at_most"]),
            )
            for r in rows
        ]
    )


@pytest.fixture(scope="module")
def hourly_lake(tmp_path_factory: pytest.TempPathFactory) -> HourlyLake:
    return build_hourly_lake(tmp_path_factory.mktemp("hourly_lake"))


def _build(lake: HourlyLake, work: Path, interval: str, *extra: str) -> HourlyBuild:
    db = work / "warehouse.duckdb"
    run = run_dbt(
        "build", *SELECT, "--vars", f"{{hourly_source_interval: {interval}}}", *extra,
        lake_dir=lake.path, duckdb_path=db, work_dir=work,
    )  # fmt: skip
    return HourlyBuild(interval, db, run)


@pytest.fixture(scope="module", params=["1h", "1m"])
def hourly_build(
    request: pytest.FixtureRequest, hourly_lake: HourlyLake, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HourlyBuild]:
    build = _build(hourly_lake, tmp_path_factory.mktemp(f"hourly_{request.param}"), request.param)
    failed = failed_nodes(build.run.target_path)
    if not build.run.success or failed:
        pytest.fail(f"hourly dbt build ({request.param}) failed: {failed}", pytrace=False)
    yield build


def _mart(build: HourlyBuild, table: str, market: str, symbol: str) -> dict[datetime, dict[str, Any]]:
    rows = query(
        build.duckdb_path,
        f"select * from main.{table} where market = ? and symbol = ? order by hour_start",
        [market, symbol],
    )
    return {r["hour_start"]: r for r in rows}


def _expected_ohlcv(lake: HourlyLake, interval: str, market: str, symbol: str) -> dict[datetime, dict]:
    candles = read_candles(lake.sources[(market, interval, symbol)])
    return hourly_ohlcv(candles, interval, contract.INTERVAL_SECONDS[interval])


def test_hourly_build_reconciles_and_warns_on_gaps(hourly_build: HourlyBuild) -> None:
    """Every hourly node passes; the reconciliation with Binance's 1h candles runs and passes (it checks
    the hours built from 1m); the gaps (the outage hour, days between files) are a warning."""
    statuses = hourly_build.run.statuses()
    for model in ("fct_ohlcv_hourly", "fct_regime_features_hourly", "int_binance__price_features_hourly"):
        assert statuses.get(model) == "success", statuses
    assert statuses.get("assert_hourly_ohlcv_reconciles_with_binance_1h") == "pass", statuses
    assert statuses.get("assert_hourly_ohlc_sane_and_volumes_non_negative") == "pass", statuses
    assert statuses.get("warn_hourly_gaps") == "warn", statuses


def test_ohlcv_hourly_equals_reference(hourly_build: HourlyBuild, hourly_lake: HourlyLake) -> None:
    """Every column of every series of the source interval equals the reference."""
    series = hourly_lake.series(hourly_build.interval)
    assert series
    problems = []
    for market, symbol in series:
        expected = _expected_ohlcv(hourly_lake, hourly_build.interval, market, symbol)
        actual = _mart(hourly_build, "fct_ohlcv_hourly", market, symbol)
        problems += [
            f"{market} {symbol} {p}"
            for p in mismatches(expected, actual, OHLCV_HOURLY_COLUMNS)  # type: ignore[arg-type]
        ]
    assert not problems, "\n".join(problems[:20])
    rows = query(hourly_build.duckdb_path, "select distinct market, symbol from main.fct_ohlcv_hourly")
    assert sorted((r["market"], r["symbol"]) for r in rows) == series


def test_regime_features_hourly_equal_reference(hourly_build: HourlyBuild, hourly_lake: HourlyLake) -> None:
    """Every feature column of every series equals the reference computed from the archives."""
    thresholds = _hourly_thresholds()
    problems = []
    for market, symbol in hourly_lake.series(hourly_build.interval):
        ohlcv = _expected_ohlcv(hourly_lake, hourly_build.interval, market, symbol)
        expected = hourly_features(ohlcv, thresholds)
        actual = _mart(hourly_build, "fct_regime_features_hourly", market, symbol)
        problems += [
            f"{market} {symbol} {p}"
            for p in mismatches(expected, actual, FEATURE_HOURLY_COLUMNS)  # type: ignore[arg-type]
        ]
    assert not problems, "\n".join(problems[:20])


def test_features_start_over_after_the_outage_hour(hourly_build: HourlyBuild) -> None:
    """spot BTCUSDT misses 2023-03-24 13:00: the 14:00 return is null, RSI and ATR restart (null for 14
    hours, then back), the 24-hour volatility is null until 24 returns follow the gap; the windows the
    series fills elsewhere (720 hours over 2023-01..05) are there."""
    if hourly_build.interval != "1h":
        pytest.skip("the outage hour is in the 1h files")
    rows = _mart(hourly_build, "fct_regime_features_hourly", "spot", "BTCUSDT")
    before, after = OUTAGE_GAP
    assert before in rows and after in rows
    assert rows[after]["log_return"] is None and rows[before]["rsi_14"] is not None
    restarted = [rows[datetime(2023, 3, 24, 14 + k)] if 14 + k < 24 else None for k in range(10)]
    assert all(r is not None and r["rsi_14"] is None and r["atr_14"] is None for r in restarted)
    later = rows[datetime(2023, 3, 25, 4)]  # 14 hours after the gap
    assert later["rsi_14"] is not None and later["atr_14"] is not None
    assert rows[datetime(2023, 3, 25, 13)]["volatility_24h"] is None
    assert rows[datetime(2023, 3, 25, 14)]["volatility_24h"] is not None
    assert any(r["sma_720"] is not None and r["regime"] is not None for r in rows.values())


def test_microsecond_files_give_the_same_hours(hourly_build: HourlyBuild) -> None:
    """Spot files switched to µs timestamps in 2025: their hours start on the hour like the ms ones."""
    rows = query(
        hourly_build.duckdb_path,
        "select hour_start from main.fct_ohlcv_hourly where market = 'spot' and symbol = 'BTCUSDT'"
        " and (minute(hour_start) != 0 or second(hour_start) != 0 or microsecond(hour_start) != 0)",
    )
    assert not rows
    if hourly_build.interval == "1h":
        hours = _mart(hourly_build, "fct_ohlcv_hourly", "spot", "BTCUSDT")
        assert MICROSECOND_HOUR in hours and datetime(2023, 1, 1, 0) in hours


def test_1m_aggregate_equals_binance_1h_candles(hourly_build: HourlyBuild, hourly_lake: HourlyLake) -> None:
    """Where both exist (spot BTCUSDT 2023-01-21), the hours aggregated from
    finer candles equal Binance's own 1h candles: in the reference, and in the mart built from 1m."""
    from_1h = _expected_ohlcv(hourly_lake, "1h", "spot", "BTCUSDT")
    from_1m = _expected_ohlcv(hourly_lake, "1m", "spot", "BTCUSDT")
    both = sorted(set(from_1h) & set(from_1m))
    assert len(both) == RECONCILED_DAY_HOURS
    columns = [
        c
        for c in OHLCV_HOURLY_COLUMNS
        if c not in ("candle_count", "expected_candle_count", "source_interval")
    ]
    reference = {h: from_1h[h] for h in both}
    assert not mismatches(reference, {h: from_1m[h] for h in both}, columns)  # type: ignore[arg-type]
    if hourly_build.interval == "1m":
        mart = _mart(hourly_build, "fct_ohlcv_hourly", "spot", "BTCUSDT")
        assert not mismatches(reference, {h: mart[h] for h in both}, columns)  # type: ignore[arg-type]
        assert all(mart[h]["is_complete"] and mart[h]["candle_count"] == 60 for h in both)


def test_switching_the_source_interval_needs_a_full_refresh(
    hourly_build: HourlyBuild, hourly_lake: HourlyLake, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """An hourly table built from one interval is not silently topped up with another's candles."""
    if hourly_build.interval != "1h":
        pytest.skip("one switch is enough")
    shutil.copy(hourly_build.duckdb_path, tmp_path / "warehouse.duckdb")
    run = _build(hourly_lake, tmp_path, "1m")
    assert not run.run.success
    out = capfd.readouterr().out
    assert "was built from 1h candles, hourly_source_interval is now 1m" in out, out[-2000:]
