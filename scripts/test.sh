#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint, then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/sqlfluff lint --disable-progress-bar models data-tests
.venv/bin/python -m pytest "$@"
