"""The load run: check the request and the lake, discover, plan (loaders/binance/plan.py), then execute:
archives fetched in parallel (fetch.py, scheduler.py), daily files replaced by monthly ones (swap.py),
every finished archive recorded in the manifest on any exit (ledger.py), summarised."""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import threading
import time
from concurrent.futures import Future
from datetime import date
from functools import partial
from pathlib import Path

import requests

from loaders import config, contract
from loaders.binance.download import is_published
from loaders.binance.errors import BadInput, Cancelled, Interrupted, os_reason
from loaders.binance.fetch import Fetched, fetch
from loaders.binance.ledger import Ledger, LoadSummary
from loaders.binance.manifest import Manifest
from loaders.binance.plan import (
    Archive,
    Plan,
    Request,
    dailies_of,
    discover,
    discover_symbols,
    validate,
    why_absent,
)
from loaders.binance.progress import Progress
from loaders.binance.scheduler import Scheduler, Series, Stopped
from loaders.binance.swap import DailySwap
from loaders.binance.transport import Http

__all__ = ["LoadSummary", "check_lake", "clean_stale_temps", "load"]

log = logging.getLogger("loaders.binance")


def load(
    market: str,
    symbols: list[str] | tuple[str, ...] | str,
    intervals: list[str] | tuple[str, ...] | str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    lake: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    listing_url: str | None = None,
    workers: int = config.DEFAULT_WORKERS,
    *,
    dataset: str = "klines",
    quote: str | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    dry_run: bool = False,
    progress: bool | None = None,
    http: Http | None = None,
    stall_seconds: float | None = None,
) -> LoadSummary:
    """Load Binance archives of one dataset into the lake; see docs/loading.md.

    `symbols` may be "ALL" (every symbol the listing has, delisted ones included; with `quote` and
    `exclude`). Raises BadInput (nothing written) for a wrong request or set-up, LoadError when
    discovery fails, Interrupted on Ctrl-C; on every exit the archives that finished are recorded in
    the manifest first. Archives that fail are reported in the summary while the others load. `progress=None` shows the bar only on a terminal."""
    t0 = time.monotonic()
    req = validate(market, symbols, intervals, start, end, dataset=dataset, quote=quote, exclude=exclude)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise BadInput(f"--workers must be between 1 and 64, not {workers!r}")
    if stall_seconds is not None and not stall_seconds > 0:
        raise BadInput(f"--stall-timeout must be a positive number of seconds, not {stall_seconds!r}")
    lake_path = config.lake_dir(lake)
    check_lake(lake_path, writable=not dry_run)
    manifest = Manifest(lake_path, req.dataset.name)  # an unreadable one is bad input, before any request
    base = (base_url or config.base_url()).rstrip("/")
    listing = (listing_url or config.listing_url()).rstrip("/")
    # This run's own cancel event and stall limit, on a copy: the caller's Http is left as it was (it
    # may serve another run, e.g. after this one is interrupted).
    cancel = threading.Event()
    http = dataclasses.replace(
        http or Http(), cancel=cancel, **({} if stall_seconds is None else {"stall_seconds": stall_seconds})
    )
    _check_reachable(http, base + "/", "base URL")
    _check_reachable(http, listing + "?prefix=data%2F&delimiter=%2F&max-keys=1", "listing URL")
    run = _Load(
        req, lake_path, manifest, base, listing, http, cancel, workers, dry_run=dry_run, progress=progress
    )
    summary = run.execute()
    summary.seconds = time.monotonic() - t0
    return summary


def check_lake(lake_dir: Path, *, writable: bool) -> None:
    """An unusable lake is bad input, found before anything is downloaded: one line naming it. The
    probe file goes into the deepest folder that exists (and is removed), so a bad request leaves no
    new lake folder behind."""
    existing = next(p for p in [lake_dir, *lake_dir.parents] if p.exists())
    if not existing.is_dir():
        raise BadInput(f"lake {lake_dir} is unusable: {existing} is a file, not a folder")
    if not writable:
        return
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInput(f"lake {lake_dir} is not writable: {os_reason(exc)} ({existing})") from exc


