"""The hourly regime-probability models in real dbt builds of a small generated lake of 1h candles
(two-state Markov-switching hourly returns, a missing hour): every hour's probabilities sum to 1, they
equal an independent filter of the stored fits, appending a month changes no stored row, and
incremental == full refresh (docs/regimes.md, "Hourly probabilities")."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.dbt_helpers import query
from tests.fixtures.dbt import run_dbt
from tests.regime_lake import finish, markov_returns, write_series
from tests.test_regime_model import reference_filter

pytestmark = pytest.mark.slow

FIRST_HOUR = datetime(2024, 1, 1)
# Through 2024-03-10 23:00, then through 2024-04-10 23:00 (one more monthly fit: 2024-03-31T23:00).
HOURS_BEFORE, HOURS_AFTER = (31 + 29 + 10) * 24 - 1, (31 + 29 + 31 + 10) * 24 - 1
MISSING_HOUR = 1000  # SYNBUSDT has no candle in that hour (2024-02-11 16:00)
SERIES = {"SYNAUSDT": 31, "SYNBUSDT": 32}
VARS = "{regime_states: 2, regime_min_hours: 300}"
SELECT = (
    "+fct_regime_probabilities_hourly +fct_regime_model_states_hourly "
    "+fct_regime_model_transitions_hourly +fct_regime_model_fits_hourly"
)
TABLES = {
    "fct_regime_model_fits_hourly": "fit_id",
    "fct_regime_model_states_hourly": "fit_id, state",
    "fct_regime_model_transitions_hourly": "fit_id, from_state, to_state",
    "fct_regime_probabilities_hourly": "market, symbol, hour_start, state",
}


def write_lake(lake: Path, hours: int, from_month: str = "") -> None:
    for symbol, seed in SERIES.items():
        # Hourly sigmas of 0.2 % and 0.5 %: the daily model's parameters scaled down by 10.
        returns = markov_returns(HOURS_AFTER, seed)[0][:hours] / 10
        skip = (MISSING_HOUR,) if symbol == "SYNBUSDT" else ()
        write_series(lake, symbol, FIRST_HOUR, returns, "1h", skip, from_month)
    finish(lake)


def build(lake: Path, db: Path, work: Path) -> None:
    # cautious: tests that also read models outside the selection (the OHLCV marts) are not run.
    run = run_dbt(
        "build",
        "--select",
        SELECT,
        "--indirect-selection",
        "cautious",
        "--vars",
        VARS,
        lake_dir=lake,
        duckdb_path=db,
        work_dir=work,
    )
    assert run.success, run.statuses()


def snapshot(db: Path) -> dict[str, list[dict[str, Any]]]:
    out = {
        t: query(db, f"select * exclude (_built_at) from main.{t} order by {key}")
        for t, key in TABLES.items()
    }
    out["returns"] = query(
        db, "select symbol, hour_start, log_return from main.int_binance__returns_hourly order by 1, 2"
    )
    out["fits"] = query(db, "select fit_id, sigmas from main.int_regime__fits_hourly order by 1")
    return out


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """before: a full build through 2024-03-10; incremental: a month appended and built incrementally;
    full: a full build of the longer lake."""
    root = tmp_path_factory.mktemp("regime_hourly_dbt")
    lake = root / "lake"
    write_lake(lake, HOURS_BEFORE)
    build(lake, root / "inc.duckdb", root / "w1")
    out = {"before": snapshot(root / "inc.duckdb")}
    write_lake(lake, HOURS_AFTER, from_month="2024-03")
    build(lake, root / "inc.duckdb", root / "w2")
    out["incremental"] = snapshot(root / "inc.duckdb")
    build(lake, root / "full.duckdb", root / "w3")
    out["full"] = snapshot(root / "full.duckdb")
    return out


def test_appending_a_month_changes_no_stored_row(builds: dict) -> None:
    before, after = builds["before"], builds["incremental"]
    for table, key in TABLES.items():
        cols = [c.strip() for c in key.split(",")]
        new = {tuple(r[c] for c in cols): r for r in after[table]}
        assert before[table], f"{table} is empty before the append"
        for row in before[table]:
            assert new[tuple(row[c] for c in cols)] == row, (table, row)
        assert len(after[table]) > len(before[table]), table
    fits = {r["fit_id"] for r in after["fct_regime_model_fits_hourly"]} - {
        r["fit_id"] for r in before["fct_regime_model_fits_hourly"]
    }
    assert fits == {f"spot/{s}/2024-03-31T23:00" for s in SERIES}
    assert max(r["hour_start"] for r in after["fct_regime_probabilities_hourly"]) == datetime(2024, 4, 10, 23)


def test_incremental_equals_full_refresh(builds: dict) -> None:
    assert builds["incremental"] == builds["full"]


def test_hourly_fits_and_states(builds: dict) -> None:
    full = builds["full"]
    fits = full["fct_regime_model_fits_hourly"]
    assert {r["fitted_through"] for r in fits} == {
        datetime(2024, 1, 31, 23),
        datetime(2024, 2, 29, 23),
        datetime(2024, 3, 31, 23),
    }
    assert all(
        r["model_version"] == "gaussian-msm-em/2 unit=hour K=2 every=month min_hours=300" for r in fits
    )
    sigmas = {r["fit_id"]: r["sigmas"] for r in full["fits"]}
    for r in full["fct_regime_model_states_hourly"]:
        assert r["volatility"] == pytest.approx(sigmas[r["fit_id"]][r["state"]] * np.sqrt(8760), rel=1e-12)
        assert r["expected_duration_hours"] == pytest.approx(1 / (1 - r["p_stay"]), rel=1e-12)


def test_probabilities_sum_to_one_and_equal_an_independent_filter(builds: dict) -> None:
    full = builds["full"]
    fits = {r["fit_id"]: r for r in full["fct_regime_model_fits_hourly"]}
    states = {(r["fit_id"], r["state"]): r for r in full["fct_regime_model_states_hourly"]}
    transitions = {
        (r["fit_id"], r["from_state"], r["to_state"]): r["probability"]
        for r in full["fct_regime_model_transitions_hourly"]
    }
    returns: dict[str, dict[datetime, float | None]] = {}
    for r in full["returns"]:
        returns.setdefault(r["symbol"], {})[r["hour_start"]] = r["log_return"]
    assert returns["SYNBUSDT"][FIRST_HOUR + timedelta(hours=MISSING_HOUR + 1)] is None  # after the gap
    by_hour: dict[tuple[str, datetime], dict[int, dict]] = {}
    for r in full["fct_regime_probabilities_hourly"]:
        by_hour.setdefault((r["symbol"], r["hour_start"]), {})[r["state"]] = r
    filtered: dict[str, tuple[datetime, np.ndarray]] = {}
    for (symbol, hour), row in by_hour.items():
        probs = np.array([row[k]["probability"] for k in sorted(row)])
        assert abs(probs.sum() - 1.0) <= 1e-9
        fit_id = row[0]["fit_id"]
        assert fits[fit_id]["fitted_through"] < hour
        if fit_id not in filtered:
            series = returns[symbol]
            first = min(h for h, v in series.items() if v is not None)
            y = np.full(int((max(series) - first) / timedelta(hours=1)) + 1, np.nan)
            for h, v in series.items():
                if h >= first and v is not None:
                    y[int((h - first) / timedelta(hours=1))] = v
            mean = np.array([states[(fit_id, s)]["mean_return"] for s in range(2)])
            sigma = np.array([states[(fit_id, s)]["volatility"] for s in range(2)]) / np.sqrt(8760)
            p = np.array([[transitions[(fit_id, i, j)] for j in range(2)] for i in range(2)])
            filtered[fit_id] = (first, reference_filter(y, mean, sigma, p)[0])
        first, reference = filtered[fit_id]
        np.testing.assert_allclose(
            probs, reference[int((hour - first) / timedelta(hours=1))], rtol=0, atol=1e-9
        )
    # Every hour with a row after January: (29 + 31 + 10) days of hours, less SYNBUSDT's missing one.
    assert len(by_hour) == 2 * (29 + 31 + 10) * 24 - 1


@pytest.mark.parametrize(
    ("name", "value"), [("regime_refit_every_hourly", "weekly"), ("regime_min_hours", "-3")]
)
def test_a_bad_hourly_regime_var_fails_in_one_line_naming_it(
    name: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    write_series(lake, "SYNAUSDT", FIRST_HOUR, markov_returns(40, 1)[0] / 10, "1h")
    finish(lake)
    run = run_dbt(
        "run",
        "--select",
        "int_binance__returns_hourly",
        "--vars",
        f"{{{name}: '{value}'}}",
        lake_dir=lake,
        duckdb_path=tmp_path / "w.duckdb",
        work_dir=tmp_path / "work",
    )
    assert not run.success
    out = capsys.readouterr().out + (tmp_path / "work" / "logs" / "dbt.log").read_text()
    lines = [ln for ln in out.splitlines() if f'var {name} "{value}"' in ln]
    assert lines, out[-3000:]
    assert "Traceback" not in out
