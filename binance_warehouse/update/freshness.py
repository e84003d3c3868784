"""Freshness per configured series (docs/operations.md, "Freshness"; the rule itself is
loaders/binance/freshness.py): each series' latest loaded day against the day Binance should have
published by now. Read from the lake's manifests (what the loader recorded): one small Parquet read per
dataset, no network."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from binance_warehouse.update.config import ALL, Entry
from loaders import contract
from loaders.binance.freshness import DEFAULT_MAX_LAG, expected_day, lag_days, now
from loaders.binance.manifest import read_entries

__all__ = ["DEFAULT_MAX_LAG", "Freshness", "check", "expected_day", "latest_days", "now"]


@dataclass(frozen=True)
class Freshness:
    """One series' latest loaded day, the day expected by now and whether it is too far behind."""

    market: str
    dataset: str
    interval: str
    symbol: str
    latest_day: str | None  # None: nothing loaded yet
    expected_day: str
    lag_days: int | None  # days behind the expected day (0 = current); None when nothing is loaded
    stale: bool

    @property
    def name(self) -> str:
        return "/".join(p for p in (self.market, self.dataset, self.interval, self.symbol) if p)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def latest_days(lake: Path, dataset: str) -> dict[tuple[str, str, str], date]:
    """(market, interval, symbol) -> the last day with a row, from the dataset's manifest. Grouped by
    Arrow, not entry by entry: a large lake's metrics manifest has a row per symbol and day, and a
    run with nothing new should take a second or two."""
    path = contract.manifest_path(lake, dataset)
    if not path.is_file():
        return {}
    try:
        t = pq.read_table(path, columns=["market", "interval", "symbol", "rows", "last_open_time"])
    except (pa.ArrowInvalid, KeyError):  # not a manifest, or an old one: the loader's reader says which
        return _latest_days_by_entry(lake, dataset)
    t = t.filter(pc.and_(pc.greater(t["rows"], 0), pc.is_valid(t["last_open_time"])))
    t = t.set_column(1, "interval", pc.fill_null(t["interval"], ""))
    g = t.group_by(["market", "interval", "symbol"]).aggregate([("last_open_time", "max")])
    return {
        (m, i, s): last.date()
        for m, i, s, last in zip(
            *(g[c].to_pylist() for c in ("market", "interval", "symbol", "last_open_time_max")), strict=True
        )
    }


def _latest_days_by_entry(lake: Path, dataset: str) -> dict[tuple[str, str, str], date]:
    out: dict[tuple[str, str, str], date] = {}
    for e in read_entries(contract.manifest_path(lake, dataset), dataset).values():
        if e.last_open_time is None or not e.rows:
            continue
        key = (e.market, e.interval or "", e.symbol)
        day = e.last_open_time.date()
        if key not in out or day > out[key]:
            out[key] = day
    return out


def check(lake: Path, entries: list[Entry], t: datetime, max_lag: int = DEFAULT_MAX_LAG) -> list[Freshness]:
    """Every configured series' freshness. For symbols = ALL the series are those the manifest holds
    for the entry's market and quote (a symbol Binance never published cannot be checked)."""
    out: dict[str, Freshness] = {}
    cache: dict[str, dict[tuple[str, str, str], date]] = {}
    for entry in entries:
        days = cache.setdefault(entry.dataset, latest_days(lake, entry.dataset))
        expected = expected_day(t, entry.dataset)
        for interval in entry.intervals or ("",):
            if entry.symbols == ALL:
                symbols = sorted(
                    s
                    for (m, i, s) in days
                    if m == entry.market
                    and i == interval
                    and (entry.quote is None or s.endswith(entry.quote))
                    and s not in entry.exclude
                )
            else:
                symbols = list(entry.symbols)
            for symbol in symbols:
                latest = days.get((entry.market, interval, symbol))
                lag = None if latest is None else lag_days(latest, expected)
                f = Freshness(
                    entry.market,
                    entry.dataset,
                    interval,
                    symbol,
                    None if latest is None else latest.isoformat(),
                    expected.isoformat(),
                    lag,
                    stale=lag is None or lag > max_lag,
                )
                out[f.name] = f
    return sorted(out.values(), key=lambda f: f.name)