def _check_reachable(http: Http, url: str, what: str) -> None:
    """Fail fast with one line when a URL cannot be reached at all (DNS, refused, timeout). Any HTTP
    answer counts as reachable."""
    if not url.startswith(("http://", "https://")):
        raise BadInput(f"{what} {url!r} is not an http(s) URL")
    last: Exception | None = None
    for _ in range(2):
        try:
            http.session.get(url, timeout=(5, 15), stream=True).close()
            return
        except (requests.ConnectionError, requests.Timeout) as exc:
            last = exc
        except requests.RequestException as exc:
            raise BadInput(f"{what} {url} is not usable: {type(exc).__name__}") from exc
        time.sleep(0.5)
    raise BadInput(f"{what} {url} is unreachable ({type(last).__name__})")


def clean_stale_temps(lake_dir: Path, dataset: str) -> int:
    """Remove temporary files a killed run left behind (`.*.tmp-<pid>` of pids no longer running)."""
    removed = 0
    for root in (contract.dataset_root(lake_dir, dataset), contract.manifest_dir(lake_dir)):
        if not root.is_dir():
            continue
        for tmp in root.rglob(".*.tmp-*"):
            pid = contract.temp_owner(tmp)
            if pid is None or (pid != os.getpid() and _alive(pid)):
                continue  # another loader is running on this lake right now
            tmp.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run", removed)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Load:
    """One run's execution. With explicit symbols every listing finishes first (an unknown symbol is bad
    input before anything is written); with --symbols ALL the symbols come from the listing, so archives
    start downloading as soon as their series is listed."""

    def __init__(
        self,
        req: Request,
        lake_dir: Path,
        manifest: Manifest,
        base: str,
        listing: str,
        http: Http,
        cancel: threading.Event,
        workers: int,
        *,
        dry_run: bool,
        progress: bool | None,
    ) -> None:
        self.req, self.lake, self.base, self.listing, self.http = req, lake_dir, base, listing, http
        self.dry_run = dry_run
        self.manifest = manifest
        self.plan = Plan()
        self.ledger = Ledger(manifest, base, dry_run=dry_run)
        self.summary = self.ledger.summary
        self.swap = DailySwap(lake_dir, self.ledger)
        self.progress = Progress(progress)
        self.scheduler = Scheduler(workers, http, cancel)
        self.job = partial(fetch, lake_dir=lake_dir, base_url=base, http=http, cancel=cancel)
        self.symbols: list[str] = []
        self.found: dict[Series, list[Archive]] = {}
        self.base_checked = False

    def execute(self) -> LoadSummary:
        """Run it; on any exit (done, an error, Ctrl-C) every finished archive is recorded."""
        stage = "listing"
        stopped: Stopped | None = None
        dropped = 0
        try:
            try:
                self._schedule()
                if self.dry_run:
                    return self._dry_run_summary()
                stage = "swap"
                for leftover in self.plan.leftovers:
                    self.swap.add(leftover, None)
                self.swap.replace(block=True)
                self._remove_empty_folders(self.plan.todo)
                return self.summary
            finally:
                stopped = self.scheduler.stop()
                for fut, archive in self.scheduler.finished_archives():
                    self._finished(fut, archive)
                dropped = self.swap.discard()  # monthly files still waiting: the next run redoes them
                self.ledger.save()
                self.progress.close()
        except KeyboardInterrupt:
            s = self.summary
            if stage == "swap":
                line = (
                    f"interrupted while waiting for a dbt build: {s.loaded} archive(s) loaded and kept, "
                    f"{dropped} monthly file(s) discarded; run again to load the rest"
                )
            else:
                stopped = stopped or Stopped()
                line = (
                    f"interrupted: {s.loaded} archive(s) loaded and kept, {stopped.discarded} in progress "
                    f"discarded, {stopped.not_started} not started; run again to load the rest"
                )
            raise Interrupted(line) from None

    # --- discovery and planning ---------------------------------------------------------------------

    def _schedule(self) -> None:
        symbols = self.symbols = self._symbols()
        self.summary.symbols = len(symbols)
        if not self.dry_run:
            clean_stale_temps(self.lake, self.req.dataset.name)
        listings = {
            (s, i): partial(discover, self.http, self.listing, self.req, s, i)
            for s in symbols
            for i in self.req.intervals
        }
        self.scheduler.run(
            listings, self._listed, self._finished, (config.MANIFEST_FLUSH_SECONDS, self.ledger.save)
        )

    def _symbols(self) -> list[str]:
        if self.req.symbols is not None:
            return list(self.req.symbols)
        found = discover_symbols(self.http, self.listing, self.req)
        if not found:
            raise BadInput(f"no {self.req.market} {self.req.dataset.name} symbols match the filters")
        log.info("%d %s %s symbols in the listing", len(found), self.req.market, self.req.dataset.name)
        return found

    def _listed(self, series: Series, archives: list[Archive]) -> None:
        """One series listed: with --symbols ALL (not a dry run) its archives start now; else once
        every series is listed."""
        if self.req.symbols is None and not self.dry_run:
            self._start(archives)
            return
        self.found[series] = archives
        if len(self.found) == len(self.symbols) * len(self.req.intervals):
            self._start(self._after_listing())

    def _after_listing(self) -> list[Archive]:
        """All listings are in: an unknown symbol the user typed is bad input; missing intervals are
        warnings (with --symbols ALL a symbol may lack an interval, or only have archives outside the
        window: it is skipped)."""
        listed: list[Archive] = []
        for symbol in self.symbols:
            missing = [i for i in self.req.intervals if not self.found[symbol, i]]
            if self.req.symbols is not None:
                if len(missing) == len(self.req.intervals):
                    raise BadInput(why_absent(self.http, self.listing, self.req, symbol))
                for interval in missing:
                    log.warning("no %s %s %s archives are published", self.req.market, symbol, interval)
            for interval in self.req.intervals:
                listed.extend(self.found[symbol, interval])
        return listed

    def _start(self, listed: list[Archive]) -> None:
        todo = self.plan.add(listed, self.manifest, self.lake)
        self.summary.skipped += len(listed) - len(todo)
        self.summary.planned += len(todo)
        if self.dry_run or not todo:
            return
        self._check_base_serves(todo)
        self.progress.planned(len(todo))
        self.scheduler.submit(self.job, todo)

    def _check_base_serves(self, todo: list[Archive]) -> None:
        """A base URL that serves none of the archives the listing lists is set up wrong (e.g. a path
        too many): bad input, before anything is downloaded. The newest archive may legitimately lag
        behind the listing, so up to three spread over the plan are asked."""
        if self.base_checked or not todo:
            return
        self.base_checked = True
        ordered = sorted(todo, key=lambda a: a.period)
        probes = list(dict.fromkeys([ordered[0], ordered[len(ordered) // 2], ordered[-1]]))
        if not any(is_published(self.http, a.url(self.base)) for a in probes):
            raise BadInput(
                f"base URL {self.base} serves none of the archives the listing lists "
                f"({probes[0].url(self.base)} is HTTP 404): check --base-url / BINANCE_BASE_URL"
            )

    # --- results ------------------------------------------------------------------------------------

    def _finished(self, fut: Future[Fetched], archive: Archive) -> None:
        """One archive ended: the ledger counts it; a file in place is recorded, a monthly one that
        replaces daily files waits for the swap."""
        if self.ledger.taken(fut):
            return
        done = self.ledger.take(fut, archive)
        if done is not None:
            if self.swap.wants(archive, done):
                self.swap.add(archive, done)
                self.swap.replace(block=False)
            if done.pending is None:
                self.ledger.put(done.entry)
        if not isinstance(fut.exception(), Cancelled):
            self.progress.advance(self.summary.rows, self.summary.bytes)

    def _remove_empty_folders(self, archives: list[Archive]) -> None:
        """A failed archive may leave new empty month/symbol/interval folders; drop them (only empty
        ones, and never above the dataset's folder)."""
        root = contract.dataset_root(self.lake, self.req.dataset.name)
        for folder in {a.parquet_path(self.lake).parent for a in archives}:
            while folder != root and root in folder.parents:
                try:
                    folder.rmdir()  # only succeeds when empty
                except OSError:
                    break
                folder = folder.parent

    def _dry_run_summary(self) -> LoadSummary:
        for a in self.plan.todo:
            log.info("would load %s (%d bytes)", a.url(self.base), a.size)
        s = self.summary
        s.loaded = len(self.plan.todo)
        s.bytes = sum(a.size for a in self.plan.todo)
        s.removed = sum(len(dailies_of(a, self.lake)) for a in self.plan.todo + self.plan.leftovers)
        return s
