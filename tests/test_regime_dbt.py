"""The regime-probability models in real dbt builds of a generated lake (two-state Markov-switching
returns with known parameters, 1d candles): no look-ahead when a quarter is appended, incremental equals
full refresh, determinism, the stored probabilities against an independent filter and the fits against
statsmodels, a too-short series, and bad vars (docs/regimes.md)."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.dbt_helpers import query
from tests.fixtures.dbt import run_dbt
from tests.regime_lake import finish, markov_returns, write_daily_series
from tests.test_regime_model import reference_filter

pytestmark = pytest.mark.slow

FIRST_DAY = date(2022, 1, 1)
# Through 2023-06-30 (a quarter end), then a quarter more.
DAYS_BEFORE, DAYS_AFTER = 545, 545 + 92
GAP_DAY = 300
SERIES = {"SYNAUSDT": 101, "SYNBUSDT": 202}
SHORT = "SHORTUSDT"
VARS = "{daily_source_interval: 1d, regime_states: 2, regime_min_days: 200}"
TABLES = {
    "fct_regime_model_fits": "fit_id",
    "fct_regime_model_states": "fit_id, state",
    "fct_regime_model_transitions": "fit_id, from_state, to_state",
    "fct_regime_probabilities_daily": "market, symbol, trade_date, state",
}
FEATURE_COLUMNS = (
    "market, symbol, trade_date, log_return, vol_state, vol_state_probability, turbulent_probability"
)


def write_lake(lake: Path, days: int, from_month: str = "") -> None:
    for symbol, seed in SERIES.items():
        returns, _ = markov_returns(DAYS_AFTER, seed)
        skip = (GAP_DAY,) if symbol == "SYNBUSDT" else ()
        write_daily_series(lake, symbol, FIRST_DAY, returns[:days], skip_days=skip, from_month=from_month)
    short, _ = markov_returns(120, 303)
    write_daily_series(lake, SHORT, FIRST_DAY, short, from_month=from_month or "0000")
    finish(lake)


def build(lake: Path, db: Path, work: Path, *extra: str) -> None:
    run = run_dbt("build", "--vars", VARS, *extra, lake_dir=lake, duckdb_path=db, work_dir=work)
    assert run.success, run.statuses()


def snapshot(db: Path) -> dict[str, list[dict[str, Any]]]:
    # `_built_at` (the run that wrote the row) is bookkeeping, not data: left out, as elsewhere.
    out = {
        t: query(db, f"select * exclude (_built_at) from main.{t} order by {key}")
        for t, key in TABLES.items()
    }
    out["features"] = query(
        db, f"select {FEATURE_COLUMNS} from main.fct_regime_features_daily order by 1, 2, 3"
    )
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """before: full build through 2023-06-30; incremental: then a quarter appended and built
    incrementally; full, full_again: two full builds of the longer lake."""
    root = tmp_path_factory.mktemp("regime_dbt")
    lake = root / "lake"
    write_lake(lake, DAYS_BEFORE)
    build(lake, root / "inc.duckdb", root / "w1")
    out = {"before": snapshot(root / "inc.duckdb")}
    write_lake(lake, DAYS_AFTER, from_month="2023-07")
    build(lake, root / "inc.duckdb", root / "w2")
    out["incremental"] = snapshot(root / "inc.duckdb")
    build(lake, root / "full.duckdb", root / "w3")
    out["full"] = snapshot(root / "full.duckdb")
    build(lake, root / "full2.duckdb", root / "w4")
    out["full_again"] = snapshot(root / "full2.duckdb")
    return out


def test_appending_a_quarter_changes_no_stored_row(builds: dict) -> None:
    before, after = builds["before"], builds["incremental"]
    for table, key in TABLES.items():
        cols = [c.strip() for c in key.split(",")]
        new = {tuple(r[c] for c in cols): r for r in after[table]}
        assert before[table], f"{table} is empty before the append"
        for row in before[table]:
            assert new[tuple(row[c] for c in cols)] == row, (table, row)
        assert len(after[table]) > len(before[table]), table
    last = max(r["trade_date"] for r in after["fct_regime_probabilities_daily"])
    assert last == date(2023, 9, 30)
    fits = {r["fit_id"] for r in after["fct_regime_model_fits"]} - {
        r["fit_id"] for r in before["fct_regime_model_fits"]
    }
    assert fits == {f"spot/{s}/2023-09-30" for s in SERIES}


def test_incremental_equals_full_refresh_and_full_builds_are_deterministic(builds: dict) -> None:
    assert builds["incremental"] == builds["full"]
    assert builds["full"] == builds["full_again"]


def test_probabilities_equal_an_independent_filter_of_the_stored_fits(builds: dict) -> None:
    full = builds["full"]
    fits = {r["fit_id"]: r for r in full["fct_regime_model_fits"]}
    states = {(r["fit_id"], r["state"]): r for r in full["fct_regime_model_states"]}
    transitions = {
        (r["fit_id"], r["from_state"], r["to_state"]): r["probability"]
        for r in full["fct_regime_model_transitions"]
    }
    returns: dict[str, dict[date, float | None]] = {}
    for r in full["features"]:
        returns.setdefault(r["symbol"], {})[r["trade_date"]] = r["log_return"]
    by_day: dict[tuple[str, date], dict[int, dict]] = {}
    for r in full["fct_regime_probabilities_daily"]:
        by_day.setdefault((r["symbol"], r["trade_date"]), {})[r["state"]] = r
    filtered: dict[str, np.ndarray] = {}
    checked = 0
    for (symbol, day), row in sorted(by_day.items()):
        probs = np.array([row[k]["probability"] for k in sorted(row)])
        assert abs(probs.sum() - 1.0) <= 1e-9
        fit_id = row[0]["fit_id"]
        fit = fits[fit_id]
        assert fit["fitted_through"] < day
        if fit_id not in filtered:
            k = fit["n_states"]
            series = returns[symbol]
            first = min(d for d, v in series.items() if v is not None)
            grid_days = (max(series) - first).days + 1
            y = np.full(grid_days, np.nan)
            for d, v in series.items():
                if d >= first and v is not None:
                    y[(d - first).days] = v
            mean = np.array([states[(fit_id, s)]["mean_return"] for s in range(k)])
            sigma = np.array([states[(fit_id, s)]["volatility"] for s in range(k)]) / np.sqrt(365)
            p = np.array([[transitions[(fit_id, i, j)] for j in range(k)] for i in range(k)])
            filtered[fit_id] = reference_filter(y, mean, sigma, p)[0]
            filtered[fit_id + "/first"] = np.array([first.toordinal()])
        index = day.toordinal() - int(filtered[fit_id + "/first"][0])
        np.testing.assert_allclose(probs, filtered[fit_id][index], rtol=0, atol=1e-9)
        feature = next(r for r in full["features"] if r["symbol"] == symbol and r["trade_date"] == day)
        top = int(np.argmax(probs))
        assert feature["vol_state"] == row[top]["state_name"]
        assert feature["vol_state_probability"] == row[top]["probability"]
        assert feature["turbulent_probability"] == row[max(row)]["probability"]
        checked += 1
    assert checked > 500


def test_fits_are_no_worse_than_statsmodels(builds: dict) -> None:
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    full = builds["full"]
    symbol = "SYNAUSDT"  # no gap: statsmodels takes a plain array
    last = max(
        (r for r in full["fct_regime_model_fits"] if r["symbol"] == symbol), key=lambda r: r["fitted_through"]
    )
    y = np.array(
        [
            r["log_return"]
            for r in full["features"]
            if r["symbol"] == symbol
            and r["log_return"] is not None
            and r["trade_date"] <= last["fitted_through"]
        ]
    )
    assert y.size == last["n_obs"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = float(MarkovRegression(y, k_regimes=2, switching_variance=True).fit(disp=False).llf)
    assert last["log_likelihood"] >= theirs - 1e-6 * abs(theirs), (last["log_likelihood"], theirs)


def test_a_series_too_short_has_no_probabilities_yet(builds: dict) -> None:
    full = builds["full"]
    assert not [r for r in full["fct_regime_model_fits"] if r["symbol"] == SHORT]
    assert not [r for r in full["fct_regime_probabilities_daily"] if r["symbol"] == SHORT]
    short_days = [r for r in full["features"] if r["symbol"] == SHORT]
    assert len(short_days) == 121
    assert all(r["vol_state"] is None and r["turbulent_probability"] is None for r in short_days)


@pytest.mark.parametrize(
    ("name", "value"),
    [("regime_states", "5"), ("regime_refit_every", "weekly"), ("regime_min_days", "-3")],
)
def test_a_bad_regime_var_fails_in_one_line_naming_it(
    name: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    write_daily_series(lake, "SYNAUSDT", FIRST_DAY, markov_returns(40, 1)[0])
    finish(lake)
    run = run_dbt(
        "run",
        "--select",
        "int_binance__returns_daily",
        "--vars",
        f"{{daily_source_interval: 1d, {name}: '{value}'}}",
        lake_dir=lake,
        duckdb_path=tmp_path / "w.duckdb",
        work_dir=tmp_path / "work",
    )
    assert not run.success
    out = capsys.readouterr().out + (tmp_path / "work" / "logs" / "dbt.log").read_text()
    lines = [ln for ln in out.splitlines() if f'var {name} "{value}"' in ln]
    assert lines, out[-3000:]
    assert "Traceback" not in out
