"""The load run: check the request and the lake, discover, plan (loaders/binance/plan.py), then execute:
download + convert in parallel, replace daily files by monthly ones, record everything in the manifest,
summarise."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests
from tqdm import tqdm

from loaders import config, contract, locks
from loaders.binance.convert import convert_zip
from loaders.binance.download import download, is_published
from loaders.binance.errors import ArchiveError, BadInput, Cancelled, Interrupted, NotPublished, os_reason
from loaders.binance.manifest import Entry, Manifest, ManifestError
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
from loaders.binance.transport import Http

log = logging.getLogger("loaders.binance")


@dataclass
class LoadSummary:
    """What a run did. `failed == 0` is success; `failures` holds one line per failure."""

    loaded: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0  # daily files replaced by a monthly one
    planned: int = 0  # archives the run set out to load
    not_yet_served: int = 0  # the newest days the listing has and the base URL does not serve yet
    waited: float = 0.0  # seconds spent waiting for a dbt build to finish reading the lake
    rows: int = 0
    bytes: int = 0  # archive bytes downloaded
    symbols: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """No failure, and something loaded when anything besides the newest days was planned (a run
        that loads nothing of what it planned did not do its job)."""
        nothing = self.loaded == 0 and self.planned > self.not_yet_served and not self.dry_run
        return self.failed == 0 and not nothing

    def line(self) -> str:
        head = "dry run: would load" if self.dry_run else "loaded"
        return (
            f"{head} {self.loaded}, skipped {self.skipped}, failed {self.failed}, rows {self.rows}, "
            f"bytes {self.bytes}, symbols {self.symbols}, seconds {self.seconds:.1f}"
            + (f", replaced daily files {self.removed}" if self.removed else "")
            + (f", not yet served {self.not_yet_served}" if self.not_yet_served else "")
            + (f", waited for a dbt build {self.waited:.1f} s" if self.waited >= 0.1 else "")
        )


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
    discovery fails, Interrupted on Ctrl-C (after recording what finished). Archives that fail are
    reported in the summary while the others load. `progress=None` shows the bar only on a terminal."""
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
    http = http or Http()
    http.cancel = threading.Event()  # this run's: an Http may outlive an interrupted run
    if stall_seconds is not None:
        http.stall_seconds = stall_seconds
    _check_reachable(http, base + "/", "base URL")
    _check_reachable(http, listing + "?prefix=data%2F&delimiter=%2F&max-keys=1", "listing URL")
    run = _Run(req, lake_path, manifest, base, listing, http, workers, dry_run=dry_run, progress=progress)
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


def _newest_day(archive: Archive) -> bool:
    """A daily archive of the last NEWEST_DAY_LAG_DAYS days (UTC)."""
    if archive.kind != contract.DAILY:
        return False
    today = datetime.now(timezone.utc).date()
    return date.fromisoformat(archive.period) >= today - timedelta(days=config.NEWEST_DAY_LAG_DAYS)


def _to_dt(micros: int) -> datetime:
    """Naive UTC datetime (the lake's convention) from epoch microseconds, exactly."""
    return datetime(1970, 1, 1) + timedelta(microseconds=micros)


@dataclass(frozen=True)
class _Done:
    entry: Entry
    pending: Path | None  # the new file, still at its temporary name: it replaces daily files


