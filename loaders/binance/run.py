"""The load run: validate, discover, skip what the manifest says is current, download + convert the rest
in parallel, replace daily files by monthly ones, record everything in the manifest, summarise."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests
from tqdm import tqdm

from loaders import config
from loaders.binance.convert import convert_zip
from loaders.binance.download import download
from loaders.binance.errors import ArchiveError, BadInput, NotPublished
from loaders.binance.manifest import Entry, Manifest
from loaders.binance.plan import Archive, discover, in_window, validate
from loaders.binance.transport import Http

log = logging.getLogger("loaders.binance")


@dataclass
class LoadSummary:
    """What a run did. `failed == 0` is success; `failures` holds one line per failed archive."""

    loaded: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0  # daily files replaced by a monthly one
    rows: int = 0
    bytes: int = 0  # archive bytes downloaded
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    loaded_paths: list[Path] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def line(self) -> str:
        head = "dry run: would load" if self.dry_run else "loaded"
        return (
            f"{head} {self.loaded}, skipped {self.skipped}, failed {self.failed}, rows {self.rows}, "
            f"bytes {self.bytes}, seconds {self.seconds:.1f}"
            + (f", replaced daily files {self.removed}" if self.removed else "")
        )


@dataclass(frozen=True)
class _Done:
    archive: Archive
    entry: Entry


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


def clean_stale_temps(lake: Path) -> int:
    """Remove temporary files a killed run left behind (`.*.tmp-<pid>` of pids no longer running)."""
    removed = 0
    for root in (config.klines_root(lake), config.manifest_path(lake).parent):
        if not root.is_dir():
            continue
        for tmp in root.rglob(".*.tmp-*"):
            pid_text = tmp.name.rsplit(".tmp-", 1)[-1]
            if pid_text.isdigit() and int(pid_text) != os.getpid() and _alive(int(pid_text)):
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


def _rel(lake: Path, path: Path) -> str:
    return path.relative_to(lake).as_posix()


def _unchanged(archive: Archive, entry: Entry | None, parquet: Path) -> bool:
    """Loaded before and Binance has not replaced it since (size, and ETag or Last-Modified)."""
    if entry is None or not parquet.is_file() or entry.size != archive.size:
        return False
    if archive.etag and entry.etag:
        return archive.etag == entry.etag
    return archive.last_modified == entry.last_modified


def _dailies_of(archive: Archive, lake: Path) -> list[Path]:
    """Daily Parquet files in the month of a monthly archive (which replaces them)."""
    folder = archive.parquet_path(lake).parent
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{archive.symbol}-{archive.interval}-{archive.month}-??.parquet"))


def _to_dt(micros: int) -> datetime:
    """Naive UTC datetime (the lake's convention) from epoch microseconds, exactly."""
    return datetime(1970, 1, 1) + timedelta(microseconds=micros)


def _process(archive: Archive, lake: Path, base_url: str, http: Http) -> _Done:
    """Download, verify and convert one archive; the old Parquet file (if any) stays until the new one
    is complete."""
    url = archive.url(base_url)
    out = archive.parquet_path(lake)
    out.parent.mkdir(parents=True, exist_ok=True)
    zip_tmp = config.temp_path(out.with_suffix(".zip"))
    try:
        got = download(http, url, zip_tmp)
        try:
            conv = convert_zip(zip_tmp, archive.stem, out)
        except ArchiveError as exc:
            raise ArchiveError(f"{url}: {exc}") from exc
    finally:
        zip_tmp.unlink(missing_ok=True)
    entry = Entry(
        path=_rel(lake, out),
        url=url,
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
        first_open_time=_to_dt(conv.first_open_time),
        last_open_time=_to_dt(conv.last_open_time),
        loaded_at=datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0),
    )
    if conv.repaired:
        log.warning("%s: duplicate or unsorted rows; wrote %d sorted unique rows", url, conv.rows)
    return _Done(archive, entry)


def _remove_dailies(archive: Archive, lake: Path, manifest: Manifest) -> int:
    """The monthly file of this month is in place: drop the month's daily files (and their rows in the
    manifest)."""
    removed = 0
    for daily in _dailies_of(archive, lake):
        daily.unlink(missing_ok=True)
        manifest.remove(_rel(lake, daily))
        removed += 1
    if removed:
        log.info("%s: monthly file replaces %d daily file(s)", archive.stem, removed)
    return removed


