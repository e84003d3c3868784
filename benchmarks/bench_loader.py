"""Benchmark of the Binance loader against a bare-unzip floor and a pandas pipeline, in one run.

Generates Binance-style archives (12 months of 1m candles and one month of 1s candles per symbol,
zipped like Binance with .CHECKSUM files), serves them from the local Binance server on 127.0.0.1, then
runs each pipeline as its own child process (wall time; CPU time from wait4; peak RSS of its process
tree sampled from /proc):

- floor: the `unzip` program on the same archives from local disk to disk, --workers at a time
  (`xargs -P`, no Python: the CSV bytes out, nothing else), plus one at a time, and decompression alone
  (`unzip -p` to /dev/null) for reference;
- loader: `python -m loaders.binance` (download over loopback, sha256, convert, atomic write, manifest),
  with --workers 2 and with its default 4;
- pandas: download, `pandas.read_csv` + `DataFrame.to_parquet` (zstd), --workers threads: the seed's way.

Then the loader alone with one worker on archives of growing size (a 1m day, a 1m month, the 1s
month) to show memory stays flat.

    .venv/bin/python benchmarks/bench_loader.py                 # full run (~3 min on 2 quiet cores, +1 min the first time)
    .venv/bin/python benchmarks/bench_loader.py --symbols BTCUSDT --months 2 --repeat 1   # quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.measure import run_measured  # noqa: E402

# The test fixtures (pyarrow, numpy) are imported where they are used, not here: the unzip floor runs this
# file as its child process, and ~0.4 s of imports there would flatter every ratio to the floor.


@dataclass
class Result:
    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    rows: int
    zip_mb: float
    csv_mb: float
    exit_code: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def zip_mb_per_s(self) -> float:
        return self.zip_mb / self.seconds


# --- data ------------------------------------------------------------------------------------------


def generate(data: Path, symbols: list[str], months: int) -> list[str]:
    """Archives in a bucket folder (cached between runs by a marker naming the set). Returns keys."""
    from tests.fixtures.binance_server import BinanceServer, archive_key

    server = BinanceServer(data)
    periods_1m = [f"2024-{m:02d}" for m in range(1, months + 1)]
    keys = [archive_key("spot", s, "1m", p) for s in symbols for p in periods_1m]
    keys += [archive_key("spot", s, "1s", "2025-02") for s in symbols]
    keys += [archive_key("spot", symbols[0], "1m", "2024-12-31")]  # one daily file, for the flatness runs
    marker = data / f".generated-{'-'.join(symbols)}-{months}"
    if marker.exists():
        return keys
    for i, s in enumerate(symbols):
        for j, p in enumerate(periods_1m):
            server.add_klines("spot", s, "1m", p, seed=100 * i + j)
        print(f"generating {s} 1s 2025-02 ...", file=sys.stderr, flush=True)
        server.add_klines("spot", s, "1s", "2025-02", unit="us", seed=100 * i + 99)
    server.add_klines("spot", symbols[0], "1m", "2024-12-31", seed=7)
    marker.touch()
    return keys


def csv_size_and_rows(data: Path, keys: list[str]) -> tuple[int, int]:
    """Uncompressed CSV bytes and data rows of the archives (rows = newlines; no headers in spot)."""
    size = rows = 0
    for key in keys:
        with zipfile.ZipFile(data / key) as zf:
            info = zf.infolist()[0]
            size += info.file_size
            with zf.open(info) as f:
                while chunk := f.read(1 << 22):
                    rows += chunk.count(b"\n")
    return size, rows


AGG_TRADES_KEY = "data/futures/um/monthly/aggTrades/BTCUSDT/BTCUSDT-aggTrades-2025-03.zip"


def generate_agg_trades_month(data: Path, gigabytes: float) -> tuple[int, int]:
    """A USD-M aggTrades month of about `gigabytes` GB of CSV (Binance's header, ms times, 2025-03),
    written straight into a zip member a million rows at a time so the generator's memory stays flat
    too; with its .CHECKSUM. Cached by a marker naming the size. Returns (CSV bytes, rows)."""
    import hashlib

    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from tests.fixtures.derivatives import FUTURES_AGG_TRADES_HEADER

    path = data / AGG_TRADES_KEY
    marker = path.with_name(f".generated-{gigabytes}")
    if marker.exists():
        csv_bytes, rows = (int(x) for x in marker.read_text().split())
        return csv_bytes, rows
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(15)
    start_ms, month_ms = 1_740_787_200_000, 31 * 86_400_000  # 2025-03-01T00:00Z, 31 days
    chunk, written, rows, price = 1_000_000, 0, 0, 85_000.0
    target = int(gigabytes * 1e9)
    names = FUTURES_AGG_TRADES_HEADER.split(",")
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("BTCUSDT-aggTrades-2025-03.csv", "w", force_zip64=True) as member,
    ):
        # ~66 bytes a row: the row count that makes `gigabytes`, spread evenly over the month.
        total = max(chunk, target // 66)
        while rows < total:
            n = min(chunk, total - rows)
            ids = 3_000_000_000 + rows + np.arange(n, dtype=np.int64)
            steps = np.cumsum(rng.normal(0, 0.5, n))
            prices = np.round(price + steps, 1)
            price = float(prices[-1])
            first = 6_000_000_000 + 3 * ids
            times = start_ms + (rows + np.arange(n, dtype=np.int64)) * month_ms // total
            table = pa.table(
                [
                    ids,
                    prices,
                    np.round(rng.exponential(0.05, n), 3),
                    first,
                    first + rng.integers(0, 3, n),
                    np.minimum(times, start_ms + month_ms - 1),
                    rng.random(n) < 0.5,
                ],
                names=names,
            )
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=rows == 0, quoting_style="none"))
            buf = sink.getvalue()
            member.write(buf)
            written += buf.size
            rows += n
            print(f"generating aggTrades: {written / 1e9:.2f} GB", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    Path(f"{path}.CHECKSUM").write_text(f"{digest.hexdigest()}  {path.name}\n")
    marker.write_text(f"{written} {rows}")
    return written, rows


# --- child processes ---------------------------------------------------------------------------------


def run_child(
    name: str, cmd: list[str], rows: int, zip_mb: float, csv_mb: float, env: dict[str, str] | None = None
) -> Result:
    m = run_measured(cmd, env)
    if m.exit_code != 0:
        print(f"{name} failed ({m.exit_code}):\n{m.stderr[-2000:]}", file=sys.stderr)
    return Result(name, m.seconds, m.cpu_seconds, m.peak_rss_mb, rows, zip_mb, csv_mb, m.exit_code)


def child_pandas(args: argparse.Namespace) -> None:
    """The seed's pipeline: download, pandas.read_csv of the zip, to_parquet (zstd), `workers` threads."""
    import io

    import pandas as pd
    import requests

    from tests.fixtures.binance_server import CSV_COLUMNS as CSV_NAMES

    out = Path(args.out)
    keys = Path(args.keys).read_text().split()

    def one(key: str) -> None:
        data = requests.get(f"{args.base_url}/{key}", timeout=60).content
        df = pd.read_csv(io.BytesIO(data), compression="zip", header=None, names=CSV_NAMES)
        df = df.drop(columns=["ignore"])
        unit = "us" if df["open_time"].iloc[0] >= 10**14 else "ms"
        for col in ("open_time", "close_time"):
            df[col] = pd.to_datetime(df[col], unit=unit)
        df = df.drop_duplicates("open_time").sort_values("open_time")
        df.to_parquet(out / (Path(key).stem + ".parquet"), compression="zstd", index=False)

    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(one, keys))


