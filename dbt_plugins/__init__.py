"""dbt-duckdb plugins of this project, registered in profiles.yml:

- `dbt_plugins.lake`: the local lake as dbt sees it (dbt's working directory for relative LAKE_DIR,
  the readers lock a build holds, the one-line stop on an empty lake before the warehouse file exists).
- `dbt_plugins.lock_check`: one line, before connecting, when another process holds the warehouse file.
- `dbt_plugins.r2`: DuckDB's httpfs secret for `--target r2`, built from R2_* inside the connection.
"""
