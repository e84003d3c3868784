"""Install DuckDB's httpfs and postgres extensions from their PyPI packages.

DuckDB normally downloads extensions from its own server on first use; the pinned
`duckdb-extension-*` wheels carry the same binaries, so `INSTALL '<file>'` puts them into DuckDB's
extension directory once, and every later `INSTALL httpfs` / `LOAD httpfs` works offline.
Run by scripts/setup.sh: `python scripts/install_duckdb_extensions.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import duckdb

PACKAGES = {"httpfs": "duckdb_extension_httpfs", "postgres_scanner": "duckdb_extension_postgres_scanner"}


def extension_file(name: str, package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"error: Python package {package} is not installed (pip install -e '.[dev]')")
    root = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(root.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
    if not files:
        raise SystemExit(f"error: {package} has no {name} extension for DuckDB {duckdb.__version__}")
    return files[0]


def install_all() -> None:
    con = duckdb.connect()
    for name, package in PACKAGES.items():
        path = extension_file(name, package)
        con.execute(f"force install '{path.as_posix()}'")
        con.execute(f"load {name}")
        print(f"duckdb extension {name} installed from {package}")


if __name__ == "__main__":
    install_all()
    sys.exit(0)
