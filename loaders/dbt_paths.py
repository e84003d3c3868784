"""dbt-duckdb plugin: tell dbt's SQL the directory dbt runs in, so a relative LAKE_DIR becomes absolute.

Why: the staging view `stg_binance__klines` is stored in the DuckDB file as SQL text. A relative lake
path inside it (LAKE_DIR defaults to `./lake`) would be resolved against the working directory of
whoever opens the file later (a BI tool, a notebook elsewhere) and find nothing. dbt's Jinja cannot
read the working directory, and `$PWD` is wrong whenever a parent process changed directory without a
shell, so this plugin stores `os.getcwd()` in the DuckDB session variable `binance_cwd` on every
cursor; the macro `binance_lake_root()` reads it when it compiles the view.

Registered in profiles.yml: `plugins: [{module: loaders.dbt_paths}]`.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

SESSION_VARIABLE = "binance_cwd"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Plugin(BasePlugin):
    """Sets `getvariable('binance_cwd')` to the absolute working directory of the dbt process."""

    def configure_cursor(self, cursor: Any) -> None:
        cursor.execute(f"set variable {SESSION_VARIABLE} = {_sql_string(os.getcwd())}")
