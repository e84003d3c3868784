"""dbt-duckdb plugin for the `r2` target: gives DuckDB's httpfs a secret built from the R2_* variables.

Why a plugin and not the profile's `secrets:` block: profile values pass through dbt's Jinja rendering
and its debug logging, while this code reads the environment inside the connection set-up, so the secret
never exists in dbt's context, `target/` or `logs/`. It also lets one profile pick the secret type (r2
with the account id, or s3 with endpoint and path-style URLs when R2_ENDPOINT_URL is set).

profiles.yml: `plugins: [{module: dbt_plugins.r2}]` on the r2 output.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from loaders.r2.settings import R2Settings


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # Read (and validate) the variables once, when dbt opens the target: a missing one stops the run
        # here with one line naming it.
        self.settings = R2Settings.from_env()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.execute("load httpfs")
        # Lake files never change during a run, and the models read the staging view more than once:
        # cache HTTP metadata (HEAD/listings) and Parquet footers instead of fetching them per query.
        conn.execute("set enable_http_metadata_cache = true")
        conn.execute("set parquet_metadata_cache = true")
        try:
            conn.execute(self.settings.duckdb_secret_sql())
        except Exception as exc:  # DuckDB errors may quote the statement: never let the secret through
            raise RuntimeError(self.settings.scrub(f"creating the R2 secret for DuckDB: {exc}")) from None
