"""Run `dbt` as a user would (its own process, the repository's project) and time it; shared by the
benchmarks so each measures the same thing."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT = REPO_ROOT / ".venv" / "bin" / "dbt"


def dbt_env(lake: Path, db: Path, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark's dbt: the caller's PG*, R2_* and SPARK_* variables dropped (a
    benchmark must not export to, or read from, a developer's real servers or Spark); `extra_env` adds
    back what a run needs."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "R2_", "SPARK_"))},
        "LAKE_DIR": str(lake),
        "DUCKDB_PATH": str(db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }


def dbt_command(args: Sequence[str], work: Path) -> list[str]:
    """`dbt <args>` on the repository's project, target/ and logs/ under `work`."""
    return [
        str(DBT),
        *args,
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]


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
