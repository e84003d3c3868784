"""`binance-warehouse update` (docs/operations.md) as a user runs it, against real servers on
loopback: a local Binance server whose tree gains a day's archives between runs (the clock advanced
with WAREHOUSE_NOW), a real dbt build, and an apprise `json://` alert caught by a tiny webhook
receiver."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from binance_warehouse.update.runs import runs_dir
from loaders import locks
from tests.dbt_helpers import KEY, MARTS, query
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import process_env, run_dbt
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.postgres import free_port
from tests.reference import close_enough

SYMBOLS = ("BTCUSDT", "ETHUSDT")
FIRST_DAY = date(2024, 3, 1)
CONFIG = """
[[series]]
symbols = ["BTCUSDT", "ETHUSDT"]
intervals = ["1h"]
start = "2024-03-01"
"""


def _update(*args: str, env: dict[str, str], timeout: float = 540) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # The checkout's dashboards (installed or not) are left alone: test_dashboards.py owns them.
        [sys.executable, "-m", "binance_warehouse", "update", *args, "--no-dashboards"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- bad configuration ---------------------------------------------------------------------------

BAD_CONFIGS = {
    "unknown dataset": ('[[series]]\ndataset = "candles"\nsymbols = ["BTCUSDT"]\n', "series 1, dataset"),
    "bad symbol": ('[[series]]\nsymbols = ["BTC-USDT"]\nintervals = ["1d"]\n', "series 1, symbols"),
    "bad date": (
        '[[series]]\nsymbols = ["BTCUSDT"]\nintervals = ["1d"]\n[[series]]\nsymbols = ["ETHUSDT"]\n'
        'intervals = ["1d"]\nstart = "2024-13"\n',
        "series 2, start",
    ),
    "unknown key": ('[[series]]\nsymbol = ["BTCUSDT"]\nintervals = ["1d"]\n', "series 1, symbol"),
    "interval without intervals": (
        '[[series]]\nmarket = "um"\ndataset = "fundingRate"\nsymbols = ["BTCUSDT"]\nintervals = ["1h"]\n',
        "series 1, intervals",
    ),
    "unknown interval": ('[[series]]\nsymbols = ["BTCUSDT"]\nintervals = ["2d"]\n', "series 1, intervals"),
    "quote without ALL": (
        '[[series]]\nsymbols = ["BTCUSDT"]\nquote = "USDT"\nintervals = ["1d"]\n',
        "series 1, quote",
    ),
    "not toml": ("[[series]\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configuration_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    text, expected = BAD_CONFIGS[case]
    cfg = tmp_path / "warehouse.toml"
    cfg.write_text(text)
    env = process_env(tmp_path / "lake", {"PYTHONPATH": str(REPO_ROOT), "WAREHOUSE_CONFIG": str(cfg)})
    res = _update(env=env, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert not (tmp_path / "lake").exists(), "a bad configuration wrote to the lake"


def test_repository_config_is_valid(tmp_path: Path) -> None:
    env = process_env(tmp_path / "lake", {"PYTHONPATH": str(REPO_ROOT)})
    res = _update("--config", str(REPO_ROOT / "warehouse.toml"), "--dry-run", env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "loaders.binance --market spot --dataset klines" in res.stdout
    assert "dbt build" in res.stdout


# --- loopback receivers -----------------------------------------------------------------------------


class _Receiver:
    """A webhook endpoint on 127.0.0.1: every POSTed JSON body is kept."""

    def __init__(self) -> None:
        received = self.messages = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.httpd.server_address[1]}/"

    def take(self) -> list[dict]:
        out, self.messages[:] = list(self.messages), []
        return out


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def _publish(server: BinanceServer, day: date, symbols: tuple[str, ...] = SYMBOLS) -> None:
    """Binance publishes `day`'s daily 1h archives (and their .CHECKSUM) of `symbols` (the daily marts
    are built from 1h candles)."""
    for k, symbol in enumerate(symbols):
        server.add_klines("spot", symbol, "1h", day.isoformat(), seed=day.toordinal() * 2 + k)


def _now(day: date) -> str:
    """The morning after `day`, after Binance has published it (10:00 UTC)."""
    return f"{day + timedelta(days=1)}T10:00:00Z"


def _records(lake: Path) -> list[dict]:
    files = sorted(runs_dir(lake).glob("run-*.parquet"))
    return sorted((r for f in files for r in pq.read_table(f).to_pylist()), key=lambda r: r["started_at"])


def _marts(db: Path) -> dict[str, dict[tuple, dict]]:
    return {t: {tuple(r[k] for k in KEY): r for r in query(db, f"select * from main.{t}")} for t in MARTS}


def _same(full: dict[tuple, dict], incr: dict[tuple, dict]) -> list[str]:
    if full.keys() != incr.keys():
        return [f"keys differ: {sorted(set(full) ^ set(incr))[:5]}"]
    return [
        f"{k} {c}: full {full[k][c]!r}, update {incr[k][c]!r}"
        for k in full
        for c in full[k]
        if not c.startswith("_") and not close_enough(full[k][c], incr[k][c], rel=1e-12)
    ]


@pytest.fixture
def setting(tmp_path: Path, receiver: _Receiver) -> Iterator[tuple[BinanceServer, dict[str, str], Path]]:
    cfg = tmp_path / "warehouse.toml"
    cfg.write_text(CONFIG)
    lake = tmp_path / "lake"
    with BinanceServer(tmp_path / "binance", page_size=50) as server:
        env = process_env(
            lake,
            {
                "PYTHONPATH": str(REPO_ROOT),
                "WAREHOUSE_CONFIG": str(cfg),
                "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
                "DBT_TARGET_PATH": str(tmp_path / "target"),
                "DBT_LOG_PATH": str(tmp_path / "logs"),
                "BINANCE_BASE_URL": server.base_url,
                "BINANCE_LISTING_URL": server.listing_url,
                "WAREHOUSE_NOTIFY_URLS": receiver.url,
            },
        )
        yield server, env, lake


# --- the lock ----------------------------------------------------------------------------------------


def test_second_update_while_one_runs_runs_no_step(setting, receiver: _Receiver) -> None:
    server, env, lake = setting
    _publish(server, FIRST_DAY)
    lock = lake / ".update.lock"
    lake.mkdir()
    # Hold the lock exactly as a running update does (flock + holder line).
    with locks.try_exclusive(lock) as got:
        assert got
        lock.write_text(f"pid {os.getpid()}, started 2024-03-02 09:15:00 UTC\n")
        res = _update(env={**env, "WAREHOUSE_NOW": _now(FIRST_DAY)}, timeout=60)
    assert res.returncode == 1
    assert f"another update is running (pid {os.getpid()}, started 2024-03-02 09:15:00 UTC)" in res.stderr
    assert not server.requests, "the second update ran a step"
    assert not runs_dir(lake).exists() and not (lake / "binance").exists()
    assert not receiver.messages


@pytest.mark.slow
def test_update_with_wait_runs_once_the_lock_is_free(setting) -> None:
    server, env, lake = setting
    _publish(server, FIRST_DAY)
    lock = lake / ".update.lock"
    lake.mkdir()
    with locks.try_exclusive(lock) as got:
        assert got
        proc = subprocess.Popen(
            [sys.executable, "-m", "binance_warehouse", "update", "--wait"],
            env={**env, "WAREHOUSE_NOW": _now(FIRST_DAY)},
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=3)
        assert not server.requests, "an update ran a step while another held the lock"
    out, _ = proc.communicate(timeout=540)
    assert proc.returncode == 0, out[-3000:]
    assert len(_records(lake)) == 1 and server.downloads()


@pytest.mark.slow
def test_postgres_down_fails_the_build_step_records_it_and_alerts(setting, receiver: _Receiver) -> None:
    server, env, lake = setting
    _publish(server, FIRST_DAY)
    down = {
        "PGHOST": "127.0.0.1",
        "PGPORT": str(free_port()),  # nothing listens there
        "PGUSER": "warehouse",
        "PGPASSWORD": "pg-secret-never-logged",
        "PGDATABASE": "warehouse",
    }
    res = _update(env={**env, **down, "WAREHOUSE_NOW": _now(FIRST_DAY)})
    assert res.returncode == 1, res.stdout[-3000:]
    (record,) = _records(lake)
    assert record["status"] == "failed" and record["failed_steps"] == ["dbt build"]
    assert record["archives_loaded"] == 2  # the load step succeeded and is recorded as such
    alerts = receiver.take()
    assert len(alerts) == 1 and "failed steps: dbt build" in alerts[0]["message"]
    assert down["PGPASSWORD"] not in res.stdout + res.stderr + json.dumps(record, default=str)


@pytest.mark.slow
def test_postgres_export_carries_the_operations_marts(setting, postgres_server) -> None:
    """The post-hook exports fct_update_runs and fct_series_freshness like every mart (their meta
    names a grain and a date column), once a run record exists."""
    server, env, _lake = setting
    for day in (FIRST_DAY, FIRST_DAY + timedelta(days=1)):  # the second build reads the first run's record
        _publish(server, day)  # (a run with nothing new would not build)
        res = _update(env={**env, **postgres_server.env(), "WAREHOUSE_NOW": _now(day)})
        assert res.returncode == 0, res.stdout[-3000:]
    with postgres_server.connect() as con, con.cursor() as cur:
        cur.execute("select status, archives_loaded from analytics.fct_update_runs")
        assert cur.fetchall() == [("ok", 2)]
        cur.execute("select symbol, is_stale from analytics.fct_series_freshness order by symbol")
        assert cur.fetchall() == [("BTCUSDT", False), ("ETHUSDT", False)]


# --- simulated days ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_simulated_days_fresh_stale_recovered_and_failed(
    setting, receiver: _Receiver, tmp_path: Path
) -> None:
    server, env, lake = setting
    db = Path(env["DUCKDB_PATH"])
    day = FIRST_DAY
    _publish(server, day)
    for _ in range(3):  # three days of updates, each after Binance published the day before
        res = _update(env={**env, "WAREHOUSE_NOW": _now(day)})
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
        day += timedelta(days=1)
        _publish(server, day)
    assert not receiver.take(), "a healthy run sent an alert"
    runs = _records(lake)
    assert [r["status"] for r in runs] == ["ok"] * 3
    assert [r["archives_loaded"] for r in runs] == [2, 2, 2]
    assert all(r["rows_loaded"] == 2 * 24 for r in runs)
    assert [s["name"] for s in runs[0]["steps"]] == ["load 1", "dbt build", "freshness"]

    # The marts of three daily updates equal one full build of the same lake.
    full_db = tmp_path / "full.duckdb"
    server.remove(  # the day published after the third run is not in the lake yet
        next(k for k in server.keys("data/") if k.endswith(f"BTCUSDT-1h-{day}.zip"))
    )
    full = run_dbt("build", lake_dir=lake, duckdb_path=full_db, work_dir=tmp_path / "full")
    assert full.success, full.statuses()
    updated, rebuilt = _marts(db), _marts(full_db)
    for table in MARTS:
        assert len(updated[table]) == 3 * len(SYMBOLS), table
        problems = _same(rebuilt[table], updated[table])
        assert not problems, f"{table}:\n" + "\n".join(problems[:10])

    # Day 4: Binance publishes ETHUSDT but not BTCUSDT (removed above): stale, exit 1, one alert.
    res = _update(env={**env, "WAREHOUSE_NOW": _now(day + timedelta(days=1))})
    assert res.returncode == 1, res.stdout[-3000:]
    assert "STALE spot/klines/1h/BTCUSDT" in res.stdout and "ETHUSDT:" not in res.stdout
    alerts = receiver.take()
    assert len(alerts) == 1
    assert "STALE" in alerts[0]["title"] and "spot/klines/1h/BTCUSDT (2 days behind)" in alerts[0]["message"]
    assert _records(lake)[-1]["stale_series"] == ["spot/klines/1h/BTCUSDT"]

    # Day 5: BTCUSDT's missing days are published: fresh again, one "recovered" message.
    _publish(server, day, ("BTCUSDT",))
    day += timedelta(days=1)
    _publish(server, day)
    res = _update(env={**env, "WAREHOUSE_NOW": _now(day)})
    assert res.returncode == 0, res.stdout[-3000:]
    alerts = receiver.take()
    assert len(alerts) == 1 and "RECOVERED" in alerts[0]["title"]
    assert "recovered: spot/klines/1h/BTCUSDT" in alerts[0]["message"]

    # Day 6: the listing answers 500: the load step fails, exit 1, an alert naming it, the marts intact
    # (nothing new was loaded: the build is skipped).
    before = _marts(db)
    server.fault("listing", 500, always=True)
    res = _update(env={**env, "WAREHOUSE_NOW": _now(day)})
    assert res.returncode == 1
    last = _records(lake)[-1]
    assert last["status"] == "failed" and last["failed_steps"] == ["load 1"]
    assert [s["status"] for s in last["steps"]] == ["failed", "skipped", "ok"]
    alerts = receiver.take()
    assert len(alerts) == 1 and "FAILED" in alerts[0]["title"] and "load 1" in alerts[0]["message"]
    assert _marts(db) == before
    # Day 7, the listing back and still nothing new: the previous run failed, so this one builds. The
    # warehouse exposes the runs recorded before its build, and the freshness of the last one.
    server.clear_faults()
    day7 = _update(env={**env, "WAREHOUSE_NOW": _now(day)})
    assert day7.returncode == 0, day7.stdout[-3000:]
    build = _records(lake)[-1]["steps"][1]
    assert build["name"] == "dbt build" and build["status"] == "ok", build
    assert build["detail"].startswith("the previous run failed"), build
    statuses = query(db, "select status from main.fct_update_runs order by started_at")
    assert [r["status"] for r in statuses] == ["ok", "ok", "ok", "stale", "ok", "failed"]
    fresh = query(db, "select symbol, is_stale, lag_days from main.fct_series_freshness order by symbol")
    assert fresh == [
        {"symbol": "BTCUSDT", "is_stale": False, "lag_days": 0},
        {"symbol": "ETHUSDT", "is_stale": False, "lag_days": 0},
    ]

    # `--history` prints every run; the alert URL never reaches output, records or dbt's artifacts.
    hist = _update("--history", env=env, timeout=60)
    assert hist.returncode == 0 and len([ln for ln in hist.stdout.splitlines() if "exit" in ln]) == 7
    secret = env["WAREHOUSE_NOTIFY_URLS"].split("://", 1)[1]
    artifacts = [
        *runs_dir(lake).iterdir(),
        *(tmp_path / "target").rglob("*"),
        *(tmp_path / "logs").rglob("*"),
    ]
    for f in artifacts:
        assert not f.is_file() or secret.encode() not in f.read_bytes(), f
    assert secret not in res.stdout + res.stderr + hist.stdout
    assert "json://***" in res.stdout


# --- nothing new: no build ------------------------------------------------------------------------


def _build_step(lake: Path) -> dict:
    return next(s for s in _records(lake)[-1]["steps"] if s["name"] == "dbt build")


@pytest.mark.slow
def test_update_with_nothing_new_runs_no_build_until_one_failed(setting, tmp_path: Path) -> None:
    """A second run with nothing new runs no dbt (docs/operations.md "Nothing new"), exits 0 and leaves
    the marts as they are; --dry-run says why it would or would not build; after a failed build the
    next run builds even with nothing new."""
    server, env, lake = setting
    db, dbt_log = Path(env["DUCKDB_PATH"]), tmp_path / "logs" / "dbt.log"
    _publish(server, FIRST_DAY)
    day1 = {**env, "WAREHOUSE_NOW": _now(FIRST_DAY)}
    first = _update(env=day1)
    assert first.returncode == 0, first.stdout[-3000:]
    assert _build_step(lake)["status"] == "ok"
    built_seconds = _build_step(lake)["seconds"]
    marts, log_size = _marts(db), dbt_log.stat().st_size

    res = _update(env=day1)
    assert res.returncode == 0, res.stdout[-3000:]
    record = _records(lake)[-1]
    assert [(s["name"], s["status"]) for s in record["steps"]] == [
        ("load 1", "ok"),
        ("dbt build", "skipped"),
        ("freshness", "ok"),
    ]
    assert _build_step(lake)["detail"].startswith("nothing new since the build of run ")
    assert dbt_log.stat().st_size == log_size, "dbt ran"
    assert _marts(db) == marts
    assert record["status"] == "ok" and record["archives_loaded"] == 0
    assert (record["finished_at"] - record["started_at"]).total_seconds() < built_seconds

    dry = _update("--dry-run", env=day1, timeout=60)
    assert "dbt build as the lake is now: skipped (nothing new since the build of run" in dry.stdout
    db.rename(db.with_suffix(".away"))
    dry = _update("--dry-run", env=day1, timeout=60)
    assert f"dbt build as the lake is now: needed (no warehouse file at {db})" in dry.stdout
    db.with_suffix(".away").rename(db)

    # A new day and Postgres down: the build fails. The next run has nothing new to load, and builds.
    day2 = FIRST_DAY + timedelta(days=1)
    _publish(server, day2)
    down = {"PGHOST": "127.0.0.1", "PGPORT": str(free_port()), "PGUSER": "warehouse", "PGDATABASE": "x"}
    res = _update(env={**env, **down, "WAREHOUSE_NOW": _now(day2)})
    assert res.returncode == 1 and _records(lake)[-1]["failed_steps"] == ["dbt build"], res.stdout[-3000:]
    res = _update(env={**env, "WAREHOUSE_NOW": _now(day2)})
    assert res.returncode == 0, res.stdout[-3000:]
    assert _records(lake)[-1]["archives_loaded"] == 0
    assert _build_step(lake)["status"] == "ok" and _build_step(lake)["detail"].startswith(
        "the previous run failed"
    )
    assert all(len(rows) == 2 * len(SYMBOLS) for rows in _marts(db).values())


def test_build_leaves_out_nodes_of_datasets_with_no_file() -> None:
    """selection.leave_out on a graph shaped like the project's: a mart reading klines and the
    derivatives chain keeps that chain (built, empty); a mart and tests reading only absent datasets go."""
    from binance_warehouse.update.selection import leave_out

    def node(kind: str, *deps: str) -> dict:
        return {"resource_type": kind, "name": "", "depends_on": {"nodes": list(deps)}}

    src = "source.p.binance."
    manifest = {
        "sources": {
            src + "klines": {"meta": {"dataset": "klines"}},
            src + "metrics": {"meta": {"dataset": "metrics"}},
            src + "agg_trades": {"meta": {"dataset": "aggTrades"}},
            src + "manifest": {"meta": {}},
        },
        "nodes": {
            "model.p.stg_klines": node("model", src + "klines"),
            "model.p.stg_metrics": node("model", src + "metrics"),
            "model.p.stg_manifest": node("model", src + "manifest"),
            "model.p.int_metrics": node("model", "model.p.stg_metrics", "model.p.stg_manifest"),
            "model.p.fct_features": node("model", "model.p.stg_klines", "model.p.int_metrics"),
            "model.p.fct_derivatives": node("model", "model.p.int_metrics"),
            "model.p.fct_trade_flow": node("model", src + "agg_trades", "model.p.stg_manifest"),
            "seed.p.intervals": node("seed"),
            "test.p.grain_metrics": node("test", "model.p.stg_metrics"),
            "test.p.grain_features": node("test", "model.p.fct_features"),
            "test.p.seed_ok": node("test", "seed.p.intervals"),
            "test.p.flow_vs_seed": node("test", "model.p.fct_trade_flow", "seed.p.intervals"),
        },
        "unit_tests": {"unit_test.p.fct_features.t": node("unit_test", "model.p.fct_features")},
    }
    for uid, n in [*manifest["nodes"].items(), *manifest["unit_tests"].items()]:
        n["name"] = uid.split(".")[-1]
    assert leave_out(manifest, lambda d: d == "klines") == [
        "fct_derivatives",
        "fct_trade_flow",
        "flow_vs_seed",
        "grain_metrics",
    ]
    assert leave_out(manifest, lambda d: True) == []


# --- status --check ----------------------------------------------------------------------------------


def test_status_check_exits_1_on_stale_series_or_recent_gaps(setting) -> None:
    server, env, _lake = setting
    for day in (FIRST_DAY, FIRST_DAY + timedelta(days=2)):  # BTCUSDT misses the 2nd; ETHUSDT only the 1st
        _publish(server, day, ("BTCUSDT",))
    _publish(server, FIRST_DAY, ("ETHUSDT",))
    load = [sys.executable, "-m", "loaders.binance", "--symbols", "BTCUSDT", "ETHUSDT", "--intervals", "1h"]
    assert subprocess.run(load, env=env, capture_output=True, timeout=120).returncode == 0

    def status(now: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "loaders.binance", "status", "--check", *args]
        return subprocess.run(cmd, env={**env, "WAREHOUSE_NOW": now}, capture_output=True, text=True)

    res = status(_now(FIRST_DAY + timedelta(days=2)))
    assert res.returncode == 1
    assert "STALE spot/klines/1h/ETHUSDT: latest 2024-03-01, expected 2024-03-03" in res.stderr
    assert (
        "GAPS spot/klines/1h/BTCUSDT: 2024-03-02" in res.stderr
        and "STALE spot/klines/1h/BTCUSDT" not in res.stderr
    )
    # A day later with one more allowed day of lag, and gaps before the 3rd ignored: all good.
    assert (
        status(_now(FIRST_DAY + timedelta(days=2)), "--since", "2024-03-03", "--max-lag", "2").returncode == 0
    )
    # Before 09:00 UTC the day before yesterday is the one due: ETHUSDT (the 1st) is current at 08:00 on
    # the 3rd and a day behind at 10:00.
    assert status("2024-03-03T08:00:00Z", "--since", "2024-03-03", "--max-lag", "0").returncode == 0
    assert status("2024-03-03T10:00:00Z", "--since", "2024-03-03", "--max-lag", "0").returncode == 1


# --- scheduling files --------------------------------------------------------------------------------

DEPLOY = REPO_ROOT / "deploy"


def test_schedules_call_exactly_the_update_command() -> None:
    service = (DEPLOY / "systemd" / "binance-warehouse-update.service").read_text()
    assert "\nExecStart=/opt/binance-warehouse/.venv/bin/binance-warehouse update\n" in service
    assert "\nOnFailure=binance-warehouse-update-failed.service\n" in service
    timer = (DEPLOY / "systemd" / "binance-warehouse-update.timer").read_text()
    assert "\nOnCalendar=*-*-* 09:15:00 UTC\n" in timer and "\nPersistent=true\n" in timer
    cron = (DEPLOY / "cron" / "binance-warehouse-update.cron").read_text()
    assert ".venv/bin/binance-warehouse update >>" in cron
    workflow = (DEPLOY / "github-actions" / "update.yml").read_text()
    assert "run: .venv/bin/binance-warehouse update\n" in workflow
    assert 'cron: "15 9 * * *"' in workflow


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # The units name /opt/binance-warehouse: verify them against a copy of that layout in tmp.
    bin_dir = tmp_path / "opt" / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("binance-warehouse", "apprise"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/binance-warehouse", str(tmp_path / "opt")))
        units.append(str(copy))
    res = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr


def test_console_script_is_the_update_command(capsys: pytest.CaptureFixture[str]) -> None:
    """pyproject installs `binance-warehouse` as the same program as `python -m binance_warehouse`."""
    from binance_warehouse.__main__ import main
    from binance_warehouse.update.config import tomllib  # tomli on Python 3.10

    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["binance-warehouse"] == "binance_warehouse.__main__:run"
    assert main(["--help"]) == 0 and "binance-warehouse update" in capsys.readouterr().out
    assert main(["nonsense"]) == 2


def test_dashboards_steps_run_when_installed_unless_turned_off(tmp_path: Path) -> None:
    from binance_warehouse.update import steps

    (tmp_path / "dashboards" / "node_modules").mkdir(parents=True)
    names = [c.name for c in steps.plan([], project_dir=tmp_path)]
    assert names == ["dbt build", "dashboards data", "dashboards site"]
    assert [c.name for c in steps.plan([], project_dir=tmp_path, dashboards=False)] == ["dbt build"]
    (tmp_path / "dashboards" / "node_modules").rmdir()
    assert [c.name for c in steps.plan([], project_dir=tmp_path)] == ["dbt build"]
