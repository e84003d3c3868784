"""Benchmark of the regime spells marts (docs/regimes.md, "Spells, transitions and outcomes"):
fct_regime_spells, fct_regime_transitions, fct_market_regime_transitions and fct_regime_outcomes.

A generated lake of `--symbols` spot symbols x `--years` years of 1d candles (two-state Markov-switching
returns, tests/regime_lake.py, so every series changes regime often), then real `dbt run`s of the
project (vars daily_source_interval 1d; regime_min_days 36600, so the regime-probability fits, timed by
benchmarks/bench_regimes.py, stay out):

1. full build on a warehouse holding only the seeds;
2. incremental: one more day for every symbol (each series' last month file rewritten), `dbt run`.

Per run: the wall time of the whole `dbt run`, and from run_results.json each spells mart's execution
time and that of fct_regime_features_daily, the per-series regime mart the goal compares with (spells
marts together <= 2x its full build; an incremental run <= 10 % of a full one). fct_regime_spells is
incremental (from each series' last spell); the other three are tables rebuilt whole on every run, so
their incremental time is a full rebuild over one more day.

    .venv/bin/python benchmarks/bench_spells.py                         # 400 symbols x 3 years
    .venv/bin/python benchmarks/bench_spells.py --symbols 50 --years 1  # a quick look
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dbt_cli import run_dbt
from tests.regime_lake import finish, markov_returns, month_of, write_daily_series

SPELLS_MARTS = (
    "fct_regime_spells",
    "fct_regime_transitions",
    "fct_market_regime_transitions",
    "fct_regime_outcomes",
)
PER_SERIES_MART = "fct_regime_features_daily"
FIRST_DAY = date(2021, 1, 1)
VARS = "{daily_source_interval: 1d, regime_min_days: 36600}"


def write_lake(lake: Path, symbols: int, days: int, from_month: str = "") -> None:
    """`symbols` series of `days` closes (the same returns whatever `days`: a longer lake extends it)."""
    for i in range(symbols):
        returns, _ = markov_returns(days + 1, seed=1000 + i)
        write_daily_series(lake, f"S{i:04d}USDT", FIRST_DAY, returns[: days - 1], from_month=from_month)
    finish(lake)


def node_seconds(work: Path) -> dict[str, float]:
    """Model name -> execution seconds, from the run_results.json of the run under `work`."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: float(r["execution_time"]) for r in results}


def timed_run(lake: Path, db: Path, work: Path) -> dict[str, float]:
    wall, _ = run_dbt(["run", "--vars", VARS], lake=lake, db=db, work=work)
    nodes = node_seconds(work)
    out = {"dbt_run_wall_s": round(wall, 1), PER_SERIES_MART: round(nodes[PER_SERIES_MART], 2)}
    out |= {m: round(nodes[m], 2) for m in SPELLS_MARTS}
    out["spells_marts_s"] = round(sum(nodes[m] for m in SPELLS_MARTS), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", type=int, default=400)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--root", type=Path, default=Path("/tmp/bench_spells"), help="lake, warehouse, dbt runs")
    args = ap.parse_args(argv)
    days = 365 * args.years
    shutil.rmtree(args.root, ignore_errors=True)
    lake, db = args.root / "lake", args.root / "warehouse.duckdb"
    write_lake(lake, args.symbols, days)
    run_dbt(["seed", "--vars", VARS], lake=lake, db=db, work=args.root / "seed")  # not timed
    full = timed_run(lake, db, args.root / "full")
    print("full:", json.dumps(full), flush=True)
    last_month = month_of(date.fromordinal(FIRST_DAY.toordinal() + days))
    write_lake(lake, args.symbols, days + 1, from_month=last_month)
    incremental = timed_run(lake, db, args.root / "incremental")
    print("incremental +1 day:", json.dumps(incremental), flush=True)
    result = {
        "symbols": args.symbols,
        "days_per_symbol": days,
        "full": full,
        "incremental_one_day": incremental,
        "spells_full_over_per_series_full": round(full["spells_marts_s"] / full[PER_SERIES_MART], 2),
        "spells_incremental_over_full": round(incremental["spells_marts_s"] / full["spells_marts_s"], 2),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
