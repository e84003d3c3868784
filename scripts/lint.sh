#!/usr/bin/env bash
# Lint Python (ruff) and SQL (sqlfluff, dbt templater). sqlfluff compiles the models, so it runs against
# a throw-away DuckDB file and an empty lake: a warehouse.duckdb or lake/ in the checkout would make
# is_incremental() true and lint other SQL than CI sees.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

.venv/bin/ruff check .
.venv/bin/ruff format --check .
DUCKDB_PATH="$scratch/lint.duckdb" LAKE_DIR="$scratch/lake" \
  .venv/bin/sqlfluff lint --disable-progress-bar models data-tests
