"""The loader on real Binance files (tests/data/binance/, a copy of ../shared/binance/ with its
provenance), served by the local Binance server: the lake must hold exactly the rows Binance published."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.binance.manifest import Manifest
from tests.fixtures.binance_server import BinanceServer, csv_rows, lake_files, lake_rows, us
from tests.fixtures.paths import require_shared

LAKE_TYPES = {
    "open_time": pa.timestamp("us"),
    "close_time": pa.timestamp("us"),
    "open": pa.float64(),
    "high": pa.float64(),
    "low": pa.float64(),
    "close": pa.float64(),
    "volume": pa.float64(),
    "quote_volume": pa.float64(),
    "taker_buy_base_volume": pa.float64(),
    "taker_buy_quote_volume": pa.float64(),
    "trade_count": pa.int64(),
}


def source_rows(relpath: str) -> list[tuple]:
    """Rows of a shared file, read independently of the loader (zip member or plain CSV)."""
    path = require_shared() / relpath
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return csv_rows(zf.read(zf.namelist()[0]))
    return csv_rows(path.read_bytes())


def test_spot_monthly_zips_with_real_checksums_load_exactly(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    for f in ("BTCUSDT-1d-2023-01.zip", "BTCUSDT-1d-2023-02.zip"):
        binance_server.add_shared(f"spot/monthly/klines/BTCUSDT/1d/{f}")
    # A daily file of a month that has its monthly file: must not be used.
    binance_server.add_shared("spot/daily/klines/BTCUSDT/1d/BTCUSDT-1d-2023-01-21.csv")
    summary = binance_server.load(tmp_path, "spot", ["BTCUSDT"], ["1d"])
    assert (summary.loaded, summary.failed, summary.rows) == (2, 0, 59)
    files = lake_files(tmp_path, "spot", "1d", "BTCUSDT")
    assert [f.name for f in files] == ["BTCUSDT-1d-2023-01.parquet", "BTCUSDT-1d-2023-02.parquet"]
    assert files[0].parent.name == "month=2023-01"
    expected = source_rows("spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2023-01.zip") + source_rows(
        "spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2023-02.zip"
    )
    assert lake_rows(tmp_path, "spot", "1d", "BTCUSDT") == expected
    table = pq.read_table(files[0])
    assert {f.name: f.type for f in table.schema} == LAKE_TYPES
    assert pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    entry = Manifest(tmp_path, "klines").get(files[0].relative_to(tmp_path).as_posix())
    assert entry is not None and entry.checksum_verified
    assert entry.sha256 == "a9fd53b75add7cc42fb4779a545811606260f79810f3826215d6ebecda11bb36"
    assert (entry.size, entry.rows) == (2250, 31)
    assert entry.first_open_time == datetime(2023, 1, 1) and entry.last_open_time == datetime(2023, 1, 31)


def test_spot_daily_zips_checksum_without_newline_and_microsecond_era(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    for day in ("2020-01-01", "2020-01-02", "2020-01-03", "2025-01-02"):
        binance_server.add_shared(f"spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-{day}.zip")
    summary = binance_server.load(tmp_path, "spot", ["BTCUSDT"], ["1m"])
    assert (summary.loaded, summary.failed, summary.rows) == (4, 0, 4 * 1440)
    rows = lake_rows(tmp_path, "spot", "1m", "BTCUSDT")
    expected = []
    for day in ("2020-01-01", "2020-01-02", "2020-01-03", "2025-01-02"):
        expected += source_rows(f"spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-{day}.zip")
    assert rows == expected
    # The 2025 file is in microseconds: it must land on 2025-01-02, not in the year 56 000.
    micro = [r for r in rows if r[0] >= us("2025-01-01T00:00:00")]
    assert len(micro) == 1440
    assert micro[0][0] == us("2025-01-02T00:00:00") and micro[-1][0] == us("2025-01-02T23:59:00")
    assert micro[0][1] == micro[0][0] + 60_000_000 - 1
    manifest = Manifest(tmp_path, "klines")
    verified = {e.period: e.checksum_verified for e in manifest.entries.values()}
    # The 2020 copies come with Binance's .CHECKSUM (no trailing newline); add_shared computed the 2025 one.
    assert verified == {"2020-01-01": True, "2020-01-02": True, "2020-01-03": True, "2025-01-02": True}


def test_futures_headers_and_integers_without_decimals(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_shared("futures/um/monthly/klines/AVAXUSDT/1m/AVAXUSDT-1m-2023-09.csv")
    binance_server.add_shared("futures/um/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2026-05.csv")
    binance_server.add_shared("futures/um/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2026-06-23.csv")
    summary = binance_server.load(tmp_path, "um", ["AVAXUSDT", "ETHUSDT"], ["1m", "1h"])
    assert summary.failed == 0 and summary.loaded == 3
    avax = lake_rows(tmp_path, "um", "1m", "AVAXUSDT")
    assert avax == source_rows("futures/um/monthly/klines/AVAXUSDT/1m/AVAXUSDT-1m-2023-09.csv")
    # `1695242640000,9,9.0070,9,9.0030,5419,...`: integers printed without a decimal point.
    row = next(r for r in avax if r[0] == 1695242640000 * 1000)
    assert row[2:7] == (9.0, 9.007, 9.0, 9.003, 5419.0)
    eth = lake_rows(tmp_path, "um", "1h", "ETHUSDT")
    assert eth == source_rows("futures/um/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2026-05.csv") + source_rows(
        "futures/um/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2026-06-23.csv"
    )
    # Futures stay in milliseconds in 2026: first candle of May 2026.
    assert eth[0][0] == us("2026-05-01T00:00:00")


def test_outage_month_crlf_and_foreign_header(binance_server: BinanceServer, tmp_path: Path) -> None:
    # Genuine rows with a header a repository author added (the 2023-03 one has the 2023-03-24 outage),
    # and a CRLF copy with a custom header.
    binance_server.add_shared("altered/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-03.csv")
    binance_server.add_shared("altered/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2022-01.csv")
    summary = binance_server.load(tmp_path, "spot", ["BTCUSDT"], ["1h"], start="2022-01", end="2023-03")
    assert summary.failed == 0 and summary.rows == 743 + 744
    rows = {r[0]: r for r in lake_rows(tmp_path, "spot", "1h", "BTCUSDT")}
    noon = rows[us("2023-03-24T12:00:00")]
    assert noon[6] == 0.0 and noon[10] == 0
    assert noon[1] == 1679661581646 * 1000  # mid-interval close_time kept as Binance printed it
    assert us("2023-03-24T13:00:00") not in rows  # the missing candle stays missing
    assert min(rows) == us("2022-01-01T00:00:00") and max(rows) == us("2023-03-31T23:00:00")


@pytest.mark.parametrize("workers", [1, 3])
def test_lake_is_the_same_whatever_the_worker_count(
    binance_server: BinanceServer, tmp_path: Path, workers: int
) -> None:
    for name in ("BTCUSDT-1h-2026-05-08.zip", "BTCUSDT-1h-2026-05-09.zip", "BTCUSDT-1h-2025-11-04.zip"):
        binance_server.add_shared(f"spot/daily/klines/BTCUSDT/1h/{name}")
    binance_server.add_shared("spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2025-07-13.csv")
    summary = binance_server.load(tmp_path, "spot", ["BTCUSDT"], ["1h"], workers=workers)
    assert (summary.loaded, summary.failed, summary.rows) == (4, 0, 96)
    rows = lake_rows(tmp_path, "spot", "1h", "BTCUSDT")
    assert [r[0] for r in rows] == sorted({r[0] for r in rows})
    assert rows[0][0] == us("2025-07-13T00:00:00") and rows[-1][0] == us("2026-05-09T23:00:00")
