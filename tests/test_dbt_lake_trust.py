"""What a build reads from the lake is what the lake holds (docs/failure-contract.md): a
file replaced without its manifest entry is rebuilt and named, lake folder and file names never become
SQL, stray Parquet files are skipped and named, and paths or files that would make dbt read or write the
wrong thing are refused in one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from dbt.cli.main import dbtRunner

from loaders import contract
from tests.dbt_helpers import query
from tests.fixtures.binance_server import BinanceServer, kline_table
from tests.fixtures.dbt import patched_env, project_args, release_duckdb, run_dbt
from tests.fixtures.paths import REPO_ROOT
from tests.test_dbt_trust import assert_marts_equal_full_refresh
from tests.test_lake_paths import write_month

pytestmark = pytest.mark.slow

SYMBOL = "BTCUSDT"
# A folder name that was pasted into the incremental models' SQL as `'{{ s.symbol }}'` (issue 21).
INJECTION = "X', cast('2025-01-01' as date), null), ('um', 'Z"


@pytest.mark.parametrize("manifest_has_size", [True, False], ids=["size recorded", "manifest without sizes"])
def test_file_replaced_without_its_manifest_entry_is_rebuilt(
    binance_server: BinanceServer, tmp_path: Path, manifest_has_size: bool
) -> None:
    """The kill window: the loader swapped a replaced archive's new file in and died before saving its
    entry, so the manifest keeps the old entry and old loaded_at. The next incremental build must read
    the new closes (marts equal a full refresh), and with the file's size recorded it names the file.
    Without sizes (a manifest written before they existed) the file's modification time alone, later
    than the marts' last build, must bring it in."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    for k, month in enumerate(("2024-01", "2024-02")):
        binance_server.add_klines("spot", SYMBOL, "1h", month, kline_table("1h", month, seed=k))
    binance_server.load(lake, "spot", [SYMBOL], ["1h"])
    manifest = contract.manifest_path(lake, "klines")
    if not manifest_has_size:
        pq.write_table(pq.read_table(manifest).drop_columns(["file_size"]), manifest)
    assert run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "1").success
    before = query(db, "select trade_date, close_price from fct_ohlcv_daily where trade_date >= '2024-02-01'")

    # Binance replaces February; a second lake loads it; its new file lands in ours without the entry.
    binance_server.add_klines(
        "spot", SYMBOL, "1h", "2024-02", kline_table("1h", "2024-02", seed=7, price=41000.0)
    )
    other = tmp_path / "other"
    shutil.copytree(lake, other)
    binance_server.load(other, "spot", [SYMBOL], ["1h"])
    rel = contract.partition_dir(lake, "klines", "spot", "1h", SYMBOL, "2024-02").relative_to(lake)
    [new_file] = (other / rel).glob("*.parquet")
    old_manifest = manifest.read_bytes()
    shutil.copyfile(new_file, lake / rel / new_file.name)
    assert manifest.read_bytes() == old_manifest

    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "2")
    assert run.success, run.statuses()
    after = query(db, "select trade_date, close_price from fct_ohlcv_daily where trade_date >= '2024-02-01'")
    assert after != before
    if manifest_has_size:
        assert run.statuses()["warn_lake_files_unlike_manifest"] == "warn"
        named = query(db, "select lake_path from stg_binance__manifest where is_stale_record")
        assert named == [{"lake_path": (rel / new_file.name).as_posix()}]
    assert_marts_equal_full_refresh(lake, db, work)


