"""Monthly files in place of their month's daily files, under the lake's readers lock, so a dbt build
never sees a month with both, nor a file vanish under it (docs/loading.md, "Running next to other loaders
and builds")."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from loaders import contract, locks
from loaders.binance.errors import os_reason
from loaders.binance.fetch import Fetched
from loaders.binance.ledger import Ledger
from loaders.binance.plan import Archive, dailies_of

log = logging.getLogger("loaders.binance")


class DailySwap:
    """The monthly archives (with their new file, when not in place yet) waiting to replace daily files."""

    def __init__(self, lake_dir: Path, ledger: Ledger) -> None:
        self.lake, self.ledger = lake_dir, ledger
        self.waiting: list[tuple[Archive, Fetched | None]] = []

    def wants(self, archive: Archive, done: Fetched) -> bool:
        """A monthly file whose month holds daily files."""
        return done.pending is not None or (
            archive.kind == contract.MONTHLY and bool(dailies_of(archive, self.lake))
        )

    def add(self, archive: Archive, done: Fetched | None) -> None:
        self.waiting.append((archive, done))

    def replace(self, *, block: bool) -> None:
        """Swap in what waits. While a build reads the lake the swap waits: until the next archive
        finishes (block=False), or at the end of the run until the build is done (saying so)."""
        if not self.waiting:
            return
        lock = contract.readers_lock_path(self.lake)
        try:
            with locks.try_exclusive(lock) as free:
                if free:
                    self._swap_in()
                    return
        except locks.LockUnusable as exc:  # e.g. a folder where the lock file should be
            self._cannot_swap(str(exc))
            return
        if not block:
            return
        log.info(
            "waiting for the dbt build reading the lake to finish: then %d monthly file(s) replace their "
            "month's daily files (Ctrl-C leaves that to the next run)",
            len(self.waiting),
        )
        started = time.monotonic()
        with locks.exclusive(lock):
            self.ledger.summary.waited += time.monotonic() - started
            self._swap_in()

    def _swap_in(self) -> None:
        s = self.ledger.summary
        for archive, done in self.waiting:
            try:
                if done is not None and done.pending is not None:
                    os.replace(done.pending, archive.parquet_path(self.lake))
                    self.ledger.put(done.entry)
                dailies = dailies_of(archive, self.lake)
                for daily in dailies:
                    daily.unlink(missing_ok=True)
                    self.ledger.removed(self.lake, daily)
            except OSError as exc:
                s.fail(f"{archive.url(self.ledger.base)}: {os_reason(exc)}")
                continue
            s.removed += len(dailies)
            if dailies:
                log.info("%s: monthly file replaces %d daily file(s)", archive.stem, len(dailies))
        self.waiting.clear()

    def _cannot_swap(self, reason: str) -> None:
        """The readers lock cannot be taken at all: the monthly files are dropped (the daily ones
        stay, recorded), each a FAILED line naming the lock."""
        for archive, _done in self.waiting:
            self.ledger.summary.fail(f"{archive.url(self.ledger.base)}: {reason}")
        self.discard()

    def discard(self) -> int:
        """The run ends before the swap: the converted monthly files are dropped, and not counted as
        loaded (the next run redoes them). Returns how many."""
        dropped = 0
        for _archive, done in self.waiting:
            if done is not None and done.pending is not None:
                done.pending.unlink(missing_ok=True)
                dropped += 1
        self.ledger.summary.loaded -= dropped
        self.waiting.clear()
        return dropped
