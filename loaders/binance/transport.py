"""HTTP with the retry policy Binance's CDN needs: connection errors, timeouts, stalls, 5xx and 403 (its
outage answer) are retried with exponential backoff; 404 means "not published" and is final.

One keep-alive `requests.Session` per worker thread. Every streamed response is registered while it is
read, so Ctrl-C can shut all their sockets at once (`abort`) instead of waiting for slow bodies."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests

from loaders import config
from loaders.binance.errors import ArchiveError, Cancelled, NotPublished

log = logging.getLogger("loaders.binance")
T = TypeVar("T")


class Stalled(requests.exceptions.RequestException):
    """A body that stopped flowing (fewer than STALL_MIN_BYTES in `stall_seconds`)."""


# Exceptions worth another try: the network or the server hiccuped, the request was fine.
TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    Stalled,
)


class RetryableStatus(ArchiveError):
    """A status worth retrying (5xx, 403)."""


@dataclass
class Http:
    """Per-thread sessions, the retry and stall settings of this run, and its cancellation flag."""

    timeout: tuple[float, float] = config.HTTP_TIMEOUT
    retries: int = config.HTTP_RETRIES
    backoff: float = config.HTTP_BACKOFF_SECONDS
    backoff_max: float = config.HTTP_BACKOFF_MAX_SECONDS
    stall_seconds: float = config.STALL_SECONDS
    cancel: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._active: set[requests.Response] = set()
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = "binance-warehouse-loader/0.1"
            self._local.session = s
        return s

    def get(self, url: str, *, stream: bool = False, head: bool = False, **kw: object) -> requests.Response:
        """One GET (or HEAD) attempt; raises NotPublished on 404, RetryableStatus on 5xx/403,
        ArchiveError on any other non-2xx."""
        if self.cancel.is_set():
            raise Cancelled
        # The read timeout is the stall limit too: no byte at all for that long ends the attempt.
        timeout = kw.pop("timeout", (self.timeout[0], min(self.timeout[1], self.stall_seconds)))
        method = self.session.head if head else self.session.get
        resp = method(url, stream=stream, timeout=timeout, **kw)
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

    def track(self, resp: requests.Response) -> Callable[[], None]:
        """Register a streamed response for `abort`; returns the function that unregisters it."""
        with self._lock:
            self._active.add(resp)
        if self.cancel.is_set():  # cancelled between the request and now
            self._shutdown(resp)

        def untrack() -> None:
            with self._lock:
                self._active.discard(resp)

        return untrack

    def abort(self) -> None:
        """Cancel the run: every body being read fails at once (its socket is shut down), every
        retry wait ends."""
        self.cancel.set()
        with self._lock:
            active = list(self._active)
        for resp in active:
            self._shutdown(resp)

    @staticmethod
    def _shutdown(resp: requests.Response) -> None:
        with contextlib.suppress(AttributeError, ValueError, RuntimeError, OSError):
            resp.raw.shutdown()  # fails harmlessly when the body is already finished or released

    def retrying(self, what: str, fn: Callable[[], T]) -> T:
        """fn() with up to `retries` further attempts on transient failures, backing off 0.5, 1, 2 ...
        seconds (capped). The last failure is raised as ArchiveError naming `what`."""
        attempt = 0
        while True:
            try:
                return fn()
            except (RetryableStatus, *TRANSIENT) as exc:
                if self.cancel.is_set():
                    raise Cancelled from exc
                attempt += 1
                if attempt > self.retries:
                    raise ArchiveError(f"{what}: giving up after {attempt} attempts: {_short(exc)}") from exc
                delay = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
                log.warning("%s: %s; retry %d/%d in %.1fs", what, _short(exc), attempt, self.retries, delay)
                if self.cancel.wait(delay):
                    raise Cancelled from exc


def _short(exc: BaseException) -> str:
    """A one-line reason: requests' messages nest the whole urllib3 chain; keep its type and tail."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, Stalled):
        return text
    if isinstance(exc, requests.ConnectionError):
        return f"connection error ({text[-160:]})"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return text[:200]
