"""Small helpers shared by the dbt-facing tests: reading marts, their grains from the dbt manifest,
comparing two tables row by row (`row_differences`), and computing the reference for one series of the
session lake."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
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


def grains(target: Path) -> dict[str, tuple[str, ...]]:
    """Model name -> its grain (`meta.grain` in models/marts/_marts__models.yml, the columns its
    primary_key test checks), read from the manifest dbt wrote under `target` rather than retyped."""
    manifest = json.loads((target / "manifest.json").read_text())
    return {
        node["name"]: tuple(node["config"]["meta"]["grain"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and "grain" in node["config"].get("meta", {})
    }


def same_value(left: Any, right: Any, rel: float, abs_tol: float = 0.0) -> bool:
    """Doubles to `rel` relative (nulls and NaNs must match), everything else exactly, type included."""
    if isinstance(left, float) or isinstance(right, float):
        if not (isinstance(left, float) and isinstance(right, float)):
            return left is None and right is None
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return math.isclose(left, right, rel_tol=rel, abs_tol=abs_tol)
    return type(left) is type(right) and left == right


def row_differences(
    left_rows: Sequence[Mapping[str, Any]],
    right_rows: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    *,
    names: tuple[str, str] = ("left", "right"),
    rel: float = 1e-9,
    abs_tol: float = 0.0,
    bookkeeping_names: bool = False,
) -> list[str]:
    """What differs between two tables' rows, matched on `key`, one line per difference naming the row:
    duplicate keys, keys on one side only, columns, and values. Bookkeeping columns (`_*`, such as when a
    row was written) are not compared; with `bookkeeping_names` their names must still match."""
    a, b = names
    left = {tuple(r[k] for k in key): r for r in left_rows}
    right = {tuple(r[k] for k in key): r for r in right_rows}
    problems = [
        f"{len(rows) - len(by_key)} duplicate keys on {side}"
        for side, rows, by_key in ((a, left_rows, left), (b, right_rows, right))
        if len(by_key) != len(rows)
    ]
    problems += [f"key only on {a}: {k}" for k in sorted(set(left) - set(right), key=str)[:5]]
    problems += [f"key only on {b}: {k}" for k in sorted(set(right) - set(left), key=str)[:5]]
    all_left = {c for r in left_rows[:1] for c in r}
    all_right = {c for r in right_rows[:1] for c in r}
    if not bookkeeping_names:
        all_left = {c for c in all_left if not c.startswith("_")}
        all_right = {c for c in all_right if not c.startswith("_")}
    if left_rows and right_rows and all_left != all_right:
        problems.append(f"columns differ: {a} {sorted(all_left)}, {b} {sorted(all_right)}")
    columns = sorted(c for c in all_left & all_right if not c.startswith("_"))
    for k in sorted(set(left) & set(right), key=str):
        problems += [
            f"{k} {c}: {a} {left[k][c]!r}, {b} {right[k][c]!r}"
            for c in columns
            if not same_value(left[k][c], right[k][c], rel, abs_tol)
        ]
    return problems
