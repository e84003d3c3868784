"""`dbt build --target spark`: the same project on Apache Spark (dbt-spark, `session` method: pyspark's local
JVM inside the dbt process) builds the same marts as DuckDB, row by row, and every data and unit test passes there too.

One Spark warehouse serves every test (a cold Spark build is the suite's slowest step): it is built on the
session lake without its last months, then those months are loaded and it is built again, incrementally.
That second build must equal DuckDB's full build of the session lake and pass every node as it does.

Each Spark build runs `dbt` in its own process (one JVM and one embedded Derby metastore per process, as a
user runs it), with the warehouse, metastore, target/ and logs/ in a temp folder. The Spark tables are
read back without Spark: managed Parquet tables are folders `<warehouse>/<schema>.db/<table>/`, the
partitioned ones with one `trade_date=YYYY-MM-DD/` folder per day.

Needs Java 17+ and the `spark` extra (dbt-spark, pyspark; scripts/setup.sh installs it): under CI a
missing one fails, elsewhere the tests are skipped naming what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from tests.dbt_helpers import grains, query, row_differences
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import DBT, FAILED_STATUSES, process_env, project_args, target_statuses
from tests.fixtures.prerequisites import missing
from tests.fixtures.warehouse import (
    REWRITE_CUTOFFS,
    SESSION_LOADS,
    BuiltWarehouse,
    held_back_session_tree,
    load_tree,
)

pytestmark = [pytest.mark.slow, pytest.mark.spark]

SCHEMA = "analytics"
# Every mart Spark builds (grains: the dbt manifest's meta.grain).
MARTS = (
    "fct_ohlcv_daily",
    "fct_regime_features_daily",
    "fct_derivatives_daily",
    "fct_trade_flow_daily",
    "fct_coverage_daily",
    "dim_symbols",
    "fct_market_daily",
    "fct_symbol_market_daily",
    "fct_ohlcv_hourly",
    "fct_regime_features_hourly",
)
# Marts that rebuild every symbol of a market and quote asset from the group's earliest change: um
# ETHUSDT's rows are rewritten (same values) when um BTCUSDT gains a month.
GROUP_REBUILT = ("fct_symbol_market_daily",)
REL_TOL = 1e-9
# Values that are differences of near-equal numbers (a symbol's 30-day return minus its own index's, on
# a market of few symbols) sit near 0, where the engines' last-ulp rounding is all there is: 1e-16.
ABS_TOL = 1e-12
# Tables rebuilt whole on every run (no trade_date partitions; docs/regimes.md): compared with DuckDB,
# not held to the incremental marts' partition checks.
TABLE_MARTS = (
    "fct_regime_spells",
    "fct_regime_transitions",
    "fct_market_regime_transitions",
    "fct_regime_outcomes",
)
# dbt Python models cannot run on open-source Spark: the regime-probability models are off on that target
# (docs/scaling.md), so their nodes and tests exist on DuckDB only. (fct_regime_features_daily's
# vol_state columns are null there; on the session lake, too short for a fit, they are null on DuckDB too.)
DUCKDB_ONLY_MODELS = (
    "int_regime__fits",
    "int_regime__probabilities_daily",
    "fct_regime_model_fits",
    "fct_regime_model_states",
    "fct_regime_model_transitions",
    "fct_regime_probabilities_daily",
    # The hourly regime-probability model (docs/regimes.md#hourly-probabilities).
    "int_regime__fits_hourly",
    "int_regime__probabilities_hourly",
    "fct_regime_model_fits_hourly",
    "fct_regime_model_states_hourly",
    "fct_regime_model_transitions_hourly",
    "fct_regime_probabilities_hourly",
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
    # latest_regime (dim_latest_regime, its tests, assert_latest_regime_equals_the_marts): it exists for
    # the Postgres export, which runs on DuckDB only.
    "latest_regime",
    "dim_market_symbols",
)
REGIME_OFF_LINE = "regime probabilities: dbt Python models do not run on Spark"
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
        return target_statuses(self.work / "target")

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
    failed = {n: s for n, s in build.statuses().items() if s in FAILED_STATUSES}
    assert build.returncode == 0 and not failed, (
        f"dbt build --target spark failed: {failed}\n{build.output[-4000:]}"
    )


def duckdb_table(warehouse: BuiltWarehouse, table: str) -> list[dict[str, Any]]:
    return query(warehouse.duckdb_path, f"select * from main.{table}")


def differences(
    duck_rows: list[dict[str, Any]], spark_rows: list[dict[str, Any]], key: tuple[str, ...]
) -> list[str]:
    """What differs between a DuckDB and a Spark table, matched on the mart's grain."""
    return row_differences(
        duck_rows, spark_rows, key, names=("DuckDB", "Spark"), rel=REL_TOL, abs_tol=ABS_TOL
    )


