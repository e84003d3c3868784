"""The load run's threads: listings and archives share one pool of `workers` threads, and the main
thread takes each finished one off a queue. `stop` ends the pool on any exit and says what it left."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from loaders import config
from loaders.binance.errors import Cancelled
from loaders.binance.fetch import Fetched
from loaders.binance.plan import Archive
from loaders.binance.transport import Http

Series = tuple[str, str]  # (symbol, interval)


@dataclass(frozen=True)
class Stopped:
    """What a stop left undone: archives never started, and archives stopped mid-way (discarded)."""

    not_started: int = 0
    discarded: int = 0


class Scheduler:
    def __init__(self, workers: int, http: Http, cancel: threading.Event) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="binance")
        self.http, self.cancel = http, cancel
        self.archives: dict[Future[Fetched], Archive] = {}
        # Finished futures arrive on a queue: O(1) each, where wait() over a thousand pending futures
        # costs O(pending) per completion.
        self._done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self._outstanding = 0
        self._stopped: Stopped | None = None

    def _track(self, futures: Iterable[Future]) -> None:
        for fut in futures:
            self._outstanding += 1
            fut.add_done_callback(self._done.put)

    def submit(self, job: Callable[[Archive], Fetched], todo: list[Archive]) -> None:
        """Start archives, largest first: a big archive started last would leave the other workers
        idle at the end."""
        futures = {self.pool.submit(job, a): a for a in sorted(todo, key=lambda a: a.size, reverse=True)}
        self.archives.update(futures)
        self._track(futures)

    def run(
        self,
        listings: dict[Series, Callable[[], list[Archive]]],
        listed: Callable[[Series, list[Archive]], None],
        finished: Callable[[Future[Fetched], Archive], None],
        every: tuple[float, Callable[[], None]],
    ) -> None:
        """Run every listing, hand each result to `listed` (which may `submit` archives), and each
        finished archive to `finished`, until nothing is left; `every` = (seconds, what to do that often)."""
        period, periodic = every
        pending = {self.pool.submit(fn): key for key, fn in listings.items()}
        self._track(pending)
        last = time.monotonic()
        while self._outstanding:
            try:
                fut = self._done.get(timeout=1.0)
            except queue.Empty:
                fut = None
            if fut is not None:
                self._outstanding -= 1
                if fut in pending:
                    listed(pending.pop(fut), fut.result())
                else:
                    finished(fut, self.archives[fut])
            if time.monotonic() - last > period:
                periodic()
                last = time.monotonic()

    def stop(self) -> Stopped:
        """End the pool (once; later calls return the first answer). After an early exit: drop what
        has not started, cancel the listings and downloads in flight (their sockets are shut), give
        the running archives a moment to finish their atomic write or clean up, then join the workers."""
        if self._stopped is not None:
            return self._stopped
        unfinished = [f for f in self.archives if not f.done()]  # none after a complete run
        not_started = sum(1 for f in unfinished if f.cancel())  # before the cancel frees the workers
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.cancel.set()
        self.http.abort()
        wait([f for f in unfinished if not f.done()], timeout=config.CANCEL_GRACE_SECONDS)
        discarded = sum(
            1
            for f in unfinished
            if not f.cancelled() and (not f.done() or isinstance(f.exception(), Cancelled))
        )
        self.pool.shutdown(wait=True)  # every worker has seen the cancel by now
        self._stopped = Stopped(not_started, discarded)
        return self._stopped

    def finished_archives(self) -> Iterator[tuple[Future[Fetched], Archive]]:
        """Every archive that ran to its end (loaded or failed), for the ledger to take."""
        for fut, archive in self.archives.items():
            if fut.done() and not fut.cancelled():
                yield fut, archive
