"""`dbt build --target spark`: the same project on Apache Spark (dbt-spark, `session` method: pyspark's local
JVM inside the dbt process) builds the same marts as DuckDB, row by row, after a full build and after an
incremental one, and every data and unit test passes there too.

Each Spark build runs `dbt` in its own process (one JVM and one embedded Derby metastore per process, as a
user runs it), with the warehouse, metastore, target/ and logs/ in a temp folder. The Spark tables are
read back without Spark: managed Parquet tables are folders `<warehouse>/<schema>.db/<table>/`, the
partitioned ones with one `trade_date=YYYY-MM-DD/` folder per day.

Needs Java 17+ and the `spark` extra (dbt-spark, pyspark; scripts/setup.sh installs it): under CI a
missing one fails, elsewhere the tests are skipped naming what to install.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.dbt_helpers import query
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import DBT, process_env, project_args
from tests.fixtures.prerequisites import missing
from tests.fixtures.warehouse import (
    SESSION_LOADS,
    BuiltWarehouse,
    LoadedLake,
    build_session_tree,
    load_tree,
)

pytestmark = pytest.mark.slow

SCHEMA = "analytics"
DAILY_KEY = ("market", "symbol", "trade_date")
# Every mart and its grain.
MARTS: dict[str, tuple[str, ...]] = {
    "fct_ohlcv_daily": DAILY_KEY,
    "fct_regime_features_daily": DAILY_KEY,
    "fct_derivatives_daily": DAILY_KEY,
    "fct_trade_flow_daily": DAILY_KEY,
    "fct_coverage_daily": ("dataset", "market", "interval", "symbol", "trade_date"),
    "dim_symbols": ("market", "symbol"),
}
REL_TOL = 1e-9
# dbt Python models cannot run on open-source Spark: the regime-probability models are off on that target
# (docs/scaling.md), so their nodes and tests exist on DuckDB only. (fct_regime_features_daily's
# vol_state columns are null there; on the session lake, too short for a fit, they are null on DuckDB too.)
DUCKDB_ONLY_MODELS = (
    "int_binance__returns_daily",
    "int_regime__fits",
    "int_regime__probabilities_daily",
    "fct_regime_model_fits",
    "fct_regime_model_states",
    "fct_regime_model_transitions",
    "fct_regime_probabilities_daily",
    # The operations marts of `binance-warehouse update` read its run records with DuckDB-only SQL.
    "fct_update_runs",
    "fct_series_freshness",
    # The dashboards' views (models/marts/dashboards/): the dashboards read the DuckDB file only.
    "dim_regime_series",
    "fct_regime_runs",
    "dim_vol_state_series",
    "fct_derivatives_series_daily",
    "dim_derivatives_series",
    "fct_coverage_runs",
    "dim_coverage_series",
)
REGIME_OFF_LINE = "regime probabilities: dbt Python models do not run on Spark"
# As tests/test_dbt_incremental.py: held back, then published (the last klines month of 2023 and April
# 2026 of every um BTCUSDT dataset); rows before the cutoffs must keep the first build's _built_at.
ADDED_MONTHS = ("2023-05", "2026-04")
REWRITE_CUTOFFS = {2023: date(2023, 4, 1), 2026: date(2026, 3, 1)}
BUILD_TIMEOUT = 1200


@pytest.fixture(scope="module")
def spark_ready() -> None:
    """Java and the `spark` extra, or a skip (a failure under CI) naming what to install."""
    java = shutil.which("java")
    if java is None:
        missing("java not found: Spark needs Java 17+ (`apt-get install openjdk-17-jre-headless`)")
    version = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        missing(f"`java -version` failed: {version.stderr.strip()}")
    for module, package in (("pyspark", "pyspark"), ("dbt.adapters.spark", "dbt-spark[session]")):
        try:
            __import__(module)
        except ImportError:
            missing(f"{package} is not installed: `pip install -e '.[spark]'` (scripts/setup.sh does)")


@dataclass
class SparkBuild:
    """One `dbt build --target spark` in its own process, and where it wrote."""

    work: Path
    returncode: int
    output: str

    @property
    def warehouse(self) -> Path:
        return self.work / "spark-warehouse"

    def statuses(self) -> dict[str, str]:
        """Node name -> status ('success', 'pass', 'warn', 'error', ...), from target/."""
        target = self.work / "target"
        if not (target / "run_results.json").is_file():
            return {}
        manifest = json.loads((target / "manifest.json").read_text())
        names = {
            uid: n["name"]
            for kind in ("nodes", "unit_tests", "exposures")
            for uid, n in manifest[kind].items()
        }
        results = json.loads((target / "run_results.json").read_text())["results"]
        return {names.get(r["unique_id"], r["unique_id"]): r["status"] for r in results}

    def table(self, name: str) -> list[dict[str, Any]]:
        """A Spark table's rows, read from its Parquet files (partition folders typed as dates)."""
        path = self.warehouse / f"{SCHEMA}.db" / name
        folders = sorted({p.name.split("=", 1)[0] for p in path.iterdir() if p.is_dir() and "=" in p.name})
        partitioning = (
            ds.partitioning(pa.schema([(f, pa.date32()) for f in folders]), flavor="hive")
            if folders
            else None
        )
        return ds.dataset(path, format="parquet", partitioning=partitioning).to_table().to_pylist()


