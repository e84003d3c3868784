"""dbt-duckdb plugin for the local lake: what dbt's SQL cannot do itself.

1. dbt's working directory, for a relative LAKE_DIR. The staging views are stored in the DuckDB file
   as SQL text; a relative lake path inside them would resolve against the working directory of
   whoever opens the file later (a BI tool, a notebook elsewhere). Jinja cannot read the working
   directory, and `$PWD` is wrong whenever a parent process changed directory without a shell, so
   every cursor gets `getvariable('binance_cwd')`, which macro `binance_lake_root()` reads.
2. The readers lock (docs/failure-contract.md, "Locks"). `binance_lake_lease('acquire' |
   'release', lake_root)` is a SQL function the on-run-start / on-run-end hooks call: a build holds
   a shared lock on `{lake}/binance/.readers.lock` while it runs, and a loader swaps monthly files in
   for daily ones only while it holds that lock exclusively. A killed build's lock dies with it.
   `binance_manifest_hold(...)` does the same with the manifest lock, for the one statement that
   reads the manifests (stg_binance__manifest): a loader replaces its manifest file under that lock,
   and DuckDB reading a Parquet file replaced in mid-query reads garbage ("Invalid data").
3. An empty lake stops `dbt build` / `dbt run` in one line before DuckDB opens the warehouse file,
   so no empty `warehouse.duckdb` is left behind.

profiles.yml: `plugins: [{module: dbt_plugins.lake, config: {lake_dir: "{{ env_var('LAKE_DIR', './lake') }}"}}]`
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from loaders import config, contract, locks

SESSION_VARIABLE = "binance_cwd"
LEASE_FUNCTION = "binance_lake_lease"
MANIFEST_FUNCTION = "binance_manifest_hold"

_leases: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor of the shared lock, holders)
_leases_lock = threading.Lock()


class EmptyLakeError(RuntimeError):
    """A RuntimeError, so dbt-duckdb reports it as a failed connection with our one line."""


class LakeDirError(RuntimeError):
    """LAKE_DIR holds a glob character: DuckDB would read it as a pattern (`lake?` also reads `lakeB`)."""


def check_lake_dir(lake_dir: Path) -> None:
    """Refuse, in one line, a lake directory DuckDB's globs would read as a pattern."""
    reason = config.glob_characters_in(lake_dir)
    if reason:
        raise LakeDirError(reason)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _hold(action: str, lock_path: Path) -> str:
    """Take ('acquire') or drop ('release') this process's shared hold on a lake lock file."""
    with _leases_lock:
        fd, holders = _leases.get(lock_path, (-1, 0))
        if action == "acquire":
            if holders == 0:
                fd = locks.hold_shared(lock_path) or -1
            _leases[lock_path] = (fd, holders + 1)
            return "held" if fd >= 0 else "unlocked (lake not writable)"
        if action == "release" and holders:
            if holders == 1:
                _leases.pop(lock_path)
                if fd >= 0:
                    os.close(fd)
            else:
                _leases[lock_path] = (fd, holders - 1)
            return "released"
    return "not held"


def lease(action: str, lake_root: str) -> str:
    """The build's hold on the lake's readers lock (on-run-start / on-run-end)."""
    return _hold(action, contract.readers_lock_path(Path(lake_root)))


def manifest_hold(action: str, lake_root: str) -> str:
    """A hold on the lake's manifest lock while one statement reads the manifests."""
    return _hold(action, contract.manifest_lock_path(Path(lake_root)))


def lake_has_files(lake_dir: Path) -> bool:
    """Whether any dataset has at least one file in the lake (names only: nothing is opened)."""
    return any(next(lake_dir.glob(ds.file_glob()), None) is not None for ds in contract.DATASETS.values())


def _dbt_command() -> str | None:
    try:
        from dbt.flags import get_flags

        return getattr(get_flags(), "WHICH", None)
    except Exception:  # no flags outside a dbt invocation
        return None


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        raw = str(plugin_config.get("lake_dir") or config.env("LAKE_DIR", config.DEFAULT_LAKE_DIR))
        self.lake_dir = Path(raw).expanduser()

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        # The last moment before duckdb.connect creates the warehouse file.
        lake_dir = self.lake_dir.resolve()
        check_lake_dir(lake_dir)
        if _dbt_command() in ("build", "run") and not lake_has_files(lake_dir):
            raise EmptyLakeError(
                f"no lake files under {lake_dir / 'binance'} (LAKE_DIR): run "
                "`python -m loaders.binance --symbols ... --intervals ...` first"
            )

    def configure_connection(self, conn: Any) -> None:
        for name, function in ((LEASE_FUNCTION, lease), (MANIFEST_FUNCTION, manifest_hold)):
            conn.create_function(name, function, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True)

    def configure_cursor(self, cursor: Any) -> None:
        cursor.execute(f"set variable {SESSION_VARIABLE} = {_sql_string(os.getcwd())}")
