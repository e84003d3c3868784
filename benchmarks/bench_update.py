"""Benchmark of `binance-warehouse update` (docs/operations.md): a daily update of one new day on the
futures lake of benchmarks/bench_derivatives.py, against a full rebuild, and an update with nothing new.

Steps (`--steps`, default all; each is one command well under 10 minutes at 200 x 36, and the work
folder keeps what the next one needs, so a large run can go step by step):

1. lake: `--symbols` um symbols x `--months` months of klines 1h, metrics (daily files),
   fundingRate and mark/index/premium 1h candles, written straight into the lake layout with the
   loader's Parquet settings and manifests (bench_derivatives.write_month). Resumable: it stops after
   `--lake-minutes` and goes on from the next symbol when run again; skipped once the lake is
   complete (`--fresh` wipes the work folder first).
2. full: `dbt build` into a fresh warehouse file: the full rebuild an update is compared with.
3. update: Binance publishes the day after the lake's last one (daily klines, mark, index and premium
   1h archives and a metrics archive per symbol, in Binance's formats, served by the test suite's
   Binance server on 127.0.0.1; fundingRate is monthly-only), then `binance-warehouse update` with a
   warehouse.toml of those five daily series, as the timer runs it: wall, each step from the run record, and the
   build's listing share (below). Run again, it adds the next day.
4. noop: `update` once more at once: nothing new, so no build (docs/operations.md "Nothing new").

Listing share (an estimate): before a read opens a file, DuckDB lists what its glob matches. The
step counts, in the update build's dbt.log, the statements reading each dataset: those naming month
folders (month-folder reads, macros/binance/lake_months.sql) and those naming the staging view or the
whole glob (the whole tree is listed). It times (best of 3) one glob of each dataset's whole tree and
one month-folder listing (the plugin's folder walk plus DuckDB's glob of the months from the new
day's); share = sum(count x time) / build seconds, and the same with every read at the whole tree's
cost (what the build would list without month-folder reads). `--steps listing` recomputes it from
the last update's log.

    .venv/bin/python benchmarks/bench_update.py --symbols 4 --months 2              # smoke (~2 min)
    .venv/bin/python benchmarks/bench_update.py --symbols 40 --months 12            # docs/benchmarks.md
    .venv/bin/python benchmarks/bench_update.py --steps lake                        # 200 x 36, then
    .venv/bin/python benchmarks/bench_update.py --steps full
    .venv/bin/python benchmarks/bench_update.py --steps update,noop
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.bench_dbt import node_timings  # noqa: E402
from benchmarks.bench_derivatives import (  # noqa: E402
    KLINE_DATASETS,
    months_from,
    symbols,
    write_manifests,
    write_month,
)
from benchmarks.dbt_cli import dbt_command, dbt_env  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402
from binance_warehouse.update.runs import read_all  # noqa: E402
from binance_warehouse.update.stamp import STAMP_FILE  # noqa: E402
from loaders import contract  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "out" / "bench_update"
STEPS = ("lake", "full", "update", "noop")
# Recomputes the last update's listing estimate from its dbt.log (also part of "update").
EXTRA_STEPS = ("listing",)
DATASETS = (*KLINE_DATASETS, "fundingRate", "metrics")
DAILY = (*KLINE_DATASETS, "metrics")  # the datasets with daily archives
# The staging view reading each dataset (a statement naming it scans that dataset's tree).
VIEWS = {
    "klines": "stg_binance__klines",
    "markPriceKlines": "stg_binance__mark_price_klines",
    "indexPriceKlines": "stg_binance__index_price_klines",
    "premiumIndexKlines": "stg_binance__premium_index_klines",
    "fundingRate": "stg_binance__funding_rates",
    "metrics": "stg_binance__metrics",
}


def config_text(names: list[str], first_month: str) -> str:
    """warehouse.toml keeping the daily futures series of `names`. fundingRate is in the lake and the
    build, not in the configuration: it is published monthly only, so a day brings no archive of it
    (and the local server holds only the new days, where the loader would find no funding at all)."""
    symbols_toml = json.dumps(names)
    out = []
    for dataset in DAILY:
        out.append(f'[[series]]\nmarket = "um"\ndataset = "{dataset}"\nsymbols = {symbols_toml}')
        if dataset in KLINE_DATASETS:
            out.append('intervals = ["1h"]')
        out.append(f'start = "{first_month}"\n')
    return "\n".join(out)


def last_day(lake: Path) -> date:
    """The lake's last klines day (from its manifest)."""
    t = pq.read_table(contract.manifest_path(lake, "klines"), columns=["last_open_time"])
    return pc.max(t["last_open_time"]).as_py().date()


