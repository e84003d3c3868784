"""The loader on archives the tests generate: formats, defects, faults, incremental behaviour."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import config
from loaders.binance import BadInput, load
from loaders.binance.manifest import Manifest
from loaders.binance.transport import Http
from loaders.contract import DATASETS
from tests.fixtures.binance_server import (
    BinanceServer,
    Fault,
    archive_key,
    csv_rows,
    kline_table,
    lake_files,
    lake_rows,
    table_csv,
    us,
    zip_csv,
)

# Fast retries so fault tests take milliseconds, a short read timeout for the slow-response test.
KLINES = DATASETS["klines"]
FAST = Http(timeout=(2.0, 1.0), retries=3, backoff=0.01)


def run(
    server: BinanceServer, lake: Path, *, market: str = "spot", symbols=("BTCUSDT",), intervals=("1h",), **kw
):
    kw.setdefault("http", FAST)
    kw.setdefault("progress", None)  # the loader's default (a bar on a terminal only), as before
    return server.load(lake, market, list(symbols), list(intervals), check=False, **kw)


def snapshot(lake: Path) -> dict[str, bytes]:
    """Every file in the lake with its bytes (temporary files included, so leftovers show up)."""
    return {p.relative_to(lake).as_posix(): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}


def temp_files(lake: Path) -> list[Path]:
    return [p for p in lake.rglob("*") if ".tmp-" in p.name]


@pytest.fixture(scope="session")
def one_second_month(binance_server_factory) -> BinanceServer:
    """A full month of 1s candles in microseconds (2.4M rows), generated once per session."""
    server = binance_server_factory()
    server.add_klines("spot", "BTCUSDT", "1s", "2025-02", unit="us", seed=7, compresslevel=1)
    return server


def test_one_second_month_in_microseconds(one_second_month: BinanceServer, tmp_path: Path) -> None:
    summary = run(one_second_month, tmp_path, intervals=["1s"])
    assert (summary.loaded, summary.failed, summary.rows) == (1, 0, 28 * 86400)
    (path,) = lake_files(tmp_path, "spot", "1s", "BTCUSDT")
    assert path.parent.name == "month=2025-02"
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups > 1  # written block by block, not as one table
    ot = pq.read_table(path, columns=["open_time"]).column("open_time")
    assert ot.type == pa.timestamp("us")
    raw = ot.cast(pa.int64()).to_numpy()
    assert raw[0] == us("2025-02-01T00:00:00") and raw[-1] == us("2025-02-28T23:59:59")
    assert np.all(np.diff(raw) == 1_000_000)


def test_duplicate_and_unsorted_rows_are_sorted_and_deduplicated(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    table = kline_table("1h", "2024-03-05")
    idx = list(range(24))
    shuffled = [*idx[:5], 7, 5, 6, *idx[8:], 3, 3, 20]  # out of order, then duplicates at the end
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-03-05", table.take(shuffled))
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed, summary.rows) == (1, 0, 24)
    assert lake_rows(tmp_path, "spot", "1h", "BTCUSDT") == csv_rows(table_csv(table))


def test_defect_found_late_in_a_large_file(
    binance_server: BinanceServer, tmp_path: Path, monkeypatch
) -> None:
    # 1m month (~5 MB of CSV, several parse blocks, row groups of 5000 rows): the defect shows up only
    # after row groups were streamed, so the loader must drop that partial output and redo the file.
    monkeypatch.setattr(config, "PARQUET_ROW_GROUP_ROWS", 5000)
    table = kline_table("1m", "2024-01")
    n = table.num_rows
    order = [*range(n - 10), n - 5, *range(n - 10, n), 100]  # a late duplicate, a very late old row
    binance_server.add_klines("spot", "BTCUSDT", "1m", "2024-01", table.take(order))
    summary = run(binance_server, tmp_path, intervals=["1m"])
    assert (summary.loaded, summary.rows) == (1, n)
    assert lake_rows(tmp_path, "spot", "1m", "BTCUSDT") == csv_rows(table_csv(table))
    assert temp_files(tmp_path) == []
    assert pq.ParquetFile(lake_files(tmp_path, "spot", "1m", "BTCUSDT")[0]).metadata.num_row_groups == 9


def test_futures_header_and_whole_numbers(binance_server: BinanceServer, tmp_path: Path) -> None:
    table = kline_table("15m", "2024-02", price=9.0)
    table = table.set_column(1, "open", pa.array(np.full(table.num_rows, 9.0)))  # printed as "9"
    csv = table_csv(table, header=True)
    assert b",9," in csv and csv.startswith(b"open_time,")
    binance_server.add_csv("um", "AVAXUSDT", "15m", "2024-02", csv)
    summary = run(binance_server, tmp_path, market="um", symbols=["AVAXUSDT"], intervals=["15m"])
    assert (summary.loaded, summary.rows) == (1, 29 * 96)
    rows = lake_rows(tmp_path, "um", "15m", "AVAXUSDT")
    assert rows == csv_rows(csv)
    assert rows[0][2] == 9.0


def test_pagination_and_start_end_window(binance_server: BinanceServer, tmp_path: Path) -> None:
    days = [f"2024-04-{d:02d}" for d in range(1, 11)]
    for day in days:
        binance_server.add_klines("spot", "BTCUSDT", "1d", day)
    summary = run(binance_server, tmp_path, intervals=["1d"], start="2024-04-03", end="2024-04-08")
    assert summary.loaded == 6
    assert [p.stem for p in lake_files(tmp_path, "spot", "1d", "BTCUSDT")] == [
        f"BTCUSDT-1d-{d}" for d in days[2:8]
    ]
    listing = [
        r for r in binance_server.requests if r.path == "/listing" and "daily" in r.query.get("prefix", "")
    ]
    # 20 keys (zips + CHECKSUMs) at 3 a page: pagination by marker was followed to the end.
    assert len(listing) == 7 and sum(1 for r in listing if r.query.get("marker")) == 6


def test_monthly_replaces_dailies(binance_server: BinanceServer, tmp_path: Path) -> None:
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        binance_server.add_klines("spot", "BTCUSDT", "1h", day)
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02")
    assert run(binance_server, tmp_path).loaded == 4
    names = [p.name for p in lake_files(tmp_path, "spot", "1h", "BTCUSDT")]
    assert names == [f"BTCUSDT-1h-{p}.parquet" for p in ("2024-02", "2024-03-01", "2024-03-02", "2024-03-03")]

    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-03", seed=3)
    binance_server.reset_log()
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.skipped, summary.removed) == (1, 1, 3)
    assert binance_server.downloads() == [archive_key("spot", "BTCUSDT", "1h", "2024-03")]
    names = [p.name for p in lake_files(tmp_path, "spot", "1h", "BTCUSDT")]
    assert names == ["BTCUSDT-1h-2024-02.parquet", "BTCUSDT-1h-2024-03.parquet"]
    assert sorted(e.period for e in Manifest(tmp_path, "klines").entries.values()) == ["2024-02", "2024-03"]
    rows = lake_rows(tmp_path, "spot", "1h", "BTCUSDT")
    assert len(rows) == (29 + 31) * 24 and len({r[0] for r in rows}) == len(rows)


def test_rerun_downloads_nothing_and_rewrites_nothing(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02-10")
    run(binance_server, tmp_path)
    before = snapshot(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    binance_server.reset_log()
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.skipped, summary.failed, summary.bytes) == (0, 2, 0, 0)
    assert binance_server.downloads() == [] and binance_server.downloads(".CHECKSUM") == []
    assert snapshot(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes


def test_archive_replaced_upstream_is_reloaded(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01", seed=1)
    run(binance_server, tmp_path)
    replacement = kline_table("1h", "2024-01", seed=2)
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01", replacement)
    summary = run(binance_server, tmp_path)
    assert summary.loaded == 1
    assert lake_rows(tmp_path, "spot", "1h", "BTCUSDT") == csv_rows(table_csv(replacement))
    (entry,) = Manifest(tmp_path, "klines").entries.values()
    assert (
        entry.sha256
        == hashlib.sha256((binance_server.root / entry.url.split("/", 3)[3]).read_bytes()).hexdigest()
    )


def test_corrupt_replacement_keeps_the_good_file(binance_server: BinanceServer, tmp_path: Path) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    run(binance_server, tmp_path)
    before = snapshot(tmp_path)
    good = (binance_server.root / key).read_bytes()
    binance_server.add_zip(key, good[: len(good) // 2])  # truncated zip, with a matching checksum
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (0, 1)
    assert key in summary.failures[0] and "cannot convert" in summary.failures[0]
    assert snapshot(tmp_path) == before


def test_truncated_zip_fails_without_writing(binance_server: BinanceServer, tmp_path: Path) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    good_day = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02-01")
    data = (binance_server.root / key).read_bytes()
    binance_server.add_zip(key, data[:-200])
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (1, 1) and not summary.ok
    assert [p.name for p in lake_files(tmp_path, "spot", "1h", "BTCUSDT")] == [
        Path(good_day).stem + ".parquet"
    ]
    assert temp_files(tmp_path) == []
    assert not (tmp_path / "binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-01").exists()


@pytest.mark.parametrize("where", [0.5, 0.05])
def test_corrupt_deflate_data_fails_cleanly(
    binance_server: BinanceServer, tmp_path: Path, where: float
) -> None:
    # Flipped bits inside the compressed data (the .CHECKSUM matches the corrupt file): zlib or the
    # member's CRC-32 catches it, possibly after row groups were already written to the temporary file.
    key = binance_server.add_klines("spot", "BTCUSDT", "1m", "2024-01")
    data = bytearray((binance_server.root / key).read_bytes())
    data[int(len(data) * where)] ^= 0xFF
    binance_server.add_zip(key, bytes(data))
    summary = run(binance_server, tmp_path, intervals=["1m"])
    assert (summary.loaded, summary.failed) == (0, 1)
    assert "cannot convert" in summary.failures[0]
    assert lake_files(tmp_path, "spot", "1m", "BTCUSDT") == [] and temp_files(tmp_path) == []


def test_wrong_checksum_is_retried_once_then_fails_naming_both_digests(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    wrong = "0" * 64
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01", checksum=wrong)
    actual = hashlib.sha256((binance_server.root / key).read_bytes()).hexdigest()
    summary = run(binance_server, tmp_path)
    assert summary.failed == 1
    assert binance_server.url(key) in summary.failures[0]
    assert wrong in summary.failures[0] and actual in summary.failures[0]
    assert binance_server.downloads() == [key, key]
    assert lake_files(tmp_path, "spot", "1h", "BTCUSDT") == [] and temp_files(tmp_path) == []


def test_stale_checksum_fixed_on_the_retry(binance_server: BinanceServer, tmp_path: Path) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01", checksum="f" * 64)
    right = hashlib.sha256((binance_server.root / key).read_bytes()).hexdigest()
    # The first .CHECKSUM answer is stale, the second is right.
    binance_server.fault(key + ".CHECKSUM", Fault())
    ck = binance_server.root / (key + ".CHECKSUM")
    stale = ck.read_text()
    original_next = binance_server._next_fault

    def swap(k: str):
        fault = original_next(k)
        if k == key + ".CHECKSUM" and ck.read_text() == stale and fault is None:
            ck.write_text(f"{right}  {Path(key).name}")
        return fault

    binance_server._next_fault = swap  # type: ignore[method-assign]
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (1, 0)
    assert binance_server.downloads() == [key, key]


def test_missing_checksum_warns_and_loads(
    binance_server: BinanceServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01", checksum=False)
    with caplog.at_level(logging.WARNING, logger="loaders.binance"):
        summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (1, 0)
    assert any("no .CHECKSUM" in r.message and key in r.message for r in caplog.records)
    (entry,) = Manifest(tmp_path, "klines").entries.values()
    assert entry.checksum_verified is False


@pytest.mark.parametrize("statuses", [(500,), (503, 502), (403,)])
def test_transient_statuses_are_retried(binance_server: BinanceServer, tmp_path: Path, statuses) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    binance_server.fault(key, *statuses)
    binance_server.fault("listing", 500)
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (1, 0)
    assert binance_server.downloads() == [key] * (len(statuses) + 1)


def test_persistent_outage_fails_the_archive_only(binance_server: BinanceServer, tmp_path: Path) -> None:
    bad = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02")
    binance_server.fault(bad, 403, always=True)
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (1, 1)
    assert "HTTP 403" in summary.failures[0] and "4 attempts" in summary.failures[0]
    assert [p.name for p in lake_files(tmp_path, "spot", "1h", "BTCUSDT")] == ["BTCUSDT-1h-2024-02.parquet"]


def test_slow_response_and_read_timeout(binance_server: BinanceServer, tmp_path: Path) -> None:
    slow = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    stuck = binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02")
    binance_server.fault(slow, Fault(delay=0.5))  # slower than usual, within the 1 s read timeout
    binance_server.fault(stuck, Fault(delay=3.0))  # beyond it: times out, the retry succeeds
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (2, 0)
    assert binance_server.downloads().count(stuck) == 2 and binance_server.downloads().count(slow) == 1


def test_cut_connection_is_retried(binance_server: BinanceServer, tmp_path: Path) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1m", "2024-01-05")
    binance_server.fault(key, Fault(truncate=1000))
    summary = run(binance_server, tmp_path, intervals=["1m"])
    assert (summary.loaded, summary.failed, summary.rows) == (1, 0, 1440)


def test_stale_temp_files_are_cleaned(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    run(binance_server, tmp_path)
    (path,) = lake_files(tmp_path, "spot", "1h", "BTCUSDT")
    dead_pid = 2**22 + 12345  # above pid_max's default: no such process
    leftovers = [
        path.with_name(f".{path.name}.tmp-{dead_pid}"),
        path.with_name(f".BTCUSDT-1h-2024-02.zip.tmp-{dead_pid}"),
    ]
    for p in leftovers:
        p.write_bytes(b"half")
    run(binance_server, tmp_path)
    assert temp_files(tmp_path) == []


def test_dry_run_writes_nothing(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lake = tmp_path / "lake"
    summary = run(binance_server, lake, dry_run=True)
    assert summary.loaded == 1 and summary.bytes > 0 and "would load" in summary.line()
    assert not lake.exists() and binance_server.downloads() == []


def test_unknown_symbol_is_bad_input(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    with pytest.raises(BadInput, match="unknown symbol 'NOPEUSDT'"):
        run(binance_server, tmp_path / "lake", symbols=["BTCUSDT", "NOPEUSDT"])
    assert not (tmp_path / "lake").exists()


def test_missing_interval_of_a_known_symbol_is_a_warning(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    summary = run(binance_server, tmp_path, intervals=["1h", "4h"])
    assert (summary.loaded, summary.failed) == (1, 0)


def test_empty_and_garbage_csv_fail_cleanly(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_csv("spot", "BTCUSDT", "1h", "2024-01", b"")
    binance_server.add_csv("spot", "BTCUSDT", "1h", "2024-02", b"1706745600000,not,a,number\n")
    summary = run(binance_server, tmp_path)
    assert (summary.loaded, summary.failed) == (0, 2)
    assert lake_files(tmp_path, "spot", "1h", "BTCUSDT") == [] and temp_files(tmp_path) == []


def test_mixed_timestamp_units_fail(binance_server: BinanceServer, tmp_path: Path) -> None:
    ms = table_csv(kline_table("1h", "2025-01-01")).splitlines(keepends=True)
    us_rows = table_csv(kline_table("1h", "2025-01-02", unit="us")).splitlines(keepends=True)
    binance_server.add_csv("spot", "BTCUSDT", "1h", "2025-01", b"".join(ms + us_rows))
    summary = run(binance_server, tmp_path)
    assert summary.failed == 1 and "mixes millisecond and microsecond" in summary.failures[0]
    assert lake_files(tmp_path, "spot", "1h", "BTCUSDT") == []


def test_lake_path_env_default(binance_server: BinanceServer, tmp_path: Path, monkeypatch) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "envlake"))
    monkeypatch.setenv("BINANCE_BASE_URL", binance_server.base_url)
    monkeypatch.setenv("BINANCE_LISTING_URL", binance_server.listing_url)
    monkeypatch.chdir(tmp_path)
    summary = load("spot", ["BTCUSDT"], ["1h"], http=FAST)
    assert summary.loaded == 1
    assert len(lake_files(tmp_path / "envlake", "spot", "1h", "BTCUSDT")) == 1
    assert os.listdir(tmp_path) == ["envlake"]


def test_corruption_anywhere_fails_without_hanging_or_leftovers(tmp_path: Path) -> None:
    # Regression: an error raised while pyarrow's read-ahead thread was reading once left it waiting
    # forever. Flip one byte at many places of a 1m month's archive; every conversion must fail fast.
    from loaders.binance.convert import convert_zip
    from loaders.binance.errors import ArchiveError

    good = zip_csv(table_csv(kline_table("1m", "2024-01")), "X-1m-2024-01.csv")
    rng = np.random.default_rng(5)
    failures: list[str] = []

    def convert_all() -> None:
        for pos in rng.integers(40, len(good) - 100, 25):
            bad = bytearray(good)
            bad[pos] ^= 0xFF
            (tmp_path / "x.zip").write_bytes(bytes(bad))
            try:
                convert_zip(tmp_path / "x.zip", "X-1m-2024-01", tmp_path / "out.parquet", KLINES)
            except ArchiveError as exc:
                failures.append(str(exc))

    worker = threading.Thread(target=convert_all, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "a conversion hung"
    # Which check names the damage first (a malformed row, the CRC at the end) depends on timing.
    assert len(failures) == 25 and all(f and "\n" not in f for f in failures), failures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zip"]


class _Unseekable(io.RawIOBase):
    """A write-only stream zipfile cannot seek back in, so it writes data descriptors (flag bit 3)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


