"""The loader's exits under faults (issue 21): interrupted conversions end 130, never SIGABRT; a
corrupt manifest or lake file is one line; archives the base URL does not serve are failures, not
"skipped". Real processes against the local Binance server, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import contract
from loaders.binance.manifest import read_entries
from tests.fixtures.binance_server import BinanceServer, Fault
from tests.fixtures.loader_cli import cli, start, urls


def test_signals_during_big_conversions_exit_130_never_abort(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """SIGINT or SIGTERM while months of 1m candles convert: pyarrow's read-ahead thread still held
    the archive stream at exit and aborted the interpreter's finalization (exit -6/134) in ~40% of
    runs. Every run must end 130 with its one-line summary."""
    for k in range(1, 13):
        binance_server.add_klines("spot", "BTCUSDT", "1m", f"2024-{k:02d}", seed=k, compresslevel=1)
    outcomes = []
    for run in range(10):
        lake = tmp_path / f"lake{run}"
        binance_server.reset_log()
        proc = start(
            "loaders.binance", "--symbols", "BTCUSDT", "--intervals", "1m", "--workers", "2",
            "--lake", str(lake), *urls(binance_server),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not binance_server.downloads():
                time.sleep(0.01)
            time.sleep(0.02 * run)  # at different moments of the conversions
            proc.send_signal(signal.SIGINT if run % 2 else signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        outcomes.append((proc.returncode, err.strip().splitlines()[-1:]))
    # A run may finish its 12 archives before the signal lands on a fast machine (exit 0 with its summary);
    # none may die of a signal, and most are interrupted.
    assert all(code in (0, 130) for code, _ in outcomes), outcomes
    assert sum(code == 130 for code, _ in outcomes) >= 5, outcomes
    assert all(last[0].startswith("interrupted" if code == 130 else "loaded") for code, last in outcomes), (
        outcomes
    )


def _status(lake: Path) -> subprocess.CompletedProcess[str]:
    return cli("status", "--lake", str(lake))


def _corrupt(kind: str, file: Path) -> None:
    """Random bytes, a truncated manifest, an empty file, or a Parquet table of another schema."""
    good = file.read_bytes()
    if kind == "random":
        file.write_bytes(os.urandom(len(good)))
    elif kind == "truncated":
        file.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        file.write_bytes(b"")
    else:
        pq.write_table(pa.table({"path": ["x"], "size": ["big"]}), file)


@pytest.mark.parametrize("kind", ["random", "truncated", "empty", "other-schema"])
def test_corrupt_manifest_is_one_line_before_any_download_and_can_be_rebuilt(
    binance_server: BinanceServer, tmp_path: Path, kind: str
) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lake = tmp_path / "lake"
    load_args = ["--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server)]
    assert cli(*load_args).returncode == 0
    manifest = contract.manifest_path(lake, "klines")
    _corrupt(kind, manifest)
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02")
    binance_server.reset_log()
    files_before = sorted(lake.rglob("*.parquet"))
    for res in (cli(*load_args), _status(lake)):
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and f"manifest {manifest} " in lines[0], lines
        assert "rebuild-manifest" in lines[0], lines
    assert binance_server.downloads() == [] and sorted(lake.rglob("*.parquet")) == files_before
    rebuilt = cli("rebuild-manifest", "--lake", str(lake))
    assert rebuilt.returncode == 0, rebuilt.stderr
    entries = read_entries(manifest, "klines")
    assert list(entries) == [
        "binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-01/BTCUSDT-1h-2024-01.parquet"
    ]
    (entry,) = entries.values()
    assert entry.rows == 744 and entry.sha256 == "" and entry.url.endswith("/BTCUSDT-1h-2024-01.zip")
    again = cli(*load_args)  # sha256 unknown: downloaded and verified again, with the new month
    assert again.returncode == 0 and again.stdout.startswith("loaded 2, skipped 0"), again.stdout
    assert all(e.sha256 for e in read_entries(manifest, "klines").values())


def test_status_names_a_garbage_lake_file(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lake = tmp_path / "lake"
    assert (
        cli(
            "--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server)
        ).returncode
        == 0
    )
    (lake_file,) = lake.glob("binance/klines/**/*.parquet")
    garbage = lake_file.with_name("BTCUSDT-1h-2024-02-01.parquet")
    garbage.write_bytes(os.urandom(5000))
    res = _status(lake)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"lake file {garbage} is not readable Parquet" in lines[0], lines


def test_status_on_a_missing_lake_or_a_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for lake, what in ((tmp_path / "nothing", "does not exist"), (tmp_path / "file", "is a file")):
        res = _status(lake)
        assert res.returncode == 2 and res.stderr.startswith(f"error: lake {lake} {what}"), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert _status(tmp_path / "empty").returncode == 0  # a lake with nothing loaded yet is fine


def test_status_refuses_a_lake_path_with_glob_characters(tmp_path: Path) -> None:
    """`lake?` would also read `lakeB` (DuckDB globs the path): one line, as dbt says it."""
    (tmp_path / "lake?").mkdir()
    (tmp_path / "lakeB" / "binance").mkdir(parents=True)
    res = _status(tmp_path / "lake?")
    assert res.returncode == 2 and "contains the glob character(s) ?" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_lock_folder_is_named_once(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lake = tmp_path / "lake"
    lock = contract.manifest_lock_path(lake)
    lock.mkdir(parents=True)
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server))
    assert res.returncode == 1
    failed = [line for line in res.stderr.splitlines() if "manifest" in line and "FAILED" in line]
    assert failed == [
        f"FAILED manifest {contract.manifest_path(lake, 'klines')}: lock file {lock}: is a directory"
    ], res.stderr
    assert sum(f"lock file {lock}" in line for line in res.stderr.splitlines()) == 1, res.stderr


class _RefusesHead(BaseHTTPRequestHandler):
    """A host that answers HEAD with 405 and GET with 404 (e.g. a wrong --base-url on some CDNs)."""

    def do_HEAD(self) -> None:
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_base_url_refusing_head_and_404_on_get_is_bad_input(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    for month in ("2024-01", "2024-02", "2024-03"):
        binance_server.add_klines("spot", "BTCUSDT", "1h", month)
    host = ThreadingHTTPServer(("127.0.0.1", 0), _RefusesHead)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{host.server_port}"
        res = cli(
            "--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path / "lake"),
            "--base-url", base, "--listing-url", binance_server.listing_url,
        )  # fmt: skip
    finally:
        host.shutdown()
        host.server_close()
    assert res.returncode == 2, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "serves none of the archives" in lines[0], lines


def test_listed_archive_not_served_is_a_failure_and_newest_day_a_warning(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """The listing lists it, the base URL answers 404: a failure, never "skipped"; the newest day
    (Binance's publishing lag) is a warning naming it. A run that loads nothing planned is exit 1."""
    today = datetime.now(timezone.utc).date()
    old_day, newest = (today - timedelta(days=40)).isoformat(), today.isoformat()
    for day in (old_day, newest):
        key = binance_server.add_klines("spot", "BTCUSDT", "1h", day)
        binance_server.fault(key, Fault(status=404), always=True)  # GET 404, HEAD still 200
    binance_server.add_klines("spot", "BTCUSDT", "1h", (today - timedelta(days=10)).isoformat())
    lake = tmp_path / "lake"
    args = ["--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server)]
    res = cli(*args, "--start", old_day)
    assert res.returncode == 1, res.stderr
    failed = [line for line in res.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and old_day in failed[0] and "not served by the base URL" in failed[0], failed
    assert any(newest in line and "not served yet" in line for line in res.stderr.splitlines()), res.stderr
    assert res.stdout.startswith("loaded 1, skipped 0, failed 1") and "not yet served 1" in res.stdout
    only_old = cli(*args, "--start", old_day, "--end", old_day)
    assert only_old.returncode == 1 and only_old.stdout.startswith("loaded 0, skipped 0, failed 1")
    only_newest = cli(*args, "--start", newest)  # only the newest day planned: its lag is no failure
    assert only_newest.returncode == 0 and "not yet served 1" in only_newest.stdout, only_newest.stderr


def test_lock_message_names_the_holder_in_a_few_words(tmp_path: Path) -> None:
    """Issue 22: the holder is `dbt build`, not a whole command line with scripts in it."""
    from dbt_plugins.lock_check import lock_holder

    warehouse = tmp_path / "warehouse.duckdb"
    script = tmp_path / "dbt"  # stands in for the dbt console script: a Python file named dbt
    script.write_text("import duckdb, sys\nc = duckdb.connect(sys.argv[-1])\nsys.stdin.read()\n")
    argv = [sys.executable, str(script), "build", "--vars", "{a: 1,\nb: 2}", str(warehouse)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while (holder := lock_holder(warehouse)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder is not None
        assert holder.describe() == f"process {proc.pid} (dbt build, for writing)"
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def test_readers_lock_folder_fails_the_monthly_swap_in_one_line(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """A folder where the lake's readers lock should be: the monthly file that would replace daily
    ones fails naming the lock; the daily files stay, recorded."""
    lake = tmp_path / "lake"
    args = ["--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(lake), *urls(binance_server)]
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01-01")
    assert cli(*args).returncode == 0
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    lock = contract.readers_lock_path(lake)
    lock.mkdir()
    res = cli(*args)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    failed = [line for line in res.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and failed[0].endswith(
        f"BTCUSDT-1h-2024-01.zip: lock file {lock}: is a directory"
    )
    daily = (
        "binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-01/BTCUSDT-1h-2024-01-01.parquet"
    )
    assert set(read_entries(contract.manifest_path(lake, "klines"), "klines")) == {daily}
    assert [p.relative_to(lake).as_posix() for p in lake.glob("binance/klines/**/*.parquet")] == [daily]
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name]


def test_status_names_the_wrong_typed_file_not_the_good_one_after_it(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """DuckDB takes the column types from the first file and names the next that differs: with the odd
    file sorting first, its error named a good file."""
    for month in ("2024-01", "2024-02"):
        binance_server.add_klines("spot", "BTCUSDT", "1h", month)
    lake = tmp_path / "lake"
    args = ("--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2024-01", "--end", "2024-02")
    assert cli(*args, "--lake", str(lake), *urls(binance_server)).returncode == 0
    first, good = sorted(lake.glob("binance/klines/**/*.parquet"))
    table = pq.read_table(first)
    at = table.schema.get_field_index("open_time")
    table = table.set_column(at, "open_time", table["open_time"].cast(pa.int64()))
    pq.write_table(table, first)
    res = _status(lake)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"lake file {first}: column open_time is int64" in lines[0], lines
    assert str(good) not in lines[0]


def test_listing_error_mid_run_records_every_finished_archive(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """--symbols ALL lists each series while the others' archives download: a listing that fails after
    some archives finished ends the run in one line, exit 1, with those archives in the manifest (they
    were on disk and out of it: only Ctrl-C recorded them)."""
    for symbol in ("AAAUSDT", "BBBUSDT"):
        binance_server.add_klines("spot", symbol, "1d", "2024-01")
        binance_server.add_klines("spot", symbol, "1d", "2024-02-01")
    # Listing requests: the reachability probe, the monthly and daily symbol folders, then two per series
    # (monthly, daily). The 7th is the second of whichever series lists last, so the other series is
    # fully listed and downloading; that listing answers late, with a status that is not retried.
    binance_server.fault("listing", *[Fault()] * 6, Fault(status=400, delay=2.0))
    lake = tmp_path / "lake"
    res = cli("--symbols", "ALL", "--intervals", "1d", "--workers", "2", "--quiet", "--lake", str(lake),
              *urls(binance_server))  # fmt: skip
    assert res.returncode == 1, res.stderr
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: bucket listing failed") and "HTTP 400" in err[0], err
    on_disk = {p.relative_to(lake).as_posix() for p in lake.glob("binance/klines/**/*.parquet")}
    assert len(on_disk) == 2  # the series listed first: its monthly and its daily archive
    assert set(read_entries(contract.manifest_path(lake, "klines"), "klines")) == on_disk
