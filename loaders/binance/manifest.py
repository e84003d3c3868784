"""The manifest: one row per archive in the lake, so re-runs skip what is loaded and unchanged.

Stored as Parquet at {lake}/binance/manifest/klines.parquet (readable by dbt as a source), rewritten
atomically. Keyed by the Parquet file's path relative to the lake.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loaders import config

SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # relative to the lake, e.g. binance/klines/market=spot/.../X.parquet
        ("url", pa.string()),
        ("market", pa.string()),
        ("symbol", pa.string()),
        ("interval", pa.string()),
        ("period", pa.string()),  # YYYY-MM or YYYY-MM-DD
        ("kind", pa.string()),  # monthly | daily
        ("sha256", pa.string()),
        ("checksum_verified", pa.bool_()),  # false when Binance had no .CHECKSUM for it
        ("size", pa.int64()),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("rows", pa.int64()),
        ("first_open_time", pa.timestamp("us")),
        ("last_open_time", pa.timestamp("us")),
        ("loaded_at", pa.timestamp("us")),  # UTC, no time zone attached (as the lake's timestamps)
    ]
)


@dataclass
class Entry:
    path: str
    url: str
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


class Manifest:
    """In-memory view of the manifest file; save() writes it back only when something changed."""

    def __init__(self, lake: Path) -> None:
        self.lake = lake
        self.file = config.manifest_path(lake)
        self.entries: dict[str, Entry] = {}
        self.dirty = False
        if self.file.is_file():
            for row in pq.read_table(self.file).to_pylist():
                known = {k: row.get(k) for k in SCHEMA.names}
                self.entries[known["path"]] = Entry(**known)

    def get(self, path: str) -> Entry | None:
        return self.entries.get(path)

    def put(self, entry: Entry) -> None:
        self.entries[entry.path] = entry
        self.dirty = True

    def remove(self, path: str) -> None:
        if self.entries.pop(path, None) is not None:
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        rows = [asdict(e) for e in sorted(self.entries.values(), key=lambda e: e.path)]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = config.temp_path(self.file)
        try:
            pq.write_table(table, tmp, compression=config.PARQUET_COMPRESSION)
            os.replace(tmp, self.file)
        finally:
            tmp.unlink(missing_ok=True)
        self.dirty = False
