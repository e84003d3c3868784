"""What to load: input validation, discovery of archives through the bucket listing, and the plan
(which archives to download, which are loaded and unchanged, which daily files a monthly one replaces).

Monthly archives are used for the months that have one; daily archives only for the days of months
that do not (the current month, until Binance publishes its monthly file)."""

from __future__ import annotations

import calendar
import dataclasses
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from loaders import contract
from loaders.binance.errors import BadInput
from loaders.binance.listing import ListedObject, list_prefix
from loaders.binance.manifest import Entry, Manifest
from loaders.binance.transport import Http

log = logging.getLogger("loaders.binance")

ALL = "ALL"  # --symbols ALL: every symbol the listing has
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_QUOTE = re.compile(r"^[A-Z0-9]+$")
log = logging.getLogger("loaders.binance")


@dataclass(frozen=True)
class Archive:
    """One source archive as listed, and where it lands in the lake."""

    dataset: str
    market: str
    symbol: str
    interval: str  # '' for datasets without intervals
    period: str  # YYYY-MM (monthly) or YYYY-MM-DD (daily)
    key: str
    size: int
    etag: str
    last_modified: str

    @property
    def kind(self) -> str:
        return contract.DAILY if len(self.period) == 10 else contract.MONTHLY

    @property
    def month(self) -> str:
        return self.period[:7]

    @property
    def stem(self) -> str:
        return contract.DATASETS[self.dataset].stem(self.symbol, self.interval, self.period)

    def url(self, base_url: str) -> str:
        return f"{base_url}/{self.key}"

    def parquet_path(self, lake_dir: Path) -> Path:
        folder = contract.partition_dir(
            lake_dir, self.dataset, self.market, self.interval, self.symbol, self.month
        )
        return folder / f"{self.stem}.parquet"

    def lake_key(self, lake_dir: Path) -> str:
        """The manifest key: the Parquet file's path relative to the lake."""
        return self.parquet_path(lake_dir).relative_to(lake_dir).as_posix()


@dataclass(frozen=True)
class Request:
    """A validated load request. `symbols` is None for --symbols ALL."""

    dataset: contract.Dataset
    market: str
    symbols: tuple[str, ...] | None
    intervals: tuple[str, ...]  # ('',) for datasets without intervals
    start: date | None
    end: date | None
    quote: str | None = None
    exclude: frozenset[str] = frozenset()

    def wants(self, symbol: str) -> bool:
        """--quote and --exclude: the symbol's pair (before any `_PERP`/`_YYMMDD` suffix of COIN-M)
        ends with the quote asset, and the symbol is not excluded."""
        pair = symbol.split("_", 1)[0]
        return symbol not in self.exclude and (self.quote is None or pair.endswith(self.quote))

    def describe(self) -> str:
        what = [self.market, self.dataset.name]
        return " ".join(what + [i for i in self.intervals if i])


def parse_day(text: str, what: str, *, end: bool) -> date:
    """YYYY-MM or YYYY-MM-DD; a month means its first day (start) or its last day (end)."""
    m = _DATE.match(text.strip())
    if not m:
        raise BadInput(f"{what} {text!r} is not YYYY-MM or YYYY-MM-DD")
    y, mo, d = int(m[1]), int(m[2]), m[3]
    try:
        if d is not None:
            return date(y, mo, int(d))
        return date(y, mo, calendar.monthrange(y, mo)[1] if end else 1)
    except (ValueError, calendar.IllegalMonthError) as exc:
        raise BadInput(f"{what} {text!r} is not a real date") from exc