def spark_build(lake: Path, work: Path) -> SparkBuild:
    """`dbt build --target spark` on `lake`, warehouse and metastore under `work` (reused by a later
    build with the same `work`, as a user's next run reuses ./spark-warehouse)."""
    work.mkdir(parents=True, exist_ok=True)
    env = process_env(
        lake,
        {
            "SPARK_WAREHOUSE_DIR": str(work / "spark-warehouse"),
            "SPARK_METASTORE_DIR": str(work / "metastore_db"),
        },
    )
    cmd = [str(DBT), "build", "--target", "spark", *project_args(work), "--no-partial-parse"]
    proc = subprocess.run(
        cmd, cwd=work, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    return SparkBuild(work=work, returncode=proc.returncode, output=proc.stdout + proc.stderr)


def assert_succeeded(build: SparkBuild) -> None:
    failed = {n: s for n, s in build.statuses().items() if s in ("error", "fail", "skipped", "runtime error")}
    assert build.returncode == 0 and not failed, (
        f"dbt build --target spark failed: {failed}\n{build.output[-4000:]}"
    )


def same_value(duck: Any, spark: Any) -> bool:
    """Doubles to REL_TOL relative (nulls and NaNs must match), everything else exactly, type included."""
    if isinstance(duck, float) or isinstance(spark, float):
        if duck is None or spark is None or not (isinstance(duck, float) and isinstance(spark, float)):
            return duck is None and spark is None
        if math.isnan(duck) or math.isnan(spark):
            return math.isnan(duck) and math.isnan(spark)
        return math.isclose(duck, spark, rel_tol=REL_TOL, abs_tol=0.0)
    return type(duck) is type(spark) and duck == spark


def differences(
    duck_rows: list[Mapping[str, Any]], spark_rows: list[Mapping[str, Any]], key: tuple[str, ...]
) -> list[str]:
    """What differs between a DuckDB and a Spark table (bookkeeping columns `_*`, when a row was written,
    ignored)."""
    duck = {tuple(r[k] for k in key): r for r in duck_rows}
    spark = {tuple(r[k] for k in key): r for r in spark_rows}
    problems = (
        [f"{len(duck_rows) - len(duck)} duplicate keys on DuckDB"] if len(duck) != len(duck_rows) else []
    )
    if len(spark) != len(spark_rows):
        problems.append(f"{len(spark_rows) - len(spark)} duplicate keys on Spark")
    problems += [f"key only on DuckDB: {k}" for k in sorted(set(duck) - set(spark), key=str)[:5]]
    problems += [f"key only on Spark: {k}" for k in sorted(set(spark) - set(duck), key=str)[:5]]
    columns = {c for r in duck_rows[:1] for c in r if not c.startswith("_")}
    spark_columns = {c for r in spark_rows[:1] for c in r if not c.startswith("_")}
    if duck_rows and spark_rows and columns != spark_columns:
        problems.append(f"columns differ: DuckDB {sorted(columns)}, Spark {sorted(spark_columns)}")
    for k in sorted(set(duck) & set(spark), key=str):
        problems += [
            f"{k} {c}: DuckDB {duck[k][c]!r}, Spark {spark[k][c]!r}"
            for c in sorted(columns & spark_columns)
            if not same_value(duck[k][c], spark[k][c])
        ]
    return problems


def duckdb_table(warehouse: BuiltWarehouse, table: str) -> list[dict[str, Any]]:
    return query(warehouse.duckdb_path, f"select * from main.{table}")


@pytest.fixture(scope="module")
def spark_full(
    spark_ready: None, loaded_lake: LoadedLake, tmp_path_factory: pytest.TempPathFactory
) -> SparkBuild:
    return spark_build(loaded_lake.path, tmp_path_factory.mktemp("spark_full"))


def test_spark_build_passes_every_node_as_duckdb_does(
    spark_full: SparkBuild, built_warehouse: BuiltWarehouse
) -> None:
    """Every seed, model, data test and unit test of the DuckDB build runs on Spark with the same outcome
    (the warnings included: the same coverage gaps and incomplete derivatives days)."""
    assert_succeeded(spark_full)
    assert built_warehouse.run.success
    duck = {
        n: s for n, s in built_warehouse.run.statuses().items() if not any(m in n for m in DUCKDB_ONLY_MODELS)
    }
    spark = spark_full.statuses()
    assert spark_full.output.count(REGIME_OFF_LINE) == 1
    assert set(spark) == set(duck), (
        f"nodes only on Spark {set(spark) - set(duck)}, only on DuckDB {set(duck) - set(spark)}"
    )
    assert {n: s for n, s in spark.items() if s != duck[n]} == {}
    unit_tests = [n for n in spark if n.startswith(("realized_variance", "regime_features"))]
    assert len(unit_tests) >= 3 and all(spark[n] == "pass" for n in unit_tests), unit_tests
    # The Postgres export (a DuckDB extension) is off on Spark, in one line per mart.
    for mart in MARTS:
        line = f"the Postgres export runs on DuckDB targets only, so {mart} is not exported"
        assert spark_full.output.count(line) == 1, mart


@pytest.mark.parametrize("mart", list(MARTS))
def test_spark_mart_equals_duckdb(mart: str, spark_full: SparkBuild, built_warehouse: BuiltWarehouse) -> None:
    assert_succeeded(spark_full)
    duck = duckdb_table(built_warehouse, mart)
    assert duck, f"{mart} is empty on DuckDB: nothing to compare"
    problems = differences(duck, spark_full.table(mart), MARTS[mart])
    assert not problems, f"{mart}:\n" + "\n".join(problems[:20])


def test_spark_incremental_build_equals_duckdb_full_build(
    spark_ready: None, built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    """Build on the lake without its last months, load them, build again: the incremental Spark build
    (trade_date partitions overwritten) equals DuckDB's full build, and older days are not rewritten."""
    tree = build_session_tree(tmp_path)
    held = tmp_path / "held-back"
    held.mkdir()
    later = [a for a in tree.archives if any(month in a.stem for month in ADDED_MONTHS)]
    assert len(later) > 30, "the session tree lacks the held-back months"
    for a in later:
        for f in (a.zip_path, a.zip_path.with_name(a.zip_path.name + ".CHECKSUM")):
            shutil.move(f, held / f"{a.market}-{a.dataset}-{f.name}")

    lake = tmp_path / "lake"
    with BinanceServer(tree.root) as server:
        load_tree(server, lake, SESSION_LOADS)
        first = spark_build(lake, tmp_path / "spark")
        assert_succeeded(first)
        before = {t: first.table(t) for t in MARTS}
        for a in later:  # Binance publishes the next month
            for f in (a.zip_path, a.zip_path.with_name(a.zip_path.name + ".CHECKSUM")):
                shutil.move(held / f"{a.market}-{a.dataset}-{f.name}", f)
        load_tree(server, lake, SESSION_LOADS)
    second = spark_build(lake, tmp_path / "spark")
    assert_succeeded(second)
    manifest = json.loads((second.work / "target" / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] in MARTS and node["name"] != "dim_symbols":
            config = node["config"]
            assert (config["materialized"], config["incremental_strategy"], config["partition_by"]) == (
                "incremental",
                "insert_overwrite",
                ["trade_date"],
            ), node["name"]

    for table, key in MARTS.items():
        incr = second.table(table)
        if table not in ("fct_trade_flow_daily", "dim_symbols"):  # no aggTrades were held back
            assert len(incr) > len(before[table]), f"{table}: the new months were not added"
        if table not in ("fct_coverage_daily", "dim_symbols"):  # those rewrite changed series whole
            # Adding a month must not rewrite years: rows well before it, and every row of um ETHUSDT
            # (nothing new), keep the first build's _built_at, even in the trade_date partitions the
            # incremental run overwrote.
            stamps = {tuple(r[c] for c in key): r["_built_at"] for r in incr}
            rewritten = []
            for row in before[table]:
                k = tuple(row[c] for c in key)
                old = k[:2] == ("um", "ETHUSDT") or k[2] < REWRITE_CUTOFFS.get(k[2].year, date.max)
                if old and stamps.get(k) != row["_built_at"]:
                    rewritten.append(k)
            assert not rewritten, f"{table}: {len(rewritten)} old rows rewritten, e.g. {rewritten[:3]}"
        problems = differences(duckdb_table(built_warehouse, table), incr, key)
        assert not problems, f"{table}:\n" + "\n".join(problems[:20])