# --- main ----------------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--symbols", nargs="+", default=["BTCUSDT", "ETHUSDT"])
    p.add_argument("--months", type=int, default=12, help="months of 1m archives per symbol")
    p.add_argument("--workers", type=int, default=2, help="parallel unzips / pandas threads (2 = the cores)")
    p.add_argument(
        "--loader-workers",
        nargs="+",
        default=["2", "4"],
        help="loader --workers values to run (4 = its default)",
    )
    p.add_argument(
        "--data", default=str(Path(tempfile.gettempdir()) / "bench_loader_data"), help="archive cache"
    )
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument("--repeat", type=int, default=3, help="rounds of the comparison; the best of each is kept")
    p.add_argument("--json", help="also write the results here")
    p.add_argument(
        "--baseline",
        help="another checkout (e.g. a git worktree of an older commit): its loader runs in the same "
        "rounds, with the default workers, so a change is compared in one run",
    )
    p.add_argument(
        "--agg-trades-gb",
        type=float,
        default=0,
        help="also load a generated USD-M aggTrades month of this many GB of CSV with one worker (peak RSS "
        "must stay flat; 3 takes ~3 min to generate the first time, cached under --data)",
    )
    p.add_argument("--child", choices=["pandas"], help=argparse.SUPPRESS)
    p.add_argument("--keys", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "pandas":
        child_pandas(args)
        return 0
    from tests.fixtures.binance_server import BinanceServer, archive_key

    data = Path(args.data)
    keys = generate(data, args.symbols, args.months)
    main_keys = [k for k in keys if not k.endswith("-2024-12-31.zip")]
    zip_mb = sum((data / k).stat().st_size for k in main_keys) / 1e6
    csv_bytes, rows = csv_size_and_rows(data, main_keys)
    csv_mb = csv_bytes / 1e6
    print(
        f"{len(main_keys)} archives, {zip_mb:.0f} MB zipped, {csv_mb:.0f} MB CSV, {rows:,} rows",
        file=sys.stderr,
    )

    work = Path(tempfile.mkdtemp(prefix="bench_loader_"))
    results: list[Result] = []
    # Every pipeline is served by the same HTTP server; its page size is Binance's.
    with BinanceServer(data, page_size=1000) as server:
        # The test server computes each file's ETag (an md5) on first listing; do that now, outside
        # the timed runs (Binance's CDN does not spend our cores on it).
        for folder in sorted({k.rsplit("/", 1)[0] + "/" for k in keys}):
            server.list_objects_xml(folder, "/", "", 1000)
        keyfile = work / "keys.txt"
        keyfile.write_text("\n".join(main_keys))
        me = [sys.executable, str(Path(__file__).resolve())]

        def fresh(name: str) -> Path:
            d = work / name
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            return d

        loader_cmd = [
            *(sys.executable, "-m", "loaders.binance", "--symbols", *args.symbols, "--intervals", "1m", "1s"),
            *("--start", "2024-01", "--end", "2025-02", "--quiet"),
            *("--base-url", server.base_url, "--listing-url", server.listing_url),
        ]

        # The two daily files of 2024-12 would be skipped anyway (the monthly file wins); keep the set equal.
        # The floor is the `unzip` program alone, --workers at a time (xargs -P): to disk, as the loader
        # writes its output to disk, or to /dev/null (decompression alone). Each command gets the
        # output folder as its last argument.
        def xargs(workers: str, *cmd: str) -> list[str]:
            return ["xargs", "-a", str(keyfile), "-P", workers, "-I{}", *cmd]

        to_disk = ("unzip", "-o", "-q", f"{data}/{{}}", "-d")
        to_null = ("sh", "-c", 'unzip -p "$0" > /dev/null', f"{data}/{{}}")
        w = str(args.workers)
        runs = [
            (f"unzip to disk, {w} in parallel (floor)", xargs(w, *to_disk)),
            ("unzip to disk, 1 at a time", xargs("1", *to_disk)),
            (f"unzip -p > /dev/null, {w} in parallel (decompression alone)", xargs(w, *to_null)),
        ]
        runs += [
            (f"loader, --workers {lw}", [*loader_cmd, "--workers", lw, "--lake"])
            for lw in args.loader_workers
        ]
        if args.baseline:
            runs.append(
                (f"baseline loader ({args.baseline}), --workers 4", [*loader_cmd, "--workers", "4", "--lake"])
            )
        if not args.skip_pandas:
            runs.append(
                (
                    f"pandas read_csv + to_parquet, {args.workers} threads",
                    [
                        *me,
                        "--child",
                        "pandas",
                        "--keys",
                        str(keyfile),
                        "--base-url",
                        server.base_url,
                        "--workers",
                        str(args.workers),
                        "--out",
                    ],
                )
            )
        # Rounds interleave the pipelines, and each keeps its best round: the machine is shared, and
        # other load only ever makes a run slower.
        best: dict[str, Result] = {}
        for round_no in range(args.repeat):
            for name, cmd in runs:
                out = fresh("run")
                print(f"round {round_no + 1}: {name}", file=sys.stderr, flush=True)
                env = (
                    {"PYTHONPATH": str(Path(args.baseline).resolve())}
                    if name.startswith("baseline")
                    else None
                )
                r = run_child(name, [*cmd, str(out)], rows, zip_mb, csv_mb, env)
                if name not in best or r.seconds < best[name].seconds or r.exit_code:
                    best[name] = r
                shutil.rmtree(out, ignore_errors=True)
        results.extend(best[name] for name, _ in runs)

        # Flat memory: one worker, archives of growing size.
        sym = args.symbols[0]
        flat = [
            (
                "1m day (1,440 rows)",
                ["1m", "--start", "2024-12-31", "--end", "2024-12-31"],
                "2024-12-31",
                "1m",
            ),
            ("1m month (44,640 rows)", ["1m", "--start", "2024-01", "--end", "2024-01"], "2024-01", "1m"),
            ("1s month (2,419,200 rows)", ["1s"], "2025-02", "1s"),
        ]
        # The 2024-12-31 daily file is shadowed by the 2024-12 monthly one: serve it alone for that run.
        monthly_dec = data / archive_key("spot", sym, "1m", "2024-12")
        hidden = monthly_dec.with_name(monthly_dec.name + ".hidden")
        for name, interval_args, period, interval in flat:
            key = archive_key("spot", sym, interval, period)
            size = (data / key).stat().st_size / 1e6
            csv_size, n = csv_size_and_rows(data, [key])
            csv_size /= 1e6
            if period == "2024-12-31" and monthly_dec.exists():
                monthly_dec.rename(hidden)
            try:
                cmd = [
                    *(
                        sys.executable,
                        "-m",
                        "loaders.binance",
                        "--symbols",
                        sym,
                        "--intervals",
                        *interval_args,
                    ),
                    *(
                        "--quiet",
                        "--workers",
                        "1",
                        "--base-url",
                        server.base_url,
                        "--listing-url",
                        server.listing_url,
                    ),
                    *("--lake", str(fresh("flat"))),
                ]
                print(f"flat memory: {name}", file=sys.stderr, flush=True)
                results.append(run_child(f"loader, 1 worker, {name}", cmd, n, size, csv_size))
            finally:
                if hidden.exists():
                    hidden.rename(monthly_dec)
        if args.agg_trades_gb:
            csv_bytes, n = generate_agg_trades_month(data, args.agg_trades_gb)
            size = (data / AGG_TRADES_KEY).stat().st_size / 1e6
            cmd = [
                *(sys.executable, "-m", "loaders.binance", "--dataset", "aggTrades", "--market", "um"),
                *("--symbols", "BTCUSDT", "--start", "2025-03", "--end", "2025-03", "--quiet", "--workers", "1"),
                *("--base-url", server.base_url, "--listing-url", server.listing_url, "--lake", str(fresh("agg"))),
            ]  # fmt: skip
            name = f"aggTrades month ({n:,} rows, {csv_bytes / 1e9:.1f} GB CSV)"
            print(f"flat memory: {name}", file=sys.stderr, flush=True)
            results.append(run_child(f"loader, 1 worker, {name}", cmd, n, size, csv_bytes / 1e6))
    shutil.rmtree(work, ignore_errors=True)

    floor = results[0].seconds
    print()
    cpu_floor = results[0].cpu_seconds
    print(
        "| pipeline | wall s | wall vs floor | CPU s | CPU vs floor | rows/s | zip MB/s | CSV MB/s | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        same = r.rows == rows
        ratio = f"{r.seconds / floor:.2f}x" if same else ""
        cpu_ratio = f"{r.cpu_seconds / cpu_floor:.2f}x" if same else ""
        print(
            f"| {r.name}{'' if r.exit_code == 0 else ' (FAILED)'} | {r.seconds:.2f} | {ratio} | "
            f"{r.cpu_seconds:.2f} | {cpu_ratio} | {r.rows_per_s:,.0f} | "
            f"{r.zip_mb_per_s:.1f} | {r.csv_mb / r.seconds:.1f} | {r.peak_rss_mb:.0f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
