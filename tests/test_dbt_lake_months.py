"""An incremental build lists only the lake's month folders it needs (issue 25): DuckDB lists every file
of a glob before a `lake_month` bound prunes any, so a daily update on a large lake paid for listing
every file of every dataset. The month folders come from the dbt_plugins.lake plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_plugins.lake import lake_file_stats, lake_months
from loaders import contract
from loaders.binance import load
from tests.fixtures.binance_server import BinanceServer, kline_table
from tests.fixtures.dbt import run_dbt
from tests.test_dbt_trust import assert_marts_equal_full_refresh
from tests.test_lake_paths import write_month

SYMBOL = "BTCUSDT"


def test_lake_months_names_only_folders_holding_a_file(tmp_path: Path) -> None:
    """A month folder left empty (its files moved away) must not be named: DuckDB fails on a glob
    that matches no file."""
    lake = tmp_path / "lake"
    for month in ("2024-01", "2024-02", "2024-03"):
        write_month(lake, SYMBOL, month, 24)
    write_month(lake, "ETHUSDT", "2024-04", 24)
    contract.partition_dir(lake, "klines", "spot", "1h", SYMBOL, "2024-05").mkdir(parents=True)
    glob = f"{lake}/{contract.DATASETS['klines'].file_glob()}"
    assert lake_months(glob, "2024-02") == ["2024-02", "2024-03", "2024-04"]
    assert lake_months(glob, "0000-00") == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert lake_months(glob, "9999-12") == []
    assert lake_months(f"{tmp_path}/nowhere/{contract.DATASETS['klines'].file_glob()}", "0000-00") == []
    stats = lake_file_stats(glob)
    assert sorted(Path(s["file"]).name for s in stats) == sorted(p.name for p in lake.rglob("*.parquet"))
    assert all(s["file_size"] == Path(s["file"]).stat().st_size for s in stats)


@pytest.mark.slow
def test_incremental_build_reads_only_the_new_month_folders(
    binance_server: BinanceServer, tmp_path: Path
) -> None:
    """After a month is added, the incremental models read that month's folders, not the dataset glob,
    and the generic tests on staging views their recent months'; the marts still equal a full refresh."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"

    def load_months(*months: str) -> None:
        for k, month in enumerate(months):
            binance_server.add_klines("spot", SYMBOL, "1h", month, kline_table("1h", month, seed=k))
        summary = load(
            "spot", [SYMBOL], ["1h"], lake=lake, base_url=binance_server.base_url,
            listing_url=binance_server.listing_url, progress=False,
        )  # fmt: skip
        assert summary.ok, summary.failures

    load_months("2024-01", "2024-02")
    assert run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "1").success
    load_months("2024-03")
    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "2")
    assert run.success, run.statuses()

    compiled = next((work / "2" / "target" / "compiled").rglob("int_binance__klines_daily.sql")).read_text()
    assert "/month=2024-03/*.parquet" in compiled
    assert "/month=*/" not in compiled and "/month=2024-02/" not in compiled
    # dbt's own generic tests on a staging view read its recent months' folders (staging_test_months 2).
    test_sql = next(
        (work / "2" / "target" / "compiled").rglob("accepted_values_stg_binance__klines_market_*.sql")
    )
    compiled = test_sql.read_text()
    assert "/month=2024-02/*.parquet" in compiled and "/month=2024-03/*.parquet" in compiled
    assert "/month=*/" not in compiled and "/month=2024-01/" not in compiled
    assert_marts_equal_full_refresh(lake, db, work)
