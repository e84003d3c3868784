"""`python -m loaders.binance` as a user runs it: bad input, help, the summary line, and a loader
killed mid-run."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loaders.binance.cli import main
from tests.fixtures.binance_server import BinanceServer, Fault, lake_files, lake_rows
from tests.fixtures.loader_cli import cli, start, urls
from tests.fixtures.paths import REPO_ROOT


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(binance_server: BinanceServer) -> BinanceServer:
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-01")
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-02-01")
    binance_server.add_klines("um", "ETHUSDT", "1h", "2024-01")  # futures candles, no funding archives
    return binance_server


BAD_INPUTS = [
    (["--market", "eu", "--symbols", "BTCUSDT", "--intervals", "1h"], "unknown market 'eu'"),
    (["--symbols", "BTCUSDT", "--intervals", "2m"], "unknown interval '2m'"),
    (["--market", "um", "--symbols", "BTCUSDT", "--intervals", "1s"], "1s exists only for market spot"),
    (["--symbols", "../../etc", "--intervals", "1h"], "invalid symbol '../../etc'"),
    (["--symbols", "btc-usdt", "--intervals", "1h"], "invalid symbol 'btc-usdt'"),
    (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2024-13"],
        "--start '2024-13' is not a real date",
    ),
    (["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2024/01"], "--start '2024/01' is not YYYY-MM"),
    (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2024-05", "--end", "2024-01"],
        "is after --end",
    ),
    (["--symbols", "BTCUSDT", "--intervals", "1h", "--workers", "0"], "--workers must be between 1 and 64"),
    (["--symbols", "NOPEUSDT", "--intervals", "1h"], "unknown symbol 'NOPEUSDT'"),
    # A symbol Binance knows, without archives of what was asked: say what is missing, not "unknown".
    (
        ["--market", "um", "--dataset", "fundingRate", "--symbols", "ETHUSDT"],
        "no um fundingRate archives for ETHUSDT (it has um klines archives)",
    ),
    (
        ["--market", "um", "--symbols", "BTCUSDT", "--intervals", "1h"],
        "no um klines 1h archives for BTCUSDT (it has spot klines archives)",
    ),
    (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2030-01"],
        "no spot klines 1h archives for BTCUSDT from 2030-01-01 on (its archives run from 2024-01 to 2024-02-01)",
    ),
    (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2023-01", "--end", "2023-06"],
        "no spot klines 1h archives for BTCUSDT between 2023-01-01 and 2023-06-30 (its archives run",
    ),
    (["--symbols", "BTCUSDT", "--intervals", "1h", "--workers", "two"], "invalid int value: 'two'"),
    (["--intervals", "1h"], "the following arguments are required: --symbols"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[m for _, m in BAD_INPUTS])
def test_bad_input_one_line_exit_2_nothing_written(
    served: BinanceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    lake = tmp_path / "lake"
    urls = ["--base-url", served.base_url, "--listing-url", served.listing_url, "--lake", str(lake)]
    with pytest.raises(SystemExit) as exc:
        sys.exit(main([*args, *urls]))
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not lake.exists()
    assert served.downloads() == []


@pytest.mark.parametrize("which", ["--base-url", "--listing-url"])
def test_unreachable_url_is_bad_input(served: BinanceServer, tmp_path: Path, which: str) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    urls = {"--base-url": served.base_url, "--listing-url": served.listing_url, which: dead}
    args = ["--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path / "lake")]
    res = cli(*args, *[x for kv in urls.items() for x in kv])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0] and dead in lines[0], res.stderr
    assert not (tmp_path / "lake").exists()


def test_help_shows_every_flag_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--market",
        "--symbols",
        "--intervals",
        "--start",
        "--end",
        "--lake",
        "--base-url",
        "--workers",
        "--dry-run",
    ):
        assert flag in out
    assert "examples:" in out and "python -m loaders.binance --symbols BTCUSDT ETHUSDT" in out


def test_version_usage_and_help_teach(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` is the installed distribution's (it used to say "--symbols is required"); the usage
    line shows `status`; the help's examples carry a line saying what each does."""
    res = cli("--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"binance-warehouse {importlib.metadata.version('binance-warehouse')}"
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    usage = out.split("\n\n", 1)[0]
    assert usage.startswith("usage: python -m loaders.binance [--market")
    assert "python -m loaders.binance status [--json]" in usage
    assert "# what the lake holds" in out and "btcusdt is BTCUSDT" in out


def test_symbols_in_any_case(served: BinanceServer, tmp_path: Path) -> None:
    """`btcusdt` is BTCUSDT (Binance's symbols are capitals only), in --symbols and in --exclude."""
    served.add_klines("spot", "ETHUSDT", "1h", "2024-01")
    res = cli("--symbols", "btcusdt", "--intervals", "1h", "--lake", str(tmp_path), *urls(served))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1].startswith("loaded 2, ")
    assert {p.name for p in (tmp_path / "binance/klines/market=spot/interval=1h").iterdir()} == {
        "symbol=BTCUSDT"
    }
    res = cli("--symbols", "all", "--exclude", "ethusdt", "--intervals", "1h", "--dry-run", *urls(served))
    assert res.returncode == 0, res.stderr
    assert "symbols 1," in res.stdout.strip().splitlines()[-1], res.stdout


def test_exclude_of_an_unknown_symbol_warns(served: BinanceServer, tmp_path: Path) -> None:
    """A typo in --exclude would load what the user meant to leave out: one warning names it."""
    args = ["--symbols", "ALL", "--intervals", "1h", "--lake", str(tmp_path), *urls(served)]
    res = cli(*args, "--exclude", "NOSUCHUSDT", "--dry-run")
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "--exclude NOSUCHUSDT: no spot klines symbol" in warnings[0], res.stderr


