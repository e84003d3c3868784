"""What to load: input validation, then discovery of archives through the bucket listing.

Monthly archives are used for the months that have one; daily archives only for the days of months
that do not (the current month, until Binance publishes its monthly file)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loaders import config
from loaders.binance.errors import BadInput
from loaders.binance.listing import ListedObject, list_prefix
from loaders.binance.transport import Http

_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


@dataclass(frozen=True)
class Archive:
    """One source archive as listed, and where it lands in the lake."""

    market: str
    symbol: str
    interval: str
    period: str  # YYYY-MM (monthly) or YYYY-MM-DD (daily)
    key: str
    size: int
    etag: str
    last_modified: str
    has_checksum: bool

    @property
    def kind(self) -> str:
        return "daily" if len(self.period) == 10 else "monthly"

    @property
    def month(self) -> str:
        return self.period[:7]

    @property
    def stem(self) -> str:
        return f"{self.symbol}-{self.interval}-{self.period}"

    def url(self, base_url: str) -> str:
        return f"{base_url}/{self.key}"

    def parquet_path(self, lake: Path) -> Path:
        part = config.partition_dir(lake, self.market, self.interval, self.symbol, self.month)
        return part / f"{self.stem}.parquet"


@dataclass(frozen=True)
class Request:
    """A validated load request."""

    market: str
    symbols: tuple[str, ...]
    intervals: tuple[str, ...]
    start: date | None
    end: date | None


def parse_day(text: str, what: str, *, end: bool) -> date:
    """YYYY-MM or YYYY-MM-DD; a month means its first day (start) or its last day (end)."""
    m = _DATE.match(text.strip())
    if not m:
        raise BadInput(f"{what} {text!r} is not YYYY-MM or YYYY-MM-DD")
    y, mo, d = int(m[1]), int(m[2]), m[3]
    try:
        if d is not None:
            return date(y, mo, int(d))
        return date(y, mo, calendar.monthrange(y, mo)[1] if end else 1)
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise BadInput(f"{what} {text!r} is not a real date") from exc


def validate(
    market: str,
    symbols: list[str] | tuple[str, ...] | str,
    intervals: list[str] | tuple[str, ...] | str,
    start: str | date | None,
    end: str | date | None,
) -> Request:
    """Check everything the user typed before any request or write; raise BadInput naming the culprit."""
    if market not in config.MARKETS:
        raise BadInput(f"unknown market {market!r} (choose from {', '.join(config.MARKETS)})")
    symbols = [symbols] if isinstance(symbols, str) else list(symbols)
    intervals = [intervals] if isinstance(intervals, str) else list(intervals)
    if not symbols:
        raise BadInput("no symbols given")
    if not intervals:
        raise BadInput("no intervals given")
    for s in symbols:
        if not re.match(config.SYMBOL_PATTERN, s):
            raise BadInput(f"invalid symbol {s!r} (must match {config.SYMBOL_PATTERN}, e.g. BTCUSDT)")
    for i in intervals:
        if i not in config.INTERVAL_SECONDS:
            raise BadInput(f"unknown interval {i!r} (choose from {' '.join(config.INTERVAL_SECONDS)})")
        if i in config.SPOT_ONLY_INTERVALS and market != "spot":
            raise BadInput(f"interval {i} exists only for market spot, not {market}")
    s = start if isinstance(start, date) or start is None else parse_day(start, "--start", end=False)
    e = end if isinstance(end, date) or end is None else parse_day(end, "--end", end=True)
    if s and e and s > e:
        raise BadInput(f"--start {s} is after --end {e}")
    return Request(market, tuple(dict.fromkeys(symbols)), tuple(dict.fromkeys(intervals)), s, e)


def _archives(
    listed: list[ListedObject], market: str, symbol: str, interval: str, daily: bool
) -> dict[str, Archive]:
    """period -> Archive for the listed zips named like Binance's (anything else is ignored)."""
    names = {o.key.rsplit("/", 1)[-1] for o in listed}
    period_re = r"\d{4}-\d{2}-\d{2}" if daily else r"\d{4}-\d{2}"
    pattern = re.compile(rf"^{re.escape(symbol)}-{re.escape(interval)}-({period_re})\.zip$")
    out: dict[str, Archive] = {}
    for o in listed:
        name = o.key.rsplit("/", 1)[-1]
        m = pattern.match(name)
        if m:
            out[m[1]] = Archive(
                market,
                symbol,
                interval,
                m[1],
                o.key,
                o.size,
                o.etag,
                o.last_modified,
                f"{name}.CHECKSUM" in names,
            )
    return out


def _month_overlaps(month: str, start: date | None, end: date | None) -> bool:
    y, m = int(month[:4]), int(month[5:7])
    first, last = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
    return (start is None or last >= start) and (end is None or first <= end)


def discover(http: Http, listing_url: str, market: str, symbol: str, interval: str) -> list[Archive]:
    """Every archive that exists for one symbol and interval: monthly ones, plus daily ones for the
    months without a monthly file. Sorted by period."""
    root = f"data/{config.MARKETS[market]}"
    monthly = _archives(
        list_prefix(http, listing_url, f"{root}/monthly/klines/{symbol}/{interval}/"),
        market,
        symbol,
        interval,
        daily=False,
    )
    daily: dict[str, Archive] = {}
    if interval in config.DAILY_FILE_INTERVALS:
        daily = _archives(
            list_prefix(http, listing_url, f"{root}/daily/klines/{symbol}/{interval}/"),
            market,
            symbol,
            interval,
            daily=True,
        )
    chosen = dict(monthly)
    chosen.update({p: a for p, a in daily.items() if p[:7] not in monthly})
    return [chosen[p] for p in sorted(chosen)]


def in_window(archive: Archive, start: date | None, end: date | None) -> bool:
    """Whether the archive's period overlaps [start, end] (a monthly file is all-or-nothing)."""
    if archive.kind == "monthly":
        return _month_overlaps(archive.period, start, end)
    d = date.fromisoformat(archive.period)
    return (start is None or d >= start) and (end is None or d <= end)
