"""The lake the hourly-mart tests build on: real Binance 1h, 15m and 1m archives (tests/data), loaded by
the real loader from the local Binance server.

Series (market, symbol: intervals):
- spot BTCUSDT 1h: 2023-01..05 (monthly; Binance's 2023-03-24 outage: the 13:00 candle is missing), and
  the daily files of 2025-07-13, 2025-11-04, 2026-05-08 and 2026-05-09 (microsecond timestamps, from 2025).
- spot BTCUSDT 1m: 2020-01-01..03, 2023-01-21 (milliseconds; its 1h candles are in the 2023-01 file),
  2024-09-21 and 2025-01-02 (microseconds).
- um ETHUSDT 1h 2026-05 (monthly) and 2026-06-23 (an isolated day); 15m of 2026-06-23.
- um BTCUSDT 1m 2023-04-15 and 2025-01-02; um AVAXUSDT 1m 2023-09 (a whole month: every hourly window
  fills from 1m candles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.paths import SHARED_BINANCE, require_shared
from tests.fixtures.warehouse import ArchiveTree, Load, load_tree

# (market, period, symbol, interval, path under tests/data/binance/)
HOURLY_ARCHIVES: tuple[tuple[str, str, str, str, str], ...] = (
    *(
        (
            "spot",
            "monthly",
            "BTCUSDT",
            "1h",
            f"altered/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-0{m}.csv",
        )
        for m in range(1, 6)
    ),
    *(
        ("spot", "daily", "BTCUSDT", "1h", f"spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-{name}")
        for name in ("2025-07-13.csv", "2025-11-04.zip", "2026-05-08.zip", "2026-05-09.zip")
    ),
    *(
        ("spot", "daily", "BTCUSDT", "1m", f"spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-{name}")
        for name in (
            "2020-01-01.zip",
            "2020-01-02.zip",
            "2020-01-03.zip",
            "2023-01-21.csv",
            "2024-09-21.csv",
            "2025-01-02.zip",
        )
    ),
    ("um", "monthly", "ETHUSDT", "1h", "futures/um/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2026-05.csv"),
    ("um", "daily", "ETHUSDT", "1h", "futures/um/daily/klines/ETHUSDT/1h/ETHUSDT-1h-2026-06-23.csv"),
    ("um", "daily", "ETHUSDT", "15m", "futures/um/daily/klines/ETHUSDT/15m/ETHUSDT-15m-2026-06-23.csv"),
    ("um", "daily", "BTCUSDT", "1m", "futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-04-15.csv"),
    ("um", "daily", "BTCUSDT", "1m", "futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-01-02.zip"),
    ("um", "monthly", "AVAXUSDT", "1m", "futures/um/monthly/klines/AVAXUSDT/1m/AVAXUSDT-1m-2023-09.csv"),
)
HOURLY_LOADS: tuple[Load, ...] = (
    Load("spot", "klines", ("BTCUSDT",), ("1h", "1m")),
    Load("um", "klines", ("ETHUSDT", "BTCUSDT", "AVAXUSDT"), ("1h", "15m", "1m")),
)


@dataclass(frozen=True)
class HourlyLake:
    """The loaded lake and the source files of each (market, interval, symbol), in time order."""

    path: Path
    sources: dict[tuple[str, str, str], list[Path]]

    def series(self, interval: str) -> list[tuple[str, str]]:
        """(market, symbol) of every series with candles of `interval`."""
        return sorted((m, s) for m, i, s in self.sources if i == interval)


def build_hourly_lake(root: Path) -> HourlyLake:
    """Serve HOURLY_ARCHIVES from a local Binance server and load them with the real loader into root/lake."""
    require_shared()
    tree = ArchiveTree(root / "tree")
    sources: dict[tuple[str, str, str], list[Path]] = {}
    for market, period, symbol, interval, rel in HOURLY_ARCHIVES:
        archive = tree.add_file(market, period, symbol, interval, SHARED_BINANCE / rel)
        sources.setdefault((market, interval, symbol), []).append(archive.source)
    lake = root / "lake"
    with BinanceServer(tree.root) as server:
        load_tree(server, lake, HOURLY_LOADS)
    ordered = {key: sorted(paths, key=lambda p: p.name) for key, paths in sources.items()}
    return HourlyLake(path=lake, sources=ordered)
