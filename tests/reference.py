"""An independent reference for the dbt marts, computed in numpy / plain Python straight from the source
archives (CSV or zip), never from the lake or the SQL.

It is written from the definitions in docs/features.md, so a test comparing it
with `fct_ohlcv_daily` / `fct_regime_features_daily` checks the SQL against the spec, not against itself.
Deliberately simple code over clever code: loops where the definition is a loop (Wilder averages),
explicit calendar-day windows everywhere else.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

# Columns of a Binance kline CSV, in file order (docs/lake.md, "Binance archive facts").
CSV_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trade_count",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "ignore",
)
# Timestamps at or above this are microseconds (16 digits); below, milliseconds (13 digits).
MICROSECOND_THRESHOLD = 10**15

DAILY_COLUMNS = (
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
FEATURE_COLUMNS = (
    "close_price",
    "log_return",
    "realized_vol",
    "parkinson_vol",
    "garman_klass_vol",
    "volatility_7d",
    "volatility_30d",
    "sma_7",
    "sma_30",
    "sma_90",
    "trend_30d",
    "momentum_30d",
    "rsi_14",
    "atr_14",
    "drawdown_90d",
    "volume_zscore_30d",
    "regime",
    "regime_id",
)
WILDER_PERIOD = 14
ANNUALISATION = math.sqrt(365.0)
DAY_US = 86_400 * 10**6  # one day in the microseconds of Candles.open_time


@dataclass
class Candles:
    """One (market, interval, symbol) series, sorted and unique on open_time (microseconds, UTC)."""

    open_time: np.ndarray  # int64 microseconds
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    taker_buy_base_volume: np.ndarray
    taker_buy_quote_volume: np.ndarray
    trade_count: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.open_time)

    def trade_dates(self) -> list[date]:
        """UTC calendar date of every candle's open_time."""
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        return [(epoch + timedelta(microseconds=int(t))).date() for t in self.open_time]


