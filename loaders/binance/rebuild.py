"""`python -m loaders.binance rebuild-manifest [--lake DIR] [--dataset D]`: a new manifest from the lake's
Parquet files, for a manifest that is lost or corrupt (the lake files are the truth).

Each entry comes from the file's path (dataset, market, interval, symbol, period, so the archive's URL)
and its content (rows, first and last row time). What only the download knew is marked unknown
(sha256 '', size -1, no ETag): the next load run downloads each archive again and verifies it against
its .CHECKSUM, and every entry is stamped now, so the next dbt build reads every file again. A file
whose name is not an archive's, or that is not readable Parquet, is named and left out.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loaders import cli_args, config, contract, locks
from loaders.binance.errors import os_reason
from loaders.binance.manifest import Entry, Manifest

_PERIOD = r"(\d{4}-\d{2}(?:-\d{2})?)"


def _entry(lake: Path, ds: contract.Dataset, file: Path, base_url: str, stamp: datetime) -> Entry | str:
    """The entry of one lake file, or why it is left out."""
    rel = file.relative_to(contract.dataset_root(lake, ds.name)).parts
    parts = dict(p.split("=", 1) for p in rel[:-1] if "=" in p)
    market, symbol, interval, month = (parts.get(k, "") for k in ("market", "symbol", "interval", "month"))
    expected = 4 if ds.has_interval else 3
    if len(rel) != expected + 1 or market not in contract.MARKETS or not symbol or not month:
        return "not in a market=/symbol=/month= folder of the lake"
    stem = re.escape(ds.stem(symbol, interval, "@")).replace("@", _PERIOD)
    found = re.fullmatch(rf"{stem}\.parquet", file.name)
    if not found or found[1][:7] != month:
        return "its name is not an archive's of that folder"
    period = found[1]
    try:
        table = pq.read_table(file, columns=[ds.time])
    except (pa.ArrowException, OSError) as exc:
        return f"not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    if table.num_rows == 0:
        return "holds no rows"
    span = pc.min_max(table.column(ds.time).cast(pa.timestamp("us")))
    kind = contract.DAILY if len(period) == 10 else contract.MONTHLY
    key = f"data/{contract.MARKETS[market]}/{kind}/{ds.name}/{symbol}/" + (f"{interval}/" if interval else "")
    return Entry(
        path=file.relative_to(lake).as_posix(),
        url=f"{base_url}/{key}{file.stem}.zip",
        dataset=ds.name,
        market=market,
        symbol=symbol,
        interval=interval,
        period=period,
        kind=kind,
        sha256="",  # unknown: the next run downloads and verifies the archive again
        checksum_verified=False,
        size=-1,
        etag="",
        last_modified="",
        rows=table.num_rows,
        first_open_time=span["min"].as_py(),
        last_open_time=span["max"].as_py(),
        loaded_at=stamp,
    )


def rebuild(lake: Path, ds: contract.Dataset, base_url: str) -> tuple[int, list[str], Path | None]:
    """Write the dataset's manifest from its lake files, under the manifest lock; the old file is kept
    as `<name>.old-<UTC time>`. Returns (entries, files left out with why, where the old one went)."""
    stamp = datetime.now(timezone.utc).replace(tzinfo=None)
    entries: dict[str, Entry] = {}
    left_out: list[str] = []
    root = contract.dataset_root(lake, ds.name)
    for file in sorted(root.rglob("*.parquet")) if root.is_dir() else []:
        got = _entry(lake, ds, file, base_url, stamp)
        if isinstance(got, str):
            left_out.append(f"{file}: {got}")
        else:
            entries[got.path] = got
    manifest = Manifest.__new__(Manifest)  # not read: the file on disk is what is being replaced
    manifest.lake, manifest.dataset, manifest.file = lake, ds.name, contract.manifest_path(lake, ds.name)
    old: Path | None = None
    with locks.exclusive(contract.manifest_lock_path(lake)):
        if manifest.file.exists():
            old = manifest.file.with_name(f"{manifest.file.name}.old-{stamp:%Y%m%dT%H%M%S}")
            os.replace(manifest.file, old)
        manifest._write(entries)
    return len(entries), left_out, old


EXAMPLES = """examples:
  # every dataset's manifest of the lake ($LAKE_DIR or ./lake); the old files are kept
  %(prog)s
  # one dataset's, of another lake
  %(prog)s --lake /data/lake --dataset klines
"""


def main(argv: list[str], prog: str = "python -m loaders.binance rebuild-manifest") -> int:
    p = cli_args.OneLineParser(
        prog=prog,
        description="Rebuild the manifest(s) from the lake's Parquet files (for a lost or corrupt one).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", choices=list(contract.DATASETS), help="only this dataset's manifest")
    cli_args.add_lake(p)
    args = p.parse_args(argv)
    lake = config.lake_dir(args.lake)
    if not lake.is_dir():
        print(f"error: lake {lake} is not a folder", file=sys.stderr)
        return 2
    names = (
        [args.dataset]
        if args.dataset
        else [n for n in contract.DATASETS if contract.dataset_root(lake, n).is_dir()]
    )
    if not names:
        print(f"error: lake {lake} holds no dataset folder to rebuild a manifest from", file=sys.stderr)
        return 2
    for name in names:
        try:
            count, left_out, old = rebuild(lake, contract.DATASETS[name], config.base_url())
        except OSError as exc:
            print(f"error: manifest {contract.manifest_path(lake, name)}: {os_reason(exc)}", file=sys.stderr)
            return 1
        for line in left_out:
            print(f"left out {line}", file=sys.stderr)
        print(
            f"rebuilt {contract.manifest_path(lake, name)}: {count} file(s)"
            + (f", old manifest kept as {old.name}" if old else "")
            + "; the next load run downloads and verifies each archive again"
        )
    return 0
