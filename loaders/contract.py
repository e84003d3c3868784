"""The lake contract: what `python -m loaders.binance` writes and the dbt project reads.

One definition of the datasets, markets, interval codes, partition layout and column schemas. The
loader imports it; `tests/test_lake_contract.py` checks that the dbt sources (their globs), the
interval seed and every `accepted_values` list in the dbt project agree with it (docs/lake.md, "Partitions",
"Datasets").

Layout: `{lake}/binance/{dataset}/market={m}/[interval={i}/]symbol={s}/month={YYYY-MM}/{stem}.parquet`,
one Parquet file per source archive; the manifest of each dataset is `{lake}/binance/manifest/{dataset}.parquet`.
"""

from __future__ import annotations

import calendar
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

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
MONTHLY, DAILY = "monthly", "daily"

# Timestamps of every dataset are epoch integers: values at or above this are microseconds (ms values
# reach it only in the year 5138). After normalisation to microseconds a row time must lie in
# [2010-01-01, 2100-01-01): anything else is a malformed row (e.g. "-5" where a time belongs).
MICROSECOND_THRESHOLD = 10**14
PLAUSIBLE_TIME_US = (1_262_304_000 * 10**6, 4_102_444_800 * 10**6)


def period_range(period: str) -> tuple[datetime, datetime]:
    """[start, end) of an archive's period, `YYYY-MM` or `YYYY-MM-DD` (naive UTC); ValueError for one
    that names no real month or day (a listing may hold `BTCUSDT-1h-2023-13.zip`)."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", period)
    if not m:
        raise ValueError(f"{period!r} is not YYYY-MM or YYYY-MM-DD")
    y, mo = int(m[1]), int(m[2])
    if not 1 <= mo <= 12:
        raise ValueError(f"month must be in 1..12, not {mo}")
    start = datetime(y, mo, int(m[3]) if m[3] else 1)
    return start, start + timedelta(days=1 if m[3] else calendar.monthrange(y, mo)[1])


def _spellings(*names: str) -> frozenset[str]:
    return frozenset(normalize_header(n) for n in names)


def normalize_header(name: str) -> str:
    """A header field compared case-, space- and underscore-insensitively ("Quote asset volume" ==
    "quote_asset_volume"); a UTF-8 byte-order mark is ignored."""
    return re.sub(r"[^a-z0-9]", "", name.lstrip("\ufeff").strip().lower())


@dataclass(frozen=True)
class CsvColumn:
    """One column of Binance's CSV, in file order.

    `lake` is its name in the lake (None: not kept), `parse` how the CSV text is read: "epoch" (integer
    ms or µs, stored as timestamp[us]), "datetime" (UTC `YYYY-MM-DD HH:MM:SS`), "float", "int", "bool",
    "text". `spellings` are the header names Binance (and files edited by people) use for it."""

    csv: str
    lake: str | None
    parse: str
    spellings: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Dataset:
    """A Binance dataset (Binance's own name) and its lake contract."""

    name: str
    markets: tuple[str, ...]
    has_interval: bool
    periods: tuple[str, ...]  # which archives Binance publishes: monthly, daily
    columns: tuple[CsvColumn, ...]
    schema: pa.Schema  # the lake file's columns
    key: str  # rows are sorted and unique on this column
    time: str  # the row's time: its UTC day and month
    optional_tail: int = 0  # trailing CSV columns some markets omit (spot aggTrades' is_best_match)

    @property
    def csv_names(self) -> list[str]:
        return [c.csv for c in self.columns]

    def header_names(self) -> frozenset[str]:
        return frozenset().union(*(c.spellings | {normalize_header(c.csv)} for c in self.columns))

    def stem(self, symbol: str, interval: str, period: str) -> str:
        """Binance's file stem: `{SYMBOL}-{interval}-{period}` for kline-format datasets,
        `{SYMBOL}-{dataset}-{period}` for the others."""
        return f"{symbol}-{interval if self.has_interval else self.name}-{period}"

    def folder_glob(self) -> str:
        """Partition folders of every file, relative to the lake root."""
        interval = "interval=*/" if self.has_interval else ""
        return f"binance/{self.name}/market=*/{interval}symbol=*/month=*"

    def file_glob(self) -> str:
        return f"{self.folder_glob()}/*.parquet"


def _kline_columns() -> tuple[CsvColumn, ...]:
    return (
        CsvColumn("open_time", "open_time", "epoch", _spellings("open_time", "opentime")),
        CsvColumn("open", "open", "float"),
        CsvColumn("high", "high", "float"),
        CsvColumn("low", "low", "float"),
        CsvColumn("close", "close", "float"),
        CsvColumn("volume", "volume", "float"),
        CsvColumn("close_time", "close_time", "epoch", _spellings("closetime")),
        CsvColumn("quote_volume", "quote_volume", "float", _spellings("quote asset volume")),
        CsvColumn("count", "trade_count", "int", _spellings("number of trades", "trades")),
        CsvColumn(
            "taker_buy_volume",
            "taker_buy_base_volume",
            "float",
            _spellings("taker buy base asset volume", "taker_buy_base_volume"),
        ),
        CsvColumn(
            "taker_buy_quote_volume",
            "taker_buy_quote_volume",
            "float",
            _spellings("taker buy quote asset volume"),
        ),
        CsvColumn("ignore", None, "text"),
    )


# Every kline column is required (non-nullable): an empty field fails the archive, and Parquet then
# stores no definition levels (a tenth of the write time).
KLINE_SCHEMA = pa.schema(
    [
        pa.field(name, type_, nullable=False)
        for name, type_ in [
            ("open_time", pa.timestamp("us")),
            ("close_time", pa.timestamp("us")),
            *[(name, pa.float64()) for name in ["open", "high", "low", "close", "volume", "quote_volume"]],
            ("taker_buy_base_volume", pa.float64()),
            ("taker_buy_quote_volume", pa.float64()),
            ("trade_count", pa.int64()),
        ]
    ]
)


def _kline_format(name: str, markets: tuple[str, ...]) -> Dataset:
    return Dataset(
        name=name,
        markets=markets,
        has_interval=True,
        periods=(MONTHLY, DAILY),
        columns=_kline_columns(),
        schema=KLINE_SCHEMA,
        key="open_time",
        time="open_time",
    )


DATASETS: dict[str, Dataset] = {
    "klines": _kline_format("klines", ("spot", "um", "cm")),
    # Kline-format derivatives series: volume-type columns are 0 and `count` is a sample count.
    "premiumIndexKlines": _kline_format("premiumIndexKlines", ("um", "cm")),
    "markPriceKlines": _kline_format("markPriceKlines", ("um", "cm")),
    "indexPriceKlines": _kline_format("indexPriceKlines", ("um", "cm")),
    "fundingRate": Dataset(
        name="fundingRate",
        markets=("um", "cm"),
        has_interval=False,
        periods=(MONTHLY,),
        columns=(
            CsvColumn("calc_time", "funding_time", "epoch", _spellings("funding_time")),
            CsvColumn("funding_interval_hours", "funding_interval_hours", "int"),
            CsvColumn("last_funding_rate", "funding_rate", "float", _spellings("funding_rate")),
        ),
        schema=pa.schema(
            [
                pa.field("funding_time", pa.timestamp("us"), nullable=False),
                pa.field("funding_interval_hours", pa.int64(), nullable=False),
                pa.field("funding_rate", pa.float64(), nullable=False),
            ]
        ),
        key="funding_time",
        time="funding_time",
    ),
    "metrics": Dataset(
        name="metrics",
        markets=("um", "cm"),
        has_interval=False,
        periods=(DAILY,),
        columns=(
            CsvColumn("create_time", "metric_time", "datetime"),
            CsvColumn("symbol", None, "text"),
            CsvColumn("sum_open_interest", "open_interest", "float"),
            CsvColumn("sum_open_interest_value", "open_interest_value", "float"),
            CsvColumn("count_toptrader_long_short_ratio", "top_trader_account_ratio", "float"),
            CsvColumn("sum_toptrader_long_short_ratio", "top_trader_position_ratio", "float"),
            CsvColumn("count_long_short_ratio", "account_ratio", "float"),
            CsvColumn("sum_taker_long_short_vol_ratio", "taker_buy_sell_ratio", "float"),
        ),
        schema=pa.schema(
            [pa.field("metric_time", pa.timestamp("us"), nullable=False)]
            + [
                pa.field(name, pa.float64())
                for name in (
                    "open_interest",
                    "open_interest_value",
                    "top_trader_account_ratio",
                    "top_trader_position_ratio",
                    "account_ratio",
                    "taker_buy_sell_ratio",
                )
            ]
        ),
        key="metric_time",
        time="metric_time",
    ),
    "aggTrades": Dataset(
        name="aggTrades",
        markets=("spot", "um", "cm"),
        has_interval=False,
        periods=(MONTHLY, DAILY),
        columns=(
            CsvColumn("agg_trade_id", "agg_trade_id", "int", _spellings("a", "aggregate_trade_id")),
            CsvColumn("price", "price", "float", _spellings("p")),
            CsvColumn("quantity", "quantity", "float", _spellings("q", "qty")),
            CsvColumn("first_trade_id", "first_trade_id", "int", _spellings("f")),
            CsvColumn("last_trade_id", "last_trade_id", "int", _spellings("l")),
            CsvColumn("transact_time", "transact_time", "epoch", _spellings("t", "timestamp", "time")),
            CsvColumn("is_buyer_maker", "is_buyer_maker", "bool", _spellings("m", "was_the_buyer_the_maker")),
            CsvColumn(
                "is_best_match", "is_best_match", "bool", _spellings("was_the_trade_the_best_price_match")
            ),
        ),
        schema=pa.schema(
            [
                pa.field("agg_trade_id", pa.int64(), nullable=False),
                pa.field("first_trade_id", pa.int64(), nullable=False),
                pa.field("last_trade_id", pa.int64(), nullable=False),
                pa.field("price", pa.float64(), nullable=False),
                pa.field("quantity", pa.float64(), nullable=False),
                pa.field("transact_time", pa.timestamp("us"), nullable=False),
                pa.field("is_buyer_maker", pa.bool_(), nullable=False),
                pa.field("is_best_match", pa.bool_()),  # spot only
            ]
        ),
        key="agg_trade_id",
        time="transact_time",
        optional_tail=1,
    ),
}
KLINE_FORMAT_DATASETS = tuple(name for name, d in DATASETS.items() if d.columns == DATASETS["klines"].columns)


# --- paths ----------------------------------------------------------------------------------------


def dataset_root(lake: Path, dataset_name: str) -> Path:
    return lake / "binance" / dataset_name


def partition_dir(lake: Path, dataset_name: str, market: str, interval: str, symbol: str, month: str) -> Path:
    """Hive partition folder of one month of one series: market=/[interval=/]symbol=/month=."""
    folder = dataset_root(lake, dataset_name) / f"market={market}"
    if DATASETS[dataset_name].has_interval:
        folder /= f"interval={interval}"
    return folder / f"symbol={symbol}" / f"month={month}"


def manifest_dir(lake: Path) -> Path:
    return lake / "binance" / "manifest"


def manifest_path(lake: Path, dataset_name: str) -> Path:
    """The manifest of one dataset (klines: `binance/manifest/klines.parquet`, as it always was)."""
    return manifest_dir(lake) / f"{dataset_name}.parquet"


def manifest_lock_path(lake: Path) -> Path:
    """Held (exclusively) by a loader for the few milliseconds of a manifest read-merge-write."""
    return manifest_dir(lake) / ".lock"


def readers_lock_path(lake: Path) -> Path:
    """Held (shared) by every `dbt build` reading the lake, from on-run-start to on-run-end; a loader
    deletes lake files only when it can take it exclusively (docs/failure-contract.md, "Locks")."""
    return lake / "binance" / ".readers.lock"


def temp_path(final: Path) -> Path:
    """A temporary sibling of `final`: same folder (so os.replace is atomic), hidden and without the
    .parquet suffix (so no glob over the lake ever reads a half-written file)."""
    return final.with_name(f".{final.name}.tmp-{os.getpid()}")


_TEMP_PID = re.compile(r"\.tmp-(\d+)$")


def temp_owner(path: Path) -> int | None:
    """The pid that wrote a temporary file (see temp_path), or None if it is not one."""
    m = _TEMP_PID.search(path.name)
    return int(m[1]) if m and path.name.startswith(".") else None


# --- plausibility ------------------------------------------------------------------------------------
# docs/failure-contract.md, "Plausibility": what a lake row may hold, per dataset. The
# loader rejects an archive with any row breaking a rule (loaders/binance/plausibility.py); the dbt data
# tests check the same in lake files that did not come through the loader. Every float must be finite
# (NaN and inf are refused; 1e308 is finite and passes). Every row's `Dataset.time` lies in the period
# of its archive's name (the month or the day). Nulls (metrics' empty ratio fields) are not checked.
POSITIVE, NON_NEGATIVE, FINITE = "> 0", ">= 0", "finite"

_KLINE_PRICES = ("open", "high", "low", "close")
_KLINE_AMOUNTS = (
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "trade_count",
)


@dataclass(frozen=True)
class Plausibility:
    """The rules of one dataset: `columns` maps a lake column to POSITIVE, NON_NEGATIVE or FINITE;
    `ordered` pairs (low, high) of columns with low <= high on every row; `ends_inclusive`: a row may
    also sit exactly at the end of the archive's period (00:00:00 of the next day or month)."""

    columns: dict[str, str]
    ordered: tuple[tuple[str, str], ...] = ()
    ends_inclusive: bool = False


def _kline_rules(price_rule: str) -> Plausibility:
    return Plausibility(
        {**dict.fromkeys(_KLINE_PRICES, price_rule), **dict.fromkeys(_KLINE_AMOUNTS, NON_NEGATIVE)}
    )


PLAUSIBILITY: dict[str, Plausibility] = {
    "klines": _kline_rules(POSITIVE),
    "markPriceKlines": _kline_rules(POSITIVE),
    "indexPriceKlines": _kline_rules(POSITIVE),
    # A premium index is mark / index - 1: negative whenever the mark is below the index.
    "premiumIndexKlines": _kline_rules(FINITE),
    # Funding rates are negative whenever shorts pay longs.
    "fundingRate": Plausibility({"funding_interval_hours": POSITIVE, "funding_rate": FINITE}),
    "metrics": Plausibility(
        dict.fromkeys(
            (
                "open_interest",
                "open_interest_value",
                "top_trader_account_ratio",
                "top_trader_position_ratio",
                "account_ratio",
                "taker_buy_sell_ratio",
            ),
            NON_NEGATIVE,
        ),
        # Exception from real files: USD-M metrics days before 2026-06-25 label rows with the end of
        # their 5 minutes, 00:05:00 to 00:00:00 of the next day (binance-public-data issue #491).
        ends_inclusive=True,
    ),
    "aggTrades": Plausibility(
        {"price": POSITIVE, "quantity": NON_NEGATIVE}, ordered=(("first_trade_id", "last_trade_id"),)
    ),
}