def test_hostile_folder_names_are_values_and_stray_files_are_skipped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`symbol=X'Y` made every incremental build fail (44 nodes skipped) and the injection folder turned
    into SQL; a `backup.parquet` or `X (1).parquet` next to an archive failed the build with `invalid
    date field format` naming no file. Both builds (full, then incremental with the folders unrecorded)
    succeed, the odd symbols are symbols, the stray files are named once and not read; one PGHOST line
    per build."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    for symbol in (SYMBOL, "X'Y", INJECTION):
        write_month(lake, symbol, "2024-01", 48)
    folder = contract.partition_dir(lake, "klines", "spot", "1h", SYMBOL, "2024-01")
    for stray in ("backup.parquet", f"{SYMBOL}-1h-2024-01 (1).parquet"):
        shutil.copyfile(folder / f"{SYMBOL}-1h-2024-01.parquet", folder / stray)
    for k in (1, 2):
        run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / str(k))
        assert run.success, run.statuses()
        assert run.statuses()["warn_lake_files_not_archives"] == "warn"
        log = (work / str(k) / "logs" / "dbt.log").read_text()
        assert log.count("PGHOST is not set") == 1
    rows = query(
        db, "select symbol, count(*) as days, sum(base_volume) as volume from fct_ohlcv_daily group by symbol"
    )
    assert {r["symbol"]: (r["days"], r["volume"]) for r in rows} == {
        s: (2, 96.0) for s in (SYMBOL, "X'Y", INJECTION)
    }  # the stray copies' rows are not counted
    capfd.readouterr()


@pytest.mark.parametrize("glob", ["lake?", "lak*", "lake[B]"])
def test_lake_dir_with_glob_characters_is_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], glob: str
) -> None:
    """`LAKE_DIR=lake?` read `lakeB` too: its symbols landed in the marts."""
    write_month(tmp_path / "lakeB", SYMBOL, "2024-01", 48)
    (tmp_path / glob).mkdir()
    write_month(tmp_path / glob, "ETHUSDT", "2024-01", 48)
    run = run_dbt(
        "build", lake_dir=tmp_path / glob, duckdb_path=tmp_path / "w.duckdb", work_dir=tmp_path / "work"
    )
    assert not run.success
    out = capfd.readouterr().out
    lines = [ln for ln in out.splitlines() if "glob character" in ln]
    assert len(lines) == 1 and glob in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert not (tmp_path / "w.duckdb").exists()


def test_duckdb_path_naming_a_parquet_file_is_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """It built green into an in-memory database and saved nothing."""
    lake = tmp_path / "lake"
    write_month(lake, SYMBOL, "2024-01", 48)
    target = next(lake.rglob("*.parquet"))
    original = target.read_bytes()
    run = run_dbt("build", lake_dir=lake, duckdb_path=target, work_dir=tmp_path / "work")
    assert not run.success
    out = capfd.readouterr().out
    lines = [ln for ln in out.splitlines() if "is not a DuckDB database" in ln]
    assert len(lines) == 1 and str(target) in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert target.read_bytes() == original


def _write(lake: Path, dataset: str, market: str, symbol: str, month: str, stem: str, rows: dict) -> Path:
    """One lake file of `dataset` with the given columns, as another tool (not the loader) would write it."""
    import pyarrow as pa

    schema = contract.DATASETS[dataset].schema
    folder = contract.partition_dir(lake, dataset, market, "", symbol, month)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.parquet"
    pq.write_table(pa.Table.from_pydict(rows, schema=schema), path)
    return path


