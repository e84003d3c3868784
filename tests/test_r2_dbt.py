"""`dbt build --target r2`: the project reading the lake from the bucket (DuckDB httpfs against the moto
server on loopback), with an empty local lake, builds the same tables as the local build, and the secret
appears nowhere: not in dbt's output, target/, logs/ or the DuckDB file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from loaders.r2 import R2Settings, push
from tests.fixtures.dbt import DbtRun, run_dbt
from tests.fixtures.s3 import S3Server
from tests.fixtures.warehouse import BuiltWarehouse, LoadedLake

PREFIX = "warehouse/lake"


EMPTY_ON_THE_SESSION_LAKE = (
    "fct_update_runs",
    "fct_series_freshness",
    "fct_regime_model_fits",
    "fct_regime_model_states",
    "fct_regime_model_transitions",
    "fct_regime_probabilities_daily",
)


def files_containing(root: Path, needle: str) -> list[Path]:
    data = needle.encode()
    return [p for p in root.rglob("*") if p.is_file() and data in p.read_bytes()]


def tables(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'main' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    return [r[0] for r in rows]


def differences(left: Path, right: Path, table: str) -> tuple[int, int, int]:
    """(rows, rows only in left, rows only in right) of one table in two DuckDB files, ignoring the
    bookkeeping columns whose names start with `_` (e.g. `_built_at`, when the row was built)."""
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        names = con.execute(
            "select column_name from information_schema.columns where table_catalog = 'l'"
            " and table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
        cols = ", ".join(f'"{c}"' for (c,) in names if not c.startswith("_"))
        n = con.execute(f"select count(*) from l.main.{table}").fetchone()[0]
        only_l, only_r = (
            con.execute(
                f"select count(*) from (select {cols} from {a}.main.{table}"
                f" except all select {cols} from {b}.main.{table})"
            ).fetchone()[0]
            for a, b in (("l", "r"), ("r", "l"))
        )
    return n, only_l, only_r


def r2_build(
    tmp_path: Path, name: str, env: dict[str, str | None], capfd: pytest.CaptureFixture[str]
) -> tuple[DbtRun, str, Path]:
    empty_lake = tmp_path / f"{name}-empty-lake"
    empty_lake.mkdir()
    capfd.readouterr()
    run = run_dbt(
        "build",
        "--target",
        "r2",
        lake_dir=empty_lake,
        duckdb_path=tmp_path / f"{name}.duckdb",
        work_dir=tmp_path / name,
        env=env,
    )
    out = capfd.readouterr()
    return run, out.out + out.err, tmp_path / f"{name}.duckdb"


def test_dbt_build_target_r2_matches_the_local_build(
    built_warehouse: BuiltWarehouse,
    loaded_lake: LoadedLake,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert built_warehouse.run.success, "the local build failed; see the dbt tests"
    env = s3_server.env(s3_bucket, PREFIX)
    # A copy: push keeps its state file in the lake it mirrors, and the session lake is shared.
    lake = loaded_lake.copy_to(tmp_path / "lake")
    summary = push(lake, R2Settings.from_env({k: v for k, v in env.items() if v is not None}), progress=False)
    assert summary.uploaded > 0 and not summary.failed

    run, output, duckdb_path = r2_build(tmp_path, "r2", env, capfd)
    assert run.success, output[-3000:]
    statuses = run.statuses()
    assert statuses.get("fct_ohlcv_daily") == "success" and "error" not in statuses.values(), statuses

    # The staging view reads the bucket, not a local path.
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        view_sql = con.execute(
            "select sql from duckdb_views() where view_name = 'stg_binance__klines'"
        ).fetchone()[0]
    assert f"s3://{s3_bucket}/{PREFIX}/binance/klines/" in view_sql

    # Same tables, same rows: seeds, intermediates and marts.
    local_tables = tables(built_warehouse.duckdb_path)
    assert {"fct_ohlcv_daily", "fct_regime_features_daily"} <= set(local_tables)
    assert tables(duckdb_path) == local_tables
    for table in local_tables:
        n, only_local, only_r2 = differences(built_warehouse.duckdb_path, duckdb_path, table)
        assert (only_local, only_r2) == (0, 0), table
        # The operations marts read `update` run records, which the session lake has none of; the regime
        # model needs a year of daily returns, which none of its series has.
        assert n > 0 or not table.startswith("fct_") or table in EMPTY_ON_THE_SESSION_LAKE, table

    secret = s3_server.secret_access_key
    assert secret not in output
    assert files_containing(tmp_path / "r2", secret) == []  # target/ and logs/
    assert files_containing(tmp_path, secret) == []  # and the DuckDB file


def test_dbt_target_r2_with_a_wrong_secret_fails_without_showing_it(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    s3_server.client().put_object(
        Bucket=s3_bucket,
        Key=f"{PREFIX}/binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2023-01/x.parquet",
        Body=b"x",
    )
    wrong = "Wr0ng+SECRET/never-print-me"
    run, output, _ = r2_build(
        tmp_path, "wrong", {**s3_server.env(s3_bucket, PREFIX), "R2_SECRET_ACCESS_KEY": wrong}, capfd
    )
    assert not run.success
    assert "403" in output
    assert wrong not in output
    assert files_containing(tmp_path, wrong) == []


def test_dbt_target_r2_names_a_missing_variable(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run, output, _ = r2_build(
        tmp_path, "unset", {**s3_server.env(s3_bucket, PREFIX), "R2_BUCKET": None}, capfd
    )
    assert not run.success
    assert "R2_BUCKET" in output
    assert s3_server.secret_access_key not in output
