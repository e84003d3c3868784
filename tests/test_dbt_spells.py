"""Regime spells, transitions and forward outcomes (docs/regimes.md, "Spells, transitions and
outcomes") in real dbt builds: every column of the four marts against a plain-Python computation from
the session warehouse's daily regimes and closes; spells tiling each series' classified days and
transition counts summing to its consecutive classified pairs; and a generated lake whose closes follow
a designed path, so the rule-based regimes come out in known runs, giving exactly those spells."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.dbt_helpers import query, row_differences
from tests.fixtures.dbt import run_dbt
from tests.fixtures.warehouse import BuiltWarehouse
from tests.regime_lake import finish, markov_returns, write_daily_series

pytestmark = pytest.mark.slow

HORIZONS = (1, 7, 30)
SPELLS = "fct_regime_spells"
TRANSITIONS = "fct_regime_transitions"
MARKET_TRANSITIONS = "fct_market_regime_transitions"
OUTCOMES = "fct_regime_outcomes"
REL = 1e-12

Day = tuple[date, str | None, float]  # trade_date, regime, close_price
Series = dict[tuple[str, str], list[Day]]


def daily_regimes(duckdb_path: Path) -> Series:
    """Each series' days in time order, from fct_regime_features_daily (the marts' only input)."""
    out: Series = {}
    for r in query(
        duckdb_path,
        "select market, symbol, trade_date, regime, close_price from main.fct_regime_features_daily "
        "order by market, symbol, trade_date",
    ):
        out.setdefault((r["market"], r["symbol"]), []).append(
            (r["trade_date"], r["regime"], r["close_price"])
        )
    return out


def reference_spells(series: Series) -> list[dict[str, Any]]:
    """Walk each series day by day: a spell goes on while the next row is the next calendar day in the
    same non-null regime."""
    out = []
    for (market, symbol), days in series.items():
        last_day = days[-1][0]
        run: list[Day] = []
        for day in [*days, None]:
            continues = (
                day is not None and run and day[1] == run[-1][1] and day[0] == run[-1][0] + timedelta(days=1)
            )
            if run and not continues:
                closes = [c for _, _, c in run]
                peak, deepest = closes[0], 0.0
                for c in closes:
                    peak = max(peak, c)
                    deepest = min(deepest, c / peak - 1)
                out.append({
                    "market": market, "symbol": symbol, "spell_start": run[0][0], "regime": run[0][1],
                    "spell_end": run[-1][0], "days": len(run),
                    "spell_log_return": math.log(closes[-1] / closes[0]), "max_drawdown": deepest,
                    "is_ongoing": run[-1][0] == last_day,
                })  # fmt: skip
                run = []
            if day is not None and day[1] is not None:
                run = [*run, day] if continues else [day]
    return out


def consecutive_pairs(days: list[Day]) -> Iterable[tuple[str, str]]:
    """(regime of d - 1, regime of d) for every day d whose previous calendar day exists, both classified."""
    for (d0, r0, _), (d1, r1, _) in itertools.pairwise(days):
        if d1 - d0 == timedelta(days=1) and r0 is not None and r1 is not None:
            yield r0, r1


def with_probabilities(counts: dict[tuple, int], key_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Count rows (key = group..., from, to) with transitions / all transitions of the group's `from`."""
    out_of: dict[tuple, int] = {}
    for key, n in counts.items():
        out_of[key[:-1]] = out_of.get(key[:-1], 0) + n
    return [
        {**dict(zip(key_names, key, strict=True)), "transitions": n, "probability": n / out_of[key[:-1]]}
        for key, n in counts.items()
    ]


def reference_transitions(series: Series) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    per_series: dict[tuple, int] = {}
    per_market: dict[tuple, int] = {}
    for (market, symbol), days in series.items():
        for pair in consecutive_pairs(days):
            per_series[(market, symbol, *pair)] = per_series.get((market, symbol, *pair), 0) + 1
            per_market[(market, *pair)] = per_market.get((market, *pair), 0) + 1
    return (
        with_probabilities(per_series, ("market", "symbol", "from_regime", "to_regime")),
        with_probabilities(per_market, ("market", "from_regime", "to_regime")),
    )


