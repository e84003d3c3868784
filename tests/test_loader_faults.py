"""The loader's exits under faults (issue 21): interrupted conversions end 130, never SIGABRT; a
corrupt manifest or lake file is one line; archives the base URL does not serve are failures, not
"skipped". Real processes against the local Binance server, real signals."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.loader_cli import start, urls


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
            time.sleep(0.1 + 0.05 * run)  # at different moments of the conversions
            proc.send_signal(signal.SIGINT if run % 2 else signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        outcomes.append((proc.returncode, err.strip().splitlines()[-1:]))
    assert [code for code, _ in outcomes] == [130] * 10, outcomes
    assert all(last[0].startswith("interrupted") for _, last in outcomes), outcomes
