"""The regime-probability model at the hour (regimes.walkforward with regimes.units.HOUR) against an
independent computation: on a generated hourly series with known regimes, monthly fits on the last hour
of each calendar month, filtered probabilities equal to a plain-numpy forward filter with each fit's
parameters, a missing hour (no row, or a null return) as the prediction step only, no look-ahead
(appending hours changes no published probability) and incremental == full (docs/regimes.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from regimes import settings, walkforward
from regimes.units import DAY, HOUR
from regimes.walkforward import LastDay, Series
from tests.regime_lake import markov_returns
from tests.test_regime_model import reference_filter

FIRST_HOUR = datetime(2024, 1, 1)
# 2024-01-01 00:00 through 2024-04-30 23:00: four calendar months, February of a leap year.
HOURS = (31 + 29 + 31 + 30) * 24
MIN_HOURS = 600
MISSING_ROWS = (100, 101, 102, 1500)  # hours with no row (a gap of three hours, one of one)
NULL_RETURNS = (103, 1501, 2000)  # hours with a row and a null return (after a gap, or a bad candle)


def hourly_series(symbol: str, seed: int, hours: int = HOURS) -> Series:
    """`hours` hours from FIRST_HOUR of two-state returns; the first hour has no return (a listing)."""
    r = markov_returns(HOURS, seed)[0][:hours].copy()
    r[0] = np.nan
    r[[i for i in NULL_RETURNS if i < hours]] = np.nan
    keep = np.ones(hours, dtype=bool)
    keep[[i for i in MISSING_ROWS if i < hours]] = False
    steps = np.arange(HOUR.number(FIRST_HOUR), HOUR.number(FIRST_HOUR) + hours, dtype=np.int64)
    return Series("spot", symbol, steps[keep], r[keep])


def by_series(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        out.setdefault((row["market"], row["symbol"]), []).append(row)
    return out


def run(series: list[Series]) -> tuple[list[dict], dict[tuple[str, str, datetime], tuple[np.ndarray, str]]]:
    """Fits and probabilities of a full build, the probabilities as {(market, symbol, hour): (p, fit_id)}."""
    rows = walkforward.fit_series(series, {}, 2, "month", MIN_HOURS, HOUR)
    table = walkforward.filter_series(series, by_series(rows), {}, HOUR)
    return rows, published(table)


def published(table) -> dict[tuple[str, str, datetime], tuple[np.ndarray, str]]:
    d = table.to_pydict()
    grouped: dict[tuple[str, str, datetime], list[tuple[int, float, str]]] = {}
    for m, s, h, k, p, f in zip(
        d["market"], d["symbol"], d["hour_start"], d["state"], d["probability"], d["fit_id"], strict=True
    ):
        grouped.setdefault((m, s, h), []).append((k, p, f))
    return {key: (np.array([p for _, p, _ in sorted(v)]), v[0][2]) for key, v in grouped.items()}


@pytest.fixture(scope="module")
def full() -> tuple[list[Series], list[dict], dict]:
    series = [hourly_series("SYNAUSDT", 11), hourly_series("SYNBUSDT", 12)]
    rows, probs = run(series)
    return series, rows, probs


def test_fits_on_the_last_hour_of_each_month(full) -> None:
    _, rows, _ = full
    ends = sorted({r["fitted_through"] for r in rows})
    assert ends == [
        datetime(2024, 1, 31, 23),
        datetime(2024, 2, 29, 23),
        datetime(2024, 3, 31, 23),
        datetime(2024, 4, 30, 23),
    ]
    assert {r["fit_id"] for r in rows if r["symbol"] == "SYNAUSDT"} == {
        f"spot/SYNAUSDT/2024-0{m}-{d}T23:00" for m, d in ((1, 31), (2, 29), (3, 31), (4, 30))
    }
    assert all(
        r["model_version"] == f"gaussian-msm-em/2 unit=hour K=2 every=month min_hours={MIN_HOURS}"
        for r in rows
    )
    assert all(r["is_converged"] for r in rows)
    # n_obs counts the non-null hourly returns through the fit's last hour.
    s = full[0][0]
    jan = HOUR.number(datetime(2024, 1, 31, 23))
    first = next(r for r in rows if r["fit_id"] == "spot/SYNAUSDT/2024-01-31T23:00")
    assert first["n_obs"] == int(np.sum(~np.isnan(s.returns[s.days <= jan])))


def test_probabilities_equal_an_independent_filter_of_each_fit(full) -> None:
    series, rows, probs = full
    fits = {r["fit_id"]: r for r in rows}
    checked = 0
    for s in series:
        first = s.first_return
        grid = np.full(int(s.days[-1]) - first + 1, np.nan)
        inside = s.days >= first
        grid[s.days[inside] - first] = s.returns[inside]
        reference: dict[str, np.ndarray] = {}
        for step in s.days:
            hour = HOUR.value(int(step))
            key = (s.market, s.symbol, hour)
            if hour <= datetime(2024, 1, 31, 23):
                assert key not in probs  # nothing before the first fit
                continue
            p, fit_id = probs[key]
            fit = fits[fit_id]
            assert fit["fitted_through"] < hour <= fit["fitted_through"] + timedelta(days=31)
            if fit_id not in reference:
                k = fit["n_states"]
                reference[fit_id] = reference_filter(
                    grid,
                    np.array(fit["mean_returns"]),
                    np.array(fit["sigmas"]),
                    np.array(fit["transitions"]).reshape(k, k),
                )[0]
            np.testing.assert_allclose(p, reference[fit_id][int(step) - first], rtol=0, atol=1e-9)
            assert abs(p.sum() - 1.0) <= 1e-9
            checked += 1
    assert checked == 2 * ((29 + 31 + 30) * 24 - 1)  # every row hour after January (hour 1500 is missing)


def test_a_missing_hour_is_a_prediction_step(full) -> None:
    """Hour 1500 has no row and 1501 a null return: 1501's probabilities are 1499's moved two steps
    through P, with no observation (the filter's prediction step only)."""
    series, rows, probs = full
    s = series[0]
    fit_id = "spot/SYNAUSDT/2024-02-29T23:00"
    assert HOUR.value(HOUR.number(FIRST_HOUR) + 1499) > datetime(2024, 2, 29, 23)
    fit = next(r for r in rows if r["fit_id"] == fit_id)
    p = np.array(fit["transitions"]).reshape(2, 2)
    before, f0 = probs[(s.market, s.symbol, FIRST_HOUR + timedelta(hours=1499))]
    after, f1 = probs[(s.market, s.symbol, FIRST_HOUR + timedelta(hours=1501))]
    assert f0 == f1 == fit_id
    assert (s.market, s.symbol, FIRST_HOUR + timedelta(hours=1500)) not in probs  # no row, no probability
    np.testing.assert_allclose(after, before @ p @ p, rtol=0, atol=1e-12)


def test_appending_hours_changes_no_published_probability_and_incremental_equals_full(full) -> None:
    series, rows, probs = full
    # Through 2024-03-15 10:00: the March fit is not due yet.
    cut = (31 + 29 + 14) * 24 + 11
    short = [hourly_series("SYNAUSDT", 11, cut), hourly_series("SYNBUSDT", 12, cut)]
    short_rows, short_probs = run(short)
    assert short_probs and len(short_rows) == 4
    for key, (p, fit_id) in short_probs.items():
        assert probs[key][1] == fit_id
        assert probs[key][0].tobytes() == p.tobytes(), key  # the same bits
    by_id = {r["fit_id"]: r for r in rows}
    assert all(by_id[r["fit_id"]] == r for r in short_rows)  # the same fits, bit for bit
    # Incremental: the stored fits and each series' stored last hour continue with the longer data.
    last: dict[tuple[str, str], LastDay] = {}
    for (m, s, hour), (p, fit_id) in short_probs.items():
        if (m, s) not in last or HOUR.number(hour) > last[(m, s)].day:
            last[(m, s)] = LastDay(HOUR.number(hour), fit_id, p)
    stored = by_series(short_rows)
    new_rows = walkforward.fit_series(series, stored, 2, "month", MIN_HOURS, HOUR)
    assert [r["fit_id"] for r in new_rows] == [r["fit_id"] for r in rows if r not in short_rows]
    for a, b in zip(new_rows, [r for r in rows if r not in short_rows], strict=True):
        assert a == b
    fits = by_series(short_rows + new_rows)
    added = published(walkforward.filter_series(series, fits, last, HOUR))
    assert set(added) | set(short_probs) == set(probs) and not set(added) & set(short_probs)
    for key, (p, fit_id) in added.items():
        assert probs[key][1] == fit_id
        assert probs[key][0].tobytes() == p.tobytes(), key


def test_the_hourly_model_names_its_own_vars() -> None:
    assert walkforward.check_config("3", "month", "2160", HOUR) == (3, "month", 2160)
    with pytest.raises(walkforward.RegimeConfigError, match='var regime_refit_every_hourly "hourly"'):
        walkforward.check_config("3", "hourly", "2160", HOUR)
    with pytest.raises(
        walkforward.RegimeConfigError, match='var regime_min_hours "1" is not a whole number of hours'
    ):
        walkforward.check_config("3", "month", "1", HOUR)
    with pytest.raises(walkforward.RegimeConfigError, match='var regime_min_days "x"'):
        walkforward.check_config("3", "month", "x", DAY)
    # A stored daily fit cannot be continued as an hourly one, nor the reverse.
    assert walkforward.model_version(3, "month", 30, HOUR) != walkforward.model_version(3, "month", 30, DAY)
    assert HOUR.per_year == 8760 and DAY.per_year == 365


def test_the_filter_in_small_groups_gives_the_same_bits(full, monkeypatch: pytest.MonkeyPatch) -> None:
    """An hourly full build filters in groups bounded by settings.FILTER_BATCH_CELLS (memory): the
    grouping must not change a bit."""
    series, rows, probs = full
    monkeypatch.setattr(settings, "FILTER_BATCH_CELLS", 3000)
    assert len(walkforward._chunks([(None, None, 0, 2000, None, None)] * 3)) == 3
    grouped = published(walkforward.filter_series(series, by_series(rows), {}, HOUR))
    assert grouped.keys() == probs.keys()
    assert all(
        grouped[k][0].tobytes() == probs[k][0].tobytes() and grouped[k][1] == probs[k][1] for k in probs
    )
