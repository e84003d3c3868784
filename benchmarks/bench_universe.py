"""Benchmark: loading many small archives from a CDN that is far away, and listing a large market.

Real users fetch from data.binance.vision ~50-200 ms away; the loader hides that latency behind
`--workers` (a keep-alive session per worker, listings and downloads overlapped). This serves 1,000
small daily archives (50 symbols x 20 days of 1h candles) from the test suite's Binance server with
50 ms added to every answer, and loads them all with `--symbols ALL` at `--workers 1, 4, 8, 16` (each
run its own process, a fresh lake). The latency bound of a run is requests x 50 ms / workers, with the
requests counted by the server. Then it lists a 1,500-symbol market (`--symbols ALL --dry-run`).

    .venv/bin/python benchmarks/bench_universe.py                    # ~4 min
    .venv/bin/python benchmarks/bench_universe.py --latency 0.02 --workers 4 8   # quicker
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.measure import run_measured  # noqa: E402
from tests.fixtures.binance_server import BinanceServer, kline_table  # noqa: E402


def symbols(n: int, quote: str = "USDT") -> list[str]:
    return ["".join(chr(65 + (i // 26**k) % 26) for k in range(3)) + "X" + quote for i in range(n)]


def small_market(root: Path, n_symbols: int, days: int) -> None:
    server = BinanceServer(root)
    for i, symbol in enumerate(symbols(n_symbols)):
        for d in range(days):
            day = f"2026-10-{d + 1:02d}"
            server.add_klines("spot", symbol, "1h", day, kline_table("1h", day, seed=i * 100 + d))


def large_market(root: Path, n_symbols: int) -> None:
    server = BinanceServer(root)
    table = kline_table("1d", "2026-09", seed=1)
    for symbol in symbols(n_symbols):
        server.add_klines("spot", symbol, "1d", "2026-09", table)


def load(
    server: BinanceServer, lake: Path, workers: int, interval: str, *extra: str
) -> tuple[float, int, str]:
    """One loader run in its own process: (wall seconds, requests the server answered, summary)."""
    server.reset_log()
    m = run_measured(
        [sys.executable, "-m", "loaders.binance", "--symbols", "ALL", "--intervals", interval,
         "--workers", str(workers), "--lake", str(lake), "--quiet",
         "--base-url", server.base_url, "--listing-url", server.listing_url, *extra]
    )  # fmt: skip
    if m.exit_code != 0:
        raise SystemExit(f"loader failed: {m.stderr[-2000:]}")
    return m.seconds, len(server.requests), m.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--latency", type=float, default=0.05, help="seconds added to every answer (default 0.05)")
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--days", type=int, default=20)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--large-market", type=int, default=1500, help="symbols of the listed market (0: skip)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out" / "universe.json")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_universe-"))
    results: dict = {"latency_s": args.latency, "archives": args.symbols * args.days, "runs": []}
    try:
        small_market(work / "small", args.symbols, args.days)
        with BinanceServer(work / "small", latency=args.latency) as server:
            for workers in args.workers:
                lake = work / f"lake-{workers}"
                seconds, requests, summary = load(server, lake, workers, "1h")
                bound = requests * args.latency / workers
                results["runs"].append(
                    {"workers": workers, "seconds": seconds, "requests": requests, "bound_s": bound,
                     "vs_bound": seconds / bound, "summary": summary}
                )  # fmt: skip
                print(f"--workers {workers:>2}: {seconds:6.2f} s, {requests} requests, latency bound "
                      f"{bound:5.2f} s ({seconds / bound:.2f}x) | {summary}", flush=True)  # fmt: skip
                shutil.rmtree(lake)
        base = next((r for r in results["runs"] if r["workers"] == 1), None)
        if base:
            for r in results["runs"]:
                r["speedup_vs_1"] = base["seconds"] / r["seconds"]
        if args.large_market:
            large_market(work / "large", args.large_market)
            with BinanceServer(work / "large", latency=args.latency) as server:
                seconds, requests, summary = load(server, work / "lake-large", 16, "1d", "--dry-run")
            results["large_market"] = {"symbols": args.large_market, "workers": 16, "seconds": seconds,
                                       "requests": requests, "summary": summary}  # fmt: skip
            print(f"listing a {args.large_market}-symbol market, --workers 16: {seconds:.2f} s, "
                  f"{requests} requests | {summary}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"results in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
