"""The derivatives marts on the session lake: Binance's real April 2026 BTCUSDT funding file and generated
USD-M futures data in Binance's formats (tests/fixtures/derivatives.py), through the real loader and
`dbt build`, checked against tests/reference.py (computed from the archives, never the lake) at 1e-9;
the real COIN-M aggTrades day in fct_trade_flow_daily; and a lake without derivatives."""

from __future__ import annotations

import csv
import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from tests.dbt_helpers import mart_by_date, query
from tests.fixtures.dbt import run_dbt
from tests.fixtures.paths import REPO_ROOT, SHARED_BINANCE
from tests.fixtures.warehouse import (
    FUTURES_FUNDING_CHANGE,
    FUTURES_SYMBOL,
    METRICS_MISSING_HOUR,
    BuiltWarehouse,
    LoadedLake,
)
from tests.reference import (
    DERIVATIVE_FEATURE_COLUMNS,
    DERIVATIVES_COLUMNS,
    TRADE_FLOW_COLUMNS,
    LeverageRule,
    daily_ohlcv,
    derivative_features,
    derivatives_daily,
    funding_daily,
    metrics_daily,
    mismatches,
    price_daily,
    read_candles,
    trade_flow_daily,
)

pytestmark = pytest.mark.slow

REAL_FUNDING = SHARED_BINANCE / "futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-04.zip"


def leverage_rules() -> list[LeverageRule]:
    """The seed's rows (data, not logic: the reference applies them itself)."""

    def bound(text: str) -> float | None:
        return float(text) if text.strip() else None

    with (REPO_ROOT / "seeds" / "leverage_regime_thresholds.csv").open(newline="") as fh:
        return [
            LeverageRule(
                int(r["priority"]),
                r["leverage_regime"],
                bound(r["funding_rate_7d_annualized_above"]),
                bound(r["funding_rate_7d_annualized_below"]),
                bound(r["oi_change_7d_above"]),
                bound(r["oi_change_7d_below"]),
            )
            for r in csv.DictReader(fh)
        ]


@pytest.fixture(scope="module")
def expected_derivatives(loaded_lake: LoadedLake) -> dict[date, dict]:
    def src(dataset: str, interval: str = "") -> list[Path]:
        return loaded_lake.sources("um", interval, FUTURES_SYMBOL, dataset)

    return derivatives_daily(
        funding_daily(src("fundingRate")),
        metrics_daily(src("metrics")),
        price_daily(
            src("markPriceKlines", "1h"), src("indexPriceKlines", "1h"), src("premiumIndexKlines", "1h")
        ),
    )


def test_derivatives_mart_matches_reference(
    built_warehouse: BuiltWarehouse, expected_derivatives: dict[date, dict]
) -> None:
    assert built_warehouse.run.success
    mart = mart_by_date(built_warehouse.duckdb_path, "fct_derivatives_daily", "um", FUTURES_SYMBOL)
    assert len(mart) == 61
    problems = mismatches(expected_derivatives, mart, DERIVATIVES_COLUMNS)
    assert not problems, "\n".join(problems[:20])
    others = query(built_warehouse.duckdb_path, "select distinct market, symbol from fct_derivatives_daily")
    assert others == [{"market": "um", "symbol": FUTURES_SYMBOL}]


def test_real_funding_month_end_to_end(built_warehouse: BuiltWarehouse) -> None:
    """Binance's BTCUSDT-fundingRate-2026-04.zip: 90 events, three a day every 8 hours, each day's sum
    the sum of its three rates as printed in the file."""
    with zipfile.ZipFile(REAL_FUNDING) as zf:
        rows = list(csv.reader(zf.read(zf.namelist()[0]).decode().splitlines()))[1:]
    assert len(rows) == 90
    april = {
        d: r
        for d, r in mart_by_date(
            built_warehouse.duckdb_path, "fct_derivatives_daily", "um", FUTURES_SYMBOL
        ).items()
        if d.month == 4
    }
    assert len(april) == 30
    assert {(r["funding_events"], r["funding_hours"]) for r in april.values()} == {(3, 24)}
    total = sum(float(r[2]) for r in rows)
    assert abs(sum(r["funding_rate_sum"] for r in april.values()) - total) < 1e-12
    staged = query(
        built_warehouse.duckdb_path,
        "select count(*) as n, min(funding_at) as first, max(funding_interval_hours) as hours "
        "from stg_binance__funding_rates where funding_at >= '2026-04-01'",
    )[0]
    assert (staged["n"], staged["hours"]) == (90, 8)
    assert staged["first"].isoformat().startswith("2026-04-01T00:00:00")