def load(
    market: str,
    symbols: list[str] | tuple[str, ...] | str,
    intervals: list[str] | tuple[str, ...] | str,
    start: str | date | None = None,
    end: str | date | None = None,
    lake: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    listing_url: str | None = None,
    workers: int = config.DEFAULT_WORKERS,
    *,
    dry_run: bool = False,
    progress: bool | None = None,
    http: Http | None = None,
) -> LoadSummary:
    """Load Binance kline archives into the lake; see the README's "Loading" section.

    Raises BadInput (nothing written) for a wrong request, LoadError when discovery fails. Archives
    that fail are reported in the summary (and logged) while the others load. `progress=None` shows
    the bar only on a terminal."""
    t0 = time.monotonic()
    req = validate(market, symbols, intervals, start, end)
    if not isinstance(workers, int) or not 1 <= workers <= 64:
        raise BadInput(f"--workers must be between 1 and 64, not {workers!r}")
    lake_path = config.lake_dir(lake)
    if lake_path.exists() and not lake_path.is_dir():
        raise BadInput(f"lake {lake_path} exists and is not a folder")
    base = (base_url or config.base_url()).rstrip("/")
    listing = (listing_url or config.listing_url()).rstrip("/")
    http = http or Http()
    _check_reachable(http, base + "/", "base URL")
    _check_reachable(http, listing + "?prefix=data%2F&delimiter=%2F&max-keys=1", "listing URL")

    # Discovery first, so bad symbols fail before anything is written. The listings are round trips
    # to the bucket (several pages for daily files), so they run --workers at a time.
    pairs = [(symbol, interval) for symbol in req.symbols for interval in req.intervals]
    with ThreadPoolExecutor(max_workers=min(workers, len(pairs)), thread_name_prefix="listing") as lister:
        found = dict(
            zip(pairs, lister.map(lambda p: discover(http, listing, req.market, *p), pairs), strict=True)
        )
    planned: list[Archive] = []
    for symbol in req.symbols:
        missing = []
        for interval in req.intervals:
            archives = found[symbol, interval]
            if not archives:
                missing.append(interval)
            planned.extend(a for a in archives if in_window(a, req.start, req.end))
        if len(missing) == len(req.intervals):
            raise BadInput(
                f"unknown symbol {symbol!r}: no {req.market} archives for intervals {' '.join(req.intervals)}"
            )
        for interval in missing:
            log.warning("no %s %s %s archives are published", req.market, symbol, interval)

    summary = LoadSummary(dry_run=dry_run)
    manifest = Manifest(lake_path)
    todo: list[Archive] = []
    for a in planned:
        if _unchanged(a, manifest.get(_rel(lake_path, a.parquet_path(lake_path))), a.parquet_path(lake_path)):
            summary.skipped += 1
        else:
            todo.append(a)
    # Monthly files already in place whose dailies are still there (a run killed between the two steps).
    leftovers = [a for a in planned if a.kind == "monthly" and a not in todo and _dailies_of(a, lake_path)]

    if dry_run:
        for a in todo:
            log.info("would load %s (%d bytes)", a.url(base), a.size)
        summary.loaded = len(todo)
        summary.bytes = sum(a.size for a in todo)
        summary.removed = sum(len(_dailies_of(a, lake_path)) for a in planned if a.kind == "monthly")
        summary.seconds = time.monotonic() - t0
        return summary

    clean_stale_temps(lake_path)
    for a in leftovers:
        summary.removed += _remove_dailies(a, lake_path, manifest)
    manifest.save()

    log.info(
        "%d archive(s) to load, %d already loaded and unchanged (%s %s %s)",
        len(todo),
        summary.skipped,
        req.market,
        " ".join(req.symbols),
        " ".join(req.intervals),
    )
    bar = tqdm(
        total=len(todo),
        unit="archive",
        file=sys.stderr,
        disable=(not sys.stderr.isatty()) if progress is None else not progress,
        dynamic_ncols=True,
    )
    last_flush = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="binance")
    futures: dict[Future[_Done], Archive] = {}
    try:
        # Largest first: a big archive started last would leave the other workers idle at the end.
        by_size = sorted(todo, key=lambda a: a.size, reverse=True)
        futures = {pool.submit(_process, a, lake_path, base, http): a for a in by_size}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in done:
                archive = futures[fut]
                try:
                    result = fut.result()
                except NotPublished as exc:
                    # Listed but not downloadable (listing ahead of the CDN): try again next run.
                    summary.skipped += 1
                    log.warning("%s", exc)
                except ArchiveError as exc:
                    summary.failed += 1
                    summary.failures.append(str(exc))
                    log.error("failed: %s", exc)
                except Exception as exc:  # a bug must not lose the other archives' results
                    summary.failed += 1
                    summary.failures.append(f"{archive.url(base)}: {type(exc).__name__}: {exc}")
                    log.exception("failed: %s", archive.url(base))
                else:
                    manifest.put(result.entry)
                    summary.loaded += 1
                    summary.rows += result.entry.rows
                    summary.bytes += result.entry.size
                    summary.loaded_paths.append(lake_path / result.entry.path)
                    log.info("loaded %s: %d rows", result.entry.path, result.entry.rows)
                    if archive.kind == "monthly":
                        summary.removed += _remove_dailies(archive, lake_path, manifest)
                bar.update(1)
                bar.set_postfix_str(f"{summary.rows:,} rows, {summary.bytes / 1e6:,.1f} MB", refresh=False)
            if time.monotonic() - last_flush > config.MANIFEST_FLUSH_SECONDS:
                manifest.save()
                last_flush = time.monotonic()
    except BaseException:
        # Interrupted: stop queued archives; running ones finish their atomic write or clean up.
        pool.shutdown(wait=True, cancel_futures=True)
        for fut, _archive in futures.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                manifest.put(fut.result().entry)
        manifest.save()
        raise
    finally:
        bar.close()
    pool.shutdown(wait=True)
    manifest.save()
    # A failed archive may leave its new month folder empty; drop such folders (now that no worker can
    # be about to write into one).
    for folder in {a.parquet_path(lake_path).parent for a in todo}:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty
    summary.seconds = time.monotonic() - t0
    return summary
