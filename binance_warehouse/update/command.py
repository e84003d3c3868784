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

from binance_warehouse.update import alerts, freshness, runs, selection, stamp, steps
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
        build, why, _ = _needs_build(lake, runs.last(lake))
        print(
            f"dbt build as the lake is now: {'needed' if build else 'skipped'} ({why}); "
            "the loads may bring more"
        )
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
    last = runs.last(lake)
    previous = set(last["stale_series"] or []) if last else set()
    loads = [c for c in plan if c.name.startswith("load ")]
    for cmd in loads:
        _step(cmd, record)
    _build_and_refresh([c for c in plan if c not in loads], lake, last, record)
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


def _step(cmd: steps.Command, record: runs.RunRecord, why: str = "") -> bool:
    """Run one command and record it (why: the reason it ran, when it may be skipped); True when it
    succeeded."""
    print(f"== {cmd.name}: {' '.join(cmd.argv[1:4])} ...", flush=True)
    out = steps.run(cmd)
    detail = f"{why}; {out.detail}" if why else out.detail
    record.steps.append(runs.Step(cmd.name, "ok" if out.ok else "failed", round(out.seconds, 3), detail))
    record.archives_loaded += out.archives
    record.rows_loaded += out.rows
    if not out.ok:
        record.failed_steps.append(cmd.name)
    return out.ok


def _needs_build(lake: Path, last: dict[str, object] | None) -> tuple[bool, str, stamp.State]:
    env = dict(os.environ)
    state = stamp.current(lake, steps.PROJECT_DIR, env)
    build, why = stamp.needs_build(state, stamp.saved(lake), last["status"] if last else None, env)
    return build, why, state


def _build_and_refresh(
    cmds: list[steps.Command], lake: Path, last: dict[str, object] | None, record: runs.RunRecord
) -> None:
    """`dbt build` then the dashboards, or neither when nothing is new (docs/operations.md "Nothing
    new"). The lake's state is taken before the build: what a loader adds meanwhile is the next run's."""
    (build_cmd,) = [c for c in cmds if c.name == "dbt build"]
    dashboards = [c for c in cmds if c is not build_cmd]
    saved = stamp.saved(lake)
    build, why, state = _needs_build(lake, last)
    if build:
        print(f"== dbt build needed: {why}", flush=True)
        stamp.clear(lake)  # until the build succeeds, the warehouse may hold anything
        left_out = selection.excluded(steps.dbt_manifest(), lake, steps.PROJECT_DIR)
        extra = ["--exclude", *left_out] if left_out else []
        if left_out:
            why += f"; {len(left_out)} nodes left out (their datasets have no file)"
        if saved and saved.get("project") == state.project:
            # Unit tests check the code, not the data: they passed on this code at the last build.
            extra.append("--exclude-resource-type=unit_test")
            why += "; unit tests passed on this code at the last build"
        build_cmd = steps.Command(build_cmd.name, [*build_cmd.argv, *extra], build_cmd.cwd)
        built = _step(build_cmd, record, why)
        refreshed = all([_step(c, record) for c in dashboards])  # each runs, even after a failure
        if built:
            stamp.save(lake, state, record.run_id, dashboards=refreshed and bool(dashboards))
        return
    print(f"== dbt build: skipped ({why})", flush=True)
    record.steps.append(runs.Step(build_cmd.name, "skipped", 0.0, why))
    if not dashboards or (saved or {}).get("dashboards"):
        record.steps.extend(runs.Step(c.name, "skipped", 0.0, why) for c in dashboards)
        return
    # Installed since the last build (or last refreshed with --no-dashboards): refresh them only.
    if all([_step(c, record, "not refreshed since the last build") for c in dashboards]):
        stamp.save(lake, state, str((saved or {}).get("run_id")), dashboards=True)
