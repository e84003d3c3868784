"""The whole symbol universe (docs/features.md): `--symbols ALL` over a listing of
1,500 symbols on two pages, delisted and newly listed ones included, filtered by `--quote` and
`--exclude`; a real load of some of them; and `status`, from the lake alone, reporting exactly the holes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loaders.binance import load
from loaders.binance.cli import main
from loaders.binance.status import collect
from tests.fixtures.binance_server import BinanceServer, kline_table
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.warehouse import LoadedLake

QUOTES = ("USDT", "BTC", "FDUSD", "TRY")


def universe() -> dict[str, str]:
    """1,500 symbols: symbol -> "both" (monthly and daily files), "delisted" (old monthly files only)
    or "new" (daily files only), quoted in QUOTES in turn."""
    out = {}
    for i in range(1500):
        base = "".join(chr(65 + (i // 26**k) % 26) for k in range(3))
        kind = ("both", "both", "both", "delisted", "new")[i % 5]  # 1,200 symbols per folder: two pages
        out[f"{base}X{QUOTES[i % len(QUOTES)]}"] = kind
    return out


@pytest.fixture(scope="module")
def universe_server(tmp_path_factory: pytest.TempPathFactory):
    """The 1,500-symbol spot market (1d candles; page size 1000 so symbol folders span two pages)."""
    server = BinanceServer(tmp_path_factory.mktemp("universe"), page_size=1000)
    monthly = kline_table("1d", "2022-06", seed=1)
    daily = kline_table("1d", "2026-11-20", seed=2)
    for symbol, kind in universe().items():
        if kind in ("both", "delisted"):
            server.add_klines("spot", symbol, "1d", "2022-06", monthly)
        if kind in ("both", "new"):
            server.add_klines("spot", symbol, "1d", "2026-11-20", daily)
    with server:
        yield server


def test_all_usdt_symbols_dry_run_finds_exactly_the_universe(
    universe_server: BinanceServer, tmp_path: Path
) -> None:
    universe_server.reset_log()
    summary = load(
        "spot", "ALL", ["1d"], lake=tmp_path / "lake", base_url=universe_server.base_url,
        listing_url=universe_server.listing_url, quote="USDT", exclude=["AAAXUSDT"], workers=8,
        dry_run=True, progress=False,
    )  # fmt: skip
    wanted = {s: k for s, k in universe().items() if s.endswith("USDT") and s != "AAAXUSDT"}
    assert summary.symbols == len(wanted) > 300
    archives = sum(2 if k == "both" else 1 for k in wanted.values())
    assert (summary.loaded, summary.failed) == (archives, 0)
    assert not (tmp_path / "lake").exists()
    # The symbol folders were listed once per period (two pages each), not per symbol.
    folder_listings = [r for r in universe_server.requests if r.query.get("prefix", "").endswith("/klines/")]
    assert len(folder_listings) == 4
    assert {r.query.get("marker", "") != "" for r in folder_listings} == {True, False}
    listed = {
        r.query["prefix"].split("/")[4]
        for r in universe_server.requests
        if r.query.get("prefix", "").count("/") == 6
    }
    assert listed == set(wanted)


def test_all_with_a_quote_loads_delisted_and_new_symbols(
    universe_server: BinanceServer, tmp_path: Path
) -> None:
    """A real load of a few symbols: every FDUSD pair, delisted and new ones included."""
    args = ["--symbols", "ALL", "--quote", "FDUSD", "--intervals", "1d", "--lake", str(tmp_path), "--workers", "8",
            "--base-url", universe_server.base_url, "--listing-url", universe_server.listing_url]  # fmt: skip
    # Only FDUSD pairs with two archives, to keep it short: exclude the others of the first ten.
    fdusd = [s for s in universe() if s.endswith("FDUSD")]
    keep = fdusd[:6]
    res = subprocess.run(
        [sys.executable, "-m", "loaders.binance", *args, "--exclude", *fdusd[6:]],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    series = {s.symbol: s for s in collect(tmp_path)}
    assert set(series) == set(keep)
    for symbol in keep:
        kind = universe()[symbol]
        first, last = series[symbol].first_day, series[symbol].last_day
        assert (first, last) == {
            "both": ("2022-06-01", "2026-11-20"),
            "delisted": ("2022-06-01", "2022-06-30"),
            "new": ("2026-11-20", "2026-11-20"),
        }[kind]
    assert "symbols 6" in res.stdout


def test_all_needs_matching_symbols_and_quote_needs_all(
    universe_server: BinanceServer, tmp_path: Path, capsys
) -> None:
    urls = ["--base-url", universe_server.base_url, "--listing-url", universe_server.listing_url]
    assert (
        main(["--symbols", "ALL", "--quote", "EUR", "--intervals", "1d", "--lake", str(tmp_path), *urls]) == 2
    )
    assert "no spot klines symbols match the filters" in capsys.readouterr().err
    assert (
        main(["--symbols", "BTCUSDT", "--quote", "USDT", "--intervals", "1d", "--lake", str(tmp_path), *urls])
        == 2
    )
    assert "--quote and --exclude go with --symbols ALL" in capsys.readouterr().err


def test_status_reports_exactly_the_holes(
    loaded_lake: LoadedLake, capsys: pytest.CaptureFixture[str]
) -> None:
    """The session lake: spot ETHUSDT lacks 2023-02-14, um ETHUSDT the days between its monthly file and
    its daily one; nothing else (BTCUSDT's outage day has 23 candles: incomplete, not missing)."""
    assert main(["status", "--json", "--lake", str(loaded_lake.path)]) == 0
    report = json.loads(capsys.readouterr().out)
    holes = {
        (s["market"], s["dataset"], s["interval"], s["symbol"]): s["missing"]
        for s in report["series"]
        if s["days_missing"]
    }
    assert holes == {
        ("spot", "klines", "1h", "ETHUSDT"): ["2023-02-14"],
        ("um", "klines", "1h", "ETHUSDT"): ["2026-06-01..2026-06-22"],
    }
    by_key = {(s["market"], s["dataset"], s["interval"], s["symbol"]): s for s in report["series"]}
    assert by_key[("um", "klines", "1h", "ETHUSDT")]["days_missing"] == 22
    assert by_key[("um", "metrics", "", "BTCUSDT")]["archives"] == 61
    assert by_key[("cm", "aggTrades", "", "BTCUSD_PERP")]["rows"] == 105_280
    assert all(s["files_not_in_manifest"] == 0 for s in report["series"])
    assert main(["status", "--lake", str(loaded_lake.path), "--market", "spot"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "market",
        "dataset",
        "interval",
        "symbol",
        "first",
        "last",
        "archives",
        "rows",
        "missing",
    ]
    assert any("ETHUSDT" in line and line.endswith("1: 2023-02-14") for line in table)
    assert table[-1].startswith("3 series")
