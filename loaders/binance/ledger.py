"""The load run's results: what each archive came to (loaded, failed, not served yet) counted in the
summary, and the manifest entries of the files put in place, saved on any exit of the run."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from loaders import config, contract
from loaders.binance.errors import ArchiveError, Cancelled, NotPublished
from loaders.binance.fetch import Fetched
from loaders.binance.manifest import Entry, Manifest, ManifestError
from loaders.binance.plan import Archive
from loaders.summary import RunSummary

log = logging.getLogger("loaders.binance")


@dataclass
class LoadSummary(RunSummary):
    """What a run did (the shape loaders/summary.py gives every loader command): `failures` holds one
    line per failure."""

    loaded: int = 0
    skipped: int = 0
    removed: int = 0  # daily files replaced by a monthly one
    planned: int = 0  # archives the run set out to load
    not_yet_served: int = 0  # the newest days the listing has and the base URL does not serve yet
    waited: float = 0.0  # seconds spent waiting for a dbt build to finish reading the lake
    rows: int = 0
    bytes: int = 0  # archive bytes downloaded
    symbols: int = 0

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        """No failure, and something loaded when anything besides the newest days was planned (a run
        that loads nothing of what it planned did not do its job)."""
        nothing = self.loaded == 0 and self.planned > self.not_yet_served and not self.dry_run
        return not self.failures and not nothing

    def fail(self, line: str) -> None:
        self.failures.append(line)

    def line(self) -> str:
        head = "dry run: would load" if self.dry_run else "loaded"
        return (
            f"{head} {self.loaded}, skipped {self.skipped}, failed {self.failed}, rows {self.rows}, "
            f"bytes {self.bytes}, symbols {self.symbols}, seconds {self.seconds:.1f}"
            + (f", replaced daily files {self.removed}" if self.removed else "")
            + (f", not yet served {self.not_yet_served}" if self.not_yet_served else "")
            + (f", waited for a dbt build {self.waited:.1f} s" if self.waited >= 0.1 else "")
        )


def _newest_day(archive: Archive) -> bool:
    """A daily archive of the last NEWEST_DAY_LAG_DAYS days (UTC)."""
    if archive.kind != contract.DAILY:
        return False
    today = datetime.now(timezone.utc).date()
    return date.fromisoformat(archive.period) >= today - timedelta(days=config.NEWEST_DAY_LAG_DAYS)


class Ledger:
    """The summary and the manifest of one run; each finished archive is taken once."""

    def __init__(self, manifest: Manifest, base_url: str, *, dry_run: bool) -> None:
        self.manifest, self.base, self.dry_run = manifest, base_url, dry_run
        self.summary = LoadSummary(dry_run=dry_run)
        self._taken: set[Future[Fetched]] = set()

    def taken(self, fut: Future[Fetched]) -> bool:
        return fut in self._taken

    def take(self, fut: Future[Fetched], archive: Archive) -> Fetched | None:
        """Count what the archive came to; its result when it loaded (None when it failed, was
        cancelled, or was taken already)."""
        if fut in self._taken:
            return None
        self._taken.add(fut)
        s = self.summary
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
                s.fail(f"{url}: listed but not served by the base URL (HTTP 404)")
                log.error("failed: %s", s.failures[-1])
        except ArchiveError as exc:
            s.fail(str(exc))
            log.error("failed: %s", exc)
        except Cancelled:
            return None
        except Exception as exc:  # a bug must not lose the other archives' results
            s.fail(f"{archive.url(self.base)}: {type(exc).__name__}: {exc}")
            log.exception("failed: %s", archive.url(self.base))
        else:
            s.loaded += 1
            s.rows += done.entry.rows
            s.bytes += done.entry.size
            return done
        return None

    def put(self, entry: Entry) -> None:
        """A file now in place."""
        self.manifest.put(entry)
        log.info("loaded %s: %d rows", entry.path, entry.rows)

    def removed(self, lake_dir: Path, daily: Path) -> None:
        self.manifest.remove(daily.relative_to(lake_dir).as_posix())

    def save(self) -> None:
        """Write what this run recorded (nothing on a dry run); a manifest that cannot be written is a
        FAILED line at the end, printed once."""
        if self.dry_run:
            return
        try:
            self.manifest.save()
        except ManifestError as exc:
            if str(exc) not in self.summary.failures:
                self.summary.fail(str(exc))