def reference_outcomes(series: Series) -> list[dict[str, Any]]:
    out = []
    for (market, symbol), days in series.items():
        close_on = {d: c for d, _, c in days}
        for regime in sorted({r for _, r, _ in days if r is not None}):
            row: dict[str, Any] = {"market": market, "symbol": symbol, "regime": regime}
            regime_days = [(d, c) for d, r, c in days if r == regime]
            row["days"] = len(regime_days)
            for h in HORIZONS:
                fwd = [
                    math.log(close_on[d + timedelta(days=h)] / c)
                    for d, c in regime_days
                    if d + timedelta(days=h) in close_on
                ]
                row[f"fwd_return_mean_{h}d"] = statistics.fmean(fwd) if fwd else None
                row[f"fwd_return_median_{h}d"] = statistics.median(fwd) if fwd else None
                row[f"hit_rate_{h}d"] = sum(x > 0 for x in fwd) / len(fwd) if fwd else None
            out.append(row)
    return out


def mart(duckdb_path: Path, table: str) -> list[dict[str, Any]]:
    return query(duckdb_path, f"select * exclude (_built_at) from main.{table}")


def assert_same(table: str, actual: list[dict], expected: list[dict], key: tuple[str, ...]) -> None:
    problems = row_differences(
        actual, expected, key, names=("the mart", "the reference"), rel=REL, abs_tol=REL
    )
    assert actual and not problems, f"{table}:\n" + "\n".join(problems[:20])


@pytest.fixture(scope="module")
def session_series(built_warehouse: BuiltWarehouse) -> Series:
    series = daily_regimes(built_warehouse.duckdb_path)
    assert series, "fct_regime_features_daily is empty"
    return series


def test_spells_equal_a_day_by_day_walk(built_warehouse: BuiltWarehouse, session_series: Series) -> None:
    expected = reference_spells(session_series)
    assert_same(
        SPELLS, mart(built_warehouse.duckdb_path, SPELLS), expected, ("market", "symbol", "spell_start")
    )
    # The session lake exercises the rules: a series with several spells, one ending at a missing day
    # (spot ETHUSDT lacks 2023-02-14: its regime needs 30 days of history again), and ongoing spells.
    assert any(s["is_ongoing"] for s in expected) and any(not s["is_ongoing"] for s in expected)
    ends = {(s["market"], s["symbol"], s["spell_end"]) for s in expected}
    assert ("spot", "ETHUSDT", date(2023, 2, 13)) in ends


def test_transitions_equal_counted_pairs(built_warehouse: BuiltWarehouse, session_series: Series) -> None:
    per_series, per_market = reference_transitions(session_series)
    db = built_warehouse.duckdb_path
    assert_same(
        TRANSITIONS, mart(db, TRANSITIONS), per_series, ("market", "symbol", "from_regime", "to_regime")
    )
    assert_same(
        MARKET_TRANSITIONS, mart(db, MARKET_TRANSITIONS), per_market, ("market", "from_regime", "to_regime")
    )
    assert any(r["from_regime"] != r["to_regime"] for r in per_series), "no regime change to count"


def test_outcomes_equal_forward_returns_by_regime(
    built_warehouse: BuiltWarehouse, session_series: Series
) -> None:
    expected = reference_outcomes(session_series)
    assert_same(
        OUTCOMES, mart(built_warehouse.duckdb_path, OUTCOMES), expected, ("market", "symbol", "regime")
    )
    # Some regime has no day 30 days later in the series (its statistics are null), some has.
    assert {r["fwd_return_mean_30d"] is None for r in expected} == {True, False}


