"""Binance kline archives -> verified, Hive-partitioned Parquet lake (`python -m loaders.binance`)."""

from loaders.binance.errors import ArchiveError, BadInput, LoadError
from loaders.binance.load import LoadSummary, load

__all__ = ["ArchiveError", "BadInput", "LoadError", "LoadSummary", "load"]
