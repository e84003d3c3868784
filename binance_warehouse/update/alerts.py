"""Alerts through apprise (docs/operations.md, "Alerts"): URLs from WAREHOUSE_NOTIFY_URLS
(whitespace-separated, apprise syntax). A URL holds secrets (tokens, passwords), so only its scheme is
ever printed or recorded ("json://***")."""

from __future__ import annotations

import logging
import os
import re

NOTIFY_ENV = "WAREHOUSE_NOTIFY_URLS"
TITLE = "binance-warehouse update"


def urls() -> list[str]:
    return os.environ.get(NOTIFY_ENV, "").split()


def redact(url: str) -> str:
    """What may be shown of an alert URL: its scheme alone."""
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    return f"{m[1]}://***" if m else "***"


def message(failed: list[str], stale: list[tuple[str, int | None]], recovered: list[str]) -> tuple[str, str]:
    """(title, body) of a run's alert: the failed steps, the stale series and their lag, recoveries."""
    lines = []
    if failed:
        lines.append("failed steps: " + ", ".join(failed))
    for name, lag in stale:
        lines.append(f"stale: {name} " + ("(nothing loaded)" if lag is None else f"({lag} days behind)"))
    for name in recovered:
        lines.append(f"recovered: {name} is fresh again")
    if failed:
        state = "FAILED"
    elif stale:
        state = "STALE"
    elif recovered:
        state = "RECOVERED"
    else:
        state = "OK"
    return f"{TITLE}: {state}", "\n".join(lines) or "all series fresh, every step succeeded"


def send(title: str, body: str, targets: list[str]) -> list[str]:
    """Send one message to every URL; returns one line per target for the log (schemes only)."""
    if not targets:
        return []
    import apprise

    # apprise logs URLs (with their secrets) at debug level: keep its logger quiet.
    logging.getLogger("apprise").setLevel(logging.ERROR)
    out = []
    for url in targets:
        ap = apprise.Apprise()
        if not ap.add(url):
            out.append(f"alert {redact(url)}: not a valid apprise URL")
            continue
        ok = ap.notify(title=title, body=body)
        out.append(f"alert {redact(url)}: {'sent' if ok else 'FAILED to send'}")
    return out