def publish_day(server, names: list[str], day: date) -> int:
    """Binance publishes `day`'s daily archives of every daily dataset; returns the archives."""
    from tests.fixtures import derivatives
    from tests.fixtures.binance_server import kline_table, table_csv, zip_csv

    n = 0
    for i, symbol in enumerate(names):
        for k, dataset in enumerate(KLINE_DATASETS):
            table = kline_table(
                "1h", day.isoformat(), seed=day.toordinal() * 1000 + i * 10 + k, price=60000.0
            )
            stem = f"{symbol}-1h-{day}"
            key = f"data/futures/um/daily/{dataset}/{symbol}/1h/{stem}.zip"
            server.add_zip(key, zip_csv(table_csv(table, header=True), f"{stem}.csv"))
            n += 1
        csv, _ = derivatives.metrics_day(day, symbol, day.toordinal() * 1000 + i, 80000.0, 60000.0)
        server.add_zip(
            f"data/futures/um/daily/metrics/{symbol}/{symbol}-metrics-{day}.zip",
            zip_csv(csv, f"{symbol}-metrics-{day}.csv"),
        )
        n += 1
    return n


KINDS = ("tree", "month_glob", "walk", "walk_all", "file_stats")


def glob_seconds(lake: Path, min_month: str) -> dict[str, dict[str, float]]:
    """Per dataset, the best of 3 of each kind of listing a build does (lake_scans): `tree`, DuckDB's
    glob of the whole folder tree; `month_glob`, its glob of the month folders at or after
    `min_month`; `walk` / `walk_all`, the plugin's walk to the month folders at or after `min_month` /
    of every month (dbt_plugins.lake.lake_months); `file_stats`, the manifest's walk with a stat per
    file (lake_file_stats)."""
    from dbt_plugins.lake import lake_file_stats, lake_months

    out: dict[str, dict[str, float]] = {}
    con = duckdb.connect()
    for dataset in DATASETS:
        dataset_glob = binance_dataset_glob(lake, dataset)
        months = lake_months(dataset_glob, min_month)
        globs = [dataset_glob.replace("/month=*/", f"/month={m}/") for m in months]
        runs = {
            "tree": lambda g=dataset_glob: con.execute("select count(*) from glob(?)", [g]).fetchone(),
            "month_glob": lambda g=globs: g and con.execute("select count(*) from glob(?)", [g]).fetchone(),
            "walk": lambda g=dataset_glob: lake_months(g, min_month),
            "walk_all": lambda g=dataset_glob: lake_months(g, "0000-00"),
            "file_stats": lambda g=dataset_glob: lake_file_stats(g),
        }
        best = dict.fromkeys(KINDS, float("inf"))
        for _ in range(3):
            for kind, run in runs.items():
                t0 = time.perf_counter()
                run()
                best[kind] = min(best[kind], time.perf_counter() - t0)
        out[dataset] = best
    con.close()
    return out


def binance_dataset_glob(lake: Path, dataset: str) -> str:
    """The dataset's glob as dbt reads it: its source's meta.external_location in
    models/staging/binance/_binance__sources.yml (the one place each dataset's layout is written)."""
    sources = yaml.safe_load((REPO_ROOT / "models/staging/binance/_binance__sources.yml").read_text())
    for table in (t for src in sources["sources"] for t in src.get("tables", [])):
        meta = table.get("meta", {})
        if meta.get("dataset") == dataset:
            found = re.search(r"read_parquet\('([^']+)'", meta["external_location"])
            return found.group(1).replace("{lake_root}", str(lake))
    raise SystemExit(f"no source reads dataset {dataset}")


