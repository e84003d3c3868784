"""`binance-warehouse update [--config PATH] [--dry-run] [--wait] [--history] [--notify-always]
[--max-lag N]` (docs/operations.md).

Exit codes: 0 every step succeeded and every series is fresh, 1 a step failed or a series is stale
(or another update holds the lock), 2 bad configuration."""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from binance_warehouse.update import alerts, freshness, runs, steps
from binance_warehouse.update.config import ConfigError, Entry, config_path, load
from loaders import config as loader_config
from loaders import locks

PROG = "binance-warehouse update"
LOCK_NAME = ".update.lock"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Keep the warehouse current: load, build, export, check, alert.")
    p.add_argument("--config", metavar="PATH", help="default: $WAREHOUSE_CONFIG or ./warehouse.toml")
    p.add_argument("--dry-run", action="store_true", help="print what would run; run nothing")
    p.add_argument("--wait", action="store_true", help="wait for a running update instead of exiting 1")
    p.add_argument("--history", action="store_true", help="print the recorded runs and exit")
    p.add_argument("--notify-always", action="store_true", help="alert on a healthy run too")
    p.add_argument(
        "--no-dashboards",
        action="store_true",
        help="leave the dashboards alone (by default their data and site are refreshed when installed)",
    )
    p.add_argument(
        "--max-lag",
        type=int,
        default=freshness.DEFAULT_MAX_LAG,
        metavar="DAYS",
        help=f"days a series may be behind the expected day (default {freshness.DEFAULT_MAX_LAG})",
    )
    return p


def _holder(lock: Path) -> str:
    try:
        return lock.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    lake = loader_config.lake_dir()
    if args.history:
        print(runs.render(runs.read_all(lake)))
        return 0
    path = config_path(args.config)
    try:
        entries = load(path)
        if args.max_lag < 0:
            raise ConfigError(f"--max-lag must be 0 or more, not {args.max_lag}")
        t = freshness.now()
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plan = steps.plan(entries, dashboards=not args.no_dashboards)
    if args.dry_run:
        for cmd in plan:
            print(f"would run ({cmd.name}): {' '.join(cmd.argv)}")
        print(f"then check the freshness of {len(entries)} entries (max lag {args.max_lag} days)")
        targets = [alerts.redact(u) for u in alerts.urls()]
        print(f"alerts: {' '.join(targets) if targets else 'none ($' + alerts.NOTIFY_ENV + ' unset)'}")
        return 0
    lock = lake / LOCK_NAME
    lake.mkdir(parents=True, exist_ok=True)
    if args.wait:
        with locks.exclusive(lock):
            return _locked(lock, entries, plan, lake, t, args)
    with locks.try_exclusive(lock) as got:
        if not got:
            print(f"error: another update is running ({_holder(lock)}); use --wait to wait", file=sys.stderr)
            return 1
        return _locked(lock, entries, plan, lake, t, args)


def _locked(
    lock: Path,
    entries: list[Entry],
    plan: list[steps.Command],
    lake: Path,
    t: datetime,
    args: argparse.Namespace,
) -> int:
    """The run itself, under the lock: every step even after a failure (a failed load must not keep
    the others' archives out of the build), then freshness, the record and the alert."""
    started = datetime.now(timezone.utc)
    # The lock file names its holder for whoever finds it taken (the flock itself is what excludes).
    lock.write_text(f"pid {os.getpid()}, started {started:%Y-%m-%d %H:%M:%S} UTC\n")
    record = runs.RunRecord(run_id=f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", started_at=started)
    previous = runs.previous_stale(lake)
    for cmd in plan:
        print(f"== {cmd.name}: {' '.join(cmd.argv[1:4])} ...", flush=True)
        out = steps.run(cmd)
        record.steps.append(
            runs.Step(cmd.name, "ok" if out.ok else "failed", round(out.seconds, 3), out.detail)
        )
        record.archives_loaded += out.archives
        record.rows_loaded += out.rows
        if not out.ok:
            record.failed_steps.append(cmd.name)
    t0 = time.monotonic()
    checks = freshness.check(lake, entries, t, args.max_lag)
    record.steps.append(
        runs.Step("freshness", "ok", round(time.monotonic() - t0, 3), f"{len(checks)} series")
    )
    record.series_checked = len(checks)
    record.freshness = [c.as_dict() for c in checks]
    stale = [c for c in checks if c.stale]
    record.stale_series = [c.name for c in stale]
    recovered = sorted(previous & {c.name for c in checks if not c.stale})
    record.status = "failed" if record.failed_steps else "stale" if stale else "ok"
    record.exit_code = 0 if record.status == "ok" else 1
    for c in stale:
        print(f"STALE {c.name}: latest {c.latest_day or 'none'}, expected {c.expected_day}")
    title, body = alerts.message(record.failed_steps, [(c.name, c.lag_days) for c in stale], recovered)
    targets = alerts.urls()
    if record.status != "ok" or recovered or args.notify_always:
        for line in alerts.send(title, body, targets):
            print(line)
    record.finished_at = datetime.now(timezone.utc)
    runs.write(lake, record)
    print(
        f"update {record.status}: archives {record.archives_loaded}, rows {record.rows_loaded}, "
        f"{len(checks)} series checked, {len(stale)} stale, "
        f"{(record.finished_at - started).total_seconds():.1f} s"
    )
    return record.exit_code