@pytest.mark.parametrize("layout", ["stored", "data_descriptor", "level_9_with_comment"])
def test_zip_layouts_convert_like_binance_s(tmp_path: Path, layout: str) -> None:
    # The loader inflates zip members itself (ISA-L): every layout a zip tool may write must give the
    # same lake file as Binance's own (one deflated member).
    from loaders.binance.convert import convert_zip

    csv = table_csv(kline_table("1m", "2024-02-29"))
    member = "X-1m-2024-02-29.csv"
    if layout == "data_descriptor":
        sink = _Unseekable()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, csv)
        data = bytes(sink.data)
        assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].flag_bits & 0x08
    else:
        buf = io.BytesIO()
        method = zipfile.ZIP_STORED if layout == "stored" else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(buf, "w", method, compresslevel=None if layout == "stored" else 9) as zf:
            zf.comment = b"written by another tool"
            zf.writestr(zipfile.ZipInfo(member, (2024, 2, 29, 0, 0, 0)), csv, compress_type=method)
        data = buf.getvalue()
    (tmp_path / "binance.zip").write_bytes(zip_csv(csv, member))
    (tmp_path / "other.zip").write_bytes(data)
    expected = convert_zip(tmp_path / "binance.zip", "X-1m-2024-02-29", tmp_path / "binance.parquet", KLINES)
    got = convert_zip(tmp_path / "other.zip", "X-1m-2024-02-29", tmp_path / "other.parquet", KLINES)
    assert got == expected and got.rows == 1440
    assert pq.read_table(tmp_path / "other.parquet").equals(pq.read_table(tmp_path / "binance.parquet"))