def lake_scans(log: Path) -> dict[str, dict[str, int]]:
    """Statements of the last dbt invocation in `log` that list each dataset (the SQL dbt logs at debug
    level, in logs/dbt.log), by kind (glob_seconds): a read of month folders (`month_glob`), a read of
    the staging view or the whole glob (`tree`), the plugin's month walk from a month (`walk`) or of
    all months (`walk_all`), the manifest's file stats (`file_stats`). The has-files probe (a glob
    stopped at its first file) and metadata statements naming the view are not counted."""
    text = log.read_text(errors="replace")
    start = text.rfind("Running with dbt=")
    text = text[start:] if start >= 0 else text
    records = re.split(r"\n(?=\x1b\[0m\d\d:\d\d:\d\d)", text)  # one per log line, SQL included
    counts = {d: dict.fromkeys(KINDS, 0) for d in DATASETS}
    for record in records:
        _, sep, sql = record.partition("]: On ")
        if not sep:
            continue
        sql = sql.partition(": ")[2]  # after the node's name
        for dataset in DATASETS:
            glob = re.escape(f"/binance/{dataset}/") + r"[^']*/month="
            view = r"\b(?:from|join)\s+(?:\"[^\"]+\"\.)*\"?" + VIEWS[dataset] + r"\b"
            if re.search(r"binance_lake_months\('[^']*" + glob + r"\*/[^']*', '0000-00'\)", sql):
                counts[dataset]["walk_all"] += 1
            elif re.search(r"binance_lake_months\('[^']*" + glob, sql):
                counts[dataset]["walk"] += 1
            elif re.search(r"binance_lake_file_stats\('[^']*" + glob, sql):
                counts[dataset]["file_stats"] += 1
            elif re.search(glob + r"\d{4}-\d\d/", sql):
                counts[dataset]["month_glob"] += 1
            elif "as listed limit 1) as probe" in sql:
                continue
            elif re.search(glob + r"\*/", sql) or re.search(view, sql, re.IGNORECASE):
                counts[dataset]["tree"] += 1
    return counts


def listing_estimate(lake: Path, log: Path, day: date, build_s: float) -> dict:
    """The update build's listing seconds and share: now (each statement at its kind's cost), and as
    it was before month-folder reads (every read of the data listing the whole tree, no walks)."""
    cost, scans = glob_seconds(lake, f"{day:%Y-%m}"), lake_scans(log)
    now = sum(scans[d][k] * cost[d][k] for d in DATASETS for k in KINDS)
    before = sum(
        (scans[d]["tree"] + scans[d]["month_glob"]) * cost[d]["tree"]
        + scans[d]["file_stats"] * cost[d]["file_stats"]
        for d in DATASETS
    )
    return {
        "listing_cost_s": {d: {k: round(v, 3) for k, v in c.items()} for d, c in cost.items()},
        "listings": scans,
        "listing_s_before_month_reads": round(before, 1),
        "listing_share_before_month_reads": round(before / build_s, 3) if build_s else None,
        "listing_s": round(now, 1),
        "listing_share": round(now / build_s, 3) if build_s else None,
    }