def _process(archive: Archive, lake_dir: Path, base_url: str, http: Http) -> _Done:
    """Download, verify and convert one archive, then put its file in place (the old one, if any,
    stays until the new one is complete). A monthly file whose month holds daily files is left at
    its temporary name for the run to swap in under the readers lock. Disk errors fail the archive."""
    url = archive.url(base_url)
    out = archive.parquet_path(lake_dir)
    tmp = contract.temp_path(out)
    zip_tmp = contract.temp_path(out.with_suffix(".zip"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        got = download(http, url, zip_tmp)
        try:
            conv = convert_zip(zip_tmp, archive.stem, tmp, contract.DATASETS[archive.dataset], http.cancel)
        except ArchiveError as exc:
            raise ArchiveError(f"{url}: {exc}") from exc
        pending = tmp if dailies_of(archive, lake_dir) else None
        if pending is None:
            os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArchiveError(f"{url}: {os_reason(exc)}") from exc
    finally:
        zip_tmp.unlink(missing_ok=True)
    if conv.repaired:
        log.warning("%s: duplicate or unsorted rows; wrote %d sorted unique rows", url, conv.rows)
    entry = Entry(
        path=archive.lake_key(lake_dir),
        url=url,
        dataset=archive.dataset,
        market=archive.market,
        symbol=archive.symbol,
        interval=archive.interval,
        period=archive.period,
        kind=archive.kind,
        sha256=got.sha256,
        checksum_verified=got.verified,
        size=got.size,
        etag=archive.etag,
        last_modified=archive.last_modified,
        rows=conv.rows,
        first_open_time=_to_dt(conv.first_time),
        last_open_time=_to_dt(conv.last_time),
        loaded_at=datetime.now(timezone.utc).replace(tzinfo=None),  # re-stamped when saved
    )
    return _Done(entry, pending)


class _Run:
    """One run's execution: listings and archives share one pool of `workers` threads. With explicit
    symbols every listing finishes first (an unknown symbol is bad input before anything is written);
    with --symbols ALL the symbols come from the listing, so archives start downloading as soon as
    their series is listed."""

    def __init__(
        self,
        req: Request,
        lake_dir: Path,
        manifest: Manifest,
        base: str,
        listing: str,
        http: Http,
        workers: int,
        *,
        dry_run: bool,
        progress: bool | None,
    ) -> None:
        self.req, self.lake, self.base, self.listing, self.http = req, lake_dir, base, listing, http
        self.workers, self.dry_run = workers, dry_run
        self.summary = LoadSummary(dry_run=dry_run)
        self.manifest = manifest
        self.plan = Plan()
        self.base_checked = False
        # Monthly archives (with their new file, if not in place yet) that replace daily files.
        self.replacing: list[tuple[Archive, _Done | None]] = []
        self.symbols: list[str] = []
        self.handled: set[Future[_Done]] = set()
        self.bar = tqdm(
            unit="archive",
            file=sys.stderr,
            disable=(not sys.stderr.isatty()) if progress is None else not progress,
            dynamic_ncols=True,
            total=0,
        )

    # --- discovery and planning ---------------------------------------------------------------------

    def _symbols(self) -> list[str]:
        if self.req.symbols is not None:
            return list(self.req.symbols)
        found = discover_symbols(self.http, self.listing, self.req)
        if not found:
            raise BadInput(f"no {self.req.market} {self.req.dataset.name} symbols match the filters")
        log.info("%d %s %s symbols in the listing", len(found), self.req.market, self.req.dataset.name)
        return found

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

    # --- execution --------------------------------------------------------------------------------------

    def execute(self) -> LoadSummary:
        symbols = self.symbols = self._symbols()
        self.summary.symbols = len(symbols)
        series = [(s, i) for s in symbols for i in self.req.intervals]
        streaming = self.req.symbols is None and not self.dry_run
        if not self.dry_run:
            clean_stale_temps(self.lake, self.req.dataset.name)
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="binance")
        listings: dict[Future[list[Archive]], tuple[str, str]] = {}
        archives: dict[Future[_Done], Archive] = {}
        found: dict[tuple[str, str], list[Archive]] = {}
        last_flush = time.monotonic()
        try:
            # Finished futures arrive on a queue: O(1) each, where wait() over a thousand pending
            # futures costs O(pending) per completion.
            done: queue.SimpleQueue[Future] = queue.SimpleQueue()
            outstanding = 0

            def track(futures: Iterable[Future]) -> None:
                nonlocal outstanding
                for fut in futures:
                    outstanding += 1
                    fut.add_done_callback(done.put)

            for s, i in series:
                listings[pool.submit(discover, self.http, self.listing, self.req, s, i)] = (s, i)
            track(listings)
            while outstanding:
                try:
                    fut = done.get(timeout=1.0)
                except queue.Empty:
                    fut = None
                if fut is not None:
                    outstanding -= 1
                    if fut in listings:
                        found[listings[fut]] = fut.result()
                        if streaming:
                            track(self._submit(pool, archives, found.pop(listings[fut])))
                        elif len(found) == len(series):
                            track(self._submit(pool, archives, self._after_listing(found)))
                    else:
                        self._finished(fut, archives[fut])
                if time.monotonic() - last_flush > config.MANIFEST_FLUSH_SECONDS:
                    self._save_manifest()
                    last_flush = time.monotonic()
        except KeyboardInterrupt:
            self._interrupted(pool, archives)
        except BaseException:
            self.http.abort()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            self.bar.close()
        pool.shutdown(wait=True)
        if self.dry_run:
            return self._dry_run_summary()
        self.replacing.extend((a, None) for a in self.plan.leftovers)
        try:
            self._replace_dailies(block=True)
        except KeyboardInterrupt:
            dropped = self._discard_pending()
            self._save_manifest()
            raise Interrupted(
                f"interrupted while waiting for a dbt build: {self.summary.loaded - dropped} archive(s) "
                f"loaded and kept, {dropped} monthly file(s) discarded; run again to load the rest"
            ) from None
        self._save_manifest()
        self._remove_empty_folders(self.plan.todo)
        return self.summary

    def _after_listing(self, found: dict[tuple[str, str], list[Archive]]) -> list[Archive]:
        """All listings are in: an unknown symbol the user typed is bad input; missing intervals are
        warnings (with --symbols ALL a symbol may lack an interval, or only have archives outside the
        window: it is skipped)."""
        listed: list[Archive] = []
        for symbol in self.symbols:
            missing = [i for i in self.req.intervals if not found[symbol, i]]
            if self.req.symbols is not None:
                if len(missing) == len(self.req.intervals):
                    raise BadInput(why_absent(self.http, self.listing, self.req, symbol))
                for interval in missing:
                    log.warning("no %s %s %s archives are published", self.req.market, symbol, interval)
            for interval in self.req.intervals:
                listed.extend(found[symbol, interval])
        return listed

    def _submit(self, pool: ThreadPoolExecutor, archives: dict, listed: list[Archive]) -> set[Future]:
        todo = self.plan.add(listed, self.manifest, self.lake)
        self.summary.skipped += len(listed) - len(todo)
        self.summary.planned += len(todo)
        if self.dry_run or not todo:
            return set()
        self._check_base_serves(todo)
        self.bar.total += len(todo)
        self.bar.refresh()
        # Largest first: a big archive started last would leave the other workers idle at the end.
        by_size = sorted(todo, key=lambda a: a.size, reverse=True)
        futures = {pool.submit(_process, a, self.lake, self.base, self.http): a for a in by_size}
        archives.update(futures)
        return set(futures)

    def _finished(self, fut: Future[_Done], archive: Archive) -> None:
        s = self.summary
        self.handled.add(fut)
        try:
            done = fut.result()
        except NotPublished:
            url = archive.url(self.base)
            if _newest_day(archive):  # Binance's listing is ahead of its CDN for the newest days
                s.not_yet_served += 1
                log.warning(
                    "%s: listed but not served yet (Binance's lag on the newest day); the next run loads it",
                    url,
                )
            else:
                s.failed += 1
                s.failures.append(f"{url}: listed but not served by the base URL (HTTP 404)")
                log.error("failed: %s", s.failures[-1])
        except ArchiveError as exc:
            s.failed += 1
            s.failures.append(str(exc))
            log.error("failed: %s", exc)
        except Cancelled:
            return
        except Exception as exc:  # a bug must not lose the other archives' results
            s.failed += 1
            s.failures.append(f"{archive.url(self.base)}: {type(exc).__name__}: {exc}")
            log.exception("failed: %s", archive.url(self.base))
        else:
            entry = done.entry
            s.loaded += 1
            s.rows += entry.rows
            s.bytes += entry.size
            if done.pending is not None or (
                archive.kind == contract.MONTHLY and dailies_of(archive, self.lake)
            ):
                self.replacing.append((archive, done))
                self._replace_dailies(block=False)
            if done.pending is None:
                self.manifest.put(entry)
                log.info("loaded %s: %d rows", entry.path, entry.rows)
        self.bar.update(1)
        self.bar.set_postfix_str(f"{s.rows:,} rows, {s.bytes / 1e6:,.1f} MB", refresh=False)

    def _replace_dailies(self, *, block: bool) -> None:
        """Put monthly files in place of their month's daily files (and update the manifest), under
        the readers lock, so a dbt build never sees a month with both, nor a file vanish under it.
        While a build reads the lake the swap waits: until the next archive finishes, and at the end
        of the run until the build is done (saying so)."""
        if not self.replacing:
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
            len(self.replacing),
        )
        started = time.monotonic()
        with locks.exclusive(lock):
            self.summary.waited += time.monotonic() - started
            self._swap_in()

    def _swap_in(self) -> None:
        for archive, done in self.replacing:
            try:
                if done is not None and done.pending is not None:
                    os.replace(done.pending, archive.parquet_path(self.lake))
                    self.manifest.put(done.entry)
                    log.info("loaded %s: %d rows", done.entry.path, done.entry.rows)
                dailies = dailies_of(archive, self.lake)
                for daily in dailies:
                    daily.unlink(missing_ok=True)
                    self.manifest.remove(daily.relative_to(self.lake).as_posix())
            except OSError as exc:
                self.summary.failed += 1
                self.summary.failures.append(f"{archive.url(self.base)}: {os_reason(exc)}")
                continue
            self.summary.removed += len(dailies)
            if dailies:
                log.info("%s: monthly file replaces %d daily file(s)", archive.stem, len(dailies))
        self.replacing.clear()

    def _cannot_swap(self, reason: str) -> None:
        """The readers lock cannot be taken at all: the monthly files are dropped (the daily ones
        stay, recorded), each a FAILED line naming the lock."""
        for archive, done in self.replacing:
            self.summary.failed += 1
            self.summary.failures.append(f"{archive.url(self.base)}: {reason}")
            if done is not None and done.pending is not None:
                self.summary.loaded -= 1
        self._discard_pending()

    def _discard_pending(self) -> int:
        """Interrupted before a swap: the converted monthly files are dropped (the next run redoes them)."""
        dropped = 0
        for _archive, done in self.replacing:
            if done is not None and done.pending is not None:
                done.pending.unlink(missing_ok=True)
                dropped += 1
        self.replacing.clear()
        return dropped

    def _save_manifest(self) -> None:
        try:
            self.manifest.save()
        except ManifestError as exc:
            if str(exc) not in self.summary.failures:  # printed once, as a FAILED line at the end
                self.summary.failed += 1
                self.summary.failures.append(str(exc))

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

    def _interrupted(self, pool: ThreadPoolExecutor, archives: dict[Future[_Done], Archive]) -> None:
        """Ctrl-C: shut every download's socket, drop what has not started, give the running archives
        a moment to finish their atomic write or clean up, record what finished, then report."""
        not_started = sum(1 for f in archives if f.cancel())  # before abort frees the workers
        pool.shutdown(wait=False, cancel_futures=True)
        self.http.abort()
        wait([f for f in archives if not f.done()], timeout=config.CANCEL_GRACE_SECONDS)
        for fut, archive in archives.items():
            if fut.done() and not fut.cancelled() and fut not in self.handled:
                self._finished(fut, archive)
        dropped = self._discard_pending()
        self.summary.loaded -= dropped
        with contextlib.suppress(ManifestError):
            self.manifest.save()
        s = self.summary
        discarded = sum(
            1
            for f in archives
            if not f.cancelled() and (not f.done() or isinstance(f.exception(), Cancelled))
        )
        pool.shutdown(wait=True)  # every worker has seen the cancel by now: join them before exit
        raise Interrupted(
            f"interrupted: {s.loaded} archive(s) loaded and kept, {discarded} in progress discarded, "
            f"{not_started} not started; run again to load the rest"
        )

    def _dry_run_summary(self) -> LoadSummary:
        for a in self.plan.todo:
            log.info("would load %s (%d bytes)", a.url(self.base), a.size)
        s = self.summary
        s.loaded = len(self.plan.todo)
        s.bytes = sum(a.size for a in self.plan.todo)
        s.removed = sum(len(dailies_of(a, self.lake)) for a in self.plan.todo + self.plan.leftovers)
        return s
