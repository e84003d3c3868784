"""Generated lakes of daily (1d) or hourly (1h) candles whose returns follow a known Markov-switching
model, for the regime-probability tests and benchmark (tests/test_regime_dbt.py,
tests/test_regime_hourly_dbt.py, benchmarks/bench_regimes.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.lake_manifest import write_manifest
from loaders import contract

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
INTERVAL_US = {"1d": DAY_US, "1h": HOUR_US}
# Two states: daily sigma 2 % and 5 %, p00 = 0.98, p11 = 0.95 (the parameter-recovery example).
TRUE_TRANSITION = np.array([[0.98, 0.02], [0.05, 0.95]])
TRUE_SIGMA = np.array([0.02, 0.05])
TRUE_MEAN = np.array([0.0005, -0.001])


def markov_returns(days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`days` returns of the two-state model and the hidden states (chain started in its stationary law)."""
    rng = np.random.default_rng(seed)
    pi = np.array([TRUE_TRANSITION[1, 0], TRUE_TRANSITION[0, 1]]) / (
        TRUE_TRANSITION[1, 0] + TRUE_TRANSITION[0, 1]
    )
    states = np.empty(days, dtype=np.int64)
    states[0] = rng.choice(2, p=pi)
    u = rng.random(days)
    for t in range(1, days):
        states[t] = int(u[t] < TRUE_TRANSITION[states[t - 1], 1])
    return TRUE_MEAN[states] + TRUE_SIGMA[states] * rng.standard_normal(days), states


def month_of(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def write_daily_series(
    lake: Path,
    symbol: str,
    first_day: date,
    returns: np.ndarray,
    skip_days: Sequence[int] = (),
    from_month: str = "",
) -> None:
    """1d candles from `first_day`, one per return (+1 for the first close), as the loader's monthly
    Parquet files; `skip_days` (indices) have no candle; only months >= `from_month` are written (an
    appended quarter leaves the earlier files as they were)."""
    start = datetime(first_day.year, first_day.month, first_day.day)
    write_series(lake, symbol, start, returns, "1d", skip_days, from_month)


def write_series(
    lake: Path,
    symbol: str,
    first: datetime,
    returns: np.ndarray,
    interval: str,
    skip: Sequence[int] = (),
    from_month: str = "",
) -> None:
    """Candles of `interval` (1d or 1h) from `first` (naive UTC), one per return (+1 for the first
    close), as the loader's monthly spot Parquet files; `skip` (indices) have no candle; only months
    >= `from_month` are written."""
    step_us = INTERVAL_US[interval]
    closes = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    times = [first + timedelta(microseconds=i * step_us) for i in range(closes.size)]
    keep = np.ones(closes.size, dtype=bool)
    keep[list(skip)] = False
    by_month: dict[str, list[int]] = {}
    for i, t in enumerate(times):
        if keep[i] and month_of(t) >= from_month:
            by_month.setdefault(month_of(t), []).append(i)
    for month, idx in by_month.items():
        ix = np.asarray(idx)
        open_time = (
            np.array([int(times[i].replace(tzinfo=timezone.utc).timestamp()) for i in idx], dtype=np.int64)
            * 1_000_000
        )
        close = closes[ix]
        open_ = closes[np.maximum(ix - 1, 0)]
        high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
        volume = np.full(ix.size, 1000.0)
        table = pa.Table.from_arrays(
            [
                pa.array(open_time, pa.timestamp("us")),
                pa.array(open_time + step_us - 1000, pa.timestamp("us")),
                open_,
                high,
                low,
                close,
                volume,
                volume * close,
                volume / 2,
                volume * close / 2,
                np.full(ix.size, 100, dtype=np.int64),
            ],
            schema=contract.KLINE_SCHEMA,
        )
        folder = contract.partition_dir(lake, "klines", "spot", interval, symbol, month)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{symbol}-{interval}-{month}.parquet"
        tmp = contract.temp_path(final)
        pq.write_table(table, tmp)
        os.replace(tmp, final)


def finish(lake: Path) -> None:
    """The manifest of what is in the lake (as the loader leaves it)."""
    write_manifest(lake, "klines")
