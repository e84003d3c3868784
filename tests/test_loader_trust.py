"""The loader under faults and concurrency (docs/failure-contract.md, "Concurrency"): several loaders on
one lake, a wrong base URL, an unusable lake, a full disk, stalled downloads, Ctrl-C, malformed rows.
Real processes against the local Binance server; full disks and read-only lakes are real mounts."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from loaders import contract
from loaders.binance import load
from loaders.binance.manifest import Manifest, ManifestError, read_entries
from loaders.binance.transport import Http
from tests.fixtures.binance_server import (
    BinanceServer,
    Fault,
    archive_key,
    kline_table,
    lake_files,
    table_csv,
)
from tests.fixtures.loader_cli import cli, loaders_at_once, start, urls
from tests.fixtures.prerequisites import read_only, tmpfs


def lake_parquet(lake: Path) -> set[str]:
    return {p.relative_to(lake).as_posix() for p in lake.glob("binance/klines/**/*.parquet")}


def manifest_paths(lake: Path) -> set[str]:
    return set(read_entries(contract.manifest_path(lake, "klines"), "klines"))


def fill(path: Path) -> None:
    """Write zeros to `path` until the disk is full."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def leftovers(lake: Path) -> list[Path]:
    return [p for p in lake.rglob("*") if ".tmp-" in p.name]


def test_concurrent_loaders_lose_no_manifest_entry(binance_server: BinanceServer, tmp_path: Path) -> None:
    """Two loaders on different symbols and a third on both, at once: every archive any of them wrote
    is in the manifest afterwards (each save merges under the manifest lock)."""
    for symbol, seed in (("BTCUSDT", 1), ("ETHUSDT", 2)):
        for k, month in enumerate(("2024-01", "2024-02", "2024-03", "2024-04")):
            binance_server.add_klines("spot", symbol, "1h", month, seed=seed * 10 + k)
        for day in ("2024-05-01", "2024-05-02", "2024-05-03"):
            binance_server.add_klines("spot", symbol, "1h", day, seed=seed)
    binance_server.zip_fault = Fault(chunk_delay=0.05, chunk_size=4096)  # each run takes seconds
    lake = tmp_path / "lake"
    outcomes = loaders_at_once(
        binance_server, lake, [["BTCUSDT"], ["ETHUSDT"], ["BTCUSDT", "ETHUSDT"]], "--intervals", "1h"
    )
    assert [code for code, _, _ in outcomes] == [0, 0, 0], outcomes
    files = lake_parquet(lake)
    assert len(files) == 2 * 7
    assert manifest_paths(lake) == files
    assert leftovers(lake) == []


def test_wrong_base_url_path_is_bad_input(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02-01")
    wrong = binance_server.base_url + "/data"  # a path segment too many: every archive is a 404
    res = cli(
        "--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path / "lake"),
        "--base-url", wrong, "--listing-url", binance_server.listing_url,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and wrong in lines[0] and "serves none of the archives" in lines[0], lines
    assert lake_parquet(tmp_path / "lake") == set() and binance_server.downloads() == []


def test_each_log_line_is_printed_once(binance_server: BinanceServer, tmp_path: Path) -> None:
    for day in ("2024-02-01", "2024-02-02"):
        binance_server.add_klines("spot", "BTCUSDT", "1h", day)
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path), *urls(binance_server))
    assert res.returncode == 0, res.stderr
    lines = res.stderr.strip().splitlines()
    assert sum("loaded binance/klines/" in line for line in lines) == 2, lines
    messages = [line.split(" ", 2)[-1] for line in lines]  # without the time and level
    assert len(messages) == len(set(messages)), lines
    assert res.stdout.count("loaded 2, skipped 0, failed 0") == 1


