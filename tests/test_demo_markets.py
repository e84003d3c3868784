"""The demo server's generated markets (tests/fixtures/demo_markets.py): one continuous path per symbol
(no jump at a month boundary), realistic volatility spells, intervals that agree with each other,
derivatives that follow the price, deterministic bytes, and nothing real mixed in."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from tests.fixtures import demo_markets
from tests.fixtures.binance_server import DemoServer, csv_rows
from tests.fixtures.paths import REPO_ROOT

CATALOG = demo_markets.catalog()


def archive(key: str) -> bytes:
    return CATALOG[key]()


def csv_of(key: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(archive(key))) as zf:
        return zf.read(zf.namelist()[0])


def klines(market: str, symbol: str, interval: str, month: str, dataset: str = "klines") -> list[tuple]:
    folder = "spot" if market == "spot" else "futures/um"
    return csv_rows(
        csv_of(f"data/{folder}/monthly/{dataset}/{symbol}/{interval}/{symbol}-{interval}-{month}.zip")
    )


def test_months_join_without_a_jump() -> None:
    for symbol in demo_markets.DEMO_SYMBOLS:
        months = demo_markets._months()
        for before, after in itertools.pairwise(months):
            last, first = klines("um", symbol, "1d", before)[-1], klines("um", symbol, "1d", after)[0]
            assert first[2] == last[5], f"{symbol} {after} opens at {first[2]}, {before} closed at {last[5]}"
            assert first[0] == last[0] + 86_400_000_000  # consecutive days (µs)


def test_volatility_has_quiet_and_volatile_spells() -> None:
    closes = np.array([r[5] for m in demo_markets._months() for r in klines("spot", "BTCUSDT", "1d", m)])
    returns = np.diff(np.log(closes))
    vol_30d = np.array([returns[i : i + 30].std() for i in range(len(returns) - 30)])
    assert 0.015 < np.median(vol_30d) < 0.05
    assert vol_30d.min() < 0.025 and vol_30d.max() > 0.04
    trend_30d = np.array([closes[i + 30] / closes[i : i + 30].mean() - 1 for i in range(len(closes) - 30)])
    assert (trend_30d > 0.05).any() and (trend_30d < -0.05).any()


def test_daily_candles_are_the_hourly_ones_aggregated() -> None:
    hourly, daily = klines("um", "ETHUSDT", "1h", "2025-03"), klines("um", "ETHUSDT", "1d", "2025-03")
    for day, candle in enumerate(daily):
        hours = hourly[24 * day : 24 * day + 24]
        assert candle[2] == hours[0][2] and candle[5] == hours[-1][5]
        assert candle[3] == max(h[3] for h in hours) and candle[4] == min(h[4] for h in hours)
        assert candle[10] == sum(h[10] for h in hours)
        assert abs(candle[6] - sum(h[6] for h in hours)) <= 1e-9 * candle[6]


def test_mark_funding_and_open_interest_follow_the_market() -> None:
    month = "2025-02"
    index = np.array([r[5] for r in klines("um", "BTCUSDT", "1h", month, "indexPriceKlines")])
    premium = np.array([r[5] for r in klines("um", "BTCUSDT", "1h", month, "premiumIndexKlines")])
    mark = np.array([r[5] for r in klines("um", "BTCUSDT", "1h", month, "markPriceKlines")])
    assert np.allclose(mark, index * (1 + premium), rtol=1e-6)
    funding = [
        line.split(",")
        for line in csv_of(f"data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-{month}.zip")
        .decode()
        .splitlines()[1:]
    ]
    rates = np.array([float(f[2]) for f in funding[1:]])
    premium_8h = premium[: 8 * len(rates) + 8].reshape(-1, 8).mean(axis=1)[: len(rates)]
    assert np.corrcoef(rates, premium_8h)[0, 1] > 0.8
    days = [f"{month}-{d:02d}" for d in range(1, 29)]
    oi = [
        float(
            csv_of(f"data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-{d}.zip")
            .decode()
            .splitlines()[1]
            .split(",")[2]
        )
        for d in days
    ]
    assert len(set(oi)) == len(oi) and min(oi) > 0


def test_archives_are_deterministic() -> None:
    key = "data/spot/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2024-05.zip"
    first = archive(key)
    demo_markets.path.cache_clear()
    assert archive(key) == first


def test_demo_server_serves_generated_archives_only(tmp_path: Path) -> None:
    server = DemoServer(tmp_path)
    listed = set(server.keys("data/"))
    assert listed == set(CATALOG) | {k + ".CHECKSUM" for k in CATALOG}
    assert not any(tmp_path.rglob("*.zip"))  # made only when listed or fetched


def test_help_says_what_it_serves() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.fixtures.binance_server", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for word in ("fundingRate", "metrics", "markPriceKlines", "aggTrades", "BTCUSDT", "ETHUSDT", "--real"):
        assert word in out


def test_demo_server_runs_without_pytest() -> None:
    """`bash scripts/setup.sh` installs no dev extra, so the README's offline block runs the demo server
    where pytest is absent: the server module must not need it."""
    block_pytest = (
        "import runpy, sys\n"
        "class NoPytest:\n"
        "    @staticmethod\n"
        "    def find_spec(name, *args):\n"
        "        if name.split('.')[0] in ('pytest', '_pytest'):\n"
        "            raise ImportError('pytest is not installed')\n"
        "sys.meta_path.insert(0, NoPytest)\n"
        "sys.argv = ['binance_server', '--help']\n"
        "runpy.run_module('tests.fixtures.binance_server', run_name='__main__')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", block_pytest], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "fundingRate" in res.stdout
