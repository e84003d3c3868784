"""An independent reference for the hourly marts (fct_ohlcv_hourly, fct_regime_features_hourly), in plain
Python from the source archives, written from docs/features.md#hourly-grain: the daily definitions of
tests/reference.py with the hour as the unit. Wilder averages are the plain recursion over each run of
consecutive hours (tests/reference.wilder_rsi / wilder_atr), whatever its length."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np

from tests.reference import (
    Candles,
    RegimeThresholds,
    _sample_std,
    wilder_atr,
    wilder_rsi,
)

HOUR = timedelta(hours=1)
HOURLY_ANNUALISATION = math.sqrt(8760.0)
MICROSECONDS_PER_HOUR = 3_600_000_000
EPOCH = datetime(1970, 1, 1)

OHLCV_HOURLY_COLUMNS = (
    "trade_date",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "base_volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "trade_count",
    "vwap",
    "candle_count",
    "expected_candle_count",
    "is_complete",
    "source_interval",
)
FEATURE_HOURLY_COLUMNS = (
    "trade_date",
    "close_price",
    "log_return",
    "parkinson_vol",
    "garman_klass_vol",
    "volatility_24h",
    "volatility_168h",
    "sma_24",
    "sma_168",
    "sma_720",
    "trend_168h",
    "momentum_168h",
    "rsi_14",
    "atr_14",
    "drawdown_720h",
    "volume_zscore_168h",
    "regime",
    "regime_id",
)


def hourly_ohlcv(candles: Candles, interval: str, interval_seconds: int) -> dict[datetime, dict]:
    """fct_ohlcv_hourly for one (market, symbol): hour_start (naive UTC) -> the mart's value columns."""
    hours = [int(t) // MICROSECONDS_PER_HOUR for t in candles.open_time]
    out: dict[datetime, dict] = {}
    start = 0
    for i in range(1, len(hours) + 1):
        if i < len(hours) and hours[i] == hours[start]:
            continue
        sl = slice(start, i)
        base = float(np.sum(candles.volume[sl]))
        quote = float(np.sum(candles.quote_volume[sl]))
        count = i - start
        expected = 3600 // interval_seconds
        hour_start = EPOCH + timedelta(hours=hours[start])
        out[hour_start] = {
            "trade_date": hour_start.date(),
            "open_price": float(candles.open[start]),
            "high_price": float(np.max(candles.high[sl])),
            "low_price": float(np.min(candles.low[sl])),
            "close_price": float(candles.close[i - 1]),
            "base_volume": base,
            "quote_volume": quote,
            "taker_buy_base_volume": float(np.sum(candles.taker_buy_base_volume[sl])),
            "taker_buy_quote_volume": float(np.sum(candles.taker_buy_quote_volume[sl])),
            "trade_count": int(np.sum(candles.trade_count[sl])),
            "vwap": quote / base if base != 0 else None,
            "candle_count": count,
            "expected_candle_count": expected,
            "is_complete": count == expected,
            "source_interval": interval,
        }
        start = i
    return out


def _hour_window(values: Mapping[datetime, float | None], h: datetime, n: int) -> list[float] | None:
    """The n values of hours h-n+1..h, or None unless every one of them exists (not null)."""
    out = []
    for k in range(n - 1, -1, -1):
        v = values.get(h - k * HOUR)
        if v is None:
            return None
        out.append(v)
    return out


def _hour_runs(hours: list[datetime]) -> list[list[datetime]]:
    """Runs of consecutive hours: Wilder averages start over after a missing hour."""
    runs: list[list[datetime]] = []
    for h in hours:
        if runs and h - runs[-1][-1] == HOUR:
            runs[-1].append(h)
        else:
            runs.append([h])
    return runs


def hourly_features(hourly: Mapping[datetime, Mapping], thresholds: RegimeThresholds) -> dict[datetime, dict]:
    """fct_regime_features_hourly for one (market, symbol), from its hourly_ohlcv rows."""
    hours = sorted(hourly)
    close = {h: hourly[h]["close_price"] for h in hours}
    volume = {h: hourly[h]["base_volume"] for h in hours}
    log_return: dict[datetime, float | None] = {}
    for h in hours:
        prev = close.get(h - HOUR)
        log_return[h] = None if prev is None else math.log(close[h] / prev)

    rsi: dict[datetime, float | None] = {}
    atr: dict[datetime, float | None] = {}
    for run in _hour_runs(hours):
        closes = [close[h] for h in run]
        rsi.update(zip(run, wilder_rsi(closes), strict=True))
        highs = [hourly[h]["high_price"] for h in run]
        lows = [hourly[h]["low_price"] for h in run]
        atr.update(zip(run, wilder_atr(highs, lows, closes), strict=True))

    out: dict[datetime, dict] = {}
    for h in hours:
        o, hi, lo, c = (hourly[h][k] for k in ("open_price", "high_price", "low_price", "close_price"))
        hl = math.log(hi / lo)
        co = math.log(c / o)
        row: dict = {
            "trade_date": h.date(),
            "close_price": c,
            "log_return": log_return[h],
            "parkinson_vol": math.sqrt(hl * hl / (4.0 * math.log(2.0))),
            "garman_klass_vol": math.sqrt(0.5 * hl * hl - (2.0 * math.log(2.0) - 1.0) * co * co),
        }
        for n in (24, 168):
            w = _hour_window(log_return, h, n)
            row[f"volatility_{n}h"] = None if w is None else _sample_std(w) * HOURLY_ANNUALISATION
        for n in (24, 168, 720):
            w = _hour_window(close, h, n)
            row[f"sma_{n}"] = None if w is None else float(np.mean(w))
        row["trend_168h"] = None if row["sma_168"] is None else c / row["sma_168"] - 1.0
        back = close.get(h - 168 * HOUR)
        row["momentum_168h"] = None if back is None else c / back - 1.0
        row["rsi_14"] = rsi[h]
        row["atr_14"] = atr[h]
        w = _hour_window(close, h, 720)
        row["drawdown_720h"] = None if w is None else c / max(w) - 1.0
        w = _hour_window(volume, h, 168)
        if w is None:
            row["volume_zscore_168h"] = None
        else:
            sd = _sample_std(w)
            row["volume_zscore_168h"] = None if sd == 0 else (volume[h] - float(np.mean(w))) / sd
        trend, vol = row["trend_168h"], row["volatility_168h"]
        if trend is None or vol is None:
            row["regime"] = row["regime_id"] = None
        else:
            row["regime"], row["regime_id"] = thresholds.classify(trend, vol)
        out[h] = row
    return out
