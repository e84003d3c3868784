"""The dbt docs site, tried as a user would: `dbt docs generate` on the built warehouse, `dbt docs serve`
on loopback, and Debian's headless Chromium reading it: the overview renders, a mart's page lists its
columns, a source shows its (external, so uncatalogued) columns, and the lineage graph opens from the
lake to the Postgres exposures without console errors and without any request leaving the machine.

Screenshots go to the test's temp folder; `UPDATE_SCREENSHOTS=1` writes them to docs/images/ instead
(the README shows them). README: "Use it: docs site and BI tools".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.chromium import Browser, ConsoleEntry, browser, screenshot_path
from tests.fixtures.dbt import run_dbt
from tests.fixtures.paths import REPO_ROOT

PROJECT = "binance_warehouse"
MART = "fct_ohlcv_daily"
MARTS = ("fct_ohlcv_daily", "fct_regime_features_daily")
EXPOSURES = (
    "postgres_hot_fct_ohlcv_daily",
    "postgres_hot_fct_regime_features_daily",
    "bi_warehouse_duckdb_file",
)
SERVE_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def docs_target(built_warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt docs generate` against a copy of the session warehouse (docs generate opens the file for
    writing, and the session warehouse is shared read-only)."""
    assert built_warehouse.run.success, "the session dbt build failed; see tests/test_dbt_*.py"
    work = tmp_path_factory.mktemp("docs_site")
    duckdb_path = work / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, duckdb_path)
    run = run_dbt(
        "docs", "generate", lake_dir=built_warehouse.lake_dir, duckdb_path=duckdb_path, work_dir=work
    )
    assert run.success, f"dbt docs generate failed; see {run.log_path}"
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (run.target_path / name).is_file(), name
    return run.target_path


