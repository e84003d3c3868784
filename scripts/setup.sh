#!/usr/bin/env bash
# Set up the project in .venv/: what loading and building need (the package, dbt-duckdb, DuckDB and its
# CLI), and DuckDB's extensions from their PyPI packages, so nothing later needs DuckDB's extension
# server. Safe to re-run.
#   bash scripts/setup.sh           load and build (about 40 s, 0.6 GB)
#   bash scripts/setup.sh --spark   also the spark extra: dbt-spark and pyspark for `dbt build --target spark`
#   bash scripts/setup.sh --dev     also the dev and spark extras: what scripts/test.sh needs (about 3 min, 1.5 GB)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
for arg in "$@"; do
  case "$arg" in
    --dev) extras="dev,spark" ;;
    --spark) [ "$extras" = "dev,spark" ] || extras="spark" ;;
    *) echo "usage: bash scripts/setup.sh [--dev | --spark]" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
.venv/bin/python scripts/install_duckdb_extensions.py