def _csv_text(path: Path) -> str:
    """The CSV text of an archive: a .zip holds exactly one CSV member; a .csv is read as is."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            (member,) = zf.namelist()
            return zf.read(member).decode("utf-8")
    return path.read_text(encoding="utf-8")


def read_archive(path: Path) -> list[tuple]:
    """Rows (open_time_us, open, high, low, close, volume, quote_volume, taker_base, taker_quote, trades)
    of one archive. A header row (first field not a number) is skipped; ms timestamps become µs."""
    rows = []
    for record in csv.reader(io.StringIO(_csv_text(path))):
        if not record or not record[0].strip():
            continue
        if not record[0].strip().isdigit():
            continue  # header row (futures files, user-edited files)
        values = dict(zip(CSV_COLUMNS, (f.strip() for f in record), strict=True))
        open_time = int(values["open_time"])
        if open_time < MICROSECOND_THRESHOLD:
            open_time *= 1000
        rows.append(
            (
                open_time,
                float(values["open"]),
                float(values["high"]),
                float(values["low"]),
                float(values["close"]),
                float(values["volume"]),
                float(values["quote_volume"]),
                float(values["taker_buy_base_volume"]),
                float(values["taker_buy_quote_volume"]),
                int(float(values["trade_count"])),
            )
        )
    return rows


def read_candles(paths: Iterable[Path]) -> Candles:
    """All archives of one series merged: sorted by open_time, duplicates removed (last archive wins)."""
    by_time: dict[int, tuple] = {}
    for path in paths:
        for row in read_archive(Path(path)):
            by_time[row[0]] = row
    ordered = [by_time[t] for t in sorted(by_time)]
    cols = list(zip(*ordered, strict=True)) if ordered else [()] * 10
    return Candles(
        open_time=np.asarray(cols[0], dtype=np.int64),
        open=np.asarray(cols[1], dtype=np.float64),
        high=np.asarray(cols[2], dtype=np.float64),
        low=np.asarray(cols[3], dtype=np.float64),
        close=np.asarray(cols[4], dtype=np.float64),
        volume=np.asarray(cols[5], dtype=np.float64),
        quote_volume=np.asarray(cols[6], dtype=np.float64),
        taker_buy_base_volume=np.asarray(cols[7], dtype=np.float64),
        taker_buy_quote_volume=np.asarray(cols[8], dtype=np.float64),
        trade_count=np.asarray(cols[9], dtype=np.int64),
    )


# --- fct_ohlcv_daily ----------------------------------------------------------------------------


def daily_ohlcv(candles: Candles, interval: str, interval_seconds: int) -> dict[date, dict]:
    """fct_ohlcv_daily for one (market, symbol): trade_date -> the mart's value columns."""
    days = candles.trade_dates()
    out: dict[date, dict] = {}
    start = 0
    for i in range(1, len(days) + 1):
        if i < len(days) and days[i] == days[start]:
            continue
        sl = slice(start, i)
        base = float(np.sum(candles.volume[sl]))
        quote = float(np.sum(candles.quote_volume[sl]))
        count = i - start
        expected = 86400 // interval_seconds
        out[days[start]] = {
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


# --- fct_regime_features_daily --------------------------------------------------------------------


@dataclass(frozen=True)
class RegimeRule:
    """One row of the regime thresholds seed: the regime applies when trend_30d and volatility_30d lie
    in (above, at_most] (an empty bound is open)."""

    regime_id: int
    regime: str
    trend_above: float | None = None
    trend_at_most: float | None = None
    volatility_above: float | None = None
    volatility_at_most: float | None = None

    def matches(self, trend: float, volatility: float) -> bool:
        def within(x: float, above: float | None, at_most: float | None) -> bool:
            return (above is None or x > above) and (at_most is None or x <= at_most)

        return within(trend, self.trend_above, self.trend_at_most) and within(
            volatility, self.volatility_above, self.volatility_at_most
        )


@dataclass(frozen=True)
class RegimeThresholds:
    """The regime rules (the seed's rows); exactly one must match any (trend, volatility)."""

    rules: Sequence[RegimeRule]

    def classify(self, trend: float, volatility: float) -> tuple[str, int]:
        hits = [r for r in self.rules if r.matches(trend, volatility)]
        assert len(hits) == 1, f"regime rules overlap or leave a gap at {(trend, volatility)}: {hits}"
        return hits[0].regime, hits[0].regime_id


def _window(values: Mapping[date, float | None], d: date, n: int) -> list[float] | None:
    """The n values of calendar days d-n+1..d, or None unless every one of them exists (not null)."""
    out = []
    for k in range(n - 1, -1, -1):
        v = values.get(d - timedelta(days=k))
        if v is None:
            return None
        out.append(v)
    return out


def _sample_std(xs: Sequence[float]) -> float:
    return float(np.std(np.asarray(xs, dtype=np.float64), ddof=1))


def _segments(dates: Sequence[date]) -> list[list[date]]:
    """Runs of consecutive calendar days: Wilder averages start over after a missing day."""
    runs: list[list[date]] = []
    for d in dates:
        if runs and d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def wilder_rsi(closes: Sequence[float], period: int = WILDER_PERIOD) -> list[float | None]:
    """Wilder's RSI of one run of consecutive days: the first average is the simple mean of the first
    `period` changes, then avg = (avg * (period - 1) + x) / period (the TA-Lib definition)."""
    out: list[float | None] = [None] * len(closes)
    if len(closes) <= period:
        return out
    changes = [closes[i] - closes[i - 1] for i in range(1, len(closes))]
    gain = sum(max(c, 0.0) for c in changes[:period]) / period
    loss = sum(max(-c, 0.0) for c in changes[:period]) / period
    for i in range(period, len(closes)):
        if i > period:
            c = changes[i - 1]
            gain = (gain * (period - 1) + max(c, 0.0)) / period
            loss = (loss * (period - 1) + max(-c, 0.0)) / period
        out[i] = None if gain + loss == 0 else 100.0 * gain / (gain + loss)
    return out


def wilder_atr(
    highs: Sequence[float], lows: Sequence[float], closes: Sequence[float], period: int = WILDER_PERIOD
) -> list[float | None]:
    """Wilder's ATR of one run of consecutive days; the first day has no true range (no previous close),
    the first average is the mean of the next `period` true ranges (the TA-Lib definition)."""
    out: list[float | None] = [None] * len(closes)
    if len(closes) <= period:
        return out
    tr = [
        max(highs[i] - lows[i], abs(highs[i] - closes[i - 1]), abs(lows[i] - closes[i - 1]))
        for i in range(1, len(closes))
    ]
    atr = sum(tr[:period]) / period
    out[period] = atr
    for i in range(period + 1, len(closes)):
        atr = (atr * (period - 1) + tr[i - 1]) / period
        out[i] = atr
    return out


def regime_features(
    daily: Mapping[date, Mapping], candles: Candles, thresholds: RegimeThresholds
) -> dict[date, dict]:
    """fct_regime_features_daily for one (market, symbol): trade_date -> close_price and every feature.

    `daily` is `daily_ohlcv(...)` of the same series; `candles` are the `daily_source_interval` candles
    (for realized_vol, whose returns run across midnight and missing candles: each candle against the one
    before when that one opened at most a day earlier)."""
    dates = sorted(daily)
    close = {d: daily[d]["close_price"] for d in dates}
    volume = {d: daily[d]["base_volume"] for d in dates}

    # realized_vol: squared candle log returns summed per open_time date; a candle has a return only when
    # the candle before it opened at most one day earlier (none for the first candle, none across a gap).
    sq_sum: dict[date, float] = {}
    candle_days = candles.trade_dates()
    for i in range(1, len(candles)):
        if candles.open_time[i] - candles.open_time[i - 1] > DAY_US:
            continue
        r = math.log(candles.close[i] / candles.close[i - 1])
        sq_sum[candle_days[i]] = sq_sum.get(candle_days[i], 0.0) + r * r

    log_return: dict[date, float | None] = {}
    for d in dates:
        prev = close.get(d - timedelta(days=1))
        log_return[d] = None if prev is None else math.log(close[d] / prev)

    rsi: dict[date, float | None] = {}
    atr: dict[date, float | None] = {}
    for run in _segments(dates):
        closes = [close[d] for d in run]
        highs = [daily[d]["high_price"] for d in run]
        lows = [daily[d]["low_price"] for d in run]
        rsi.update(zip(run, wilder_rsi(closes), strict=True))
        atr.update(zip(run, wilder_atr(highs, lows, closes), strict=True))

    out: dict[date, dict] = {}
    for d in dates:
        o, h, lo, c = (daily[d][k] for k in ("open_price", "high_price", "low_price", "close_price"))
        hl = math.log(h / lo)
        co = math.log(c / o)
        row: dict = {
            "close_price": c,
            "log_return": log_return[d],
            "realized_vol": math.sqrt(sq_sum[d]) if d in sq_sum else None,
            "parkinson_vol": math.sqrt(hl * hl / (4.0 * math.log(2.0))),
            "garman_klass_vol": math.sqrt(0.5 * hl * hl - (2.0 * math.log(2.0) - 1.0) * co * co),
        }
        for n in (7, 30):
            w = _window(log_return, d, n)
            row[f"volatility_{n}d"] = None if w is None else _sample_std(w) * ANNUALISATION
        for n in (7, 30, 90):
            w = _window(close, d, n)
            row[f"sma_{n}"] = None if w is None else float(np.mean(w))
        row["trend_30d"] = None if row["sma_30"] is None else c / row["sma_30"] - 1.0
        back = close.get(d - timedelta(days=30))
        row["momentum_30d"] = None if back is None else c / back - 1.0
        row["rsi_14"] = rsi[d]
        row["atr_14"] = atr[d]
        w = _window(close, d, 90)
        row["drawdown_90d"] = None if w is None else c / max(w) - 1.0
        w = _window(volume, d, 30)
        if w is None:
            row["volume_zscore_30d"] = None
        else:
            sd = _sample_std(w)
            row["volume_zscore_30d"] = None if sd == 0 else (volume[d] - float(np.mean(w))) / sd
        trend, vol = row["trend_30d"], row["volatility_30d"]
        if trend is None or vol is None:
            row["regime"] = row["regime_id"] = None
        else:
            row["regime"], row["regime_id"] = thresholds.classify(trend, vol)
        out[d] = row
    return out


# --- comparison -------------------------------------------------------------------------------


def close_enough(expected: object, actual: object, rel: float = 1e-9, abs_tol: float = 1e-12) -> bool:
    """Equality for mart values: nulls must match, floats to `rel` relative, anything else exactly."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        e, a = float(expected), float(actual)  # type: ignore[arg-type]
        if math.isnan(e) or math.isnan(a):
            return math.isnan(e) and math.isnan(a)
        return math.isclose(e, a, rel_tol=rel, abs_tol=abs_tol)
    return expected == actual


def mismatches(
    expected: Mapping[date, Mapping],
    actual: Mapping[date, Mapping],
    columns: Sequence[str],
    rel: float = 1e-9,
) -> list[str]:
    """Human-readable differences between two {trade_date: {column: value}} tables (keys and values)."""
    problems = []
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    if missing:
        problems.append(f"dates missing from the mart: {missing[:5]}{'...' if len(missing) > 5 else ''}")
    if extra:
        problems.append(f"unexpected dates in the mart: {extra[:5]}{'...' if len(extra) > 5 else ''}")
    for d in sorted(set(expected) & set(actual)):
        for col in columns:
            e, a = expected[d].get(col), actual[d].get(col)
            if not close_enough(e, a, rel=rel):
                problems.append(f"{d} {col}: expected {e!r}, mart has {a!r}")
    return problems


# --- fct_derivatives_daily, the derivatives features, fct_trade_flow_daily --------------------------------

DERIVATIVES_COLUMNS = (
    "funding_rate_sum",
    "funding_events",
    "funding_hours",
    "funding_rate_annualized",
    "mark_close",
    "index_close",
    "premium_close",
    "premium_mean",
    "basis",
    "open_interest",
    "open_interest_value",
    "top_trader_account_ratio",
    "top_trader_position_ratio",
    "account_ratio",
    "taker_buy_sell_ratio",
    "metrics_rows",
    "oi_change_1d",
)
DERIVATIVE_FEATURE_COLUMNS = (
    "funding_rate_7d_annualized",
    "oi_change_7d",
    "premium_zscore_30d",
    "basis",
    "leverage_regime",
)
TRADE_FLOW_COLUMNS = (
    "agg_trade_count",
    "trade_count",
    "taker_buy_quantity",
    "taker_sell_quantity",
    "taker_buy_quote",
    "taker_sell_quote",
    "order_flow_imbalance",
    "vwap",
    "missing_agg_trade_ids",
)
EPOCH = datetime(1970, 1, 1)


def data_rows(path: Path) -> list[list[str]]:
    """The CSV rows of an archive without its header (a header's first field does not start with a digit)."""
    rows = [r for r in csv.reader(io.StringIO(_csv_text(path))) if r and r[0].strip()]
    return rows[1:] if rows and not rows[0][0].strip()[:1].isdigit() else rows


def _utc(epoch: int) -> datetime:
    """ms or µs epoch -> naive UTC datetime."""
    return EPOCH + timedelta(microseconds=epoch if epoch >= MICROSECOND_THRESHOLD else epoch * 1000)


def funding_daily(paths: Iterable[Path]) -> dict[date, dict]:
    """Per UTC date of calc_time: the sum of the rates, the events and their hours."""
    out: dict[date, dict] = {}
    for path in paths:
        for calc_time, hours, rate in data_rows(Path(path)):
            d = _utc(int(calc_time)).date()
            row = out.setdefault(d, {"funding_rate_sum": 0.0, "funding_events": 0, "funding_hours": 0})
            row["funding_rate_sum"] += float(rate)
            row["funding_events"] += 1
            row["funding_hours"] += int(hours)
    return out


def metrics_daily(paths: Iterable[Path]) -> dict[date, dict]:
    """Per UTC date of create_time: the last row's values, the mean non-empty taker ratio, the rows."""
    by_day: dict[date, list[tuple[datetime, list[str]]]] = {}
    for path in paths:
        for row in data_rows(Path(path)):
            t = datetime.strptime(row[0], "%Y-%m-%d %H:%M:%S")
            by_day.setdefault(t.date(), []).append((t, row))

    def num(text: str) -> float | None:
        return float(text) if text.strip() else None

    out = {}
    for d, rows in by_day.items():
        _, last = max(rows)
        takers = [num(r[7]) for _, r in rows if num(r[7]) is not None]
        out[d] = {
            "open_interest": num(last[2]),
            "open_interest_value": num(last[3]),
            "top_trader_account_ratio": num(last[4]),
            "top_trader_position_ratio": num(last[5]),
            "account_ratio": num(last[6]),
            "taker_buy_sell_ratio": sum(takers) / len(takers) if takers else None,
            "metrics_rows": len(rows),
        }
    return out


def price_daily(mark: Iterable[Path], index: Iterable[Path], premium: Iterable[Path]) -> dict[date, dict]:
    """Per UTC date: the close of the last candle of each series, and the mean premium close."""
    out: dict[date, dict] = {}
    for name, paths in (("mark", mark), ("index", index), ("premium", premium)):
        candles = read_candles(paths)
        for i, d in enumerate(candles.trade_dates()):  # sorted by open_time: the last one wins
            row = out.setdefault(d, {})
            row[f"{name}_close"] = float(candles.close[i])
            if name == "premium":
                row.setdefault("_premiums", []).append(float(candles.close[i]))
    for row in out.values():
        premiums = row.pop("_premiums", None)
        row["premium_mean"] = sum(premiums) / len(premiums) if premiums else None
    return out


def derivatives_daily(
    funding: Mapping[date, dict], metrics: Mapping[date, dict], prices: Mapping[date, dict]
) -> dict[date, dict]:
    """fct_derivatives_daily of one (market, symbol), from the three per-day tables above."""
    out = {}
    for d in sorted(set(funding) | set(metrics) | set(prices)):
        f, m, p = funding.get(d, {}), metrics.get(d, {}), prices.get(d, {})
        hours = f.get("funding_hours")
        row = {
            "funding_rate_sum": f.get("funding_rate_sum"),
            "funding_events": f.get("funding_events", 0),
            "funding_hours": hours,
            "funding_rate_annualized": f["funding_rate_sum"] / hours * 24 * 365 if hours else None,
            "mark_close": p.get("mark_close"),
            "index_close": p.get("index_close"),
            "premium_close": p.get("premium_close"),
            "premium_mean": p.get("premium_mean"),
            "metrics_rows": m.get("metrics_rows", 0),
        }
        mark, index = row["mark_close"], row["index_close"]
        row["basis"] = mark / index - 1 if mark is not None and index else None
        for col in (
            "open_interest",
            "open_interest_value",
            "top_trader_account_ratio",
            "top_trader_position_ratio",
            "account_ratio",
            "taker_buy_sell_ratio",
        ):
            row[col] = m.get(col)
        out[d] = row
    for d, row in out.items():
        prev = out.get(d - timedelta(days=1), {}).get("open_interest")
        oi = row["open_interest"]
        row["oi_change_1d"] = math.log(oi / prev) if oi and prev else None
    return out


@dataclass(frozen=True)
class LeverageRule:
    """One row of the leverage thresholds seed; bounds are strict, empty ones open."""

    priority: int
    leverage_regime: str
    funding_above: float | None = None
    funding_below: float | None = None
    oi_above: float | None = None
    oi_below: float | None = None

    def matches(self, funding: float, oi_change: float) -> bool:
        return (
            (self.funding_above is None or funding > self.funding_above)
            and (self.funding_below is None or funding < self.funding_below)
            and (self.oi_above is None or oi_change > self.oi_above)
            and (self.oi_below is None or oi_change < self.oi_below)
        )


def derivative_features(
    derivatives: Mapping[date, dict], dates: Iterable[date], rules: Sequence[LeverageRule]
) -> dict[date, dict]:
    """The futures columns of fct_regime_features_daily for the given days of one symbol's futures data."""
    annualized = {d: r["funding_rate_annualized"] for d, r in derivatives.items()}
    premium = {d: r["premium_close"] for d, r in derivatives.items()}
    out = {}
    for d in dates:
        row = derivatives.get(d, {})
        w = _window(annualized, d, 7)
        funding = None if w is None else float(np.mean(w))
        oi, back = row.get("open_interest"), derivatives.get(d - timedelta(days=7), {}).get("open_interest")
        oi_change = math.log(oi / back) if oi and back else None
        w = _window(premium, d, 30)
        zscore = None
        if w is not None and _sample_std(w) > 0:
            zscore = (premium[d] - float(np.mean(w))) / _sample_std(w)
        regime = None
        if funding is not None and oi_change is not None:
            regime = next(
                r.leverage_regime
                for r in sorted(rules, key=lambda r: r.priority)
                if r.matches(funding, oi_change)
            )
        out[d] = {
            "funding_rate_7d_annualized": funding,
            "oi_change_7d": oi_change,
            "premium_zscore_30d": zscore,
            "basis": row.get("basis"),
            "leverage_regime": regime,
        }
    return out


def trade_flow_daily(paths: Iterable[Path]) -> dict[date, dict]:
    """fct_trade_flow_daily of one (market, symbol) from its aggTrades archives (rows unique on id)."""
    trades: dict[int, tuple] = {}
    for path in paths:
        for row in data_rows(Path(path)):
            trades[int(row[0])] = (
                float(row[1]),
                float(row[2]),
                int(row[3]),
                int(row[4]),
                int(row[5]),
                row[6],
            )
    by_day: dict[date, list[tuple]] = {}
    for agg_id in sorted(trades):
        price, qty, first, last, t, maker = trades[agg_id]
        by_day.setdefault(_utc(t).date(), []).append(
            (agg_id, price, qty, first, last, maker.strip() == "true")
        )
    out = {}
    for d, rows in by_day.items():
        buy = sum(q for _, _, q, _, _, m in rows if not m)
        sell = sum(q for _, _, q, _, _, m in rows if m)
        ids = [r[0] for r in rows]
        out[d] = {
            "agg_trade_count": len(rows),
            "trade_count": sum(last - first + 1 for _, _, _, first, last, _ in rows),
            "taker_buy_quantity": buy,
            "taker_sell_quantity": sell,
            "taker_buy_quote": sum(p * q for _, p, q, _, _, m in rows if not m),
            "taker_sell_quote": sum(p * q for _, p, q, _, _, m in rows if m),
            "order_flow_imbalance": (buy - sell) / (buy + sell) if buy + sell else None,
            "vwap": sum(p * q for _, p, q, *_ in rows) / sum(q for _, _, q, *_ in rows),
            "missing_agg_trade_ids": max(ids) - min(ids) + 1 - len(ids),
        }
    return out
