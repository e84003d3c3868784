"""Incremental marts: building, then loading one more month and building again, gives the same tables as
one build of everything (the session warehouse), and the marts really are incremental."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.dbt_helpers import MARTS, grains, query, row_differences
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import run_dbt
from tests.fixtures.warehouse import (
    REWRITE_CUTOFFS,
    SESSION_LOADS,
    BuiltWarehouse,
    held_back_session_tree,
    load_tree,
)

pytestmark = pytest.mark.slow

# Incremental marts (grains: the dbt manifest's meta.grain).
INCREMENTAL_MARTS = (
    *MARTS, "fct_derivatives_daily", "fct_trade_flow_daily", "fct_coverage_daily",
    "fct_ohlcv_hourly", "fct_regime_features_hourly",
)  # fmt: skip
# Full and incremental DuckDB builds may sum in another order.
REL = 1e-12


def _day(key_time: date | datetime) -> date:
    """The UTC day of a grain's time (trade_date, or an hourly mart's hour_start)."""
    return key_time.date() if isinstance(key_time, datetime) else key_time


def _rows(duckdb_path: Path, table: str) -> list[dict]:
    return query(duckdb_path, f"select * from main.{table}")


def _differences(full: list[dict], incr: list[dict], key: tuple[str, ...]) -> list[str]:
    """What differs between a full and an incremental build of one mart (bookkeeping `_*` columns,
    such as when a row was written, must exist on both but are not data)."""
    return row_differences(
        full, incr, key, names=("the full build", "the incremental build"), rel=REL, abs_tol=REL,
        bookkeeping_names=True,
    )  # fmt: skip


def test_incremental_after_adding_a_month_equals_full_build(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    held = held_back_session_tree(tmp_path)  # publish everything but the last month first
    lake = tmp_path / "lake"
    db = tmp_path / "warehouse.duckdb"
    with BinanceServer(held.tree.root) as server:
        load_tree(server, lake, SESSION_LOADS)
        first = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=tmp_path / "work1")
        assert first.success, first.statuses()
        keys = grains(first.target_path)
        before = {t: {tuple(r[k] for k in keys[t]): r for r in _rows(db, t)} for t in INCREMENTAL_MARTS}
        held.publish()
        load_tree(server, lake, SESSION_LOADS)
    second = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=tmp_path / "work2")
    assert second.success, second.statuses()

    manifest = json.loads((tmp_path / "work2" / "target" / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] in INCREMENTAL_MARTS:
            assert node["config"]["materialized"] == "incremental", node["name"]
        # A model's scope calls ref() whatever the run (macros/binance/incremental.sql), so dbt knows
        # every incremental model reading the lake reads the manifest, without a `-- depends_on` comment.
        parents = node.get("depends_on", {}).get("nodes", [])
        if node.get("config", {}).get("materialized") == "incremental" and any(
            p.startswith("model.binance_warehouse.stg_binance__") for p in parents
        ):
            assert "model.binance_warehouse.stg_binance__manifest" in parents, node["name"]
            assert "depends_on" not in node["raw_code"], node["name"]

    for table in INCREMENTAL_MARTS:
        incr_rows = _rows(db, table)
        incr = {tuple(r[k] for k in keys[table]): r for r in incr_rows}
        if table != "fct_trade_flow_daily":  # no aggTrades were held back
            assert len(incr) > len(before[table]), f"{table}: the new months were not added"
        # Adding a month must not rebuild years: rows well before it keep the first build's `_built_at`
        # (the models stamp each row with the run that wrote it); um ETHUSDT got nothing new at all.
        # The coverage mart rewrites changed series whole (documented), so it is only compared.
        if table != "fct_coverage_daily":
            rewritten = [
                k
                for k, row in before[table].items()
                if (k[:2] == ("um", "ETHUSDT") or _day(k[2]) < REWRITE_CUTOFFS.get(k[2].year, date.max))
                and incr[k]["_built_at"] != row["_built_at"]
            ]
            assert not rewritten, f"{table}: {len(rewritten)} old rows rewritten, e.g. {rewritten[:3]}"
        problems = _differences(_rows(built_warehouse.duckdb_path, table), incr_rows, keys[table])
        assert not problems, f"{table}:\n" + "\n".join(problems[:20])
