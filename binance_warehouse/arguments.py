"""Argument checks of the read API: each bad argument is one ValueError with one clear line, raised
before any file is opened."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from binance_warehouse import settings
from loaders import contract

_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """A half-open time range [start, end): either side None when open. Naive UTC datetimes, the lake's
    and the marts' convention."""

    start: datetime | None
    end: datetime | None


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _bound(value: object, name: str, is_end: bool) -> datetime | None:
    """One side of a period. A month or a day given as the end includes all of it (end='2024-03' is
    through March 31), and so does a date-time at midnight; another date-time end includes that
    instant."""
    if value is None:
        return None
    if isinstance(value, datetime):  # before date: datetime is a date too (pandas.Timestamp as well)
        moment = _naive_utc(value)
        if moment.time() == time():
            # Midnight is a day: a value of a date column (pandas gives Timestamps) means that day.
            return _bound(moment.date(), name, is_end)
        return moment + timedelta(microseconds=1) if is_end else moment
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1) if is_end else value, time())
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a date, a datetime or a string like 2024-03-01, not {value!r}")
    text = value.strip()
    try:
        if _MONTH.match(text):
            first = datetime.strptime(text, "%Y-%m")
            return (first + timedelta(days=32)).replace(day=1) if is_end else first
        if len(text) == 10:
            return _bound(date.fromisoformat(text), name, is_end)
        return _bound(datetime.fromisoformat(text.replace("Z", "+00:00")), name, is_end)
    except ValueError:
        raise ValueError(
            f"bad {name} {value!r}: use YYYY-MM, YYYY-MM-DD or an ISO date-time (UTC), e.g. 2024-03-01"
        ) from None


def period(start: object, end: object) -> Period:
    """The checked period of a call (start inclusive, end inclusive of the day or month it names)."""
    lower, upper = _bound(start, "start", False), _bound(end, "end", True)
    if lower is not None and upper is not None and upper <= lower:
        raise ValueError(f"end {end!r} is before start {start!r}")
    return Period(lower, upper)


def symbols(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Symbols upper-cased (btcusdt is BTCUSDT); None means every symbol."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise ValueError("symbol: give a symbol or a list of symbols (or None for all)")
    out = []
    for name in names:
        if not isinstance(name, str) or not re.match(contract.SYMBOL_PATTERN, name.strip().upper()):
            raise ValueError(f"bad symbol {name!r}: a Binance symbol is letters and digits, e.g. BTCUSDT")
        out.append(name.strip().upper())
    return tuple(dict.fromkeys(out))


def market(value: str, allowed: Iterable[str] = tuple(contract.MARKETS)) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown market {value!r}: use one of {', '.join(allowed)}")
    return value


def interval(value: str) -> str:
    if value not in contract.INTERVAL_SECONDS:
        raise ValueError(f"unknown interval {value!r}: use one of {', '.join(contract.INTERVAL_SECONDS)}")
    return value


def output(value: str) -> str:
    if value not in settings.OUTPUTS:
        raise ValueError(f"unknown output {value!r}: use one of {', '.join(settings.OUTPUTS)}")
    return value


def listing(names: Iterable[str], limit: int = 12) -> str:
    """A short list of what exists, for an error line."""
    names = sorted(names)
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"
