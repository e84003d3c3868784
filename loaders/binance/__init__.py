"""Binance kline archives -> verified, Hive-partitioned Parquet lake (`python -m loaders.binance`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loaders.binance.errors import ArchiveError, BadInput, LoadError
    from loaders.binance.ledger import LoadSummary
    from loaders.binance.run import load

__all__ = ["ArchiveError", "BadInput", "LoadError", "LoadSummary", "load"]
_HOME = {
    "ArchiveError": "errors",
    "BadInput": "errors",
    "LoadError": "errors",
    "LoadSummary": "ledger",
    "load": "run",
}


def __getattr__(name: str) -> Any:
    """Exports are imported on first use, so `python -m loaders.binance` can tune the process
    (__main__.py) before pyarrow and numpy load."""
    if name in _HOME:
        return getattr(importlib.import_module(f"loaders.binance.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