@pytest.fixture(scope="module")
def docs_url(docs_target: Path, built_warehouse) -> Iterator[str]:
    """The real `dbt docs serve` on 127.0.0.1, serving `docs_target`."""
    port = _free_port()
    dbt = Path(sys.executable).parent / "dbt"
    argv = [str(dbt), "docs", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-browser"]
    argv += ["--project-dir", str(REPO_ROOT), "--profiles-dir", str(REPO_ROOT)]
    argv += ["--target-path", str(docs_target), "--log-path", str(docs_target.parent / "serve-logs")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        LAKE_DIR=str(built_warehouse.lake_dir),
        DUCKDB_PATH=str(docs_target.parent / "warehouse.duckdb"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    log = (docs_target.parent / "serve.out").open("w")
    proc = subprocess.Popen(argv, cwd=docs_target.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            assert proc.poll() is None, (docs_target.parent / "serve.out").read_text()
            try:
                with urllib.request.urlopen(f"{url}/index.html", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, (
                f"dbt docs serve did not answer on {url} in {SERVE_TIMEOUT_S}s"
            )
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def page(docs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with browser(tmp_path_factory.mktemp("chromium-profile")) as instance:
        instance.navigate(f"{docs_url}/index.html#!/overview")
        yield instance


def assert_png(path: Path, min_bytes: int = 20_000) -> None:
    """A real picture, not a blank page: PNG signature and more bytes than an empty viewport takes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > min_bytes, f"{path} is only {len(data)} bytes: blank page?"


def dbt_docs_own_noise(entry: ConsoleEntry) -> bool:
    """dbt-docs' own template bugs, not ours: its page asks for `{{ getIcon(...) }}` and
    `${require('./assets/favicons/favicon.ico')}` before Angular fills them in (404s on any project)."""
    return (
        entry.source == "log"
        and "404" in entry.text
        and ("%7B%7B" in entry.text or "%7Brequire(" in entry.text)
    )


def text_of(page: Browser) -> str:
    return page.evaluate("document.body.innerText")


def columns_of(title: str) -> str:
    """JS: the page whose heading starts with `title` is shown and its column table is filled in (the
    app is a single page: the previous page's table stays in the DOM until the route has changed)."""
    return (
        "Array.from(document.querySelectorAll('h1')).some(h => h.innerText.trim().startsWith("
        + json.dumps(title)
        + ")) && document.querySelectorAll('tr.column-row').length > 0"
    )


def go(page: Browser, docs_url: str, route: str, ready: str) -> None:
    """Open a route of the single-page app and wait until `ready` (JS expression) holds."""
    page.navigate(f"{docs_url}/index.html#!/{route}")
    page.wait_until(ready, timeout=30)


# --- what the generated artifacts hold ---------------------------------------------------------------


def test_every_node_is_described(docs_target: Path) -> None:
    manifest = json.loads((docs_target / "manifest.json").read_text())
    nodes: dict[str, Any] = {**manifest["nodes"], **manifest["sources"], **manifest["exposures"]}
    documented = {"model", "seed", "source", "exposure", "snapshot", "analysis"}  # what the site lists
    ours = {
        k: v for k, v in nodes.items() if v["package_name"] == PROJECT and v["resource_type"] in documented
    }
    kinds = {v["resource_type"] for v in ours.values()}
    assert {"model", "seed", "source", "exposure"} <= kinds, kinds
    undescribed = sorted(k for k, v in ours.items() if not (v.get("description") or "").strip())
    assert not undescribed, f"nodes without a description: {undescribed}"
    blank_columns = sorted(
        f"{k}.{c}"
        for k, v in ours.items()
        for c, col in (v.get("columns") or {}).items()
        if not (col.get("description") or "").strip()
    )
    assert not blank_columns, f"columns without a description: {blank_columns}"
    assert {f"exposure.{PROJECT}.{e}" for e in EXPOSURES} <= set(manifest["exposures"])
    assert "Grain and conventions" in manifest["docs"][f"doc.{PROJECT}.__overview__"]["block_contents"]
    # No tracker script in the site, for every user, not only under the tests' environment.
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False
    assert manifest["metadata"].get("send_anonymous_usage_stats") is False


# --- what a person sees in the browser -------------------------------------------------------------


def test_overview_renders(page: Browser, docs_url: str, tmp_path: Path) -> None:
    go(page, docs_url, "overview", "document.body.innerText.includes('Grain and conventions')")
    text = text_of(page)
    for expected in ("Binance Warehouse", "Time is UTC everywhere", "python -m loaders.binance", "dbt build"):
        assert expected in text, expected
    # The project tree in the sidebar lists the marts.
    assert all(m in text for m in MARTS)
    path = page.screenshot(screenshot_path(tmp_path, "docs-site-overview.png"))
    assert_png(path)


def test_mart_page_lists_its_columns(page: Browser, docs_url: str, built_warehouse, tmp_path: Path) -> None:
    go(
        page,
        docs_url,
        f"model/model.{PROJECT}.{MART}",
        "document.querySelectorAll('tr.column-row').length > 0",
    )
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('tr.column-row')).map(tr => "
        "Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    shown = {r[0]: r for r in rows}
    in_duckdb = [
        r["column_name"]
        for r in built_warehouse.rows(
            "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
            [MART],
        )
    ]
    assert list(shown) == in_duckdb  # every column, in table order
    for name, cells in shown.items():
        assert cells[1], f"{name}: no type shown (catalog missing?)"
        assert cells[2], f"{name}: no description shown"
    assert "one row per" in text_of(page).lower()  # the grain is stated on the page
    path = page.screenshot(screenshot_path(tmp_path, "docs-site-mart.png"))
    assert_png(path)


def test_external_source_shows_its_columns(page: Browser, docs_url: str) -> None:
    go(
        page,
        docs_url,
        f"source/source.{PROJECT}.binance.klines",
        columns_of("binance.klines"),
    )
    names = page.evaluate(
        "Array.from(document.querySelectorAll('tr.column-row')).map(tr => tr.querySelector('td').innerText.trim())"
    )
    assert {"open_time", "close_time", "open", "close", "volume", "trade_count", "symbol", "month"} <= set(
        names
    )


def test_lineage_graph_opens_without_console_errors(page: Browser, docs_url: str, tmp_path: Path) -> None:
    go(page, docs_url, f"model/model.{PROJECT}.{MART}", columns_of(MART))
    page.evaluate("document.querySelector('a[ng-click=\"onLauncherClick()\"]').click()")
    page.wait_until("document.querySelector('a[ng-click=\"showExpanded()\"]') !== null")
    page.evaluate("document.querySelector('a[ng-click=\"showExpanded()\"]').click()")
    # From the lake (source) through staging to the mart and on to the Postgres hot table and the BI
    # exposure. The graph is a cytoscape canvas; its instance hangs off the container.
    expected = [
        f"source.{PROJECT}.binance.klines",
        f"model.{PROJECT}.stg_binance__klines",
        f"model.{PROJECT}.{MART}",
        f"exposure.{PROJECT}.postgres_hot_{MART}",
        f"exposure.{PROJECT}.bi_warehouse_duckdb_file",
    ]
    visible = "document.getElementById('cy')?._cyreg?.cy?.nodes(':visible').map(n => n.id()) || []"
    page.wait_until(f"(ids => {json.dumps(expected)}.every(x => ids.includes(x)))({visible})")
    edges = page.evaluate(
        "document.getElementById('cy')._cyreg.cy.edges().map(e => [e.source().id(), e.target().id()])"
    )
    assert [f"source.{PROJECT}.binance.klines", f"model.{PROJECT}.stg_binance__klines"] in edges
    assert [f"model.{PROJECT}.{MART}", f"exposure.{PROJECT}.postgres_hot_{MART}"] in edges
    time.sleep(1.0)  # let the layout animation settle before the picture
    path = page.screenshot(screenshot_path(tmp_path, "docs-site-lineage.png"))
    assert_png(path)

    errors = [e for e in page.console_errors() if not dbt_docs_own_noise(e)]
    assert not errors, errors
    outside = [u for u in page.requested_urls() if not u.startswith((docs_url, "data:", "about:", "blob:"))]
    assert not outside, f"the docs site reached outside the machine: {outside}"