@dataclass
class SparkIncremental:
    """The module's Spark warehouse: `first` built on the lake without the held-back months
    (tests/fixtures/warehouse.py ADDED_MONTHS; its marts kept in `before`), then `second` built
    incrementally after they were loaded (the whole session lake)."""

    first: SparkBuild
    before: dict[str, list[dict[str, Any]]]
    second: SparkBuild


@pytest.fixture(scope="module")
def spark_incremental(spark_ready: None, tmp_path_factory: pytest.TempPathFactory) -> SparkIncremental:
    tmp_path = tmp_path_factory.mktemp("spark_incremental")
    held = held_back_session_tree(tmp_path)
    lake = tmp_path / "lake"
    with BinanceServer(held.tree.root) as server:
        load_tree(server, lake, SESSION_LOADS)
        first = spark_build(lake, tmp_path / "spark")
        before = {t: first.table(t) for t in MARTS} if first.returncode == 0 else {}
        held.publish()
        load_tree(server, lake, SESSION_LOADS)
    second = spark_build(lake, tmp_path / "spark")
    return SparkIncremental(first=first, before=before, second=second)


@pytest.fixture(scope="module")
def spark_full(spark_incremental: SparkIncremental) -> SparkBuild:
    """The Spark warehouse of the whole session lake (built incrementally: see the module doc)."""
    assert_succeeded(spark_incremental.first)
    return spark_incremental.second


def test_spark_build_passes_every_node_as_duckdb_does(
    spark_full: SparkBuild, built_warehouse: BuiltWarehouse
) -> None:
    """Every seed, model, data test and unit test of the DuckDB build runs on Spark with the same outcome
    (the warnings included: the same coverage gaps and incomplete derivatives days)."""
    assert_succeeded(spark_full)
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


@pytest.mark.parametrize("mart", MARTS + TABLE_MARTS)
def test_spark_mart_equals_duckdb(mart: str, spark_full: SparkBuild, built_warehouse: BuiltWarehouse) -> None:
    assert_succeeded(spark_full)
    duck = duckdb_table(built_warehouse, mart)
    assert duck, f"{mart} is empty on DuckDB: nothing to compare"
    key = grains(spark_full.work / "target")[mart]
    problems = differences(duck, spark_full.table(mart), key)
    assert not problems, f"{mart}:\n" + "\n".join(problems[:20])


def test_spark_incremental_build_equals_duckdb_full_build(
    spark_incremental: SparkIncremental, built_warehouse: BuiltWarehouse
) -> None:
    """Build on the lake without its last months, load them, build again: the incremental Spark build
    (trade_date partitions overwritten) equals DuckDB's full build, and older days are not rewritten."""
    assert_succeeded(spark_incremental.first)
    second = spark_incremental.second
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

    for table in MARTS:
        key = grains(second.work / "target")[table]
        before = spark_incremental.before[table]
        incr = second.table(table)
        if table not in ("fct_trade_flow_daily", "dim_symbols"):  # no aggTrades were held back
            assert len(incr) > len(before), f"{table}: the new months were not added"
        if table not in ("fct_coverage_daily", "dim_symbols"):  # those rewrite changed series whole
            # Adding a month must not rewrite years: rows well before it, and every row of um ETHUSDT
            # (nothing new), keep the first build's _built_at, even in the trade_date partitions the
            # incremental run overwrote.
            stamps = {tuple(r[c] for c in key): r["_built_at"] for r in incr}
            rewritten = []
            for row in before:
                k = tuple(row[c] for c in key)
                untouched_series = k[:2] == ("um", "ETHUSDT") and table not in GROUP_REBUILT
                day = k[2].date() if isinstance(k[2], datetime) else k[2]  # hourly grains: hour_start
                old = untouched_series or day < REWRITE_CUTOFFS.get(k[2].year, date.max)
                if old and stamps.get(k) != row["_built_at"]:
                    rewritten.append(k)
            assert not rewritten, f"{table}: {len(rewritten)} old rows rewritten, e.g. {rewritten[:3]}"
        problems = differences(duckdb_table(built_warehouse, table), incr, key)
        assert not problems, f"{table}:\n" + "\n".join(problems[:20])
