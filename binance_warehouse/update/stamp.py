"""Whether a run needs `dbt build` (docs/operations.md "Nothing new"): a daily update that loaded
nothing must not pay a whole dbt run (seconds of start-up and ~100 nodes) to rebuild what it has.

After a successful build the run saves what the warehouse was built from in `{lake}/.update.built.json`:
each manifest's latest `loaded_at` and entry count (what the loaders recorded: dbt's incremental
models rebuild from the same stamps), a hash of the dbt project's files and of the settings that say
what is built where. The next run builds unless all of that is unchanged, the warehouse file exists and
the previous run did not fail. A failed build removes the file, so the next run builds whatever the
lake says. The run records (`binance/update_runs/`) are left out on purpose: every run adds one, and
the operations marts read them at the next build."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from loaders import contract

STAMP_FILE = ".update.built.json"
# What dbt reads from the checkout (the `regimes` package is imported by the Python models).
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "data-tests", "snapshots", "analyses", "dbt_plugins", "regimes")
# Environment that changes what a build writes, or where: the export target, dbt's target. Never a
# password (PGPASSWORD): only the host and database it goes to matter here.
SETTINGS_ENV = ("DBT_TARGET", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER")
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
# The one target whose warehouse this module can check (a local DuckDB file); others always build.
LOCAL_TARGETS = ("", "dev")


@dataclass(frozen=True)
class State:
    """What a build reads and where it writes, as comparable values."""

    lake: dict[str, list[object]]  # dataset -> [latest loaded_at (ISO), manifest entries]
    project: str  # sha256 of the dbt project's files
    settings: str  # sha256 of SETTINGS_ENV, the warehouse path and the dbt/DuckDB versions
    warehouse: str  # the DuckDB file dbt builds


def warehouse_path(project_dir: Path, env: dict[str, str]) -> Path:
    """profiles.yml's DuckDB file: DUCKDB_PATH or ./warehouse.duckdb, relative to where dbt runs (the
    project directory: steps.plan)."""
    return project_dir / (env.get("DUCKDB_PATH", "").strip() or "warehouse.duckdb")


def lake_state(lake: Path) -> dict[str, list[object]]:
    """Each manifest's latest loaded_at and entry count, from the Parquet footer's statistics (no data
    read: the metrics manifest of a large lake has hundreds of thousands of entries)."""
    out: dict[str, list[object]] = {}
    for name in sorted(contract.DATASETS):
        path = contract.manifest_path(lake, name)
        if not path.is_file():
            continue
        meta = pq.read_metadata(path)
        latest = None
        if "loaded_at" in meta.schema.names:
            col = meta.schema.names.index("loaded_at")
            stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
            if all(s is not None and s.has_min_max for s in stats):
                latest = max((s.max for s in stats), default=None)
            else:  # a manifest written without statistics: read the one column
                latest = pc.max(pq.read_table(path, columns=["loaded_at"])["loaded_at"]).as_py()
        out[name] = [None if latest is None else latest.isoformat(), meta.num_rows]
    return out


def _digest(parts: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def project_hash(project_dir: Path) -> str:
    """A hash of every file of the dbt project (a changed model or macro must be built)."""
    parts = [(n, (project_dir / n).read_bytes()) for n in PROJECT_FILES if (project_dir / n).is_file()]
    for d in PROJECT_DIRS:
        for f in sorted((project_dir / d).rglob("*")) if (project_dir / d).is_dir() else []:
            if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                parts.append((f.relative_to(project_dir).as_posix(), f.read_bytes()))
    return _digest(parts)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def settings_hash(env: dict[str, str], warehouse: Path, lake: Path) -> str:
    values = {k: env.get(k, "") for k in SETTINGS_ENV}
    values |= {"warehouse": str(warehouse.resolve()), "lake": str(lake.resolve())}
    values |= {p: _version(p) for p in PACKAGES}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def current(lake: Path, project_dir: Path, env: dict[str, str]) -> State:
    warehouse = warehouse_path(project_dir, env)
    return State(
        lake_state(lake), project_hash(project_dir), settings_hash(env, warehouse, lake), str(warehouse)
    )


def saved(lake: Path) -> dict[str, object] | None:
    """The stamp the last successful build left (None: none, or unreadable)."""
    try:
        data = json.loads((lake / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def needs_build(
    state: State, stamp: dict[str, object] | None, previous_status: str | None, env: dict[str, str]
) -> tuple[bool, str]:
    """(build?, why), the why in words for the run record and the log."""
    target = env.get("DBT_TARGET", "").strip()
    if target not in LOCAL_TARGETS:
        return True, f"target {target!r} (only the local DuckDB warehouse is checked)"
    if not Path(state.warehouse).is_file():
        return True, f"no warehouse file at {state.warehouse}"
    if previous_status == "failed":
        return True, "the previous run failed"
    if stamp is None:
        return True, "no build recorded by update on this lake"
    if stamp.get("warehouse") != state.warehouse or stamp.get("settings") != state.settings:
        return True, "the settings changed since the last build"
    if stamp.get("project") != state.project:
        return True, "the dbt project changed since the last build"
    if stamp.get("lake") != state.lake:
        changed = sorted(
            k for k in {*state.lake, *(stamp.get("lake") or {})} if state.lake.get(k) != stamp["lake"].get(k)
        )
        return True, f"new or changed archives ({', '.join(changed)})"
    return False, f"nothing new since the build of run {stamp.get('run_id')}"


def save(lake: Path, state: State, run_id: str, dashboards: bool) -> None:
    """Record a successful build (atomically). dashboards: their data and site were refreshed from it."""
    final = lake / STAMP_FILE
    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({**asdict(state), "run_id": run_id, "dashboards": dashboards}, indent=1))
    os.replace(tmp, final)


def clear(lake: Path) -> None:
    """Before a build: until it succeeds the warehouse may hold anything (a failed build rebuilds)."""
    (lake / STAMP_FILE).unlink(missing_ok=True)
