"""The freshness rule (docs/operations.md, "Freshness"), shared by `binance-warehouse update` and
`python -m loaders.binance status --check`: the latest day a series should hold by now, and which
series are stale or have gaps.

Binance publishes a day's daily files around 08:30 UTC the next day, so after 09:00 UTC yesterday is
due, before it the day before; monthly-only datasets (fundingRate) are due through the last complete
month. WAREHOUSE_NOW (ISO 8601, UTC) replaces the clock, for tests and for re-checking a past run."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from loaders import contract

NOW_ENV = "WAREHOUSE_NOW"
PUBLISH_HOUR_UTC = 9
DEFAULT_MAX_LAG = 1


def now(override: str | None = None) -> datetime:
    """The clock of the rule: WAREHOUSE_NOW (UTC when it names no zone) or the real time; ValueError
    for a value that is no ISO 8601 time."""
    text = override or os.environ.get(NOW_ENV, "").strip()
    if not text:
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{NOW_ENV}={text!r} is not an ISO 8601 time") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def expected_day(t: datetime, dataset: str) -> date:
    """The latest day a series of `dataset` should hold at `t`."""
    t = t.astimezone(timezone.utc)
    if contract.DATASETS[dataset].periods == (contract.MONTHLY,):
        return t.date().replace(day=1) - timedelta(days=1)
    return t.date() - timedelta(days=1 if t.hour >= PUBLISH_HOUR_UTC else 2)


def lag_days(latest: date, expected: date) -> int:
    """Days `latest` is behind `expected` (0 when current or ahead)."""
    return max((expected - latest).days, 0)


def check_problems(series: Iterable, t: datetime, since: date | None, max_lag: int) -> list[str]:
    """`status --check`: one line per series of the lake (status.Series) that is stale, or that has
    missing days on or after `since` (every gap when `since` is None)."""
    out = []
    for s in series:
        name = "/".join(p for p in (s.market, s.dataset, s.interval, s.symbol) if p)
        expected = expected_day(t, s.dataset)
        lag = lag_days(date.fromisoformat(s.last_day), expected) if s.last_day else None
        if lag is None or lag > max_lag:
            out.append(
                f"STALE {name}: latest {s.last_day or 'none'}, expected {expected} ({lag} days behind)"
            )
        gaps = [g for g in s.missing if since is None or g.split("..")[-1] >= since.isoformat()]
        if gaps:
            out.append(
                f"GAPS {name}: {', '.join(gaps[:5])}" + (f" (+{len(gaps) - 5} more)" if len(gaps) > 5 else "")
            )
    return out
