"""HTTP with the retry policy Binance's CDN needs: connection errors, timeouts, 5xx and 403 (its
outage answer) are retried with exponential backoff; 404 means "not published" and is final."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from loaders import config
from loaders.binance.errors import ArchiveError, NotPublished

log = logging.getLogger("loaders.binance")
T = TypeVar("T")

# Exceptions worth another try: the network or the server hiccuped, the request was fine.
TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class RetryableStatus(ArchiveError):
    """A status worth retrying (5xx, 403)."""


@dataclass
class Http:
    """Per-thread requests sessions (a Session is not safe to share between threads) plus the retry
    settings of this run."""

    timeout: tuple[float, float] = config.HTTP_TIMEOUT
    retries: int = config.HTTP_RETRIES
    backoff: float = config.HTTP_BACKOFF_SECONDS
    backoff_max: float = config.HTTP_BACKOFF_MAX_SECONDS

    def __post_init__(self) -> None:
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = "binance-warehouse-loader/0.1"
            self._local.session = s
        return s

    def get(self, url: str, *, stream: bool = False, **kw: object) -> requests.Response:
        """One GET attempt; raises NotPublished on 404, RetryableStatus on 5xx/403, ArchiveError on
        any other non-2xx."""
        resp = self.session.get(url, stream=stream, timeout=kw.pop("timeout", self.timeout), **kw)
        if resp.status_code == 404:
            resp.close()
            raise NotPublished(f"{url}: HTTP 404 (not published)")
        if resp.status_code == 403 or resp.status_code >= 500:
            resp.close()
            raise RetryableStatus(f"{url}: HTTP {resp.status_code}")
        if resp.status_code >= 300:
            resp.close()
            raise ArchiveError(f"{url}: HTTP {resp.status_code}")
        return resp

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """fn() with up to `retries` further attempts on transient failures, backing off 0.5, 1, 2 ...
        seconds (capped). The last failure is raised as ArchiveError naming `what`."""
        attempt = 0
        while True:
            try:
                return fn()
            except (RetryableStatus, *TRANSIENT) as exc:
                attempt += 1
                if attempt > self.retries:
                    raise ArchiveError(f"{what}: giving up after {attempt} attempts: {_short(exc)}") from exc
                delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
                log.warning("%s: %s; retry %d/%d in %.1fs", what, _short(exc), attempt, self.retries, delay)
                time.sleep(delay)


def _short(exc: BaseException) -> str:
    """A one-line reason: requests' messages nest the whole urllib3 chain; keep its type and tail."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, requests.ConnectionError):
        return f"connection error ({text[-160:]})"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text[:200]
