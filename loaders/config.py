"""Settings and constants shared by every loader: one place for names, defaults and the lake layout.

Configuration comes from environment variables with working local defaults (SPEC: "What users
type"); a CLI flag, where there is one, wins over the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- environment -------------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://data.binance.vision"
DEFAULT_LISTING_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
DEFAULT_LAKE_DIR = "./lake"
DEFAULT_DUCKDB_PATH = "./warehouse.duckdb"


def env(name: str, default: str | None = None) -> str | None:
    """An environment variable, with empty strings treated as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def base_url() -> str:
    return env("BINANCE_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


def listing_url() -> str:
    return env("BINANCE_LISTING_URL", DEFAULT_LISTING_URL).rstrip("/")


def lake_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The lake root, absolute, so paths stored or printed do not depend on the working directory."""
    return Path(override or env("LAKE_DIR", DEFAULT_LAKE_DIR)).expanduser().resolve()


# --- Binance ------------------------------------------------------------------------------------

# CLI market name -> path segment under {base}/data/.
MARKETS: dict[str, str] = {"spot": "spot", "um": "futures/um", "cm": "futures/cm"}

# Interval code -> length in seconds. 1mo has no fixed length; 0 marks it as calendar-based.
INTERVAL_SECONDS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
    "1mo": 0,
}
SPOT_ONLY_INTERVALS = frozenset({"1s"})
# Binance publishes daily files only up to 1d; longer intervals exist as monthly files alone.
DAILY_FILE_INTERVALS = frozenset(code for code, s in INTERVAL_SECONDS.items() if 0 < s <= 86400)

SYMBOL_PATTERN = r"^[A-Z0-9_]+$"

# --- the lake -----------------------------------------------------------------------------------

KLINES_DIR = ("binance", "klines")
MANIFEST_PATH = ("binance", "manifest", "klines.parquet")


def klines_root(lake: Path) -> Path:
    return lake.joinpath(*KLINES_DIR)


def manifest_path(lake: Path) -> Path:
    return lake.joinpath(*MANIFEST_PATH)


def partition_dir(lake: Path, market: str, interval: str, symbol: str, month: str) -> Path:
    """Hive partition folder of one month: market=/interval=/symbol=/month=."""
    return klines_root(lake) / f"market={market}" / f"interval={interval}" / f"symbol={symbol}" / f"month={month}"


def temp_path(final: Path) -> Path:
    """A temporary sibling of `final`: same folder (so os.replace is atomic), hidden and without the
    .parquet suffix (so no glob over the lake ever reads a half-written file)."""
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")
