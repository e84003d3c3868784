"""Incremental marts: building, then loading one more month and building again, gives the same tables as
one build of everything (the session warehouse), and the marts really are incremental."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.dbt_helpers import KEY, MARTS, query
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import run_dbt
from tests.fixtures.warehouse import SESSION_LOADS, BuiltWarehouse, build_session_tree, load_tree
from tests.reference import close_enough

pytestmark = pytest.mark.slow

# Held back, then published: the last klines month of 2023, and April 2026 of every um BTCUSDT dataset
# (klines, mark/index/premium candles, Binance's real funding file, the metrics days).
ADDED_MONTHS = ("2023-05", "2026-04")
# Rows before these dates must survive the incremental run untouched (a month of slack for look-back).
REWRITE_CUTOFFS = {2023: date(2023, 4, 1), 2026: date(2026, 3, 1)}
# Incremental marts and their grains.
INCREMENTAL_MARTS = {
    **dict.fromkeys(MARTS, KEY),
    "fct_derivatives_daily": KEY,
    "fct_trade_flow_daily": KEY,
    "fct_coverage_daily": ("dataset", "market", "interval", "symbol", "trade_date"),
}


def _table(duckdb_path: Path, table: str) -> dict[tuple, dict]:
    rows = query(duckdb_path, f"select * from main.{table}")
    return {tuple(r[k] for k in INCREMENTAL_MARTS.get(table, KEY)): r for r in rows}


def _differences(full: dict[tuple, dict], incr: dict[tuple, dict]) -> list[str]:
    problems = [f"key only in the full build: {k}" for k in sorted(set(full) - set(incr))[:5]]
    problems += [f"key only in the incremental build: {k}" for k in sorted(set(incr) - set(full))[:5]]
    for k in sorted(set(full) & set(incr)):
        if full[k].keys() != incr[k].keys():
            problems.append(f"columns differ: {sorted(full[k])} vs {sorted(incr[k])}")
            break
        problems += [
            f"{k} {c}: full {full[k][c]!r}, incremental {incr[k][c]!r}"
            for c in full[k]
            # _built_at and the like are bookkeeping (when the row was written), not data.
            if not c.startswith("_") and not close_enough(full[k][c], incr[k][c], rel=1e-12)
        ]
    return problems


def test_incremental_after_adding_a_month_equals_full_build(
    built_warehouse: BuiltWarehouse, tmp_path: Path
) -> None:
    assert built_warehouse.run.success
    tree = build_session_tree(tmp_path)
    held = tmp_path / "held-back"
    held.mkdir()
    later = [a for a in tree.archives if any(month in a.stem for month in ADDED_MONTHS)]
    assert len(later) > 30, "the session tree lacks the held-back months"
    for a in later:  # publish everything but the last month first
        for f in (a.zip_path, a.zip_path.with_name(a.zip_path.name + ".CHECKSUM")):
            shutil.move(f, held / f"{a.market}-{a.dataset}-{f.name}")

    lake = tmp_path / "lake"
    db = tmp_path / "warehouse.duckdb"
    with BinanceServer(tree.root) as server:
        load_tree(server, lake, SESSION_LOADS)
        first = run_dbt("build", lake_dir=lake, duckdb_path=db, work_dir=tmp_path / "work1")
        assert first.success, first.statuses()
        before = {t: _table(db, t) for t in INCREMENTAL_MARTS}
        for a in later:  # Binance publishes the next month
            for f in (a.zip_path, a.zip_path.with_name(a.zip_path.name + ".CHECKSUM")):
                shutil.move(held / f"{a.market}-{a.dataset}-{f.name}", f)
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
        incr = _table(db, table)
        if table != "fct_trade_flow_daily":  # no aggTrades were held back
            assert len(incr) > len(before[table]), f"{table}: the new months were not added"
        # Adding a month must not rebuild years: rows well before it keep the first build's `_built_at`
        # (the models stamp each row with the run that wrote it); um ETHUSDT got nothing new at all.
        # The coverage mart rewrites changed series whole (documented), so it is only compared.
        if table != "fct_coverage_daily":
            rewritten = [
                k
                for k, row in before[table].items()
                if (k[:2] == ("um", "ETHUSDT") or k[2] < REWRITE_CUTOFFS.get(k[2].year, date.max))
                and incr[k]["_built_at"] != row["_built_at"]
            ]
            assert not rewritten, f"{table}: {len(rewritten)} old rows rewritten, e.g. {rewritten[:3]}"
        problems = _differences(_table(built_warehouse.duckdb_path, table), incr)
        assert not problems, f"{table}:\n" + "\n".join(problems[:20])
