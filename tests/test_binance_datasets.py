"""The loader on every dataset besides klines (docs/lake.md, "Datasets"): Binance's real funding and
aggTrades files, and generated files in Binance's exact formats, through the real loader: the lake holds
exactly what the CSV says; bad requests are one line and exit 2; defective files fail and keep the old."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import contract
from loaders.binance.cli import main
from loaders.binance.manifest import read_entries
from tests.fixtures import derivatives
from tests.fixtures.binance_server import BinanceServer, us
from tests.fixtures.loader_cli import start, urls
from tests.fixtures.paths import REPO_ROOT
from tests.reference import data_rows

FUNDING_KEY = "data/futures/um/monthly/fundingRate/BTCUSDT/BTCUSDT-fundingRate-2026-04.zip"
AGG_TRADES_KEY = "data/futures/cm/daily/aggTrades/BTCUSD_PERP/BTCUSD_PERP-aggTrades-2026-05-08.zip"


def key(market: str, period: str, dataset: str, symbol: str, stem: str, interval: str = "") -> str:
    folder = f"{symbol}/{interval}/" if interval else f"{symbol}/"
    return f"data/{contract.MARKETS[market]}/{period}/{dataset}/{folder}{stem}.zip"


def publish(server: BinanceServer, archive_key: str, csv: bytes, **kw: object) -> None:
    from tests.fixtures.binance_server import zip_csv

    name = archive_key.rsplit("/", 1)[-1].removesuffix(".zip")
    server.add_zip(archive_key, zip_csv(csv, f"{name}.csv"), **kw)  # type: ignore[arg-type]


def run(server: BinanceServer, lake: Path, market: str, dataset: str, symbols: list[str], **kw: Any):
    return server.load(lake, market, symbols, kw.pop("intervals", None), dataset=dataset, **kw)


def lake_table(lake: Path, dataset: str) -> pa.Table:
    files = sorted(contract.dataset_root(lake, dataset).rglob("*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files)


def test_real_funding_file_loads_exactly(binance_server: BinanceServer, tmp_path: Path) -> None:
    binance_server.add_shared(FUNDING_KEY.removeprefix("data/"))
    summary = run(binance_server, tmp_path, "um", "fundingRate", ["BTCUSDT"])
    assert (summary.loaded, summary.failed, summary.rows) == (1, 0, 90)
    (path,) = contract.dataset_root(tmp_path, "fundingRate").rglob("*.parquet")
    assert path.relative_to(tmp_path).as_posix() == (
        "binance/fundingRate/market=um/symbol=BTCUSDT/month=2026-04/BTCUSDT-fundingRate-2026-04.parquet"
    )
    table = pq.read_table(path)
    assert table.schema == contract.DATASETS["fundingRate"].schema
    source = data_rows(REPO_ROOT / "tests/data/binance" / FUNDING_KEY.removeprefix("data/"))
    assert table.column("funding_time").cast(pa.int64()).to_pylist() == [int(r[0]) * 1000 for r in source]
    assert table.column("funding_interval_hours").to_pylist() == [int(r[1]) for r in source]
    assert table.column("funding_rate").to_pylist() == [float(r[2]) for r in source]
    (entry,) = read_entries(contract.manifest_path(tmp_path, "fundingRate"), "fundingRate").values()
    assert (entry.dataset, entry.interval, entry.kind, entry.checksum_verified) == (
        "fundingRate",
        "",
        "monthly",
        True,
    )


def test_generated_funding_with_an_interval_change(binance_server: BinanceServer, tmp_path: Path) -> None:
    csv = derivatives.funding_month("2026-03", 1, change_to_4h_on=date(2026, 3, 15))
    publish(
        binance_server, key("um", "monthly", "fundingRate", "ETHUSDT", "ETHUSDT-fundingRate-2026-03"), csv
    )
    assert run(binance_server, tmp_path, "um", "fundingRate", ["ETHUSDT"]).rows == 14 * 3 + 1 + 17 * 6 - 1
    hours = lake_table(tmp_path, "fundingRate").column("funding_interval_hours").to_pylist()
    assert hours[:43] == [8] * 43 and set(hours[43:]) == {4}


def test_metrics_day_with_empty_ratios_and_a_missing_hour(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    csv, _ = derivatives.metrics_day(date(2026, 3, 20), "BTCUSDT", 5, 80000.0, 68000.0, missing_hour=10)
    publish(binance_server, key("um", "daily", "metrics", "BTCUSDT", "BTCUSDT-metrics-2026-03-20"), csv)
    summary = run(binance_server, tmp_path, "um", "metrics", ["BTCUSDT"])
    assert (summary.loaded, summary.rows) == (1, 276)
    table = lake_table(tmp_path, "metrics")
    assert table.schema == contract.DATASETS["metrics"].schema
    times = table.column("metric_time").cast(pa.int64()).to_pylist()
    assert times[0] == us("2026-03-20T00:00:00") and times[-1] == us("2026-03-20T23:55:00")
    assert us("2026-03-20T10:00:00") not in times
    source = data_rows_bytes(csv)
    assert table.column("open_interest").to_pylist() == [float(r[2]) for r in source]
    ratios = table.column("top_trader_account_ratio").to_pylist()
    assert ratios[:12] == [None] * 12 and None not in ratios[12:]  # empty fields are nulls
    assert table.column("taker_buy_sell_ratio").null_count == 0


def data_rows_bytes(csv: bytes) -> list[list[str]]:
    lines = csv.decode().splitlines()
    return [line.split(",") for line in lines[1:]]


def test_mark_index_and_premium_klines(binance_server: BinanceServer, tmp_path: Path) -> None:
    by_dataset, _ = derivatives.futures_hourly_month("2026-03", 3, 68000.0)
    for dataset in ("markPriceKlines", "indexPriceKlines", "premiumIndexKlines"):
        publish(
            binance_server,
            key("um", "monthly", dataset, "BTCUSDT", "BTCUSDT-1h-2026-03", "1h"),
            by_dataset[dataset],
        )
        summary = run(binance_server, tmp_path, "um", dataset, ["BTCUSDT"], intervals=["1h"])
        assert (summary.loaded, summary.rows) == (1, 31 * 24)
        table = lake_table(tmp_path, dataset)
        assert table.schema == contract.KLINE_SCHEMA
        assert set(table.column("volume").to_pylist()) == {0.0}
        assert set(table.column("trade_count").to_pylist()) == {3600}
    premiums = lake_table(tmp_path, "premiumIndexKlines").column("close").to_pylist()
    assert min(premiums) < 0 < max(premiums)  # premiums go negative: no positivity assumption anywhere


def test_real_coin_m_agg_trades_and_generated_spot_and_usdm_days(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    binance_server.add_shared(AGG_TRADES_KEY.removeprefix("data/"))
    summary = run(binance_server, tmp_path, "cm", "aggTrades", ["BTCUSD_PERP"])
    assert (summary.loaded, summary.rows) == (1, 105_280)
    table = lake_table(tmp_path, "aggTrades")
    assert table.schema == contract.DATASETS["aggTrades"].schema
    ids = table.column("agg_trade_id").to_pylist()
    assert ids == list(range(ids[0], ids[0] + 105_280))  # contiguous, sorted
    assert table.column("is_best_match").null_count == 105_280
    source = data_rows(REPO_ROOT / "tests/data/binance" / AGG_TRADES_KEY.removeprefix("data/"))
    assert table.column("is_buyer_maker").to_pylist() == [r[6] == "true" for r in source]
    # Spot: no header, 8 columns, microseconds in 2025; USD-M: header, milliseconds.
    spot = derivatives.agg_trades_day(date(2025, 3, 1), 1, 500, spot=True)
    publish(
        binance_server, key("spot", "daily", "aggTrades", "BTCUSDT", "BTCUSDT-aggTrades-2025-03-01"), spot
    )
    usdm = derivatives.agg_trades_day(date(2024, 3, 1), 2, 500, spot=False)
    publish(binance_server, key("um", "daily", "aggTrades", "BTCUSDT", "BTCUSDT-aggTrades-2024-03-01"), usdm)
    for market, csv in (("spot", spot), ("um", usdm)):
        lake = tmp_path / market
        assert run(binance_server, lake, market, "aggTrades", ["BTCUSDT"]).rows == 500
        t = lake_table(lake, "aggTrades")
        rows = (
            data_rows_bytes(csv)
            if market == "um"
            else [line.split(",") for line in csv.decode().splitlines()]
        )
        scale = 1 if market == "spot" else 1000
        assert t.column("transact_time").cast(pa.int64()).to_pylist() == [int(r[5]) * scale for r in rows]
        assert t.column("is_best_match").to_pylist() == ([True] * 500 if market == "spot" else [None] * 500)


def test_agg_trades_conversion_keeps_memory_flat(binance_server: BinanceServer, tmp_path: Path) -> None:
    """A month of aggregate trades is streamed: a day of 1.5M trades (~100 MB of CSV) converts within
    a few hundred MB, like a day of 100k (the loader in its own process; peak RSS from the kernel)."""
    big = derivatives.agg_trades_day(date(2026, 2, 1), 3, 1_500_000, spot=False)
    assert len(big) > 90_000_000
    publish(binance_server, key("um", "daily", "aggTrades", "ETHUSDT", "ETHUSDT-aggTrades-2026-02-01"), big)
    proc = start(
        "loaders.binance", "--market", "um", "--dataset", "aggTrades", "--symbols", "ETHUSDT",
        "--workers", "1", "--lake", str(tmp_path), *urls(binance_server),
    )  # fmt: skip
    peak_kb = 0
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:  # the kernel's high-water mark (VmHWM)
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.02)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert 0 < peak_kb / 1024 < 400, f"peak RSS {peak_kb / 1024:.0f} MB"
    assert lake_table(tmp_path, "aggTrades").num_rows == 1_500_000


BAD = [
    (
        ["--market", "um", "--dataset", "fundingRate", "--symbols", "BTCUSDT", "--intervals", "1h"],
        "dataset fundingRate has no intervals",
    ),
    (
        ["--market", "um", "--dataset", "markPriceKlines", "--symbols", "BTCUSDT"],
        "--intervals is required for dataset markPriceKlines",
    ),
    (
        ["--market", "spot", "--dataset", "fundingRate", "--symbols", "BTCUSDT"],
        "dataset fundingRate exists for markets um, cm, not spot",
    ),
    (
        ["--market", "spot", "--dataset", "metrics", "--symbols", "BTCUSDT"],
        "dataset metrics exists for markets um, cm, not spot",
    ),
    (["--dataset", "trades", "--symbols", "BTCUSDT"], "unknown dataset 'trades'"),
    (
        ["--market", "um", "--dataset", "metrics", "--symbols", "NOPEUSDT"],
        "unknown symbol 'NOPEUSDT': no um metrics archives",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_dataset_requests_are_one_line_exit_2(
    binance_server: BinanceServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    binance_server.add_shared(FUNDING_KEY.removeprefix("data/"))
    assert main([*args, *urls(binance_server), "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "lake").exists()


DEFECTS = [
    (
        "metrics",
        "BTCUSDT-metrics-2026-03-20",
        lambda good: good.replace(b"2026-03-20 13:05:00", b"2026-03-20 25:05:00"),
        "CSV conversion error",
    ),
    (
        "fundingRate",
        "BTCUSDT-fundingRate-2026-03",
        lambda good: b"\n".join(line.rsplit(b",", 1)[0] for line in good.splitlines()),  # a column short
        "a fundingRate file has 3",
    ),
]


@pytest.mark.parametrize(("dataset", "stem", "spoil", "reason"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_defective_upstream_files_fail_and_keep_the_old_file(
    binance_server: BinanceServer, tmp_path: Path, dataset: str, stem: str, spoil, reason: str
) -> None:
    period = "daily" if dataset == "metrics" else "monthly"
    k = key("um", period, dataset, "BTCUSDT", stem)
    good = (
        derivatives.metrics_day(date(2026, 3, 20), "BTCUSDT", 1, 80000.0, 68000.0)[0]
        if dataset == "metrics"
        else derivatives.funding_month("2026-03", 1)
    )
    publish(binance_server, k, good)
    assert run(binance_server, tmp_path, "um", dataset, ["BTCUSDT"]).loaded == 1
    (path,) = contract.dataset_root(tmp_path, dataset).rglob("*.parquet")
    kept = path.read_bytes()
    publish(binance_server, k, spoil(good))  # Binance replaces it with a broken file
    summary = run(binance_server, tmp_path, "um", dataset, ["BTCUSDT"], check=False)
    assert summary.failed == 1 and reason in summary.failures[0], summary.failures
    assert path.read_bytes() == kept
    # A wrong checksum fails too (after one retry), and keeps the file.
    publish(binance_server, k, good + b"\n", checksum="0" * 64)
    summary = run(binance_server, tmp_path, "um", dataset, ["BTCUSDT"], check=False)
    assert summary.failed == 1 and "sha256 mismatch" in summary.failures[0]
    assert path.read_bytes() == kept