def test_lake_under_a_regular_file_is_one_line(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    (tmp_path / "file.txt").write_text("not a folder")
    lake = tmp_path / "file.txt" / "lake"
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "file.txt is a file, not a folder" in lines[0], lines
    assert binance_server.downloads() == []


def test_read_only_lake_is_one_line_before_any_download(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lake = tmp_path / "lake"
    lake.mkdir()
    with read_only(lake):
        res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not writable: read-only file system" in lines[0], lines
    assert binance_server.downloads() == []


def test_disk_full_mid_run_fails_those_archives_and_keeps_the_rest(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    with tmpfs(lake, 600_000):
        binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
        first = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server))
        assert first.returncode == 0, first.stderr
        before = {p: (lake / p).read_bytes() for p in lake_parquet(lake)}
        manifest_before = contract.manifest_path(lake, "klines").read_bytes()
        # Months of 1m candles, stored uncompressed: ~5 MB each, far more than the 600 kB disk holds.
        for month in ("2024-03", "2024-04", "2024-05"):
            binance_server.add_klines("spot", "BTCUSDT", "1m", month, compresslevel=0)
        res = cli(
            "--symbols", "BTCUSDT", "--intervals", "1h", "1m", "--lake", str(lake), *urls(binance_server)
        )
        assert res.returncode == 1, res.stderr
        failed = [line for line in res.stderr.splitlines() if line.startswith("FAILED ")]
        assert failed and all(line.endswith(": no space left on device") for line in failed), res.stderr
        assert "Traceback" not in res.stderr
        assert res.stdout.startswith("loaded "), res.stdout
        assert {p: (lake / p).read_bytes() for p in before} == before  # nothing already loaded is lost
        saved = contract.manifest_path(lake, "klines").read_bytes()
        assert saved == manifest_before or manifest_paths(lake) == lake_parquet(lake)
        assert leftovers(lake) == []


def test_manifest_save_on_a_full_disk_keeps_the_old_manifest(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with tmpfs(lake, 64 << 10):
        manifest = Manifest(lake, "klines")
        manifest.remove("nothing")  # any change makes it dirty
        manifest.save()
        before = contract.manifest_path(lake, "klines").read_bytes()
        fill(lake / "filler")
        manifest.remove("still nothing")
        with pytest.raises(ManifestError, match=r"manifest .*klines.parquet: no space left on device"):
            manifest.save()
        assert contract.manifest_path(lake, "klines").read_bytes() == before


def test_unwritable_manifest_is_a_failed_line_not_a_traceback(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    assert (
        cli(
            "--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server)
        ).returncode
        == 0
    )
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02")
    with read_only(contract.manifest_dir(lake)):
        res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert any(
        line.startswith("FAILED manifest ") and line.endswith("read-only file system")
        for line in res.stderr.splitlines()
    ), res.stderr
    assert res.stdout.startswith("loaded 1, skipped 1, failed 1")


def test_stalled_download_is_retried_then_fails(
    binance_server: BinanceServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = binance_server.add_klines("spot", "BTCUSDT", "1m", "2024-01-05", compresslevel=0)
    binance_server.fault(key, Fault(chunk_delay=0.5, chunk_size=50), always=True)  # 100 B/s
    http = Http(timeout=(2.0, 5.0), retries=1, backoff=0.01, stall_seconds=1.0)
    started = time.monotonic()
    summary = load(
        "spot", ["BTCUSDT"], ["1m"], lake=tmp_path, base_url=binance_server.base_url,
        listing_url=binance_server.listing_url, http=http, progress=False,
    )  # fmt: skip
    assert time.monotonic() - started < 15
    assert summary.failed == 1 and "stalled" in summary.failures[0], summary.failures
    assert "giving up after 2 attempts" in summary.failures[0]
    assert any("retry 1/1" in r.getMessage() and "stalled" in r.getMessage() for r in caplog.records)
    assert lake_files(tmp_path, "spot", "1m", "BTCUSDT") == [] and leftovers(tmp_path) == []


def test_ctrl_c_during_slow_downloads_stops_within_two_seconds(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    common = ["--workers", "2", "--lake", str(tmp_path), *urls(binance_server)]
    assert cli("--symbols", "BTCUSDT", "--intervals", "1h", *common).returncode == 0
    for day in range(1, 7):
        binance_server.add_klines("spot", "BTCUSDT", "1m", f"2024-03-0{day}", compresslevel=0)
    for day in range(1, 7):
        key = archive_key("spot", "BTCUSDT", "1m", f"2024-03-0{day}")
        binance_server.fault(key, Fault(chunk_delay=0.2, chunk_size=1024), always=True)
    proc = start("loaders.binance", "--symbols", "BTCUSDT", "--intervals", "1h", "1m", *common)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(binance_server.downloads()) < 3:  # 1h + 2 slow ones
            time.sleep(0.05)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert took < 3.0, f"Ctrl-C took {took:.1f} s"
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "interrupted: 0 archive(s) loaded and kept, 2 in progress discarded, 4 not started"
    )
    assert "Traceback" not in err
    assert [p.name for p in lake_files(tmp_path, "spot", "1h", "BTCUSDT")] == ["BTCUSDT-1h-2024-01.parquet"]
    assert manifest_paths(tmp_path) == lake_parquet(tmp_path)
    assert leftovers(tmp_path) == []


def test_first_row_without_a_leading_digit_is_data_not_a_header(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    table = kline_table("1h", "2024-02-01")
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02-01", table)
    assert load("spot", ["BTCUSDT"], ["1h"], lake=tmp_path, base_url=binance_server.base_url,
                listing_url=binance_server.listing_url, progress=False).loaded == 1  # fmt: skip
    (good,) = lake_files(tmp_path, "spot", "1h", "BTCUSDT")
    kept = good.read_bytes()
    body = table_csv(table).decode().splitlines()
    body[0] = "-5," + body[0].split(",", 1)[1]  # a malformed first row, e.g. a stray minus sign
    binance_server.add_csv("spot", "BTCUSDT", "1h", "2024-02-01", ("\n".join(body) + "\n").encode())
    summary = load("spot", ["BTCUSDT"], ["1h"], lake=tmp_path, base_url=binance_server.base_url,
                   listing_url=binance_server.listing_url, progress=False)  # fmt: skip
    assert summary.failed == 1 and "open_time value -5000 is not a time" in summary.failures[0]
    assert good.read_bytes() == kept and pq.read_metadata(good).num_rows == 24


def test_header_in_the_wrong_column_order_fails(binance_server: BinanceServer, tmp_path: Path) -> None:
    table = kline_table("1h", "2024-02-01")
    lines = table_csv(table, header=True).decode().splitlines()
    names = lines[0].split(",")
    names[1], names[2] = names[2], names[1]  # high before open: the columns would be swapped silently
    lines[0] = ",".join(names)
    binance_server.add_csv("um", "BTCUSDT", "1h", "2024-02-01", ("\n".join(lines) + "\n").encode())
    summary = load("um", ["BTCUSDT"], ["1h"], lake=tmp_path, base_url=binance_server.base_url,
                   listing_url=binance_server.listing_url, progress=False)  # fmt: skip
    assert summary.failed == 1 and "not Binance's column order" in summary.failures[0]


def test_failed_archive_of_a_new_symbol_leaves_no_empty_folders(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_csv("spot", "NEWUSDT", "1h", "2024-02-01", b"not,a,kline\n")
    summary = load("spot", ["NEWUSDT"], ["1h"], lake=tmp_path, base_url=binance_server.base_url,
                   listing_url=binance_server.listing_url, progress=False)  # fmt: skip
    assert summary.failed == 1
    assert not (tmp_path / "binance" / "klines" / "market=spot").exists()