def test_run_prints_summary_and_exit_codes(served: BinanceServer, tmp_path: Path) -> None:
    env = {
        "BINANCE_BASE_URL": served.base_url,
        "BINANCE_LISTING_URL": served.listing_url,
        "LAKE_DIR": str(tmp_path),
    }
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1].startswith("loaded 2, skipped 0, failed 0, rows 768, bytes ")
    assert "loaded binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-01/" in res.stderr

    served.add_klines("spot", "BTCUSDT", "1h", "2024-02-02", checksum="0" * 64)
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", env=env)
    assert res.returncode == 1
    assert res.stdout.strip().splitlines()[-1].startswith("loaded 0, skipped 2, failed 1, rows 0,")
    assert "FAILED " + served.url("data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02-02.zip") in res.stderr


def test_run_does_not_import_pandas(served: BinanceServer, tmp_path: Path) -> None:
    """pyarrow would import pandas (~0.4 s, a tenth of a benchmark run) to check inputs the loader never
    passes; the CLI process keeps it out while converting archives and writing the manifest."""
    pytest.importorskip("pandas")  # without pandas installed there is nothing to keep out
    env = {
        "BINANCE_BASE_URL": served.base_url,
        "BINANCE_LISTING_URL": served.listing_url,
        "LAKE_DIR": str(tmp_path),
        "PYTHONPROFILEIMPORTTIME": "1",  # one stderr line per module imported
    }
    res = cli("--symbols", "BTCUSDT", "--intervals", "1h", env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1].startswith("loaded 2, ")
    imported = [line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if "| " in line]
    assert "pyarrow.parquet" in imported  # the import log is complete
    assert not [m for m in imported if m.startswith("pandas.")]


def test_killed_mid_run_then_rerun_leaves_a_complete_lake(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    days = [f"2024-05-{d:02d}" for d in range(1, 9)]
    for i, day in enumerate(days):
        binance_server.add_klines("spot", "BTCUSDT", "1m", day, seed=i)
    # Trickle every archive out slowly so the kill lands mid-download.
    binance_server.zip_fault = Fault(chunk_delay=0.3)
    args = ["--symbols", "BTCUSDT", "--intervals", "1m", "--workers", "2", "--lake", str(tmp_path)]
    urls = ["--base-url", binance_server.base_url, "--listing-url", binance_server.listing_url]
    proc = subprocess.Popen(
        [sys.executable, "-m", "loaders.binance", *args, *urls],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(".tmp-" in p.name for p in tmp_path.rglob("*")):
            time.sleep(0.05)
        assert any(".tmp-" in p.name for p in tmp_path.rglob("*")), "loader never started a download"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(lake_files(tmp_path, "spot", "1m", "BTCUSDT")) < len(days)
    assert any(".tmp-" in p.name for p in tmp_path.rglob("*"))  # the kill left a temporary file behind

    binance_server.zip_fault = None
    res = cli(*args, *urls)
    assert res.returncode == 0, res.stderr
    assert [p.stem for p in lake_files(tmp_path, "spot", "1m", "BTCUSDT")] == [
        f"BTCUSDT-1m-{d}" for d in days
    ]
    rows = lake_rows(tmp_path, "spot", "1m", "BTCUSDT")
    assert len(rows) == len(days) * 1440 and len({r[0] for r in rows}) == len(rows)
    assert [p for p in tmp_path.rglob("*") if ".tmp-" in p.name] == []


def test_sigterm_stops_cleanly(binance_server: BinanceServer, tmp_path: Path) -> None:
    for i, day in enumerate(f"2024-06-{d:02d}" for d in range(1, 7)):
        binance_server.add_klines("spot", "BTCUSDT", "1m", day, seed=i)
    binance_server.zip_fault = Fault(chunk_delay=0.2)
    args = ["--symbols", "BTCUSDT", "--intervals", "1m", "--workers", "1", "--lake", str(tmp_path)]
    urls = ["--base-url", binance_server.base_url, "--listing-url", binance_server.listing_url]
    proc = start("loaders.binance", *args, *urls)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not binance_server.downloads():
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted" in err
    # The archive in flight finished (or was dropped) atomically; queued ones were not started.
    assert len(binance_server.downloads()) <= 2
    assert [p for p in tmp_path.rglob("*") if ".tmp-" in p.name] == []


def test_load_is_a_command_and_bare_flags_still_load(
    served: BinanceServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`load` named and bare flags are the same command; `status` and `rebuild-manifest` beside it."""
    args = ["--symbols", "BTCUSDT", "--intervals", "1h", "--lake", str(tmp_path), *urls(served)]
    assert main(["load", *args]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("loaded 2, skipped 0, failed 0")
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("loaded 0, skipped 2, failed 0")
    assert main(["status", "--lake", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("1 series, 768 rows")
    assert main(["rebuild-manifest", "--lake", str(tmp_path)]) == 0
    assert "rebuilt " in capsys.readouterr().out
    for bad in (["load", "--intervals", "1h"], ["status", "--market", "eu"]):
        with pytest.raises(SystemExit) as exc:
            main(bad)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"python -m loaders.binance {bad[0]}: error: "), err


@pytest.mark.parametrize(
    ("command", "example"),
    [
        ("load", "python -m loaders.binance load --symbols BTCUSDT --intervals 1d"),
        ("status", "python -m loaders.binance status --json --market um"),
        ("rebuild-manifest", "python -m loaders.binance rebuild-manifest --lake"),
    ],
)
def test_every_command_help_teaches_with_examples(
    capsys: pytest.CaptureFixture[str], command: str, example: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and example in out and "--lake DIR" in out
