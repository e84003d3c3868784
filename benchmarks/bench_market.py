"""Benchmark of the market-wide marts (docs/features.md#market-wide) against the per-series regime mart.

A generated lake of 1d candles (`--symbols` spot USDT symbols x `--years` years from 2023-01-01, symbol 0
is the benchmark BTCUSDT; a fifth listed mid-way, a tenth delisted; returns share a market factor) is
built with `dbt run` (daily_source_interval 1d; regime_min_days so high that no regime-probability fit
runs: the fits are benchmarked by bench_regimes.py). Timed per model from dbt's run_results.json:

1. full: int_market__cross_section_daily + fct_market_daily + fct_symbol_market_daily against
   fct_regime_features_daily (goal: at most 2x), in the build of everything and again in a
   `--full-refresh` of just those four models;
2. incremental: one more day for every listed symbol (a new month file), then `dbt run` of the same
   selection (goal: the new models at most 10 % of their full build); then the same run with nothing
   new, the fixed cost of an incremental run.

Each step is its own command (each < 10 minutes on the shared machine); `all` runs them in turn:

    .venv/bin/python benchmarks/bench_market.py lake          # /tmp/bench_market/lake, 400 x 3 years
    .venv/bin/python benchmarks/bench_market.py full
    .venv/bin/python benchmarks/bench_market.py incremental
    .venv/bin/python benchmarks/bench_market.py all --symbols 40 --years 1   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.dbt_cli import run_dbt  # noqa: E402
from loaders import contract  # noqa: E402
from tests.regime_lake import finish, write_daily_series  # noqa: E402

FIRST_DAY = date(2023, 1, 1)
VARS = "{daily_source_interval: 1d, regime_min_days: 36600}"
MARKET_MODELS = ("int_market__cross_section_daily", "fct_market_daily", "fct_symbol_market_daily")
PER_SERIES_MART = "fct_regime_features_daily"
SELECTION = ("--select", "+fct_symbol_market_daily")


def symbol_name(i: int) -> str:
    return "BTCUSDT" if i == 0 else f"S{i:03d}XUSDT"


def universe(n_symbols: int, days: int, seed: int = 27) -> list[tuple[str, int, np.ndarray]]:
    """(symbol, first day index, returns through the last day + 1): a fifth listed mid-way, a tenth
    delisted (their returns stop early); every return = beta x a market factor + its own noise."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.03, size=days + 1)
    out = []
    for i in range(n_symbols):
        first = int(rng.integers(30, days // 2)) if i % 5 == 1 else 0
        last = int(rng.integers(days // 2, days - 30)) if i % 10 == 2 else days + 1
        beta = 1.0 if i == 0 else float(rng.uniform(0.5, 1.5))
        returns = beta * market + rng.normal(0.0, 0.02, size=days + 1)
        out.append((symbol_name(i), first, returns[first:last]))
    return out


def write_lake(lake: Path, n_symbols: int, days: int, extra_day: bool) -> None:
    """The lake through day `days - 1` (with `extra_day`: one day more, its month's files only)."""
    new_month = (FIRST_DAY + timedelta(days=days)).strftime("%Y-%m")
    for symbol, first, returns in universe(n_symbols, days):
        listed_through = first + returns.size  # one close per return plus the first close
        if extra_day:
            if listed_through >= days + 1:
                write_daily_series(lake, symbol, FIRST_DAY + timedelta(days=first), returns[: days - first],
                                   from_month=new_month)  # fmt: skip
        else:
            write_daily_series(lake, symbol, FIRST_DAY + timedelta(days=first), returns[: days - first - 1])
    finish(lake)


def remove_extra_day(lake: Path, days: int) -> None:
    """Put the lake back as the `lake` step left it (so `incremental` can run again)."""
    month = (FIRST_DAY + timedelta(days=days)).strftime("%Y-%m")
    root = contract.dataset_root(lake, "klines")
    for folder in root.rglob(f"month={month}"):
        shutil.rmtree(folder)
    finish(lake)


def node_seconds(work: Path) -> dict[str, float]:
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in results}


def timed_run(root: Path, name: str, *args: str) -> tuple[float, dict[str, float]]:
    work = root / f"work-{name}"
    seconds, _ = run_dbt(["run", "--vars", VARS, *args], lake=root / "lake", db=root / "warehouse.duckdb",
                         work=work)  # fmt: skip
    return seconds, node_seconds(work)


def summary(label: str, wall: float, nodes: dict[str, float]) -> dict[str, float]:
    market = round(sum(nodes.get(m, 0.0) for m in MARKET_MODELS), 2)
    out = {
        "wall_s": round(wall, 1),
        **{m: nodes.get(m) for m in (*MARKET_MODELS, PER_SERIES_MART)},
        "market_models_s": market,
        "market_vs_per_series_mart": round(market / nodes[PER_SERIES_MART], 2)
        if nodes.get(PER_SERIES_MART)
        else None,
    }
    print(f"{label}: {json.dumps(out)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("lake", "full", "incremental", "all"))
    ap.add_argument("--symbols", type=int, default=400)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--root", type=Path, default=Path("/tmp/bench_market"))
    args = ap.parse_args(argv)
    days = (date(FIRST_DAY.year + args.years, 1, 1) - FIRST_DAY).days
    results_path = args.root / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if args.step in ("lake", "all"):
        shutil.rmtree(args.root, ignore_errors=True)
        t0 = time.perf_counter()
        write_lake(args.root / "lake", args.symbols, days, extra_day=False)
        results = {"symbols": args.symbols, "days": days, "lake_s": round(time.perf_counter() - t0, 1)}
        print(f"lake: {args.symbols} symbols x {days} days in {results['lake_s']} s", flush=True)
    if args.step in ("full", "all"):
        (args.root / "warehouse.duckdb").unlink(missing_ok=True)
        run_dbt(["seed", "--vars", VARS], lake=args.root / "lake", db=args.root / "warehouse.duckdb",
                work=args.root / "work-seed")  # fmt: skip
        results["full_build"] = summary("full build of everything", *timed_run(args.root, "full", *SELECTION))
        results["full_refresh"] = summary(
            "full refresh of the four models",
            *timed_run(args.root, "refresh", "--full-refresh", "--select", PER_SERIES_MART, *MARKET_MODELS),
        )
        shutil.copy(args.root / "warehouse.duckdb", args.root / "warehouse-full.duckdb")
    if args.step in ("incremental", "all"):
        shutil.copy(args.root / "warehouse-full.duckdb", args.root / "warehouse.duckdb")
        write_lake(args.root / "lake", results["symbols"], results["days"], extra_day=True)
        try:
            inc = summary("incremental +1 day", *timed_run(args.root, "incremental", *SELECTION))
            # The same run again with nothing new: what every incremental run pays (dbt's per-model
            # statements, the scope queries) whatever it adds.
            results["nothing_new"] = summary(
                "incremental, nothing new", *timed_run(args.root, "noop", *SELECTION)
            )
        finally:
            remove_extra_day(args.root / "lake", results["days"])
        inc["vs_full_build"] = round(inc["market_models_s"] / results["full_build"]["market_models_s"], 3)
        inc["vs_full_refresh"] = round(inc["market_models_s"] / results["full_refresh"]["market_models_s"], 3)
        results["incremental"] = inc
        print(
            f"incremental market models / full: {inc['vs_full_build']} (build), {inc['vs_full_refresh']} (refresh)"
        )
    args.root.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(results, indent=2))
    print(f"results in {results_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
