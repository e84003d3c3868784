"""fct_coverage_daily and dim_symbols on the session warehouse (docs/features.md): the
real 2023-03-24 spot halt is `incomplete` with the seed's reason, every other day of the real months is
`complete`, days between loaded months are `missing`, and every dataset the lake holds is covered."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.dbt_helpers import query
from tests.fixtures.warehouse import METRICS_MISSING_HOUR, BuiltWarehouse

pytestmark = pytest.mark.slow

OUTAGE_DAY = date(2023, 3, 24)


def coverage(built: BuiltWarehouse, where: str = "true") -> list[dict]:
    return query(built.duckdb_path, f"select * from fct_coverage_daily where {where} order by all")


def test_the_real_outage_is_incomplete_with_its_known_reason(built_warehouse: BuiltWarehouse) -> None:
    rows = coverage(built_warehouse, "market = 'spot' and symbol = 'BTCUSDT' and \"interval\" = '1h'")
    days = {r["trade_date"]: r for r in rows}
    assert (min(days), max(days), len(days)) == (date(2023, 1, 1), date(2023, 5, 31), 151)
    outage = days[OUTAGE_DAY]
    assert (outage["rows_present"], outage["rows_expected"], outage["status"]) == (23, 24, "incomplete")
    assert outage["known_reason"].startswith("Binance spot trading halted")
    others = [r for d, r in days.items() if d != OUTAGE_DAY]
    assert {(r["status"], r["rows_present"], r["known_reason"]) for r in others} == {("complete", 24, None)}
    # Binance's own 1d candles of the same symbol: a complete day each, the outage day included.
    daily = coverage(built_warehouse, "market = 'spot' and symbol = 'BTCUSDT' and \"interval\" = '1d'")
    assert {(r["status"], r["rows_expected"]) for r in daily} == {("complete", 1)} and len(daily) == 59


def test_days_between_loaded_archives_are_missing(built_warehouse: BuiltWarehouse) -> None:
    """um ETHUSDT: the monthly file of 2026-05 and the daily file of 2026-06-23, nothing between."""
    rows = coverage(built_warehouse, "market = 'um' and symbol = 'ETHUSDT'")
    missing = [r["trade_date"] for r in rows if r["status"] == "missing"]
    assert missing == [date(2026, 6, 1) + timedelta(days=k) for k in range(22)]
    assert all(
        r["rows_present"] == 0 and r["rows_expected"] == 24 and r["known_reason"] is None
        for r in rows
        if r["status"] == "missing"
    )
    generated = coverage(built_warehouse, "market = 'spot' and symbol = 'ETHUSDT'")
    assert [(r["trade_date"], r["status"]) for r in generated if r["status"] != "complete"] == [
        (date(2023, 2, 14), "missing")
    ]


def test_every_dataset_the_lake_holds_is_covered(built_warehouse: BuiltWarehouse) -> None:
    series = query(
        built_warehouse.duckdb_path,
        'select dataset, market, "interval", symbol, count(*) as days, '
        "count(*) filter (where status != 'complete') as problems from fct_coverage_daily group by all order by all",
    )
    got = {
        (r["dataset"], r["market"], r["interval"], r["symbol"]): (r["days"], r["problems"]) for r in series
    }
    assert got == {
        ("aggTrades", "cm", "", "BTCUSD_PERP"): (1, 0),
        ("fundingRate", "um", "", "BTCUSDT"): (61, 0),  # 2026-03-15 changed to 4 h: still 24 h and more
        ("indexPriceKlines", "um", "1h", "BTCUSDT"): (61, 0),
        ("klines", "spot", "1d", "BTCUSDT"): (59, 0),
        ("klines", "spot", "1h", "BTCUSDT"): (151, 1),
        ("klines", "spot", "1h", "ETHUSDT"): (151, 1),
        ("klines", "um", "1h", "BTCUSDT"): (61, 0),
        ("klines", "um", "1h", "ETHUSDT"): (54, 22),
        ("markPriceKlines", "um", "1h", "BTCUSDT"): (61, 0),
        ("metrics", "um", "", "BTCUSDT"): (61, 1),
        ("premiumIndexKlines", "um", "1h", "BTCUSDT"): (61, 0),
    }
    (short,) = coverage(built_warehouse, "dataset = 'metrics' and status != 'complete'")
    assert (short["trade_date"], short["rows_present"], short["rows_expected"]) == (
        METRICS_MISSING_HOUR[0],
        276,
        288,
    )
    funding = coverage(
        built_warehouse, "dataset = 'fundingRate' and trade_date in ('2026-03-14', '2026-03-16')"
    )
    assert [(r["rows_present"], r["rows_expected"]) for r in funding] == [(3, 3), (6, 6)]


def test_dim_symbols_splits_pairs_and_knows_what_is_loaded(built_warehouse: BuiltWarehouse) -> None:
    rows = {
        (r["market"], r["symbol"]): r for r in query(built_warehouse.duckdb_path, "select * from dim_symbols")
    }
    assert set(rows) == {
        ("spot", "BTCUSDT"),
        ("spot", "ETHUSDT"),
        ("um", "ETHUSDT"),
        ("um", "BTCUSDT"),
        ("cm", "BTCUSD_PERP"),
    }
    assert (rows["cm", "BTCUSD_PERP"]["base_asset"], rows["cm", "BTCUSD_PERP"]["quote_asset"]) == (
        "BTC",
        "USD",
    )
    assert (rows["spot", "ETHUSDT"]["base_asset"], rows["spot", "ETHUSDT"]["quote_asset"]) == ("ETH", "USDT")
    btc = rows["spot", "BTCUSDT"]
    assert (btc["first_date"], btc["last_date"], btc["intervals"], btc["datasets"]) == (
        date(2023, 1, 1),
        date(2023, 5, 31),
        "1h,1d",
        "klines",
    )
    assert rows["um", "BTCUSDT"]["datasets"] == (
        "fundingRate,indexPriceKlines,klines,markPriceKlines,metrics,premiumIndexKlines"
    )
    # The lake's latest day is um ETHUSDT's 2026-06-23: only series within 7 days of it are active.
    assert {k for k, r in rows.items() if r["is_active"]} == {("um", "ETHUSDT")}
