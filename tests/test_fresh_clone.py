"""What a newcomer runs in one checkout: the README's main command leaves `lake/`, `warehouse.duckdb` and
`target/` at the default paths, and the README's test command must still pass. The lint step is the part
that used to depend on that state (sqlfluff compiles the models, and a built warehouse made the
incremental branches the ones linted)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.prerequisites import missing
from tests.fixtures.warehouse import LoadedLake

pytestmark = pytest.mark.slow


def checkout_copy(dest: Path) -> Path:
    """The repository's tracked files (what a clone holds), with the set-up's .venv linked in."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        missing("git and a git checkout are needed to copy the tracked files")
    files = (
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=60
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO_ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to(REPO_ROOT / ".venv")
    return dest


def test_lint_passes_after_a_build_at_the_default_paths(loaded_lake: LoadedLake, tmp_path: Path) -> None:
    project = checkout_copy(tmp_path / "clone")
    loaded_lake.copy_to(project / "lake")  # LAKE_DIR's default, ./lake
    env = {
        k: v for k, v in os.environ.items() if k not in ("LAKE_DIR", "DUCKDB_PATH") and not k.startswith("PG")
    }
    built = subprocess.run(
        [str(project / ".venv" / "bin" / "dbt"), "build"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:]
    assert (project / "warehouse.duckdb").is_file() and (project / "target").is_dir()
    lint = subprocess.run(
        ["bash", "scripts/lint.sh"], cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert lint.returncode == 0, (lint.stdout + lint.stderr)[-5000:]
    assert "All Finished" in lint.stdout + lint.stderr