def _as_list(value: list[str] | tuple[str, ...] | str | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def validate(
    market: str,
    symbols: list[str] | tuple[str, ...] | str,
    intervals: list[str] | tuple[str, ...] | str | None,
    start: str | date | None,
    end: str | date | None,
    *,
    dataset: str = "klines",
    quote: str | None = None,
    exclude: list[str] | tuple[str, ...] = (),
) -> Request:
    """Check everything the user typed before any request or write; raise BadInput naming the culprit."""
    if dataset not in contract.DATASETS:
        raise BadInput(f"unknown dataset {dataset!r} (choose from {', '.join(contract.DATASETS)})")
    ds = contract.DATASETS[dataset]
    if market not in contract.MARKETS:
        raise BadInput(f"unknown market {market!r} (choose from {', '.join(contract.MARKETS)})")
    if market not in ds.markets:
        raise BadInput(f"dataset {dataset} exists for markets {', '.join(ds.markets)}, not {market}")
    typed = [s.strip() for s in [*_as_list(symbols), *exclude]]
    for s in typed:
        if not re.match(contract.SYMBOL_PATTERN, s.upper()):
            raise BadInput(f"invalid symbol {s!r} (must match {contract.SYMBOL_PATTERN}, e.g. BTCUSDT)")
    # Binance spells symbols in capitals only: `btcusdt` can only mean BTCUSDT (and `all`, ALL).
    symbol_list = [s.strip().upper() for s in _as_list(symbols)]
    exclude = [s.strip().upper() for s in exclude]
    quote = quote.strip().upper() if quote is not None else None
    interval_list = _as_list(intervals)
    if not symbol_list:
        raise BadInput("no symbols given")
    everything = symbol_list == [ALL]
    if (quote or exclude) and not everything:
        raise BadInput("--quote and --exclude go with --symbols ALL")
    if quote is not None and not _QUOTE.match(quote):
        raise BadInput(f"invalid quote asset {quote!r} (e.g. USDT)")
    if ds.has_interval:
        if not interval_list:
            raise BadInput(f"--intervals is required for dataset {dataset}")
        for i in interval_list:
            if i not in contract.INTERVAL_SECONDS:
                raise BadInput(f"unknown interval {i!r} (choose from {' '.join(contract.INTERVAL_SECONDS)})")
            if i in contract.SPOT_ONLY_INTERVALS and market != "spot":
                raise BadInput(f"interval {i} exists only for market spot, not {market}")
    elif interval_list:
        raise BadInput(f"dataset {dataset} has no intervals: drop --intervals")
    s = start if isinstance(start, date) or start is None else parse_day(start, "--start", end=False)
    e = end if isinstance(end, date) or end is None else parse_day(end, "--end", end=True)
    if s and e and s > e:
        raise BadInput(f"--start {s} is after --end {e}")
    return Request(
        dataset=ds,
        market=market,
        symbols=None if everything else tuple(dict.fromkeys(symbol_list)),
        intervals=tuple(dict.fromkeys(interval_list)) if ds.has_interval else ("",),
        start=s,
        end=e,
        quote=quote,
        exclude=frozenset(exclude),
    )


# --- discovery -------------------------------------------------------------------------------------


def _folder(ds: contract.Dataset, market: str, period: str) -> str:
    return f"data/{contract.MARKETS[market]}/{period}/{ds.name}/"


def discover_symbols(http: Http, listing_url: str, req: Request) -> list[str]:
    """Every symbol with a folder of the dataset in the market (monthly or daily: delisted symbols
    keep their monthly files, new listings have daily files only), filtered by --quote/--exclude."""
    found: set[str] = set()
    for period in req.dataset.periods:
        prefix = _folder(req.dataset, req.market, period)
        found.update(p[len(prefix) :].strip("/") for p in list_prefix(http, listing_url, prefix)[1])
    for name in sorted(req.exclude - found):  # a typo in --exclude would otherwise load what it meant to skip
        log.warning("--exclude %s: no %s %s symbol has that name", name, req.market, req.dataset.name)
    return sorted(s for s in found if re.match(contract.SYMBOL_PATTERN, s) and req.wants(s))


def _archives(listed: list[ListedObject], req: Request, symbol: str, interval: str, period: str) -> dict:
    """period -> Archive for the listed zips named like Binance's (anything else is ignored)."""
    period_re = r"\d{4}-\d{2}-\d{2}" if period == contract.DAILY else r"\d{4}-\d{2}"
    stem = re.escape(req.dataset.stem(symbol, interval, "@")).replace("@", f"({period_re})")
    pattern = re.compile(rf"^{stem}\.zip$")
    out: dict[str, Archive] = {}
    for o in listed:
        m = pattern.match(o.key.rsplit("/", 1)[-1])
        if m:
            try:
                contract.period_range(m[1])
            except ValueError:  # e.g. BTCUSDT-1h-2023-13.zip: no such month, nothing to load
                log.warning("%s: %s is not a real month or day; skipped", o.key, m[1])
                continue
            out[m[1]] = Archive(
                req.dataset.name, req.market, symbol, interval, m[1], o.key, o.size, o.etag, o.last_modified
            )
    return out


def discover(http: Http, listing_url: str, req: Request, symbol: str, interval: str) -> list[Archive]:
    """Every archive that exists for one series: monthly ones, plus daily ones for the months without
    a monthly file. Sorted by period."""
    ds = req.dataset
    found: dict[str, dict[str, Archive]] = {contract.MONTHLY: {}, contract.DAILY: {}}
    for period in ds.periods:
        if period == contract.DAILY and ds.has_interval and interval not in contract.DAILY_FILE_INTERVALS:
            continue
        prefix = _folder(ds, req.market, period) + f"{symbol}/" + (f"{interval}/" if interval else "")
        found[period] = _archives(list_prefix(http, listing_url, prefix)[0], req, symbol, interval, period)
    chosen = dict(found[contract.MONTHLY])
    chosen.update({p: a for p, a in found[contract.DAILY].items() if p[:7] not in found[contract.MONTHLY]})
    return [chosen[p] for p in sorted(chosen) if in_window(chosen[p], req.start, req.end)]


def _has_folder(http: Http, listing_url: str, ds: contract.Dataset, market: str, symbol: str) -> bool:
    """Whether the listing has anything of `symbol` for this dataset and market (monthly or daily)."""
    for period in ds.periods:
        objects, folders = list_prefix(http, listing_url, _folder(ds, market, period) + f"{symbol}/")
        if objects or folders:
            return True
    return False


def _window(req: Request) -> str:
    if req.start and req.end:
        return f"between {req.start} and {req.end}"
    return f"from {req.start} on" if req.start else f"up to {req.end}"


def why_absent(http: Http, listing_url: str, req: Request, symbol: str) -> str:
    """One line on why a symbol the user typed has no archive to load, told apart by a few more
    listings (only on this error path): archives exist outside --start/--end, the symbol exists for
    other datasets or markets, or nobody knows it."""
    unbounded = dataclasses.replace(req, start=None, end=None)
    periods = sorted(
        a.period for i in req.intervals for a in discover(http, listing_url, unbounded, symbol, i)
    )
    if periods:
        return (
            f"no {req.describe()} archives for {symbol} {_window(req)} "
            f"(its archives run from {periods[0]} to {periods[-1]})"
        )
    # Where else the symbol lives: klines first (every traded symbol has them), then the market's other
    # datasets, then klines of the other markets.
    others = [contract.DATASETS["klines"], *(d for d in contract.DATASETS.values() if d.name != "klines")]
    candidates = [(d, req.market) for d in others if req.market in d.markets and d != req.dataset]
    candidates += [(contract.DATASETS["klines"], m) for m in contract.MARKETS if m != req.market]
    for ds, market in candidates:
        if _has_folder(http, listing_url, ds, market, symbol):
            return f"no {req.describe()} archives for {symbol} (it has {market} {ds.name} archives)"
    return f"unknown symbol {symbol!r}: no {req.describe()} archives, nor klines in any market"


def _month_overlaps(month: str, start: date | None, end: date | None) -> bool:
    y, m = int(month[:4]), int(month[5:7])
    first, last = date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
    return (start is None or last >= start) and (end is None or first <= end)


def in_window(archive: Archive, start: date | None, end: date | None) -> bool:
    """Whether the archive's period overlaps [start, end] (a monthly file is all-or-nothing)."""
    if archive.kind == contract.MONTHLY:
        return _month_overlaps(archive.period, start, end)
    d = date.fromisoformat(archive.period)
    return (start is None or d >= start) and (end is None or d <= end)


# --- the plan ---------------------------------------------------------------------------------------


def unchanged(archive: Archive, entry: Entry | None, parquet: Path) -> bool:
    """Loaded before and Binance has not replaced it since (size, and ETag or Last-Modified)."""
    if entry is None or not parquet.is_file() or entry.size != archive.size:
        return False
    if archive.etag and entry.etag:
        return archive.etag == entry.etag
    return archive.last_modified == entry.last_modified


def dailies_of(archive: Archive, lake_dir: Path) -> list[Path]:
    """Daily Parquet files in the month of a monthly archive (which replaces them)."""
    folder = archive.parquet_path(lake_dir).parent
    if archive.kind != contract.MONTHLY or not folder.is_dir():
        return []
    daily_stem = archive.stem.removesuffix(archive.period)
    return sorted(folder.glob(f"{daily_stem}{archive.month}-??.parquet"))


@dataclass
class Plan:
    """Of the listed archives: those to download, and the monthly archives already in place whose month still holds daily files (a removal that was deferred or
    interrupted)."""

    todo: list[Archive] = field(default_factory=list)
    leftovers: list[Archive] = field(default_factory=list)

    def add(self, archives: list[Archive], manifest: Manifest, lake_dir: Path) -> list[Archive]:
        """Plan more archives; returns the ones to download."""
        new = []
        for a in archives:
            if unchanged(a, manifest.get(a.lake_key(lake_dir)), a.parquet_path(lake_dir)):
                if dailies_of(a, lake_dir):
                    self.leftovers.append(a)
            else:
                new.append(a)
        self.todo.extend(new)
        return new