def test_implausible_lake_values_fail_a_data_test_naming_the_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Prices of inf, negative prices, first_trade_id > last_trade_id, a 2028 funding row in a 2025-01
    file and a funding interval of 0 loaded and built green (`vwap = inf`), or crashed the build with
    `cannot take logarithm of a negative number`. `dbt run` now builds (no crash: the logs are guarded)
    and `dbt build` fails the plausibility tests, each failing row naming its file."""
    from datetime import datetime

    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    write_month(lake, SYMBOL, "2025-01", 72)
    write_month(lake, "ETHUSDT", "2025-01", 72)
    klines = {}
    for symbol, column, value in ((SYMBOL, "close", float("inf")), ("ETHUSDT", "low", -5.0)):
        [path] = contract.partition_dir(lake, "klines", "spot", "1h", symbol, "2025-01").glob("*.parquet")
        table = pq.read_table(path)
        values = table.column(column).to_pylist()
        values[30] = value
        pq.write_table(table.set_column(table.schema.get_field_index(column), column, [values]), path)
        klines[symbol] = path
    t = [datetime(2025, 1, 5, h) for h in range(3)]
    trades = _write(lake, "aggTrades", "cm", "BTCUSD_PERP", "2025-01", "BTCUSD_PERP-aggTrades-2025-01-05", {
        "agg_trade_id": [1, 2, 3], "first_trade_id": [10, 20, 30], "last_trade_id": [10, 19, 30],
        "price": [100.0, -1.0, 100.0], "quantity": [1.0, 1.0, -2.0], "transact_time": t,
        "is_buyer_maker": [True, False, True], "is_best_match": [None, None, None],
    })  # fmt: skip
    funding = _write(lake, "fundingRate", "um", SYMBOL, "2025-01", f"{SYMBOL}-fundingRate-2025-01", {
        "funding_time": [datetime(2025, 1, 1), datetime(2025, 1, 1, 8), datetime(2028, 1, 1)],
        "funding_interval_hours": [8, 0, -8], "funding_rate": [0.0001, -0.0002, 0.0001],
    })  # fmt: skip

    assert run_dbt("seed", lake_dir=lake, duckdb_path=db, work_dir=work / "seed").success
    run = run_dbt("run", lake_dir=lake, duckdb_path=db, work_dir=work / "run")
    assert run.success, run.statuses()
    assert "logarithm" not in capfd.readouterr().out

    run = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=work / "build")
    assert not run.success
    statuses = run.statuses()
    for model in ("klines", "agg_trades", "funding_rates"):
        assert statuses[f"stg_binance__{model}_plausible_in_recent_months"] == "fail", statuses
    out = capfd.readouterr().out
    assert "logarithm" not in out
    # The failing rows: each plausibility test's compiled query, run on the warehouse.
    compiled = {
        p.stem: p.read_text() for p in (work / "build" / "target" / "compiled").rglob("*plausible*.sql")
    }
    found = {}
    for name, sql in compiled.items():
        found[name] = query(db, f"select filename, problem, found_value from ({sql}) as failed")
    by_file = {}
    for rows in found.values():
        for r in rows:
            by_file.setdefault(Path(r["filename"]).name, set()).add(r["problem"])
    assert by_file == {
        klines[SYMBOL].name: {"close is not a positive finite price"},
        klines["ETHUSDT"].name: {"low is not a positive finite price"},
        trades.name: {
            "price is not a positive finite price",
            "quantity is negative or not finite",
            "first_trade_id > last_trade_id",
        },
        funding.name: {
            "funding_interval_hours is not positive",
            "funding_time is outside the file's month partition",
        },
    }


def test_build_without_the_lake_plugin_stops_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """profiles.yml without dbt_plugins.lake built green on a local lake without the readers lock, so
    a loader could swap files under the build (issue 23): it must stop, naming the plugin."""
    lake, db, work = tmp_path / "lake", tmp_path / "w.duckdb", tmp_path / "work"
    write_month(lake, SYMBOL, "2024-01", 48)
    profiles = yaml.safe_load((REPO_ROOT / "profiles.yml").read_text())
    dev = profiles["binance_warehouse"]["outputs"]["dev"]
    dev["plugins"] = [p for p in dev["plugins"] if p["module"] != "dbt_plugins.lake"]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "profiles.yml").write_text(yaml.safe_dump(profiles))
    args = project_args(work)
    args[args.index("--profiles-dir") + 1] = str(tmp_path / "profiles")
    env = {"LAKE_DIR": str(lake), "DUCKDB_PATH": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with patched_env(env):
        try:
            result = dbtRunner().invoke(["build", *args, "--no-partial-parse"])
        finally:
            release_duckdb()
    assert not result.success
    out = capfd.readouterr().out
    lines = [ln for ln in out.splitlines() if "binance_lake_lease() for the lake's lock" in ln]
    assert len(lines) == 1 and "dbt_plugins.lake" in lines[0], out[-3000:]
    assert "Traceback" not in out
    tables = "select count(*) as n from information_schema.tables where table_name like 'fct_%'"
    assert not db.exists() or query(db, tables) == [{"n": 0}]
