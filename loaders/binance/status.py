"""`python -m loaders.binance status [--json] [--market M] [--dataset D] [--lake DIR]`: what the lake
holds, from the lake and its manifests alone (no network).

Per market, dataset, interval and symbol: first and last day with rows, archives (manifest rows),
rows, and the gaps inside that range (days with no row; for 3d/1w/1mo candles, the candles missing).
Files in the lake that no manifest lists are counted too (a loader that was killed, or a lake copied
by hand): dbt rebuilds them, and the next loader run records them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from loaders import cli_args, config, contract
from loaders.binance.errors import BadInput
from loaders.binance.manifest import read_entries

_LONG_INTERVALS = {"3d": 3, "1w": 7}  # days per candle; 1mo is calendar months


@dataclass
class Series:
    market: str
    dataset: str
    interval: str
    symbol: str
    first_day: str | None = None
    last_day: str | None = None
    archives: int = 0
    rows: int = 0
    days_missing: int = 0
    missing: list[str] = field(default_factory=list)  # "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"
    files_not_in_manifest: int = 0


def _ranges(days: list[date]) -> list[str]:
    out: list[str] = []
    start = prev = None
    for d in days:
        if prev is not None and d == prev + timedelta(days=1):
            prev = d
            continue
        if start is not None:
            out.append(str(start) if start == prev else f"{start}..{prev}")
        start = prev = d
    if start is not None:
        out.append(str(start) if start == prev else f"{start}..{prev}")
    return out


def _missing(present: list[date], interval: str) -> list[date]:
    """Periods without rows between the first and the last present one: days, or for 3d/1w/1mo
    candles the open dates of the candles missing."""
    if not present:
        return []
    first, last = present[0], present[-1]
    have = set(present)
    if interval == "1mo":
        expected, d = [], first
        while d <= last:
            expected.append(d)
            d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    else:
        step = _LONG_INTERVALS.get(interval, 1)
        expected = [first + timedelta(days=k) for k in range(0, (last - first).days + 1, step)]
    return [d for d in expected if d not in have]


def _lake_days(
    lake_dir: Path, ds: contract.Dataset
) -> Iterator[tuple[tuple[str, str, str], list[date], int, set[str]]]:
    """Per series: its distinct row days, its rows and its files, read from the lake with DuckDB."""
    pattern = (lake_dir / ds.file_glob()).as_posix().replace("'", "''")
    con = duckdb.connect()
    try:
        if not con.execute(f"select count(*) from glob('{pattern}')").fetchone()[0]:
            return
        interval = "interval" if ds.has_interval else "''"
        rows = _query(
            con,
            lake_dir,
            ds,
            f"""
            select market, {interval} as interval, symbol,
                list(distinct cast({ds.time} as date) order by cast({ds.time} as date)),
                count(*), list(distinct filename)
            from read_parquet('{pattern}', hive_partitioning = true, hive_types_autocast = false,
                filename = true)
            group by all
            """,
        )
    finally:
        con.close()
    for market, interval_code, symbol, days, n, files in rows:
        yield (market, interval_code, symbol), days, n, set(files)


def _query(con: duckdb.DuckDBPyConnection, lake_dir: Path, ds: contract.Dataset, sql: str) -> list[tuple]:
    """The query's rows; when DuckDB cannot read the lake, BadInput naming the file that is not
    readable Parquet (or lacks the dataset's time column), else DuckDB's first line."""
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        for file in sorted(lake_dir.glob(ds.file_glob())):
            try:
                schema = pq.read_schema(file)
            except (pa.ArrowException, OSError) as bad:
                why = str(bad).splitlines()[0] if str(bad) else type(bad).__name__
                raise BadInput(
                    f"lake file {file} is not readable Parquet ({why}): move it away or re-load it"
                ) from exc
            if ds.time not in schema.names:
                raise BadInput(f"lake file {file} has no {ds.time} column: not a {ds.name} file") from exc
            # DuckDB takes the column types from the first file it opens and names the next file that
            # differs, which is the good one when the odd file sorts first: compare with the contract.
            for expected in ds.schema:
                if expected.name in schema.names and not schema.field(expected.name).type.equals(
                    expected.type
                ):
                    raise BadInput(
                        f"lake file {file}: column {expected.name} is {schema.field(expected.name).type}, "
                        f"the lake contract says {expected.type}: not written by the loader; re-load it"
                    ) from exc
        raise BadInput(f"cannot read the {ds.name} lake files: {str(exc).splitlines()[0]}") from exc


def collect(lake_dir: Path, market: str | None = None, dataset: str | None = None) -> list[Series]:
    out: list[Series] = []
    for ds in contract.DATASETS.values():
        if dataset not in (None, ds.name) or not contract.dataset_root(lake_dir, ds.name).is_dir():
            continue
        entries = read_entries(contract.manifest_path(lake_dir, ds.name), ds.name)
        by_series: dict[tuple[str, str, str], list[str]] = {}
        for e in entries.values():
            by_series.setdefault((e.market, e.interval or "", e.symbol), []).append(e.path)
        for (m, interval, symbol), days, n, files in _lake_days(lake_dir, ds):
            if market not in (None, m):
                continue
            listed = {(lake_dir / p).as_posix() for p in by_series.get((m, interval, symbol), [])}
            gaps = _missing(days, interval)
            out.append(
                Series(
                    market=m,
                    dataset=ds.name,
                    interval=interval,
                    symbol=symbol,
                    first_day=str(days[0]),
                    last_day=str(days[-1]),
                    archives=len(by_series.get((m, interval, symbol), [])),
                    rows=n,
                    days_missing=len(gaps),
                    missing=_ranges(gaps),
                    files_not_in_manifest=len({Path(f).as_posix() for f in files} - listed),
                )
            )
    return sorted(out, key=lambda s: (s.market, s.dataset, s.interval, s.symbol))


def render(series: list[Series]) -> str:
    head = ("market", "dataset", "interval", "symbol", "first", "last", "archives", "rows", "missing")
    lines = [head]
    for s in series:
        gaps = ", ".join(s.missing[:3]) + (f" (+{len(s.missing) - 3} more)" if len(s.missing) > 3 else "")
        lines.append(
            (
                s.market,
                s.dataset,
                s.interval or "-",
                s.symbol,
                s.first_day or "",
                s.last_day or "",
                f"{s.archives}"
                + (f" (+{s.files_not_in_manifest} unrecorded)" if s.files_not_in_manifest else ""),
                f"{s.rows:,}",
                f"{s.days_missing}" + (f": {gaps}" if gaps else ""),
            )
        )
    widths = [max(len(row[k]) for row in lines) for k in range(len(head) - 1)]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in lines
    ]
    total_missing = sum(s.days_missing for s in series)
    text.append(
        f"{len(series)} series, {sum(s.rows for s in series):,} rows, {total_missing} periods missing"
    )
    return "\n".join(text)


EXAMPLES = """examples:
  # every series: first and last day, archives, rows, the days missing
  %(prog)s
  # the same as JSON, for one market and dataset
  %(prog)s --json --market um --dataset metrics
  # exit 1 when a series is stale or has gaps from that day on (cron, CI)
  %(prog)s --check --since 2026-01-01
"""


def main(argv: list[str], prog: str = "python -m loaders.binance status") -> int:
    p = cli_args.OneLineParser(
        prog=prog,
        description="What the lake holds, per market, dataset, interval and symbol (no network).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--market", choices=list(contract.MARKETS), help="only this market")
    p.add_argument("--dataset", choices=list(contract.DATASETS), help="only this dataset")
    cli_args.add_lake(p)
    p.add_argument("--check", action="store_true", help="exit 1 when a series is stale or has gaps")
    p.add_argument("--since", type=date.fromisoformat, metavar="DATE", help="--check: only gaps from DATE on")
    p.add_argument("--max-lag", type=int, default=1, metavar="DAYS", help="--check: days allowed behind")
    args = p.parse_args(argv)
    lake_dir = config.lake_dir(args.lake)
    try:
        if reason := config.glob_characters_in(lake_dir):
            raise BadInput(reason)
        if not lake_dir.is_dir():
            what = "is a file, not a folder" if lake_dir.exists() else "does not exist"
            raise BadInput(f"lake {lake_dir} {what} (load into it: python -m loaders.binance --symbols ...)")
        series = collect(lake_dir, args.market, args.dataset)
    except BadInput as exc:  # an unreadable manifest or lake file too: one line naming it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"lake": lake_dir.as_posix(), "series": [asdict(s) for s in series]}, sys.stdout, indent=2)
        print()
    elif not series:
        print(f"{lake_dir}: no lake files yet (run `python -m loaders.binance --symbols ...`)")
    else:
        print(render(series))
    if args.check:  # docs/operations.md, "Freshness": the rule lives in loaders/binance/freshness.py
        from loaders.binance.freshness import check_problems, now

        problems = check_problems(series, now(), args.since, args.max_lag)
        print("\n".join(problems) or "check: every series is fresh, no gaps", file=sys.stderr)
        return 1 if problems else 0
    return 0
