"""Run `dbt` as a user would (its own process, the repository's project) and time it; shared by the
benchmarks so each measures the same thing."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.fixtures.dbt import DBT, process_env, project_args
from tests.fixtures.paths import REPO_ROOT


def dbt_env(lake: Path, db: Path, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark's dbt (tests/fixtures/dbt.py's process_env) building `db`."""
    return process_env(lake, {"DUCKDB_PATH": str(db), **(extra_env or {})})


def dbt_command(args: Sequence[str], work: Path) -> list[str]:
    """`dbt <args>` on the repository's project, target/ and logs/ under `work`."""
    return [str(DBT), *args, *project_args(work)]


def run_dbt(
    args: Sequence[str], *, lake: Path, db: Path, work: Path, extra_env: Mapping[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds and the finished process of `dbt <args>` reading `lake` and building `db`."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        dbt_command(args, work),
        env=dbt_env(lake, db, extra_env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(
            f"{proc.stdout[-4000:]}\ndbt {' '.join(args)} failed (exit {proc.returncode}); see {work / 'logs'}"
        )
    return elapsed, proc
