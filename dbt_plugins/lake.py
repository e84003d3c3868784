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
4. Listing a dataset by month folder. DuckDB lists every file a glob matches before any `lake_month`
   bound prunes them (255k files on a large lake, most of an incremental build's reads).
   `binance_lake_months(glob, min_month)` names the month folders at or after `min_month` that hold
   a file, reading only the folders above them and those month folders
   (macros/binance/lake_months.sql reads just those). `binance_lake_file_stats(glob)` is each file's
   size and modification time from one os.scandir walk, for stg_binance__manifest (DuckDB's read_blob
   took 9-13 s on 50k files).

profiles.yml: `plugins: [{module: dbt_plugins.lake, config: {lake_dir: "{{ env_var('LAKE_DIR', './lake') }}"}}]`
"""

from __future__ import annotations

import fnmatch
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from loaders import config, contract, locks

SESSION_VARIABLE = "binance_cwd"
LEASE_FUNCTION = "binance_lake_lease"
MANIFEST_FUNCTION = "binance_manifest_hold"
MONTHS_FUNCTION = "binance_lake_months"
STATS_FUNCTION = "binance_lake_file_stats"
MONTH_PART = "month=*"
STATS_TYPE = "STRUCT(file VARCHAR, file_size BIGINT, file_modified_at TIMESTAMP)[]"

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


def _folders(pattern_parts: list[str], base: str) -> list[str]:
    """Folders under `base` matching path components with `*` (os.scandir: directories only)."""
    folders = [base]
    for part in pattern_parts:
        found: list[str] = []
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            found += [e.path for e in entries if fnmatch.fnmatchcase(e.name, part) and e.is_dir()]
        folders = found
    return folders


def _split_glob(dataset_glob: str) -> tuple[str, list[str], str]:
    """`/lake/binance/klines/market=*/interval=*/symbol=*/month=*/*.parquet` ->
    ('/lake/binance/klines', ['market=*', 'interval=*', 'symbol=*'], '*.parquet')."""
    parts = dataset_glob.split("/")
    first = next(i for i, part in enumerate(parts) if "*" in part)
    month = parts.index(MONTH_PART)
    return "/".join(parts[:first]) or "/", parts[first:month], "/".join(parts[month + 1 :])


def lake_months(dataset_glob: str, min_month: str) -> list[str]:
    """The months (YYYY-MM, sorted) at or after `min_month` with at least one file matching the
    dataset glob's file pattern: a glob naming one of them never fails with "No files found"."""
    base, series_parts, file_pattern = _split_glob(dataset_glob)
    months: set[str] = set()
    for series in _folders(series_parts, base):
        try:
            entries = list(os.scandir(series))
        except FileNotFoundError:  # removed since it was listed
            continue
        for entry in entries:
            month = entry.name.removeprefix("month=")
            if month == entry.name or month < min_month or month in months or not entry.is_dir():
                continue
            try:
                with os.scandir(entry.path) as files:
                    if any(fnmatch.fnmatchcase(f.name, file_pattern) and f.is_file() for f in files):
                        months.add(month)
            except FileNotFoundError:
                continue
    return sorted(months)


def lake_file_stats(dataset_glob: str) -> list[dict[str, Any]]:
    """Every file of the dataset glob with its size and modification time (naive UTC, whole seconds,
    as DuckDB's read_blob gave them): one os.scandir walk, one stat per file, nothing opened."""
    base, series_parts, file_pattern = _split_glob(dataset_glob)
    out: list[dict[str, Any]] = []
    for month_folder in _folders([*series_parts, MONTH_PART], base):
        try:
            with os.scandir(month_folder) as files:
                for f in files:
                    if fnmatch.fnmatchcase(f.name, file_pattern) and f.is_file():
                        st = f.stat()
                        out.append({
                            "file": f.path,
                            "file_size": st.st_size,
                            "file_modified_at": datetime.fromtimestamp(int(st.st_mtime), UTC).replace(tzinfo=None),
                        })  # fmt: skip
        except FileNotFoundError:
            continue
    return out


def lake_has_files(lake_dir: Path) -> bool:
    """Whether any dataset has at least one file in the lake (names only: nothing is opened)."""
    return any(next(lake_dir.glob(ds.file_glob()), None) is not None for ds in contract.DATASETS.values())


def _dbt_command() -> str | None:
    try:
        from dbt.flags import get_flags

        return getattr(get_flags(), "WHICH", None)
    except Exception:  # no flags outside a dbt invocation
        return None


def register_functions(conn: Any) -> None:
    """The plugin's SQL functions on a DuckDB connection (dbt's, or a benchmark replaying dbt's SQL)."""
    for name, function in ((LEASE_FUNCTION, lease), (MANIFEST_FUNCTION, manifest_hold)):
        conn.create_function(name, function, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True)
    # The lake changes between calls: never folded or cached as if pure.
    conn.create_function(MONTHS_FUNCTION, lake_months, ["VARCHAR", "VARCHAR"], "VARCHAR[]", side_effects=True)
    conn.create_function(STATS_FUNCTION, lake_file_stats, ["VARCHAR"], STATS_TYPE, side_effects=True)


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
        register_functions(conn)

    def configure_cursor(self, cursor: Any) -> None:
        cursor.execute(f"set variable {SESSION_VARIABLE} = {_sql_string(os.getcwd())}")
