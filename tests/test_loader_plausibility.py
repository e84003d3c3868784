"""Implausible rows fail the archive (docs/failure-contract.md, "Plausibility"): per
dataset, a good archive is loaded, then Binance "replaces" it with one bad value; the real loader
(`python -m loaders.binance` against the local Binance server) exits 1 with one FAILED line naming the
file, the CSV line and the value, and keeps the old lake file. Also: a listing key with an impossible
period is skipped with one warning, and real quirks (negative premiums and funding rates, metrics
labelled up to 00:00 of the next day) still load."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from loaders import contract
from loaders.binance import load
from loaders.binance.convert import convert_zip
from tests.fixtures import derivatives
from tests.fixtures.binance_server import BinanceServer, archive_key, kline_table, table_csv, zip_csv
from tests.fixtures.loader_cli import cli, urls
from tests.fixtures.paths import REPO_ROOT

DAY = date(2025, 1, 2)
MONTH = "2025-01"


def key(market: str, dataset: str, symbol: str, period: str, interval: str = "") -> str:
    kind = "daily" if len(period) == 10 else "monthly"
    folder = f"{symbol}/{interval}/" if interval else f"{symbol}/"
    stem = contract.DATASETS[dataset].stem(symbol, interval, period)
    return f"data/{contract.MARKETS[market]}/{kind}/{dataset}/{folder}{stem}.zip"


def publish(server: BinanceServer, archive: str, csv: bytes) -> None:
    name = archive.rsplit("/", 1)[-1].removesuffix(".zip")
    server.add_zip(archive, zip_csv(csv, f"{name}.csv"))


def spoil(csv: bytes, line: int, column: int, value: str) -> bytes:
    """`csv` with field `column` of (1-based) `line` replaced by `value`."""
    lines = csv.decode().split("\n")
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)
    return "\n".join(lines).encode()


@dataclass(frozen=True)
class Family:
    """One dataset family: where its archive lives and a good CSV of it."""

    market: str
    dataset: str
    interval: str
    period: str
    good: Callable[[], bytes]


def _spot_klines() -> bytes:
    return table_csv(kline_table("1h", DAY.isoformat()))  # spot: no header, 24 rows


def _futures(dataset: str) -> Callable[[], bytes]:
    return lambda: derivatives.futures_hourly_month(MONTH, 3, 68000.0)[0][dataset]  # header + 744 rows


FAMILIES = {
    "klines": Family("spot", "klines", "1h", DAY.isoformat(), _spot_klines),
    "fundingRate": Family("um", "fundingRate", "", MONTH, lambda: derivatives.funding_month(MONTH, 1)),
    "metrics": Family(
        "um",
        "metrics",
        "",
        DAY.isoformat(),
        lambda: derivatives.metrics_day(DAY, "BTCUSDT", 1, 8e4, 6.8e4)[0],
    ),
    "aggTrades": Family(
        "um", "aggTrades", "", DAY.isoformat(), lambda: derivatives.agg_trades_day(DAY, 1, 300, spot=False)
    ),
    "markPriceKlines": Family("um", "markPriceKlines", "1h", MONTH, _futures("markPriceKlines")),
    "indexPriceKlines": Family("um", "indexPriceKlines", "1h", MONTH, _futures("indexPriceKlines")),
    "premiumIndexKlines": Family("um", "premiumIndexKlines", "1h", MONTH, _futures("premiumIndexKlines")),
}

# (family, line, column, bad value, what the FAILED line must say after "line N: ")
CASES = [
    ("klines", 5, 2, "inf", "high is inf, not a finite number"),
    ("klines", 3, 1, "nan", "open is nan, not a finite number"),  # was "empty open fields"
    ("klines", 6, 3, "1e400", "low is inf, not a finite number"),  # overflows to inf
    ("klines", 4, 4, "-92817", "close is -92817.0, not > 0"),
    ("klines", 7, 5, "-1.5", "volume is -1.5, not >= 0"),
    ("klines", 8, 8, "-5", "count (trade_count) is -5, not >= 0"),
    (
        "klines",
        24,
        0,
        "1735862400000",
        "open_time 2025-01-03 00:00:00 is outside the archive's period 2025-01-02",
    ),
    (
        "fundingRate",
        94,
        0,
        "1830297600000",
        "calc_time (funding_time) 2028-01-01 00:00:00 is outside the archive's period 2025-01",
    ),
    ("fundingRate", 10, 1, "0", "funding_interval_hours is 0, not > 0"),
    ("fundingRate", 11, 1, "-8", "funding_interval_hours is -8, not > 0"),
    ("fundingRate", 12, 2, "nan", "last_funding_rate (funding_rate) is nan, not a finite number"),
    ("metrics", 20, 2, "-5", "sum_open_interest (open_interest) is -5.0, not >= 0"),
    (
        "metrics",
        21,
        7,
        "inf",
        "sum_taker_long_short_vol_ratio (taker_buy_sell_ratio) is inf, not a finite number",
    ),
    ("aggTrades", 5, 1, "-3", "price is -3.0, not > 0"),
    ("aggTrades", 6, 2, "-0.5", "quantity is -0.5, not >= 0"),
    ("aggTrades", 7, 3, "999999999999", "first_trade_id 999999999999 is greater than last_trade_id"),
    ("aggTrades", 8, 1, "1e308", None),  # finite: loads (the rule is finiteness, not a ceiling)
    ("markPriceKlines", 100, 4, "-92817", "close is -92817.0, not > 0"),
    ("indexPriceKlines", 200, 3, "0", "low is 0.0, not > 0"),
    ("premiumIndexKlines", 300, 4, "inf", "close is inf, not a finite number"),
    ("premiumIndexKlines", 301, 4, "-0.5", None),  # a premium may be negative
]


def _lake_file(lake: Path, dataset: str) -> Path:
    (path,) = contract.dataset_root(lake, dataset).rglob("*.parquet")
    return path


@pytest.mark.parametrize(
    ("family", "line", "column", "value", "message"),
    CASES,
    ids=[f"{c[0]}-{c[3]}-col{c[2]}" for c in CASES],
)
def test_implausible_row_fails_the_archive_and_keeps_the_old_file(
    binance_server: BinanceServer,
    tmp_path: Path,
    family: str,
    line: int,
    column: int,
    value: str,
    message: str | None,
) -> None:
    f = FAMILIES[family]
    archive = key(f.market, f.dataset, "BTCUSDT", f.period, f.interval)
    good = f.good()
    publish(binance_server, archive, good)
    first = load(
        f.market, ["BTCUSDT"], [f.interval] if f.interval else None, lake=tmp_path, dataset=f.dataset,
        base_url=binance_server.base_url, listing_url=binance_server.listing_url, progress=False,
    )  # fmt: skip
    assert (first.loaded, first.failed) == (1, 0), first.failures
    path = _lake_file(tmp_path, f.dataset)
    kept = path.read_bytes()
    publish(binance_server, archive, spoil(good, line, column, value))  # Binance replaces it
    args = ["--market", f.market, "--dataset", f.dataset, "--symbols", "BTCUSDT"]
    res = cli(*args, *(["--intervals", f.interval] if f.interval else []), "--lake", str(tmp_path),
              *urls(binance_server))  # fmt: skip
    assert "Traceback" not in res.stderr
    if message is None:  # plausible after all: it loads
        assert res.returncode == 0, res.stderr
        assert path.read_bytes() != kept
        return
    assert res.returncode == 1, res.stderr
    failed = [x for x in res.stderr.splitlines() if x.startswith("FAILED ")]
    assert len(failed) == 1, res.stderr
    assert failed[0].startswith(f"FAILED {binance_server.url(archive)}: line {line}: {message}"), failed[0]
    assert "empty" not in failed[0]
    assert path.read_bytes() == kept
    assert res.stdout.startswith("loaded 0, skipped 0, failed 1")


def test_metrics_labelled_up_to_midnight_of_the_next_day_load(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """USD-M metrics days before 2026-06-25 run 00:05:00 .. 00:00:00 of the next day (the documented
    exception to "every row inside the archive's period"); one 5 minutes later still fails."""
    csv, _ = derivatives.metrics_day(DAY, "BTCUSDT", 1, 8e4, 6.8e4)
    lines = csv.decode().splitlines()
    shifted = [lines[0]]
    for row in lines[1:]:
        t = datetime.strptime(row[:19], "%Y-%m-%d %H:%M:%S") + timedelta(minutes=5)
        shifted.append(f"{t:%Y-%m-%d %H:%M:%S}{row[19:]}")
    archive = key("um", "metrics", "BTCUSDT", DAY.isoformat())
    publish(binance_server, archive, ("\n".join(shifted) + "\n").encode())
    common = ["--market", "um", "--dataset", "metrics", "--symbols", "BTCUSDT", *urls(binance_server)]
    res = cli(*common, "--lake", str(tmp_path / "a"))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("loaded 1, skipped 0, failed 0, rows 288")
    shifted[-1] = "2025-01-03 00:05:00" + shifted[-1][19:]
    publish(binance_server, archive, ("\n".join(shifted) + "\n").encode())
    res = cli(*common, "--lake", str(tmp_path / "b"))
    assert res.returncode == 1
    assert (
        "line 289: create_time (metric_time) 2025-01-03 00:05:00 is outside the archive's period"
        in res.stderr
    )


def test_listing_key_with_an_impossible_period_is_skipped_with_one_warning(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2023-01")
    good = (binance_server.root / archive_key("spot", "BTCUSDT", "1h", "2023-01")).read_bytes()
    bad = [archive_key("spot", "BTCUSDT", "1h", p) for p in ("2023-13", "0000-01", "2023-02-30")]
    for k in bad:
        binance_server.add_zip(k, good)
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path), *urls(binance_server))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout.startswith("loaded 1, skipped 0, failed 0")
    warnings = [x for x in res.stderr.splitlines() if " WARNING " in x]
    assert len(warnings) == 3, res.stderr
    for k in bad:
        assert sum(k in w and "is not a real month or day; skipped" in w for w in warnings) == 1, warnings
    assert binance_server.downloads() == [archive_key("spot", "BTCUSDT", "1h", "2023-01")]


def test_every_real_binance_file_is_plausible(tmp_path: Path) -> None:
    """The rules hold on every real Binance file here (docs/failure-contract.md: where a real file breaks a rule, the rule
    is wrong); `altered/` files carry genuine rows."""
    real = REPO_ROOT / "tests" / "data" / "binance"
    checked = 0
    for f in sorted(real.rglob("*")):
        if f.suffix not in (".csv", ".zip"):
            continue
        dataset = next(p for p in f.parts if p in contract.DATASETS)
        stem = f.name.rsplit(".", 1)[0]
        archive = f
        if f.suffix == ".csv":
            archive = tmp_path / f"{stem}.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.write(f, f.name)
        convert_zip(archive, stem, tmp_path / "out.parquet", contract.DATASETS[dataset])
        checked += 1
    assert checked >= 30
