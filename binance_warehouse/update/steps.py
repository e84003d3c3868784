"""The commands one `update` runs, each a process of its own with the caller's environment (exactly
what a user would type): one loader per configured entry, `dbt build`, the dashboards' data and site."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from binance_warehouse.update.alerts import NOTIFY_ENV
from binance_warehouse.update.config import Entry

# The repository (dbt project, dashboards): where this package lives in a checkout.
PROJECT_DIR = Path(__file__).resolve().parents[2]
_SUMMARY = re.compile(r"^loaded (\d+), skipped \d+, failed (\d+), rows (\d+)", re.M)


@dataclass
class Command:
    name: str
    argv: list[str]
    cwd: Path | None = None


@dataclass
class Outcome:
    ok: bool
    seconds: float
    detail: str
    archives: int = 0
    rows: int = 0


def _dbt() -> str:
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def plan(entries: list[Entry], project_dir: Path = PROJECT_DIR, dashboards: bool = True) -> list[Command]:
    """Every command of a run, in order (--dry-run prints them); the dashboards' steps when they are
    installed (dashboards/node_modules) and not turned off."""
    cmds = [
        Command(f"load {e.index}", [sys.executable, "-m", "loaders.binance", *e.loader_args(), "--quiet"])
        for e in entries
    ]
    cmds.append(
        Command(
            "dbt build",
            [_dbt(), "build", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
            project_dir,
        )
    )
    site = project_dir / "dashboards"
    if dashboards and (site / "node_modules").is_dir():
        npm = shutil.which("npm") or "npm"
        cmds.append(Command("dashboards data", [npm, "--prefix", str(site), "run", "sources"]))
        cmds.append(Command("dashboards site", [npm, "--prefix", str(site), "run", "build"]))
    return cmds


def dbt_manifest(project_dir: Path = PROJECT_DIR) -> Path:
    """manifest.json of dbt's last run here (DBT_TARGET_PATH, else the project's target/)."""
    target = os.environ.get("DBT_TARGET_PATH", "").strip()
    return (project_dir / target if target else project_dir / "target") / "manifest.json"


def child_env() -> dict[str, str]:
    """The caller's environment, minus the alert URLs (children have no use for their secrets), with
    this checkout importable first."""
    env = {k: v for k, v in os.environ.items() if k != NOTIFY_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_DIR), env.get("PYTHONPATH", "")) if p)
    return env


def run(cmd: Command) -> Outcome:
    """Run one command, its output passed through; the loader's summary line gives archives and rows."""
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd.argv, cwd=cmd.cwd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seconds = time.monotonic() - t0
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    archives = rows = 0
    m = _SUMMARY.search(proc.stdout)
    if m:
        archives, rows = int(m[1]), int(m[3])
    last = next((ln for ln in reversed(proc.stdout.splitlines()) if ln.strip()), "")
    detail = f"exit {proc.returncode}" + (f": {last.strip()[:300]}" if proc.returncode else "")
    return Outcome(proc.returncode == 0, seconds, detail, archives, rows)
