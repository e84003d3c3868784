"""The manifest: one row per archive in the lake, so re-runs skip what is loaded and unchanged and dbt
knows what changed since its last build.

One Parquet file per dataset at {lake}/binance/manifest/{dataset}.parquet (a dbt source), keyed by the
Parquet file's path relative to the lake. Several loaders may run on one lake at once (see
docs/failure-contract.md), so a save never overwrites what others recorded: under an exclusive lock on
{lake}/binance/manifest/.lock it re-reads the file, applies this run's own additions and removals, and
replaces the file atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loaders import config, contract, locks
from loaders.binance.errors import ManifestUnreadable, os_reason

SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # relative to the lake, e.g. binance/klines/market=spot/.../X.parquet
        ("url", pa.string()),
        ("dataset", pa.string()),  # Binance's name: klines, fundingRate, metrics, ...
        ("market", pa.string()),
        ("symbol", pa.string()),
        ("interval", pa.string()),  # '' for datasets without intervals
        ("period", pa.string()),  # YYYY-MM or YYYY-MM-DD
        ("kind", pa.string()),  # monthly | daily
        ("sha256", pa.string()),
        ("checksum_verified", pa.bool_()),  # false when Binance had no .CHECKSUM for it
        ("size", pa.int64()),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("rows", pa.int64()),
        # First and last row time in the file (open_time for kline-format datasets, else the dataset's
        # time column); the names are the klines manifest's, kept so old lakes read the same.
        ("first_open_time", pa.timestamp("us")),
        ("last_open_time", pa.timestamp("us")),
        # When the entry was saved (UTC, no time zone attached): assigned under the manifest lock, later
        # than every entry already there (see _next_stamp).
        ("loaded_at", pa.timestamp("us")),
        # Size in bytes of the lake's Parquet file when the entry was saved: dbt compares it with the
        # file it finds, so a file replaced without its entry (a loader killed in between) is rebuilt.
        # Null in manifests written before it existed.
        ("file_size", pa.int64()),
    ]
)


@dataclass
class Entry:
    path: str
    url: str
    dataset: str
    market: str
    symbol: str
    interval: str
    period: str
    kind: str
    sha256: str
    checksum_verified: bool
    size: int
    etag: str
    last_modified: str
    rows: int
    first_open_time: datetime
    last_open_time: datetime
    loaded_at: datetime
    file_size: int | None = None  # set by Manifest.save from the file in the lake


class ManifestError(RuntimeError):
    """The manifest could not be written (disk full, read-only lake, its lock unusable, or it was
    corrupted by someone else during the run): the run reports it as a failure."""


# Old klines manifests have no `dataset` column; every other column must be there.
# Columns older manifests lack: dataset (klines-only manifests), file_size (recorded since 2026-12).
_OPTIONAL = {"dataset", "file_size"}
REBUILD_COMMAND = "python -m loaders.binance rebuild-manifest"


def unreadable(file: Path, why: str) -> ManifestUnreadable:
    """One line: the file, what is wrong, and what to do (the lake files are the truth)."""
    lake = file.parents[2]
    return ManifestUnreadable(
        f"manifest {file} {why}: rebuild it from the lake files with "
        f"`{REBUILD_COMMAND} --lake {lake} --dataset {file.stem}` (the old one is kept beside it)"
    )


def _read_table(file: Path) -> pa.Table:
    """The manifest as a table of SCHEMA's columns and types; ManifestUnreadable when it is not one."""
    if file.is_dir():
        raise unreadable(file, "is a folder, not a file")
    try:
        table = pq.read_table(file)
    except pa.ArrowException as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise unreadable(file, f"cannot be read ({os_reason(exc)})") from exc
        raise unreadable(file, f"is not a readable Parquet file ({str(exc).splitlines()[0]})") from exc
    except OSError as exc:
        raise unreadable(file, f"cannot be read ({os_reason(exc)})") from exc
    missing = [n for n in SCHEMA.names if n not in table.schema.names and n not in _OPTIONAL]
    if missing:
        raise unreadable(file, f"is not a loader manifest (no column {missing[0]!r})")
    fields = [f for f in SCHEMA if f.name in table.schema.names]
    try:
        table = table.select([f.name for f in fields]).cast(pa.schema(fields))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise unreadable(file, f"is not a loader manifest (wrong column types: {exc})") from exc
    if table.column("path").null_count:
        raise unreadable(file, "is not a loader manifest (rows without a path)")
    return table


