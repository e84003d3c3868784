"""Filtered (no look-ahead) hourly regime probabilities: int_regime__probabilities_daily on hourly
returns, one row per series, hour and state, one filter step per hour (a missing hour: the prediction
step only). The same code as the daily model (regimes.walkforward) with the hour as its unit
(docs/regimes.md, "Hourly probabilities")."""

from regimes import walkforward, warehouse
from regimes.units import HOUR


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    series = warehouse.read_series(dbt.ref("int_binance__returns_hourly"), HOUR)
    fits = warehouse.read_fits(dbt.ref("int_regime__fits_hourly"))
    stored = warehouse.read_last_days(session, str(dbt.this), HOUR) if dbt.is_incremental else {}
    return walkforward.filter_series(series, fits, stored, HOUR)
