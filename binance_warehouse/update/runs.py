"""Run records: one Parquet file per `update` run under `{lake}/binance/update_runs/`, written
atomically, read back by `update --history` and by the dbt source `update_runs` (fct_update_runs).
The previous record tells the next run which series were stale (for the "recovered" alert)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loaders import contract

RUNS_FOLDER = "binance/update_runs"

STEP = pa.struct(
    [("name", pa.string()), ("status", pa.string()), ("seconds", pa.float64()), ("detail", pa.string())]
)
SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("started_at", pa.timestamp("us")),  # UTC, no time zone attached (as the manifest)
        ("finished_at", pa.timestamp("us")),
        ("status", pa.string()),  # ok | stale | failed
        ("exit_code", pa.int32()),
        ("archives_loaded", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("failed_steps", pa.list_(pa.string())),
        ("stale_series", pa.list_(pa.string())),
        ("series_checked", pa.int64()),
        ("steps", pa.list_(STEP)),
        ("freshness", pa.string()),  # JSON list of the per-series checks
    ]
)


@dataclass
class Step:
    name: str
    status: str  # ok | failed | skipped
    seconds: float
    detail: str = ""


@dataclass
class RunRecord:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "ok"
    exit_code: int = 0
    archives_loaded: int = 0
    rows_loaded: int = 0
    failed_steps: list[str] = field(default_factory=list)
    stale_series: list[str] = field(default_factory=list)
    series_checked: int = 0
    steps: list[Step] = field(default_factory=list)
    freshness: list[dict[str, object]] = field(default_factory=list)


def runs_dir(lake: Path) -> Path:
    return lake / RUNS_FOLDER


def _naive(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=None)


def write(lake: Path, record: RunRecord) -> Path:
    """Write the record atomically (temp file, then rename): a reader sees the whole record or none."""
    row = {
        **{k: getattr(record, k) for k in SCHEMA.names if k not in ("steps", "freshness")},
        "started_at": _naive(record.started_at),
        "finished_at": _naive(record.finished_at),
        "steps": [s.__dict__ for s in record.steps],
        "freshness": json.dumps(record.freshness),
    }
    folder = runs_dir(lake)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"run-{record.run_id}.parquet"
    tmp = contract.temp_path(final)
    pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)
    os.replace(tmp, final)
    return final


def read_all(lake: Path) -> list[dict[str, object]]:
    """Every run record, oldest first (files being written are temp files and are not read)."""
    folder = runs_dir(lake)
    rows: list[dict[str, object]] = []
    for f in sorted(folder.glob("run-*.parquet")) if folder.is_dir() else []:
        rows.extend(pq.read_table(f, schema=SCHEMA).to_pylist())
    return sorted(rows, key=lambda r: r["started_at"])


def last(lake: Path) -> dict[str, object] | None:
    """The newest run record (None before the first run): its stale series (for the "recovered"
    alert) and its status (a failed run makes the next one build)."""
    runs = read_all(lake)
    return runs[-1] if runs else None


def render(rows: list[dict[str, object]]) -> str:
    """`update --history`: one line per run, oldest first."""
    if not rows:
        return "no update runs recorded yet"
    lines = []
    for r in rows:
        seconds = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else 0.0
        steps = ", ".join(f"{s['name']} {s['status']} {s['seconds']:.1f}s" for s in r["steps"])
        line = (
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}  {r['status']:<6}  exit {r['exit_code']}  "
            f"{seconds:.1f}s  archives {r['archives_loaded']}  rows {r['rows_loaded']}"
        )
        if r["failed_steps"]:
            line += f"  failed: {', '.join(r['failed_steps'])}"
        if r["stale_series"]:
            line += f"  stale: {', '.join(r['stale_series'])}"
        lines.append(line + f"\n    {steps}")
    return "\n".join(lines)
