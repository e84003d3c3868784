"""Arrow results in the format a caller asked for. Every read materialises its result as Arrow first
(it must outlive the DuckDB connection, see files.py); pandas and polars are imported only when asked
for, so neither is a dependency of the loaders."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa


def _missing(package: str) -> ImportError:
    return ImportError(
        f"output={package!r} needs {package}: pip install 'binance-warehouse[api]' (or {package}),"
        " or use output='arrow' or 'relation'"
    )


def convert(table: pa.Table, output: str) -> Any:
    """`table` as a pandas or polars DataFrame, an Arrow table, or a DuckDB relation (in memory, so
    `.df()`, `.arrow()`, `.pl()` and more SQL work on it without touching the warehouse file)."""
    if output == "arrow":
        return table
    if output == "relation":
        return duckdb.from_arrow(table)
    if output == "polars":
        try:
            import polars
        except ImportError:
            raise _missing("polars") from None
        return polars.from_arrow(table)
    try:
        import pandas  # noqa: F401  (to_pandas needs it; a clear message if it is missing)
    except ImportError:
        raise _missing("pandas") from None
    # Dates as datetime64 columns (what plotting and resampling want), not Python date objects.
    return table.to_pandas(date_as_object=False)
