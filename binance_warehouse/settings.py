"""Constants of the read API, in one place."""

from __future__ import annotations

# Formats a result can come back in (Warehouse(output=...) or per call).
OUTPUTS = ("pandas", "arrow", "polars", "relation")
DEFAULT_OUTPUT = "pandas"

# How long a read waits for a writer (a `dbt build`) to release the DuckDB file before it gives up, by
# default; the first retry comes after RETRY_FIRST_SECONDS, doubling up to RETRY_MAX_SECONDS.
DEFAULT_WAIT_SECONDS = 10.0
RETRY_FIRST_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0
# A lake file can vanish between listing and reading (a loader replacing daily files by the monthly
# one): the read lists the folders again, this many times.
LAKE_READ_ATTEMPTS = 5

# Marts the API reads (schema main of DUCKDB_PATH).
FEATURES_TABLE = "fct_regime_features_daily"
DERIVATIVES_TABLE = "fct_derivatives_daily"
COVERAGE_TABLE = "fct_coverage_daily"
SYMBOLS_TABLE = "dim_symbols"
# Added by the regime-probability model (docs/regimes.md); optional, detected per call.
PROBABILITIES_TABLE = "fct_regime_probabilities_daily"

# regimes(): the regime columns of fct_regime_features_daily, and the ones the probability model adds
# to it (used when present).
REGIME_COLUMNS = (
    "close_price",
    "trend_30d",
    "volatility_30d",
    "regime",
    "regime_id",
    "funding_rate_7d_annualized",
    "oi_change_7d",
    "leverage_regime",
)
OPTIONAL_REGIME_COLUMNS = ("vol_state", "vol_state_probability", "turbulent_probability")

# A state name becomes part of a column name (prob_<state>): only names like this are used.
STATE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,40}$"

# Candle columns in the result: lake name -> API name (the staging view's names).
CANDLE_COLUMNS = {
    "open_time": "open_at",
    "close_time": "close_at",
    "open": "open_price",
    "high": "high_price",
    "low": "low_price",
    "close": "close_price",
    "volume": "base_volume",
    "quote_volume": "quote_volume",
    "taker_buy_base_volume": "taker_buy_base_volume",
    "taker_buy_quote_volume": "taker_buy_quote_volume",
    "trade_count": "trade_count",
}
