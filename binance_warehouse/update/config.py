"""The configuration contract: `warehouse.toml` names what the warehouse keeps (docs/operations.md, "The
configuration"). One `[[series]]` table per entry; every value is checked against the lake contract
(loaders/contract.py) so a bad file fails in one line naming the entry and the field, before anything
runs."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from loaders import contract

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CONFIG = "warehouse.toml"
CONFIG_ENV = "WAREHOUSE_CONFIG"
KEYS = ("market", "dataset", "symbols", "quote", "exclude", "intervals", "start")
ALL = "ALL"
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?")
_ASSET = re.compile(r"[A-Z0-9]+")


class ConfigError(ValueError):
    """A configuration the update cannot run: its message is the one line the user sees (exit 2)."""


@dataclass(frozen=True)
class Entry:
    """One `[[series]]` table, validated: what one loader command keeps current."""

    index: int  # 1-based position in the file, for messages
    market: str = "spot"
    dataset: str = "klines"
    symbols: tuple[str, ...] | str = ALL  # a tuple of symbols, or ALL
    quote: str | None = None
    exclude: tuple[str, ...] = ()
    intervals: tuple[str, ...] = ()
    start: str | None = None

    def loader_args(self) -> list[str]:
        """The arguments of `python -m loaders.binance` that load this entry."""
        args = ["--market", self.market, "--dataset", self.dataset, "--symbols"]
        args += [ALL] if self.symbols == ALL else list(self.symbols)
        if self.quote:
            args += ["--quote", self.quote]
        if self.exclude:
            args += ["--exclude", *self.exclude]
        if self.intervals:
            args += ["--intervals", *self.intervals]
        if self.start:
            args += ["--start", self.start]
        return args

    def label(self) -> str:
        symbols = ALL if self.symbols == ALL else " ".join(self.symbols)
        return f"{self.market} {self.dataset} {' '.join(self.intervals) or '-'} {symbols}"


def config_path(override: str | os.PathLike[str] | None = None) -> Path:
    """--config wins over WAREHOUSE_CONFIG, which wins over ./warehouse.toml."""
    return Path(override or os.environ.get(CONFIG_ENV, "").strip() or DEFAULT_CONFIG)


def load(path: Path) -> list[Entry]:
    """The validated entries of `path`; ConfigError (one line) for anything the update cannot run."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file (see warehouse.toml's example)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"series"})
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {unknown[0]!r} (only [[series]] tables)")
    tables = data.get("series")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[series]] table: nothing to keep current")
    return [_entry(path, i, t) for i, t in enumerate(tables, start=1)]


def _entry(path: Path, index: int, table: object) -> Entry:
    def fail(key: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: series {index}, {key}: {why}")

    if not isinstance(table, dict):
        raise fail("series", "must be a table")
    for key in table:
        if key not in KEYS:
            raise fail(key, f"unknown key (known: {', '.join(KEYS)})")
    market = _text(table.get("market", "spot"), "market", fail)
    if market not in contract.MARKETS:
        raise fail("market", f"{market!r} is not one of {', '.join(contract.MARKETS)}")
    name = _text(table.get("dataset", "klines"), "dataset", fail)
    if name not in contract.DATASETS:
        raise fail("dataset", f"unknown dataset {name!r} (known: {', '.join(contract.DATASETS)})")
    ds = contract.DATASETS[name]
    if market not in ds.markets:
        raise fail("market", f"{name} exists only for {', '.join(ds.markets)}, not {market}")
    if "symbols" not in table:
        raise fail("symbols", 'missing (a list of symbols, or "ALL")')
    symbols = _symbols(table["symbols"], fail)
    quote = table.get("quote")
    exclude = _list(table.get("exclude", []), "exclude", fail)
    if symbols != ALL and (quote is not None or exclude):
        raise fail("quote" if quote is not None else "exclude", 'only with symbols = "ALL"')
    if quote is not None:
        quote = _text(quote, "quote", fail).upper()
        if not _ASSET.fullmatch(quote):
            raise fail("quote", f"{quote!r} is not an asset like USDT")
    for s in exclude:
        if not re.match(contract.SYMBOL_PATTERN, s):
            raise fail("exclude", f"{s!r} is not a Binance symbol")
    intervals = _list(table.get("intervals", []), "intervals", fail, upper=False)
    if ds.has_interval and not intervals:
        raise fail("intervals", f'required for {name} (e.g. ["1d"])')
    if not ds.has_interval and intervals:
        raise fail("intervals", f"{name} has no intervals")
    for code in intervals:
        if code not in contract.INTERVAL_SECONDS:
            raise fail(
                "intervals", f"unknown interval {code!r} (known: {' '.join(contract.INTERVAL_SECONDS)})"
            )
        if code in contract.SPOT_ONLY_INTERVALS and market != "spot":
            raise fail("intervals", f"{code} exists only on spot")
    start = table.get("start")
    if start is not None:
        start = str(start) if not isinstance(start, str) else start  # TOML dates are date objects
        try:
            if not _DATE.fullmatch(start):
                raise ValueError("not YYYY-MM or YYYY-MM-DD")
            contract.period_range(start)
        except ValueError as exc:
            raise fail("start", f"{start!r}: {exc}") from None
    return Entry(index, market, name, symbols, quote, tuple(exclude), tuple(intervals), start)


def _text(value: object, key: str, fail) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(key, f"must be a non-empty string, not {value!r}")
    return value.strip()


def _list(value: object, key: str, fail, upper: bool = True) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(key, f"must be a list of strings, not {value!r}")
    return [v.strip().upper() if upper else v.strip() for v in value]


def _symbols(value: object, fail) -> tuple[str, ...] | str:
    if isinstance(value, str) and value.strip().upper() == ALL:
        return ALL
    symbols = _list(value, "symbols", fail)
    if not symbols:
        raise fail("symbols", 'empty (a list of symbols, or "ALL")')
    for s in symbols:
        if s == ALL:
            raise fail("symbols", '"ALL" stands alone, not in a list')
        if not re.match(contract.SYMBOL_PATTERN, s):
            raise fail("symbols", f"{s!r} is not a Binance symbol (letters, digits, _)")
    return tuple(symbols)
