"""Filtered (Hamilton filter, no look-ahead) regime probabilities: one row per series, day and state.
A day is filtered with the latest fit through an earlier day. Incremental (append): new days continue
the filter from each series' stored last day; days after a new fit run it from the first return with
the new parameters; stored days are never rewritten (docs/regimes.md)."""

from regimes import walkforward, warehouse


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    series = warehouse.read_series(dbt.ref("int_binance__returns_daily"))
    fits = warehouse.read_fits(dbt.ref("int_regime__fits"))
    stored = warehouse.read_last_days(session, str(dbt.this)) if dbt.is_incremental else {}
    return walkforward.filter_series(series, fits, stored)