def test_counts_sum_to_the_days_classified_and_spells_tile_them(
    built_warehouse: BuiltWarehouse, session_series: Series
) -> None:
    db = built_warehouse.duckdb_path
    spells = mart(db, SPELLS)
    transitions = mart(db, TRANSITIONS)
    outcomes = mart(db, OUTCOMES)
    for (market, symbol), days in session_series.items():
        classified = {d: r for d, r, _ in days if r is not None}
        covered: dict[date, str] = {}
        for s in (s for s in spells if (s["market"], s["symbol"]) == (market, symbol)):
            for i in range(s["days"]):
                day = s["spell_start"] + timedelta(days=i)
                assert day not in covered, f"{market} {symbol} {day} in two spells"
                covered[day] = s["regime"]
        assert covered == classified, f"{market} {symbol}: the spells do not tile the classified days"
        mine = [r for r in outcomes if (r["market"], r["symbol"]) == (market, symbol)]
        assert sum(r["days"] for r in mine) == len(classified)
        pairs = sum(1 for _ in consecutive_pairs(days))
        assert (
            sum(r["transitions"] for r in transitions if (r["market"], r["symbol"]) == (market, symbol))
            == pairs
        )
    statuses = built_warehouse.run.statuses()
    checks = [n for n in statuses if "spell" in n or "regime_transitions" in n or "regime_outcomes" in n]
    assert len(checks) >= 12 and {statuses[n] for n in checks} == {"pass", "success"}, checks


# A designed path (1d candles): closes rise 0.5 % a day, jump up 40 % on day 60, rise again, drop 40 % on
# day 120 and fall 0.5 % a day. Rising closes sit above their 30-day mean (bull) and falling ones below
# (bear); a 40 % jump keeps the annualised 30-day volatility above 60 % for exactly the 30 days whose
# window holds it, constant returns have none. Day 0 has no return, so day 30 is the first classified.
DESIGN_FIRST_DAY = date(2024, 1, 1)
DESIGN_DAYS = 180
DESIGN_RUNS = [(30, 59, "bull_quiet"), (60, 89, "bull_volatile"), (90, 119, "bull_quiet"),
               (120, 149, "bear_volatile"), (150, 179, "bear_quiet")]  # fmt: skip
STEP, JUMP = 0.005, 0.4


def designed_returns() -> np.ndarray:
    """returns[i] is day i + 1's log return."""
    day = np.arange(1, DESIGN_DAYS)
    returns = np.where(day < 120, STEP, -STEP)
    returns[day == 60] = JUMP
    returns[day == 120] = -JUMP
    return returns


