#!/usr/bin/env bash
# Set up (scripts/setup.sh), lint (scripts/lint.sh), then run the whole test suite. Extra arguments go to
# pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/lint.sh
.venv/bin/python -m pytest "$@"
