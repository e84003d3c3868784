"""A relative LAKE_DIR (the default is ./lake) must end up absolute in the staging view stored in the
DuckDB file, so the view works when a BI tool opens the file from another directory. dbt's Jinja cannot
see the working directory; the loaders.dbt_paths plugin hands it to the SQL. This runs dbt as a user
does: a separate process, relative LAKE_DIR and DUCKDB_PATH, in a directory that is not the repo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders import contract
from tests.fixtures.paths import REPO_ROOT

pytestmark = pytest.mark.slow

HOUR_US = 3_600_000_000


def write_month(lake: Path, symbol: str, month: str, hours: int) -> int:
    """`hours` hourly candles from the first of `month`, written as one monthly archive's Parquet file."""
    start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=timezone.utc)
    first_us = int(start.timestamp()) * 1_000_000
    open_time = first_us + np.arange(hours, dtype=np.int64) * HOUR_US
    close = 100.0 + np.arange(hours, dtype=np.float64)
    table = pa.Table.from_arrays(
        [
            pa.array(open_time, pa.timestamp("us")),
            pa.array(open_time + HOUR_US - 1, pa.timestamp("us")),
            pa.array(close - 0.5),
            pa.array(close + 1.0),
            pa.array(close - 1.0),
            pa.array(close),
            pa.array(np.full(hours, 2.0)),
            pa.array(close * 2.0),
            pa.array(np.full(hours, 1.0)),
            pa.array(close),
            pa.array(np.full(hours, 10, dtype=np.int64)),
        ],
        schema=contract.KLINE_SCHEMA,
    )
    folder = contract.partition_dir(lake, "klines", "spot", "1h", symbol, month)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"{symbol}-1h-{month}.parquet", compression="zstd")
    return hours


def test_relative_lake_dir_gives_a_view_that_works_from_anywhere(tmp_path: Path) -> None:
    project_cwd = tmp_path / "analyst"
    rows = write_month(project_cwd / "lake", "BTCUSDT", "2024-01", 48)
    env = {
        **os.environ,
        "LAKE_DIR": "lake",  # relative to the directory dbt runs in
        "DUCKDB_PATH": "out/warehouse.duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        env.pop(name, None)
    (project_cwd / "out").mkdir()
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [
            str(dbt),
            "run",
            "--select",
            "stg_binance__klines",
            "--project-dir",
            str(REPO_ROOT),
            "--profiles-dir",
            str(REPO_ROOT),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        cwd=project_cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]

    # Read it from a directory where neither ./lake nor the repository exists.
    elsewhere = tmp_path / "bi-tool"
    elsewhere.mkdir()
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1], read_only=True)\n"
        "sql = con.execute(\"select sql from duckdb_views() where view_name = 'stg_binance__klines'\").fetchone()[0]\n"
        "n = con.execute('select count(*) from stg_binance__klines').fetchone()[0]\n"
        "print(json.dumps({'sql': sql, 'rows': n}))\n"
    )
    read = subprocess.run(
        [sys.executable, "-c", script, str(project_cwd / "out" / "warehouse.duckdb")],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr[-2000:]
    out = json.loads(read.stdout)
    assert out["rows"] == rows
    assert f"'{(project_cwd / 'lake').resolve()}/binance/klines/" in out["sql"], out["sql"][:500]