def test_a_designed_path_gives_exactly_its_known_spells(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_daily_series(lake, "DESIGNUSDT", DESIGN_FIRST_DAY, designed_returns())
    finish(lake)
    db = tmp_path / "warehouse.duckdb"
    # The spells marts, everything upstream of them and every test of those alone (a monotone run also
    # checks the features' RSI stays within 0..100 with no losses).
    spells_models = ["fct_regime_spells", "fct_regime_transitions", "fct_market_regime_transitions",
                     "fct_regime_outcomes"]  # fmt: skip
    run = run_dbt(
        "build", "--vars", "{daily_source_interval: 1d}", "--indirect-selection", "cautious",
        "--select", *[f"+{m}" for m in spells_models], lake_dir=lake, duckdb_path=db, work_dir=tmp_path / "build",
    )  # fmt: skip
    assert run.success, {k: v for k, v in run.statuses().items() if v not in ("pass", "success")}
    day = lambda i: DESIGN_FIRST_DAY + timedelta(days=i)  # noqa: E731
    spells = query(db, "select * exclude (_built_at) from main.fct_regime_spells order by spell_start")
    assert [(s["spell_start"], s["spell_end"], s["regime"], s["days"], s["is_ongoing"]) for s in spells] == [
        (day(a), day(b), regime, b - a + 1, b == DESIGN_DAYS - 1) for a, b, regime in DESIGN_RUNS
    ]
    returns = designed_returns()
    for s, (a, b, _) in zip(spells, DESIGN_RUNS, strict=True):
        assert s["spell_log_return"] == pytest.approx(returns[a:b].sum(), rel=1e-9)  # days a+1..b
        falling = min(0.0, math.exp(returns[a:b].sum()) - 1)
        assert s["max_drawdown"] == pytest.approx(falling, rel=1e-9, abs=1e-12)
    transitions = {
        (r["from_regime"], r["to_regime"]): r["transitions"]
        for r in query(db, "select * from main.fct_regime_transitions")
    }
    expected: dict[tuple[str, str], int] = {}
    for (a, b, regime), nxt in zip(DESIGN_RUNS, [*DESIGN_RUNS[1:], None], strict=True):
        expected[(regime, regime)] = expected.get((regime, regime), 0) + b - a
        if nxt is not None:
            expected[(regime, nxt[2])] = 1
    assert transitions == expected


# Incremental fct_regime_spells: two series of Markov-switching 1d returns (tests/regime_lake.py), one
# with a missing day; built through INCREMENTAL_FIRST_DAYS days, then 40 more days appended.
INCREMENTAL_SERIES = {"SPELLAUSDT": 11, "SPELLBUSDT": 12}
INCREMENTAL_FIRST_DAYS, INCREMENTAL_DAYS = 200, 240


def write_markov_lake(lake: Path, days: int, from_month: str = "") -> None:
    for symbol, seed in INCREMENTAL_SERIES.items():
        returns, _ = markov_returns(INCREMENTAL_DAYS, seed)
        skip = (150,) if symbol == "SPELLBUSDT" else ()
        write_daily_series(
            lake, symbol, DESIGN_FIRST_DAY, returns[: days - 1], skip_days=skip, from_month=from_month
        )
    finish(lake)


def build_spells(lake: Path, db: Path, work: Path) -> None:
    models = [f"+{m}" for m in (SPELLS, TRANSITIONS, MARKET_TRANSITIONS, OUTCOMES)]
    run = run_dbt(
        "build", "--vars", "{daily_source_interval: 1d}", "--resource-type", "seed", "--resource-type",
        "model", "--select", *models, lake_dir=lake, duckdb_path=db, work_dir=work,
    )  # fmt: skip
    assert run.success, run.statuses()


def test_incremental_spells_equal_a_full_build_and_keep_older_spells(tmp_path: Path) -> None:
    lake, db = tmp_path / "lake", tmp_path / "incremental.duckdb"
    write_markov_lake(lake, INCREMENTAL_FIRST_DAYS)
    build_spells(lake, db, tmp_path / "w1")
    before = {r["spell_start"]: r for r in query(db, "select * from main.fct_regime_spells")}
    last_month = f"{(DESIGN_FIRST_DAY + timedelta(days=INCREMENTAL_FIRST_DAYS - 1)):%Y-%m}"
    write_markov_lake(lake, INCREMENTAL_DAYS, from_month=last_month)
    build_spells(lake, db, tmp_path / "w2")
    full = tmp_path / "full.duckdb"
    build_spells(lake, full, tmp_path / "w3")
    incremental_rows = query(db, "select * from main.fct_regime_spells")
    problems = row_differences(
        incremental_rows, query(full, "select * from main.fct_regime_spells"), ("market", "symbol", "spell_start"),
        names=("the incremental build", "the full build"), rel=REL, abs_tol=REL,
    )  # fmt: skip
    assert not problems, "\n".join(problems[:20])
    assert len(incremental_rows) > len([r for r in before.values() if r["market"] == "spot"])
    # Spells ending well before the new days were kept as stored, not recomputed.
    cutoff = DESIGN_FIRST_DAY + timedelta(days=INCREMENTAL_FIRST_DAYS - 40)
    stamps = {(r["symbol"], r["spell_start"]): r["_built_at"] for r in incremental_rows}
    old = [r for r in query(db, "select * from main.fct_regime_spells") if r["spell_end"] < cutoff]
    assert old and all(
        stamps[(r["symbol"], r["spell_start"])] == before[r["spell_start"]]["_built_at"]
        for r in old
        if r["spell_start"] in before
    )
    assert len({r["_built_at"] for r in incremental_rows}) == 2
