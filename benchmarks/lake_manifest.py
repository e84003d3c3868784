"""Manifests for the benchmarks' generated lakes: one row per Parquet file, as the loader writes them, so
dbt's incremental models see what a loaded lake would show them."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loaders import contract
from loaders.binance.manifest import SCHEMA


def _time_range(path: Path, column: str) -> tuple[datetime, datetime]:
    """First and last value of `column`, from the file's row-group statistics (no data read)."""
    meta = pq.read_metadata(path)
    index = meta.schema.names.index(column)
    stats = [meta.row_group(i).column(index).statistics for i in range(meta.num_row_groups)]
    return min(s.min for s in stats), max(s.max for s in stats)


def write_manifest(lake: Path, dataset: str) -> None:
    """(Re)write `dataset`'s manifest from the files in the lake. As with the loader, a file already
    listed keeps its loaded_at: only the files written since are what changed."""
    ds = contract.DATASETS[dataset]
    root = contract.dataset_root(lake, dataset)
    target = contract.manifest_path(lake, dataset)
    known: dict[str, datetime] = {}
    if target.is_file():
        old = pq.read_table(target, columns=["path", "loaded_at"]).to_pydict()
        known = dict(zip(old["path"], old["loaded_at"], strict=True))
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = []
    for f in sorted(root.rglob("*.parquet")):
        parts = dict(p.split("=", 1) for p in f.relative_to(root).parts[:-1])
        interval = parts.get("interval", "")
        period = f.stem[len(ds.stem(parts["symbol"], interval, "")) :]
        path = f.relative_to(lake).as_posix()
        first, last = _time_range(f, ds.time)
        rows.append(
            {
                "path": path,
                "url": f"https://data.binance.vision/generated/{f.stem}.zip",
                "dataset": dataset,
                "market": parts["market"],
                "symbol": parts["symbol"],
                "interval": interval,
                "period": period,
                "kind": "daily" if len(period) == 10 else "monthly",
                "sha256": "0" * 64,
                "checksum_verified": True,
                "size": f.stat().st_size,
                "etag": "",
                "last_modified": "",
                "rows": pq.read_metadata(f).num_rows,
                "first_open_time": first,
                "last_open_time": last,
                "loaded_at": known.get(path, now),
            }
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = contract.temp_path(target)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp, compression="zstd")
    os.replace(tmp, target)