def test_interval_change_and_missing_metrics_hour_are_warned(built_warehouse: BuiltWarehouse) -> None:
    """On the day the funding interval changes from 8 h to 4 h the events cover 28 hours; the metrics
    day missing its 10:00 hour has 276 rows: both warn, nothing fails."""
    mart = mart_by_date(built_warehouse.duckdb_path, "fct_derivatives_daily", "um", FUTURES_SYMBOL)
    change = mart[FUTURES_FUNDING_CHANGE]
    assert (change["funding_events"], change["funding_hours"]) == (6, 28)
    assert mart[METRICS_MISSING_HOUR[0]]["metrics_rows"] == 276
    statuses = built_warehouse.run.statuses()
    assert statuses["warn_derivatives_days_incomplete"] == "warn"
    results = {r.node.name: r for r in built_warehouse.run.result.result.results}
    assert results["warn_derivatives_days_incomplete"].failures == 2
    nulls = query(
        built_warehouse.duckdb_path,
        "select count(*) as n from stg_binance__metrics where top_trader_account_ratio is null",
    )[0]["n"]
    assert nulls == 61 * 12  # the first hour of every day has empty top-trader ratios


def test_derivative_features_match_reference(
    built_warehouse: BuiltWarehouse, loaded_lake: LoadedLake, expected_derivatives: dict[date, dict]
) -> None:
    features = mart_by_date(built_warehouse.duckdb_path, "fct_regime_features_daily", "um", FUTURES_SYMBOL)
    expected = derivative_features(expected_derivatives, sorted(features), leverage_rules())
    problems = mismatches(expected, features, DERIVATIVE_FEATURE_COLUMNS)
    assert not problems, "\n".join(problems[:20])
    filled = {c: sum(r[c] is not None for r in expected.values()) for c in DERIVATIVE_FEATURE_COLUMNS}
    assert all(n >= 20 for n in filled.values()), filled  # the comparison compares values, not nulls
    assert {r["leverage_regime"] for r in expected.values()} >= {"crowded_long", "crowded_short", "neutral"}
    assert {r["derivatives_market"] for r in features.values()} == {"um"}


def test_taker_buy_ratio_and_futures_columns_of_every_series(
    built_warehouse: BuiltWarehouse, loaded_lake: LoadedLake
) -> None:
    rows = query(
        built_warehouse.duckdb_path,
        "select market, symbol, trade_date, taker_buy_ratio, derivatives_market, basis "
        "from fct_regime_features_daily",
    )
    checked = 0
    for market, symbol in {(r["market"], r["symbol"]) for r in rows}:
        daily = daily_ohlcv(read_candles(loaded_lake.sources(market, "1h", symbol)), "1h", 3600)
        for r in (r for r in rows if (r["market"], r["symbol"]) == (market, symbol)):
            day = daily[r["trade_date"]]
            want = day["taker_buy_base_volume"] / day["base_volume"] if day["base_volume"] else None
            assert (want is None and r["taker_buy_ratio"] is None) or abs(want - r["taker_buy_ratio"]) < 1e-12
            assert r["derivatives_market"] == ("cm" if market == "cm" else "um")
            checked += 1
            if (market, symbol) != ("um", FUTURES_SYMBOL):
                assert r["basis"] is None  # no futures data for these days
    assert checked == len(rows) > 300


def test_trade_flow_of_the_real_coin_m_day(built_warehouse: BuiltWarehouse, loaded_lake: LoadedLake) -> None:
    """Binance's BTCUSD_PERP aggTrades of 2026-05-08: 105,280 aggregate trades, contiguous ids."""
    expected = trade_flow_daily(loaded_lake.sources("cm", "", "BTCUSD_PERP", "aggTrades"))
    mart = mart_by_date(built_warehouse.duckdb_path, "fct_trade_flow_daily", "cm", "BTCUSD_PERP")
    assert list(mart) == [date(2026, 5, 8)] and mart[date(2026, 5, 8)]["agg_trade_count"] == 105_280
    problems = mismatches(expected, mart, TRADE_FLOW_COLUMNS)
    assert not problems, "\n".join(problems)
    assert mart[date(2026, 5, 8)]["missing_agg_trade_ids"] == 0
    assert built_warehouse.run.statuses()["warn_agg_trade_id_gaps"] == "pass"


def test_a_lake_without_derivatives_builds_them_empty(loaded_lake: LoadedLake, tmp_path: Path) -> None:
    """Only klines in the lake: every model builds, the derivatives marts are empty, the futures
    columns of the regime mart are null, and no test fails."""
    lake = tmp_path / "lake"
    src = loaded_lake.path / "binance" / "klines"
    shutil.copytree(src, lake / "binance" / "klines")
    (lake / "binance" / "manifest").mkdir(parents=True)
    shutil.copyfile(
        loaded_lake.path / "binance/manifest/klines.parquet", lake / "binance/manifest/klines.parquet"
    )
    db = tmp_path / "w.duckdb"
    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=tmp_path / "work")
    assert run.success, {n: s for n, s in run.statuses().items() if s in ("error", "fail")}
    counts = query(
        db,
        "select (select count(*) from fct_derivatives_daily) as derivatives, "
        "(select count(*) from fct_trade_flow_daily) as trade_flow, "
        "(select count(*) from fct_regime_features_daily where funding_rate_7d_annualized is not null "
        "or basis is not null or leverage_regime is not null) as futures_values, "
        "(select count(*) from fct_regime_features_daily) as regime_rows",
    )[0]
    assert counts == {
        "derivatives": 0,
        "trade_flow": 0,
        "futures_values": 0,
        "regime_rows": counts["regime_rows"],
    }
    assert counts["regime_rows"] > 300
