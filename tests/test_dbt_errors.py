"""`dbt build` failures a user must understand: no lake yet, and Binance's own 1d candles disagreeing with
the daily aggregate (an error, not a warning)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.dbt_helpers import MART_DAILY
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import run_dbt
from tests.fixtures.paths import SHARED_BINANCE, require_shared
from tests.fixtures.warehouse import ArchiveTree, BuiltWarehouse, Load, load_tree

pytestmark = pytest.mark.slow

DOCTORED_DAY_MS = "1673308800000"  # 2023-01-10 00:00 UTC, a row of BTCUSDT-1d-2023-01


def _dbt_output(work: Path, captured: str) -> list[str]:
    """Every line dbt printed or logged for a run (stdout as captured, plus logs/dbt.log)."""
    log = work / "logs" / "dbt.log"
    text = captured + "\n" + (log.read_text(errors="replace") if log.is_file() else "")
    return text.splitlines()


@pytest.mark.parametrize("lake_state", ["missing", "empty"])
def test_build_without_klines_fails_with_one_clear_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], lake_state: str
) -> None:
    lake = tmp_path / "lake"
    if lake_state == "empty":
        (lake / "binance" / "klines").mkdir(parents=True)
    work = tmp_path / "work"
    run = run_dbt("build", lake_dir=lake, duckdb_path=tmp_path / "w.duckdb", work_dir=work)
    assert not run.success
    lines = _dbt_output(work, capfd.readouterr().out)
    hint = [ln for ln in lines if "loaders.binance" in ln]
    assert hint, "no line tells the user to run the loader (python -m loaders.binance):\n" + "\n".join(
        lines[-30:]
    )
    # One line carries the whole message: what is wrong (no klines in the lake) and what to do.
    assert any("lake" in ln.lower() and str(lake) in ln for ln in hint), hint
    assert not any("Traceback" in ln for ln in lines)
    assert not (lake / "binance" / "klines" / "market=spot").exists(), "dbt must not write into the lake"
    assert not (tmp_path / "w.duckdb").exists(), "a failed first build must not leave an empty warehouse file"


def _doctored_1d_zip(source: Path) -> bytes:
    """Binance's BTCUSDT-1d-2023-01.zip with the close of 2023-01-10 nudged by one cent."""
    with zipfile.ZipFile(source) as zf:
        (member,) = zf.namelist()
        lines = zf.read(member).decode().splitlines()
    out = []
    for line in lines:
        fields = line.split(",")
        if fields[0] == DOCTORED_DAY_MS:
            fields[4] = f"{float(fields[4]) + 0.01:.8f}"
        out.append(",".join(fields))
    assert out != lines, "the doctored row was not found"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, "\n".join(out) + "\n")
    return buf.getvalue()


def test_reconciliation_fails_when_a_1d_candle_disagrees(tmp_path: Path) -> None:
    require_shared()
    tree = ArchiveTree(tmp_path / "bucket")
    tree.add_file(
        "spot",
        "monthly",
        "BTCUSDT",
        "1h",
        SHARED_BINANCE / "altered/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-01.csv",
    )
    real_1d = SHARED_BINANCE / "spot/monthly/klines/BTCUSDT/1d/BTCUSDT-1d-2023-01.zip"
    tree.add_csv_bytes(
        "spot",
        "monthly",
        "BTCUSDT",
        "1d",
        "BTCUSDT-1d-2023-01",
        zipfile.ZipFile(io.BytesIO(_doctored_1d_zip(real_1d))).read("BTCUSDT-1d-2023-01.csv"),
        real_1d,
    )
    lake = tmp_path / "lake"
    with BinanceServer(tree.root) as server:
        load_tree(server, lake, [Load("spot", "klines", ("BTCUSDT",), ("1h", "1d"))])

    run = run_dbt("build", lake_dir=lake, duckdb_path=tmp_path / "w.duckdb", work_dir=tmp_path / "work")
    statuses = run.statuses()
    assert not run.success
    failed = {n: s for n, s in statuses.items() if s in ("fail", "error")}
    assert failed, statuses
    assert all("reconcil" in n for n in failed), f"only the reconciliation test may fail: {failed}"
    assert statuses.get(MART_DAILY) == "success", statuses
    # The failure is about the doctored day alone: the message or the stored failures name one row.
    results = {r.node.name: r for r in run.result.result.results}
    failing = next(iter(failed))
    assert results[failing].failures == 1, (failing, results[failing].message)


def test_nulls_in_a_mart_fail_and_name_their_columns(built_warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    # One model-level test checks every not-null column of a mart; a failure still says which columns.
    db = tmp_path / "w.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, db)
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"update {MART_DAILY} set trade_count = null where trade_date = (select min(trade_date) from {MART_DAILY})"
        )
        con.execute(
            f"update {MART_DAILY} set quote_volume = null where trade_date = (select max(trade_date) from {MART_DAILY})"
        )
        nulled = con.execute(f"select count(*) from {MART_DAILY} where quote_volume is null").fetchone()[0]
    work = tmp_path / "work"
    run = run_dbt(
        "test",
        "--select",
        f"{MART_DAILY},test_name:not_null_columns",
        lake_dir=built_warehouse.lake_dir,
        duckdb_path=db,
        work_dir=work,
    )
    assert not run.success
    name = f"{MART_DAILY}_not_null"
    assert run.statuses().get(name) == "fail", run.statuses()
    compiled = next((work / "target" / "compiled").rglob(f"{name}.sql")).read_text()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = dict(con.execute(compiled).fetchall())
    days = built_warehouse.rows(
        f"select count(*) as n from {MART_DAILY} where trade_date = (select min(trade_date) from {MART_DAILY})"
    )[0]["n"]
    assert rows == {"trade_count": days, "quote_volume": nulled}
