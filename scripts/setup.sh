#!/usr/bin/env bash
# Set up the project in .venv/: Python packages (with the dev extra, and the spark extra: dbt-spark and
# pyspark for `--target spark` and tests/test_spark.py) and DuckDB's extensions from their PyPI packages,
# so nothing later needs DuckDB's extension server. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,spark]'
.venv/bin/python scripts/install_duckdb_extensions.py
