"""Small helpers shared by the tests/test_dbt_*.py modules: reading marts and computing the reference
for one series of the session lake."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from loaders import contract
from tests.fixtures.paths import REPO_ROOT
from tests.reference import (
    Candles,
    RegimeRule,
    RegimeThresholds,
    daily_ohlcv,
    read_candles,
    regime_features,
)

# The interval the marts aggregate by default (dbt var daily_source_interval).
DEFAULT_SOURCE_INTERVAL = "1h"
MART_DAILY = "fct_ohlcv_daily"
MART_FEATURES = "fct_regime_features_daily"
MARTS = (MART_DAILY, MART_FEATURES)
KEY = ("market", "symbol", "trade_date")


def query(duckdb_path: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of `sql` as dicts, from a read-only connection that is closed before returning."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def mart_by_date(duckdb_path: Path, table: str, market: str, symbol: str) -> dict[date, dict[str, Any]]:
    """One (market, symbol) of a mart, keyed by trade_date."""
    rows = query(
        duckdb_path,
        f"select * from main.{table} where market = ? and symbol = ? order by trade_date",
        [market, symbol],
    )
    return {r["trade_date"]: r for r in rows}


def regime_thresholds() -> RegimeThresholds:
    """The regime rules from the project's seed (data, not logic: the reference applies them itself)."""

    def bound(text: str | None) -> float | None:
        return float(text) if text and text.strip() else None

    with (REPO_ROOT / "seeds" / "regime_thresholds.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return RegimeThresholds(
        rules=[
            RegimeRule(
                regime_id=int(r["regime_id"]),
                regime=r["regime"],
                trend_above=bound(r["trend_30d_above"]),
                trend_at_most=bound(r["trend_30d_at_most"]),
                volatility_above=bound(r["volatility_30d_above"]),
                volatility_at_most=bound(r["volatility_30d_at_most"]),
            )
            for r in rows
        ]
    )


@dataclass
class ExpectedSeries:
    """Reference values for one (market, symbol), computed from the archives alone."""

    candles: Candles
    daily: dict[date, dict[str, Any]]
    features: dict[date, dict[str, Any]]


def expected_series(
    sources: list[Path],
    thresholds: RegimeThresholds,
    interval: str = DEFAULT_SOURCE_INTERVAL,
) -> ExpectedSeries:
    candles = read_candles(sources)
    daily = daily_ohlcv(candles, interval, contract.INTERVAL_SECONDS[interval])
    return ExpectedSeries(candles, daily, regime_features(daily, candles, thresholds))
