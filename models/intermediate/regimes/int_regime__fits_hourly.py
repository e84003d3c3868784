"""Walk-forward fits of the hourly regime-probability model (docs/regimes.md, "Hourly probabilities"):
int_regime__fits on hourly returns, one row per series and refit hour (the last hour of each calendar
month by default, var regime_refit_every_hourly, once a series has var regime_min_hours returns). The
same code as the daily model (regimes.walkforward), with the hour as its unit (regimes.units.HOUR)."""

from regimes import walkforward, warehouse
from regimes.units import HOUR


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    n_states, cadence, min_hours = walkforward.check_config(
        dbt.config.get("regime_states"),
        dbt.config.get("regime_refit_every_hourly"),
        dbt.config.get("regime_min_hours"),
        HOUR,
    )
    series = warehouse.read_series(dbt.ref("int_binance__returns_hourly"), HOUR)
    stored = warehouse.read_fits(session.sql(f"select * from {dbt.this}")) if dbt.is_incremental else {}
    walkforward.check_stored_version(stored, walkforward.model_version(n_states, cadence, min_hours, HOUR))
    rows = walkforward.fit_series(series, stored, n_states, cadence, min_hours, HOUR)
    return walkforward.fits_table(rows, HOUR)
