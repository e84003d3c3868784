"""BI access to the warehouse file, tried as a user would: real clients in other processes, started
from another working directory, reading read-only; and the one-line failure of `dbt build` while a
reader holds the file, then the build-then-swap pattern docs/bi.md recommends instead.

Clients: the `duckdb` command-line client (PyPI `duckdb-cli`, same version as the duckdb library, so
the same storage format) and SQLAlchemy through `duckdb-engine`, which is what Superset and other
SQLAlchemy-based BI tools use. docs/bi.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from dbt_plugins.lock_check import LockHolder, lock_holder
from tests.fixtures.paths import REPO_ROOT

MARTS = ("fct_ohlcv_daily", "fct_regime_features_daily")
VENV_BIN = Path(sys.executable).parent
DUCKDB_CLI = VENV_BIN / "duckdb"
DBT = VENV_BIN / "dbt"
HOLD_TIMEOUT_S = 20.0
README_QUERY = "select * from fct_regime_features_daily order by trade_date desc limit 5"
STORAGE_QUERY = "select tags['storage_version'] from duckdb_databases() where not internal"


def duckdb_cli() -> str:
    """The duckdb CLI of this environment (dev dependency duckdb-cli, pinned to the library's version)."""
    assert DUCKDB_CLI.exists(), f"{DUCKDB_CLI} missing: run `bash scripts/setup.sh` (installs duckdb-cli)"
    return str(DUCKDB_CLI)


@contextmanager
def held_by_other_process(path: Path, read_only: bool) -> Iterator[tuple[subprocess.Popen[str], LockHolder]]:
    """Another process holding `path` open, as a BI tool would: the duckdb CLI (read-only) or a Python
    writer. Yields once the OS shows its lock, and ends it afterwards (closing its stdin: the CLI runs
    what the test wrote there, then exits; its output stays readable on proc.stdout)."""
    if read_only:
        argv = [duckdb_cli(), "-readonly", "-csv", "-noheader", str(path)]
    else:
        code = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); sys.stdin.read()"
        argv = [sys.executable, "-c", code, str(path)]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        holder = lock_holder(path)
        while holder is None:
            assert proc.poll() is None, f"holder exited early: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline, f"{argv[0]} did not lock {path} within {HOLD_TIMEOUT_S:.0f}s"
            time.sleep(0.05)
            holder = lock_holder(path)
        yield proc, holder
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # EOF: the CLI / the writer exits and releases the lock
        try:
            proc.wait(timeout=HOLD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait(timeout=HOLD_TIMEOUT_S)


def pids_of(proc: subprocess.Popen[str]) -> set[int]:
    """The process and its children (the duckdb-cli entry point runs the real binary as a child)."""
    try:
        return {proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))}
    except psutil.NoSuchProcess:
        return {proc.pid}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [duckdb_cli(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dbt_env(lake_dir: Path, duckdb_path: Path | str) -> dict[str, str]:
    """The user's environment for `dbt build`: LAKE_DIR / DUCKDB_PATH set, Postgres export off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LAKE_DIR=str(lake_dir), DUCKDB_PATH=str(duckdb_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    return env


def run_dbt_cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real `dbt` command, as a user types it, with target/ and logs/ under `cwd`."""
    argv = [str(DBT), *args, "--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
    argv += ["--target-path", str(cwd / "target"), "--log-path", str(cwd / "logs")]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


# --- the lock check alone, on a plain DuckDB file -----------------------------------------------------


@pytest.fixture
def plain_duckdb(tmp_path: Path) -> Path:
    import duckdb

    path = tmp_path / "plain.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select 1 as a")
    return path


@pytest.mark.parametrize("read_only", [True, False], ids=["reader", "writer"])
def test_lock_check_names_the_file_and_the_holder(
    plain_duckdb: Path, tmp_path: Path, read_only: bool
) -> None:
    check = [sys.executable, "-m", "dbt_plugins.lock_check", str(plain_duckdb)]
    free = subprocess.run(check, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert free.returncode == 0, free.stderr
    assert f"{plain_duckdb} is free" in free.stdout

    with held_by_other_process(plain_duckdb, read_only) as (proc, holder):
        assert holder.pid in pids_of(proc)
        assert holder.exclusive is not read_only
        held = subprocess.run(check, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert held.returncode == 1
    lines = held.stderr.strip().splitlines()
    assert len(lines) == 1, held.stderr
    mode = "read-only" if read_only else "for writing"
    assert f"{plain_duckdb} is locked by process {holder.pid} (" in lines[0]
    assert mode in lines[0] and "re-run" in lines[0] and "swap" in lines[0]
    assert lock_holder(plain_duckdb) is None  # released once the holder ended


def test_lock_check_ignores_missing_file_and_memory(tmp_path: Path) -> None:
    from dbt_plugins.lock_check import check_not_locked

    assert lock_holder(tmp_path / "absent.duckdb") is None
    check_not_locked(tmp_path / "absent.duckdb")  # a first build creates the file: nothing to check
    check_not_locked(":memory:")


# --- real clients on the built warehouse ------------------------------------------------------------------


def test_duckdb_cli_reads_marts_read_only_from_another_directory(built_warehouse, tmp_path: Path) -> None:
    assert built_warehouse.run.success
    path = built_warehouse.duckdb_path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    expected = {
        table: built_warehouse.rows(f"select count(*) as n from main.{table}")[0]["n"] for table in MARTS
    }
    assert all(n > 0 for n in expected.values()), expected

    sql = " union all ".join(f"select '{t}' as mart, count(*) as n from main.{t}" for t in MARTS)
    # The staging view reads the lake by absolute path, so it works from any directory too.
    sql += " union all select 'stg_binance__klines', count(*) from main.stg_binance__klines"
    # Two readers at once (the test holds one), as a dashboard and a notebook would.
    with built_warehouse.connect():
        result = run_cli("-readonly", "-json", str(path), "-c", sql, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    counts = {row["mart"]: row["n"] for row in json.loads(result.stdout)}
    assert {t: counts[t] for t in MARTS} == expected
    assert counts["stg_binance__klines"] > 0

    # The README's example query, and the storage format it promises BI drivers (DuckDB >= 1.0).
    latest = run_cli("-readonly", "-json", str(path), "-c", README_QUERY, cwd=elsewhere)
    assert latest.returncode == 0, latest.stderr
    assert len(json.loads(latest.stdout)) == 5
    version = run_cli("-readonly", "-csv", "-noheader", str(path), "-c", STORAGE_QUERY, cwd=elsewhere)
    assert version.stdout.strip() == "v1.0.0+", version.stdout + version.stderr

    refused = run_cli("-readonly", str(path), "-c", "create table main.scratch as select 1", cwd=elsewhere)
    assert refused.returncode != 0 and "read-only" in (refused.stderr + refused.stdout).lower()


SQLALCHEMY_CLIENT = textwrap.dedent(
    """
    import json, sys
    import sqlalchemy as sa

    # The URI a user pastes into Superset ("SQLAlchemy URI"), per docs/bi.md.
    engine = sa.create_engine(sys.argv[1])
    with engine.connect() as con:
        tables = sa.inspect(con).get_table_names(schema="main")
        columns = {t: [c["name"] for c in sa.inspect(con).get_columns(t, schema="main")] for t in sys.argv[2:]}
        latest = con.execute(sa.text(
            "select market, symbol, max(trade_date)::varchar as last_day, count(*) as days "
            "from main.fct_ohlcv_daily group by all order by all"
        )).mappings().all()
        mode = con.execute(sa.text("select current_setting('access_mode')")).scalar()
    print(json.dumps({"tables": tables, "columns": columns, "latest": [dict(r) for r in latest], "mode": mode}))
    """
)


def test_sqlalchemy_duckdb_engine_reads_marts_like_superset(built_warehouse, tmp_path: Path) -> None:
    assert built_warehouse.run.success
    uri = f"duckdb:///{built_warehouse.duckdb_path}?access_mode=read_only"
    elsewhere = tmp_path / "dashboards"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", SQLALCHEMY_CLIENT, uri, *MARTS],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["mode"] == "read_only"
    assert set(MARTS) <= set(seen["tables"])
    assert {"market", "symbol", "trade_date", "close_price", "vwap", "is_complete"} <= set(
        seen["columns"]["fct_ohlcv_daily"]
    )
    assert {"log_return", "rsi_14", "atr_14", "regime"} <= set(seen["columns"]["fct_regime_features_daily"])
    expected = built_warehouse.rows(
        "select market, symbol, max(trade_date)::varchar as last_day, count(*) as days "
        "from main.fct_ohlcv_daily group by all order by all"
    )
    assert seen["latest"] == expected


# --- dbt build while a BI tool holds the file, and build-then-swap -------------------------------------

# docs/bi.md, verbatim but for dbt's project/profiles/target options (the
# test runs from a temp folder, not the repository) and the venv's dbt.
SWAP_COMMAND = (
    "mkdir -p build && cp warehouse.duckdb build/warehouse.duckdb"
    f" && DUCKDB_PATH=build/warehouse.duckdb {DBT} build --project-dir {REPO_ROOT} --profiles-dir {REPO_ROOT}"
    " --target-path target --log-path logs"
    " && mv build/warehouse.duckdb warehouse.duckdb"
)


def test_build_while_reader_holds_file_fails_in_one_line_then_build_and_swap(
    built_warehouse, tmp_path: Path
) -> None:
    assert built_warehouse.run.success
    serving = tmp_path / "serving"
    serving.mkdir()
    live = serving / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, live)
    before = live.stat()

    with held_by_other_process(live, read_only=True) as (proc, holder):
        # 1. `dbt build` onto the file a BI tool has open: one line naming the file and what to do.
        failed = run_dbt_cli("build", cwd=serving, env=dbt_env(built_warehouse.lake_dir, live))
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0, output
        lines = [line for line in output.splitlines() if "is locked by" in line]
        assert len(lines) == 1, output
        assert f"{live} is locked by process {holder.pid} (" in lines[0], lines[0]
        assert "read-only" in lines[0] and "DUCKDB_PATH=build/warehouse.duckdb" in lines[0]
        assert "Conflicting lock" not in output  # DuckDB's own paragraph never got that far
        assert live.stat().st_mtime_ns == before.st_mtime_ns  # nothing was written

        # 2. docs/bi.md's build-then-swap: copy, build the copy (incrementally), rename it over the live file.
        swap = subprocess.run(
            ["bash", "-c", SWAP_COMMAND],
            cwd=serving,
            env=dbt_env(built_warehouse.lake_dir, live),  # the command overrides DUCKDB_PATH
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert swap.returncode == 0, swap.stdout[-4000:] + swap.stderr[-2000:]
        assert not (serving / "build" / "warehouse.duckdb").exists()  # moved into place
        assert not (serving / "warehouse.duckdb.wal").exists()  # dbt closed it cleanly: nothing to move

        # The reader is still connected to the old file and still reads it; new readers get the new one.
        assert proc.poll() is None
        assert holder.pid in pids_of(proc)
        assert proc.stdin is not None
        proc.stdin.write("select count(*) from main.fct_ohlcv_daily;\n")
    assert proc.returncode == 0
    assert proc.stdout is not None
    n_old_reader = int(proc.stdout.read().split()[0])
    assert n_old_reader == built_warehouse.rows("select count(*) as n from main.fct_ohlcv_daily")[0]["n"]
    assert live.stat().st_ino != before.st_ino
    sql = "select count(*) from main.fct_regime_features_daily; select count(*) from main.stg_binance__klines"
    result = run_cli("-readonly", "-csv", "-noheader", str(live), "-c", sql, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    n_features, n_staging = (int(x) for x in result.stdout.split())
    expected = built_warehouse.rows("select count(*) as n from main.fct_regime_features_daily")[0]["n"]
    assert n_features == expected and n_staging > 0  # views still resolve: same file name, same catalog