def step_seconds(record: dict) -> dict[str, float]:
    return {s["name"]: s["seconds"] for s in record["steps"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--symbols", type=int, default=200)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--first-month", default="2023-01")
    p.add_argument(
        "--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS + EXTRA_STEPS)}"
    )
    p.add_argument("--fresh", action="store_true", help="wipe the work folder first")
    p.add_argument(
        "--lake-minutes",
        type=float,
        default=8.0,
        help="stop writing the lake after this long (run --steps lake again to go on)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    steps = args.steps.split(",")
    if set(steps) - set(STEPS + EXTRA_STEPS):
        p.error(f"--steps: unknown {sorted(set(steps) - set(STEPS + EXTRA_STEPS))}")
    out = args.out.resolve()
    if args.fresh:
        shutil.rmtree(out, ignore_errors=True)
    lake, work, bucket = out / "lake", out / "dbt", out / "bucket"
    db = work / "warehouse.duckdb"
    work.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    names = symbols(args.symbols)

    def save() -> None:
        results["load_average_1m"] = round(os.getloadavg()[0], 2)
        results_file.write_text(json.dumps(results, indent=2) + "\n")

    done = out / "lake_done"  # one marker per symbol written, then "ALL" once the manifests are
    if "lake" in steps and not (done / "ALL").exists():
        done.mkdir(exist_ok=True)
        t0, rows = time.perf_counter(), 0
        for i, symbol in enumerate(names):
            if (done / symbol).exists():
                continue
            if time.perf_counter() - t0 > args.lake_minutes * 60:
                raise SystemExit(f"{i}/{len(names)} symbols written: run --steps lake again to go on")
            state: dict = {}
            for k, month in enumerate(months_from(args.first_month, args.months)):
                rows += write_month(lake, symbol, month, np.random.default_rng([i, k]), state)
            (done / symbol).touch()
            if (i + 1) % 20 == 0:
                print(f"generated {i + 1}/{len(names)} symbols, {rows:,} rows", flush=True)
        write_manifests(lake)
        (done / "ALL").touch()
        files = sum(1 for _ in lake.glob("binance/*/**/*.parquet"))
        results["lake"] = {"symbols": len(names), "months": args.months, "files": files,
                           "generate_s_last_step": round(time.perf_counter() - t0, 1)}  # fmt: skip
        print(f"lake: {results['lake']}", flush=True)
        save()
    if not (lake / "binance").is_dir():
        raise SystemExit(f"no lake at {lake}: run --steps lake first")

    env = dbt_env(lake, db, {"DBT_TARGET_PATH": str(work / "target"), "DBT_LOG_PATH": str(work / "logs")})
    if "full" in steps:
        db.unlink(missing_ok=True)
        (lake / STAMP_FILE).unlink(missing_ok=True)
        run_measured(dbt_command(["parse"], work), env=env)  # partial parsing warm, as for users
        m = run_measured(dbt_command(["build"], work), env=env)
        if m.exit_code:
            raise SystemExit(f"{m.stdout[-4000:]}\nfull dbt build failed; see {work / 'logs'}")
        results["full"] = {"build_s": round(m.seconds, 1),
            "cpu_s": round(m.cpu_seconds, 1), "peak_rss_mb": round(m.peak_rss_mb),
                           "nodes_s": {k: round(v, 1) for k, v in node_timings(work).items()}}  # fmt: skip
        print(f"full dbt build: {results['full']}", flush=True)
        save()

    cfg = out / "warehouse.toml"
    cfg.write_text(config_text(names, args.first_month))
    update_cmd = [
        sys.executable,
        "-m",
        "binance_warehouse",
        "update",
        "--config",
        str(cfg),
        "--no-dashboards",
    ]
    if "update" in steps or "noop" in steps:
        from tests.fixtures.binance_server import BinanceServer

        if not db.is_file():
            raise SystemExit(f"no warehouse at {db}: run --steps full first")
        day = last_day(lake) + timedelta(days=1)
        with BinanceServer(bucket) as server:
            env |= {
                "BINANCE_BASE_URL": server.base_url,
                "BINANCE_LISTING_URL": server.listing_url,
                "WAREHOUSE_NOW": f"{day + timedelta(days=1)}T10:00:00Z",
            }
            if "update" in steps:
                archives = publish_day(server, names, day)
                m = run_measured(update_cmd, env=env)
                record = read_all(lake)[-1]
                print(m.stdout[-3000:], flush=True)
                if m.exit_code or record["archives_loaded"] != archives:
                    raise SystemExit(
                        f"update failed (exit {m.exit_code}): {m.stdout[-3000:]}{m.stderr[-2000:]}"
                    )
                build_s = step_seconds(record)["dbt build"]
                full_s = results.get("full", {}).get("build_s")
                full_cpu = results.get("full", {}).get("cpu_s")
                results["update"] = {
                    "day": str(day), "archives": archives, "rows": record["rows_loaded"],
                    "wall_s": round(m.seconds, 1),
                    "cpu_s": round(m.cpu_seconds, 1), "steps_s": step_seconds(record),
                    "vs_full_build": round(m.seconds / full_s, 3) if full_s else None,
                    "build_vs_full_build": round(build_s / full_s, 3) if full_s else None,
                    "cpu_vs_full_build_cpu": round(m.cpu_seconds / full_cpu, 3) if full_cpu else None,
                    "build_nodes_s": {k: round(v, 1) for k, v in node_timings(work).items()},
                    **listing_estimate(lake, work / "logs" / "dbt.log", day, build_s),
                }  # fmt: skip
                print(f"update: {results['update']}", flush=True)
                save()
            if "noop" in steps:
                m = run_measured(update_cmd, env=env)
                record = read_all(lake)[-1]
                if m.exit_code:
                    raise SystemExit(f"no-op update failed (exit {m.exit_code}): {m.stdout[-3000:]}")
                results["noop"] = {"wall_s": round(m.seconds, 2),
                    "cpu_s": round(m.cpu_seconds, 2), "steps_s": step_seconds(record),
                                   "series": len(DAILY) * len(names)}  # fmt: skip
                print(f"no-op update: {results['noop']}", flush=True)
                save()
    if "listing" in steps:
        if "update" not in results:
            raise SystemExit("no update on record: run --steps update first")
        day = date.fromisoformat(results["update"]["day"])
        results["update"] |= listing_estimate(
            lake, work / "logs" / "dbt.log", day, results["update"]["steps_s"]["dbt build"]
        )
        save()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
