"""One archive, start to finish in a worker thread: download, verify, convert, put its file in place.
What it returns (`Fetched`) is what the run's ledger records."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loaders import contract
from loaders.binance.convert import convert_zip
from loaders.binance.download import download
from loaders.binance.errors import ArchiveError, os_reason
from loaders.binance.manifest import Entry
from loaders.binance.plan import Archive, dailies_of
from loaders.binance.transport import Http

log = logging.getLogger("loaders.binance")


@dataclass(frozen=True)
class Fetched:
    entry: Entry
    pending: Path | None  # the new file, still at its temporary name: it replaces daily files


def _to_dt(micros: int) -> datetime:
    """Naive UTC datetime (the lake's convention) from epoch microseconds, exactly."""
    return datetime(1970, 1, 1) + timedelta(microseconds=micros)


def fetch(archive: Archive, lake_dir: Path, base_url: str, http: Http, cancel: threading.Event) -> Fetched:
    """Download, verify and convert one archive, then put its file in place (the old one, if any,
    stays until the new one is complete). A monthly file whose month holds daily files is left at
    its temporary name for the run to swap in under the readers lock. Disk errors fail the archive;
    `cancel` stops the conversion at its next batch."""
    url = archive.url(base_url)
    out = archive.parquet_path(lake_dir)
    tmp = contract.temp_path(out)
    zip_tmp = contract.temp_path(out.with_suffix(".zip"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        got = download(http, url, zip_tmp)
        try:
            conv = convert_zip(zip_tmp, archive.stem, tmp, contract.DATASETS[archive.dataset], cancel)
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
    return Fetched(entry, pending)
