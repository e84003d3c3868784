"""Reading the warehouse's relations into the walk-forward module's inputs (the dbt Python models'
I/O, kept here so the models stay a few lines each)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from regimes.units import DAY, Unit
from regimes.walkforward import LastDay, Series


def read_series(returns: Any, unit: Unit = DAY) -> list[Series]:
    """Every (market, symbol) of a returns relation (market, symbol, trade_date or hour_start,
    log_return), in key order: row times as step numbers of `unit`, null returns as NaN."""
    cols = (
        returns.project(
            f"market, symbol, {unit.number_sql(unit.time_column)} as day, "
            "coalesce(log_return, 'NaN'::double) as r"
        )
        .order("market, symbol, day")
        .fetchnumpy()
    )
    market, symbol = np.asarray(cols["market"], dtype=object), np.asarray(cols["symbol"], dtype=object)
    days, values = np.asarray(cols["day"], dtype=np.int64), np.asarray(cols["r"], dtype=np.float64)
    if days.size == 0:
        return []
    change = np.flatnonzero((market[1:] != market[:-1]) | (symbol[1:] != symbol[:-1])) + 1
    bounds = [0, *change.tolist(), days.size]
    return [
        Series(str(market[a]), str(symbol[a]), days[a:b], values[a:b]) for a, b in itertools.pairwise(bounds)
    ]


def rows_of(relation: Any) -> list[dict[str, Any]]:
    """A relation's rows as dicts."""
    names = relation.columns
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def read_fits(fits: Any) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Fits (a relation of int_regime__fits rows) by series."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows_of(fits.order("market, symbol, fitted_through")):
        out.setdefault((row["market"], row["symbol"]), []).append(row)
    return out


def read_last_days(session: Any, relation: str, unit: Unit = DAY) -> dict[tuple[str, str], LastDay]:
    """Each series' last stored step of filtered probabilities: the state an incremental run continues."""
    time = unit.time_column
    query = f"""
        with last_day as (
            select market, symbol, max({time}) as {time} from {relation} group by market, symbol
        )
        select p.market, p.symbol, p.{time}, p.fit_id, list(p.probability order by p.state) as probs
        from {relation} as p
        inner join last_day using (market, symbol, {time})
        group by p.market, p.symbol, p.{time}, p.fit_id
    """
    out: dict[tuple[str, str], LastDay] = {}
    for row in rows_of(session.sql(query)):
        out[(row["market"], row["symbol"])] = LastDay(
            unit.number(row[time]), row["fit_id"], np.asarray(row["probs"], dtype=np.float64)
        )
    return out
