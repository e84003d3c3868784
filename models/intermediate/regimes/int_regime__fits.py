"""Walk-forward fits of the regime-probability model (docs/regimes.md, "The contract"): one row per series
and refit day with the estimated parameters. Incremental (append): a run fits only the refit days its
new data passed, each warm-started from the series' stored previous fit, and never rewrites a stored
fit. The estimator is regimes.hmm; this model only reads and returns rows (docs/regimes.md)."""

from regimes import walkforward, warehouse


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    n_states, cadence, min_days = walkforward.check_config(
        dbt.config.get("regime_states"),
        dbt.config.get("regime_refit_every"),
        dbt.config.get("regime_min_days"),
    )
    series = warehouse.read_series(dbt.ref("int_binance__returns_daily"))
    stored = warehouse.read_fits(session.sql(f"select * from {dbt.this}")) if dbt.is_incremental else {}
    walkforward.check_stored_version(stored, walkforward.model_version(n_states, cadence, min_days))
    return walkforward.fits_table(walkforward.fit_series(series, stored, n_states, cadence, min_days))
