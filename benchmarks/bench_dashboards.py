"""Benchmark of the dashboards (dashboards/): `npm run sources` and `npm run build` on a warehouse, and
each page's load time in headless Chromium (navigation until its charts have drawn).

    .venv/bin/python benchmarks/bench_dashboards.py --session      # the test suite's warehouse, built here
    .venv/bin/python benchmarks/bench_dashboards.py --warehouse benchmarks/out/bench_dbt/dbt/warehouse.duckdb

The second is benchmarks/bench_dbt.py's 21M-candle warehouse (run that first). Needs node/npm with
`npm --prefix dashboards ci` done, and Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.measure import run_measured  # noqa: E402
from tests.fixtures.chromium import browser  # noqa: E402
from tests.fixtures.dashboards import copy_project, open_page, serve  # noqa: E402


def pages(warehouse: Path) -> list[tuple[str, int, str | None]]:
    """Each page, the charts it draws on this warehouse, and the id of the "no data yet" notice it
    shows instead of the derivatives charts when the warehouse has no derivatives data."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        leverage = con.execute("select count(leverage_regime) from fct_regime_features_daily").fetchone()[0]
        derivatives = con.execute("select count(*) from fct_derivatives_daily").fetchone()[0]
        # The first series the Derivatives page shows: a measure it lacks is an empty state, not a chart.
        measures = con.execute(
            "select count(funding_rate_annualized) > 0, count(open_interest_value) > 0, count(basis) > 0 "
            "from fct_derivatives_daily group by market, symbol order by market, symbol limit 1"
        ).fetchall()
    return [
        ("index.html", 2, None) if leverage else ("index.html", 1, "leverage-empty"),
        ("regimes.html", 3, None),
        ("derivatives.html", sum(measures[0]), None)
        if derivatives
        else ("derivatives.html", 0, "derivatives-empty"),
        ("coverage.html", 1, None),
    ]


def session_warehouse(work: Path) -> Path:
    """The test suite's session lake and `dbt build` of it (tests/fixtures/warehouse.py)."""
    from tests.fixtures.binance_server import BinanceServer
    from tests.fixtures.dbt import run_dbt
    from tests.fixtures.warehouse import SESSION_LOADS, build_session_tree, load_tree

    tree = build_session_tree(work / "session")
    with BinanceServer(tree.root) as server:
        load_tree(server, work / "lake", SESSION_LOADS)
    db = work / "warehouse.duckdb"
    run = run_dbt("build", lake_dir=work / "lake", duckdb_path=db, work_dir=work / "dbt")
    if not run.success:
        raise SystemExit("dbt build of the session lake failed")
    return db


def bench(warehouse: Path, work: Path) -> dict:
    npm = shutil.which("npm") or "npm"
    project = copy_project(work / "dashboards")
    steps = {}
    for step in ("sources", "build"):
        m = run_measured([npm, "--prefix", str(project), "run", step], env={"DUCKDB_PATH": str(warehouse)})
        if m.exit_code != 0:
            raise SystemExit(f"npm run {step} failed:\n{m.stdout[-3000:]}{m.stderr[-3000:]}")
        steps[step] = {"seconds": round(m.seconds, 2), "peak_rss_mb": round(m.peak_rss_mb)}
        print(f"npm run {step}: {m.seconds:.2f} s, peak RSS {m.peak_rss_mb:.0f} MB", flush=True)
    site = project / "build"
    size_mb = sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6
    server, url = serve(site)
    loads = {}
    try:
        with browser(work / "chromium") as page:
            for path, charts, notice in pages(warehouse):
                seconds = [open_page(page, f"{url}/{path}", charts, notice) for _ in range(3)]
                loads[path] = round(min(seconds), 2)
                print(f"{path}: charts drawn {min(seconds):.2f} s after navigation (best of 3)", flush=True)
    finally:
        server.shutdown()
        server.server_close()
    return {"warehouse": str(warehouse), "warehouse_mb": round(warehouse.stat().st_size / 1e6, 1),
            "steps": steps, "site_mb": round(size_mb, 1), "page_load_s": loads}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--warehouse", type=Path, action="append", default=[], help="a DuckDB warehouse file")
    p.add_argument("--session", action="store_true", help="build the test suite's warehouse and use it")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "out" / "dashboards.json")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_dashboards-"))
    results = []
    try:
        warehouses = [*args.warehouse, *([session_warehouse(work / "session")] if args.session else [])]
        if not warehouses:
            p.error("give --session and/or --warehouse PATH")
        for k, warehouse in enumerate(warehouses):
            print(f"== {warehouse}", flush=True)
            results.append(bench(warehouse.resolve(), work / f"run{k}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
