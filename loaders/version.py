"""The installed version of the project, for `--version` of every command line."""

from __future__ import annotations

import importlib.metadata

DISTRIBUTION = "binance-warehouse"


def version_line() -> str:
    """`binance-warehouse 0.1.0`; a checkout used without `pip install` says so instead of failing."""
    try:
        return f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{DISTRIBUTION} (not installed: run scripts/setup.sh)"
