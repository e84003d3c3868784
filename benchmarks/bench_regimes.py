"""Benchmark of the regime-probability models (docs/regimes.md) on generated daily returns.

`--series` series x `--years` years of daily log returns from a 3-state Markov-switching model (daily
sigma 1.5 % / 3 % / 7 %), fed to the code the dbt Python models run (regimes.walkforward: the
walk-forward fits, then the filtered probabilities), in this process:

1. full build: every quarterly fit of every series (K=3, min 365 days) and every probability;
2. the same fits from scratch with statsmodels' MarkovRegression (what the models would cost without the
   compiled, warm-started estimator), timed on `--sm-series` series and scaled to all (said in the output);
3. incremental: one more day for every series, no refit due (the stored last day continues);
4. peak RSS of this process (resource.getrusage), the fits' upper bound on the dbt process's extra memory.

`--unit hour`: the hourly model (docs/regimes.md, "Hourly probabilities") on hourly returns (the same
chain made stickier and sigmas / sqrt(24)), monthly fits once a series has 2,160 hours, +1 hour.

    .venv/bin/python benchmarks/bench_regimes.py                              # 200 series x 5 years
    .venv/bin/python benchmarks/bench_regimes.py --series 20 --years 5 --sm-series 1
    .venv/bin/python benchmarks/bench_regimes.py --unit hour --series 20 --years 1 --sm-series 0
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regimes import walkforward
from regimes.units import DAY, HOUR, Unit
from regimes.walkforward import LastDay, Series

FIRST_DAY = date(2020, 1, 1)
TRANSITION = np.array([[0.97, 0.03, 0.0], [0.02, 0.95, 0.03], [0.0, 0.08, 0.92]])
SIGMA = np.array([0.015, 0.03, 0.07])
MEAN = np.array([0.001, 0.0, -0.002])
# Per unit: (transition, sigma, mean, cadence, min steps); the hourly chain stays ~24x longer in a state.
MODELS = {
    "day": (TRANSITION, SIGMA, MEAN, "quarter", 365),
    "hour": (
        np.array([[0.998, 0.002, 0.0], [0.0015, 0.997, 0.0015], [0.0, 0.004, 0.996]]),
        SIGMA / np.sqrt(24),
        MEAN / 24,
        "month",
        2160,
    ),
}
K = 3


def generated(n_series: int, steps: int, unit: Unit = DAY, seed: int = 7) -> list[Series]:
    """`n_series` series of `steps` returns each (the first has no return, like a listing)."""
    transition, sigma, mean, _, _ = MODELS[unit.name]
    rng = np.random.default_rng(seed)
    first = unit.number(FIRST_DAY)
    out = []
    for i in range(n_series):
        u = rng.random(steps)
        states = np.zeros(steps, dtype=np.int64)
        cum = np.cumsum(transition, axis=1)
        for t in range(1, steps):
            states[t] = int(np.searchsorted(cum[states[t - 1]], u[t], side="right"))
        r = mean[states] + sigma[states] * rng.standard_normal(steps)
        r[0] = np.nan
        out.append(Series("spot", f"SYN{i:03d}USDT", np.arange(first, first + steps, dtype=np.int64), r))
    return out


def statsmodels_seconds(series: list[Series], cadence: str, min_steps: int, unit: Unit) -> tuple[float, int]:
    """Every fit of `series` from scratch with MarkovRegression: (seconds, fits)."""
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    started, fits = time.perf_counter(), 0
    for s in series:
        for end in s.due_fits(cadence, min_steps, unit):
            y = s.returns[(s.days <= end) & ~np.isnan(s.returns)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                MarkovRegression(y, k_regimes=K, switching_variance=True).fit(disp=False)
            fits += 1
    return time.perf_counter() - started, fits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--sm-series", type=int, default=2, help="series statsmodels fits (scaled to all)")
    ap.add_argument("--unit", choices=("day", "hour"), default="day", help="the daily or the hourly model")
    args = ap.parse_args(argv)
    unit = HOUR if args.unit == "hour" else DAY
    _, _, _, cadence, min_steps = MODELS[unit.name]
    # Ends before a period's last step: the incremental step that follows is not a refit step.
    days = unit.per_year * args.years - (1 if unit is DAY else 2)
    series = generated(args.series, days, unit)

    t0 = time.perf_counter()
    fit_rows = walkforward.fit_series(series, {}, K, cadence, min_steps, unit)
    t1 = time.perf_counter()
    fits: dict[tuple[str, str], list[dict]] = {}
    for row in fit_rows:
        fits.setdefault((row["market"], row["symbol"]), []).append(row)
    probabilities = walkforward.filter_series(series, fits, {}, unit)
    t2 = time.perf_counter()
    print(
        f"full build: {len(fit_rows)} fits in {t1 - t0:.1f} s, {probabilities.num_rows} probability rows in {t2 - t1:.1f} s",
        flush=True,
    )

    # One more day per series: the stored last day continues, no refit is due.
    # Each series' stored last day (what the incremental model reads back from its table).
    time_column = unit.time_column
    frame = probabilities.to_pandas()
    frame = frame[frame[time_column] == frame.groupby(["market", "symbol"])[time_column].transform("max")]
    last: dict[tuple[str, str], LastDay] = {}
    for (m, s_, d, f), g in frame.sort_values("state").groupby(["market", "symbol", time_column, "fit_id"]):
        last[(m, s_)] = LastDay(
            unit.number(d.to_pydatetime() if unit is HOUR else d), f, g["probability"].to_numpy()
        )
    rng = np.random.default_rng(99)
    longer = [
        Series(
            s.market, s.symbol, np.append(s.days, s.days[-1] + 1), np.append(s.returns, rng.normal(0, 0.03))
        )
        for s in series
    ]
    t3 = time.perf_counter()
    new_fits = walkforward.fit_series(longer, fits, K, cadence, min_steps, unit)
    added = walkforward.filter_series(longer, fits, last, unit)
    t4 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"incremental +1 {unit.name}: {t4 - t3:.2f} s, {len(new_fits)} fits, {added.num_rows} rows; peak RSS {peak_mb:.0f} MB",
        flush=True,
    )

    sm_seconds, sm_fits = statsmodels_seconds(series[: args.sm_series], cadence, min_steps, unit)
    sm_scaled = sm_seconds / max(sm_fits, 1) * len(fit_rows)
    full = t2 - t0
    result = {
        "series": args.series,
        "unit": unit.name,
        f"{unit.plural}_per_series": days,
        "fits": len(fit_rows),
        "probability_rows": probabilities.num_rows,
        "full_build_s": round(full, 1),
        "fits_s": round(t1 - t0, 1),
        "filter_s": round(t2 - t1, 1),
        "em_iterations_median": float(np.median([r["iterations"] for r in fit_rows])) if fit_rows else 0,
        "statsmodels_fits_timed": sm_fits,
        "statsmodels_s_per_fit": round(sm_seconds / max(sm_fits, 1), 2),
        "statsmodels_all_fits_s_scaled": round(sm_scaled, 1),
        "ratio_to_statsmodels": round(full / sm_scaled, 4) if sm_fits else None,
        f"incremental_one_{unit.name}_s": round(t4 - t3, 2),
        "incremental_new_fits": len(new_fits),
        "incremental_rows": added.num_rows,
        "peak_rss_mb": round(peak_mb),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
