#!/usr/bin/env bash
# Set up with the dev and spark extras (scripts/setup.sh --dev), lint (scripts/lint.sh), then run the
# whole test suite. Extra arguments go to pytest: `-m "not spark"` leaves out a marker's tests (spark,
# browser, postgres: pyproject.toml) on a local run; CI (.ci/run) passes none, so it runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --dev
bash scripts/lint.sh
.venv/bin/python -m pytest "$@"