def read_entries(file: Path, dataset: str) -> dict[str, Entry]:
    """The entries of a manifest file ({} when it does not exist); ManifestUnreadable when the file is
    not a manifest. Old klines manifests have no `dataset` column: it is the file's dataset."""
    if not file.exists() and not file.is_symlink():
        return {}
    entries: dict[str, Entry] = {}
    for row in _read_table(file).to_pylist():
        known = {k: row.get(k) for k in SCHEMA.names}
        known["dataset"] = known["dataset"] or dataset
        known["interval"] = known["interval"] or ""
        entries[known["path"]] = Entry(**known)
    return entries


def _next_stamp(entries: Iterable[Entry]) -> datetime:
    """loaded_at for the entries saved now: the time of the save, and later than every entry already
    there. dbt rebuilds what was loaded after the latest loaded_at it has seen, so an entry must never
    become visible with an older stamp than one a build has already seen (two loaders, one lake)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    latest = max((e.loaded_at for e in entries if e.loaded_at is not None), default=None)
    return now if latest is None or now > latest else latest + timedelta(microseconds=1)


def _file_size(file: Path) -> int | None:
    """The size of an entry's lake file now (it is in place before its entry is saved)."""
    try:
        return file.stat().st_size
    except FileNotFoundError:
        return None


class Manifest:
    """This run's view of one dataset's manifest: what was on disk when it was read, plus this run's
    own changes, which save() merges into whatever is on disk by then."""

    def __init__(self, lake_dir: Path, dataset: str) -> None:
        self.lake = lake_dir
        self.dataset = dataset
        self.file = contract.manifest_path(lake_dir, dataset)
        self.entries = read_entries(self.file, dataset)
        self._puts: dict[str, Entry] = {}
        self._removes: set[str] = set()

    @property
    def dirty(self) -> bool:
        return bool(self._puts or self._removes)

    def get(self, path: str) -> Entry | None:
        return self.entries.get(path)

    def put(self, entry: Entry) -> None:
        self.entries[entry.path] = entry
        self._puts[entry.path] = entry
        self._removes.discard(entry.path)

    def remove(self, path: str) -> None:
        self.entries.pop(path, None)
        self._puts.pop(path, None)
        self._removes.add(path)

    def save(self) -> None:
        """Merge this run's changes into the manifest on disk, under the lake's manifest lock."""
        if not self.dirty:
            return
        try:
            with locks.exclusive(contract.manifest_lock_path(self.lake)):
                merged = read_entries(self.file, self.dataset)
                for path in self._removes:
                    merged.pop(path, None)
                stamp = _next_stamp(merged.values())
                for path, entry in self._puts.items():
                    entry.loaded_at = stamp
                    entry.file_size = _file_size(self.lake / path)
                    merged[path] = entry
                self._write(merged)
        except locks.LockUnusable as exc:
            raise ManifestError(f"manifest {self.file}: {exc}") from exc
        except ManifestUnreadable as exc:
            raise ManifestError(str(exc)) from exc
        except OSError as exc:
            raise ManifestError(f"manifest {self.file}: {os_reason(exc)}") from exc
        self.entries = merged
        self._puts.clear()
        self._removes.clear()

    def _write(self, entries: dict[str, Entry]) -> None:
        rows = [asdict(e) for e in sorted(entries.values(), key=lambda e: e.path)]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        tmp = contract.temp_path(self.file)
        try:
            pq.write_table(table, tmp, compression=config.PARQUET_COMPRESSION)
            os.replace(tmp, self.file)
        finally:
            tmp.unlink(missing_ok=True)
