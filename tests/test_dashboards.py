"""The dashboards (dashboards/, Observable Framework), tried as a user would: `npm run sources` reads a
copy of the session warehouse read-only and lets go of it, `npm run build` makes the static site
without the network, and Debian's headless Chromium opens every page from a loopback server: the
charts render, the market/symbol dropdown changes the chart, nothing is logged as an error and no
request leaves the machine.

The project is copied to a temp folder (its node_modules linked) so the tests never touch a
developer's dashboards/src/data or dashboards/build. Prerequisites: node >= 18 and npm (the machine's),
Debian's chromium (.ci/run installs it), and dashboards/node_modules (this module runs `npm ci` when
it is missing). With CI set, a missing prerequisite fails; elsewhere it skips, naming what to install.

Screenshots go to the test's temp folder; `UPDATE_SCREENSHOTS=1` writes them to docs/images/ instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.chromium import Browser, browser, chromium_binary, screenshot_path
from tests.fixtures.dashboards import (
    CHARTS,
    DASHBOARDS,
    NPM_CI_TIMEOUT_S,
    PAGE_TIMEOUT_S,
    SOURCES_TIMEOUT_S,
    build_site,
    copy_project,
    open_page,
    serve,
    sources,
)
from tests.fixtures.prerequisites import missing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def npm() -> str:
    """npm, with node >= 18 and dashboards/node_modules installed (`npm ci` here when missing)."""
    node, npm_bin = shutil.which("node"), shutil.which("npm")
    if not node or not npm_bin:
        missing("node and npm not installed: `apt-get install nodejs npm` (Node.js >= 18)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        missing(f"node {version} is too old for the dashboards: Node.js >= 18 is needed")
    if not (DASHBOARDS / "node_modules" / "@observablehq" / "framework").is_dir():
        proc = subprocess.run(
            [npm_bin, "--prefix", str(DASHBOARDS), "ci", "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
        )
        if proc.returncode != 0:
            missing(f"`npm --prefix dashboards ci` failed (is the npm registry reachable?):\n{proc.stderr}")
    return npm_bin


@dataclass
class Site:
    """A built copy of the dashboards, served on loopback."""

    project: Path
    duckdb_path: Path
    url: str
    sources_log: str
    build_log: str

    def manifest(self) -> dict:
        return json.loads((self.project / "src" / "data" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def site(npm: str, built_warehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The dashboards built from the session warehouse (read-only: `sources` only reads it), served on
    loopback."""
    assert built_warehouse.run.success, "the session dbt build failed; see tests/test_dbt_*.py"
    work = tmp_path_factory.mktemp("dashboards")
    warehouse = built_warehouse.duckdb_path
    project, sources_log, build_log = build_site(npm, work, warehouse)
    server, url = serve(project / "build")
    try:
        yield Site(project, warehouse, url, sources_log, build_log)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Browser]:
    chromium_binary()  # fail in CI, skip elsewhere, when chromium is missing
    with browser(tmp_path / "chromium-profile") as instance:
        yield instance


def assert_clean(page: Browser, base_url: str) -> None:
    """No console error, no failed request, nothing asked of any host but the loopback server."""
    errors = page.console_errors()
    assert not errors, errors
    outside = [u for u in page.requested_urls() if not u.startswith((base_url, "data:", "about:", "blob:"))]
    assert not outside, f"the dashboards reached outside the machine: {outside}"


# --- the data step ------------------------------------------------------------------------------------


def test_sources_lets_go_of_the_warehouse(npm: str, built_warehouse, tmp_path: Path) -> None:
    """`npm run sources` opens the file read-only and closes it: a DuckDB writer (dbt build) can open
    it right after."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, warehouse)
    project = copy_project(tmp_path / "dashboards")
    log = sources(npm, project, warehouse)
    with duckdb.connect(str(warehouse)) as writer:  # read-write: needs the file's exclusive lock
        writer.execute("create table written_after_sources as select 1 as x")
        writer.execute("drop table written_after_sources")
    manifest = json.loads((project / "src" / "data" / "manifest.json").read_text())
    expected = built_warehouse.rows(
        "select distinct market, symbol from fct_regime_features_daily order by market, symbol"
    )
    assert manifest["regime_series"] == expected, log
    assert manifest["latest_date"] == str(
        built_warehouse.rows("select max(trade_date) as d from fct_regime_features_daily")[0]["d"]
    )
    # Only the columns the pages show, one file per series.
    series = json.loads((project / "src" / "data" / "regimes" / "spot" / "BTCUSDT.json").read_text())
    assert set(series) == {"trade_date", "close_price", "regime", "volatility_30d", "rsi_14"}
    days = built_warehouse.rows(
        "select count(*) as n from fct_regime_features_daily where market = 'spot' and symbol = 'BTCUSDT'"
    )[0]["n"]
    assert all(len(values) == days for values in series.values())


def test_sources_fails_fast_while_a_writer_holds_the_file(npm: str, built_warehouse, tmp_path: Path) -> None:
    """While dbt (a writer) holds the warehouse, `npm run sources` stops at once with DuckDB's lock
    error instead of waiting or reading a half-written file."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, warehouse)
    project = copy_project(tmp_path / "dashboards")
    with duckdb.connect(str(warehouse)):
        proc = subprocess.run(
            [npm, "--prefix", str(project), "run", "sources"],
            cwd=project,
            env={**os.environ, "DUCKDB_PATH": str(warehouse)},
            capture_output=True,
            text=True,
            timeout=SOURCES_TIMEOUT_S,
        )
    assert proc.returncode != 0
    assert "lock" in (proc.stdout + proc.stderr).lower(), proc.stderr
    assert not (project / "src" / "data").exists()  # nothing half-written left behind


def test_build_never_reaches_the_network(site: Site) -> None:
    """Framework downloads npm: imports and asks the npm registry for versions when a page uses its
    built-in libraries; the pages import from node_modules only, so the build names no download."""
    assert not re.search(r"^npm:", site.build_log, re.M), site.build_log
    assert "refusing to fetch" not in site.build_log
    for path in (site.project / "build").rglob("*"):
        if path.suffix in (".html", ".css"):
            text = path.read_text()
            for host in ("fonts.googleapis", "fonts.gstatic", "cdn.jsdelivr", "extensions.duckdb"):
                assert host not in text, f"{path} names {host}"


# --- the pages ---------------------------------------------------------------------------------------

PAGES = (
    # (path, charts expected, screenshot, text expected)
    ("index.html", 2, "dashboards-overview.png", "Regime on each series"),
    ("regimes.html", 4, "dashboards-regimes.png", "Every series, day by day"),
    ("derivatives.html", 4, "dashboards-derivatives.png", "Every series on its latest day"),
    ("coverage.html", 1, "dashboards-coverage.png", "Incomplete and missing days"),
)
FIRST_LINE = (
    "document.querySelector('#observablehq-main svg[aria-label] g[aria-label=line] path')?.getAttribute('d')"
)


def data_requests(page: Browser, section: str) -> list[str]:
    return [u for u in page.requested_urls() if f"/_file/data/{section}/" in u]


@pytest.mark.parametrize(("path", "charts", "shot", "text"), PAGES, ids=[p[0] for p in PAGES])
def test_page_renders(
    site: Site, page: Browser, tmp_path: Path, path: str, charts: int, shot: str, text: str
) -> None:
    seconds = open_page(page, f"{site.url}/{path}", charts)
    print(f"{path}: charts drawn {seconds:.2f}s after navigation")
    assert text in page.evaluate("document.body.innerText")
    page.evaluate("window.scrollTo(0, 0)")
    path_png = page.screenshot(screenshot_path(tmp_path, shot))
    assert path_png.stat().st_size > 20_000, "blank page?"
    assert_clean(page, site.url)


def test_overview_lists_every_series_with_its_regimes(site: Site, page: Browser) -> None:
    open_page(page, f"{site.url}/index.html", 2)
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('#observablehq-main table tbody tr')).map(tr => "
        "Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    with duckdb.connect(str(site.duckdb_path), read_only=True) as con:
        latest = con.execute(
            "select market, symbol, strftime(trade_date, '%Y-%m-%d'), coalesce(regime, 'unclassified'), "
            "coalesce(leverage_regime, 'n/a') from fct_regime_features_daily "
            "qualify row_number() over (partition by market, symbol order by trade_date desc) = 1 "
            "order by market, symbol"
        ).fetchall()
    shown = [(r[0], r[1], r[3].replace("⚠", "").strip(), r[6], r[7]) for r in rows]
    assert shown == [tuple(x) for x in latest]
    assert site.manifest()["latest_date"] in page.evaluate("document.body.innerText")
    # A symbol links to its regime timeline.
    page.evaluate(
        "document.querySelector('#observablehq-main table tbody a[href*=\"#spot/ETHUSDT\"]').click()"
    )
    page.wait_until("location.pathname.endsWith('/regimes.html') && location.hash === '#spot/ETHUSDT'")
    page.wait_until(
        "document.getElementById('series-title')?.innerText.startsWith('ETHUSDT')", timeout=PAGE_TIMEOUT_S
    )


@pytest.mark.parametrize(
    ("path", "section", "start", "other"),
    [("regimes.html", "regimes", "spot/BTCUSDT", "spot/ETHUSDT")],
)
def test_dropdown_changes_the_chart(
    site: Site, page: Browser, path: str, section: str, start: str, other: str
) -> None:
    """Choosing another market/symbol redraws the charts with that series, fetching only its file;
    the choice goes into the URL (#market/symbol), which opens the same series later."""
    open_page(page, f"{site.url}/{path}", 4)
    assert page.evaluate("document.getElementById('series-picker').value") == start
    before = page.evaluate(FIRST_LINE)
    assert before
    assert len(data_requests(page, section)) == 1, data_requests(page, section)
    page.evaluate(
        "(() => { const s = document.getElementById('series-picker'); "
        f"s.value = {json.dumps(other)}; s.dispatchEvent(new Event('input', {{bubbles: true}})); }})()"
    )
    symbol = other.split("/")[1]
    page.wait_until(
        f"document.getElementById('series-title')?.innerText.startsWith({json.dumps(symbol)}) "
        f"&& ({FIRST_LINE}) !== {json.dumps(before)}",
        timeout=PAGE_TIMEOUT_S,
    )
    assert page.evaluate(f"{CHARTS}.length") >= 4
    assert page.evaluate("location.hash") == f"#{other}"
    assert len(data_requests(page, section)) == 2
    after = page.evaluate(FIRST_LINE)
    # The link opens the chosen series.
    page.navigate("about:blank")
    open_page(page, f"{site.url}/{path}#{other}", 4)
    assert page.evaluate("document.getElementById('series-picker').value") == other
    assert page.evaluate(FIRST_LINE) == after
    assert_clean(page, site.url)


# --- pages on a warehouse without derivatives, or built before the derivatives and coverage marts ------


# A lake with klines only builds the derivatives mart empty and the futures columns null; a warehouse
# built by an older version has neither mart. Both are made from copies of the session warehouse.
STATES = {
    "empty": [
        "delete from fct_derivatives_daily",
        "update fct_regime_features_daily set funding_rate_7d_annualized = null, oi_change_7d = null, "
        "premium_zscore_30d = null, basis = null, leverage_regime = null",
    ],
    "absent": [
        "drop table fct_derivatives_daily",
        "drop table fct_coverage_daily",
        *(
            f"alter table fct_regime_features_daily drop column {c}"
            for c in (
                "funding_rate_7d_annualized",
                "oi_change_7d",
                "premium_zscore_30d",
                "basis",
                "leverage_regime",
            )
        ),
    ],
}


@pytest.mark.parametrize("state", list(STATES))
def test_pages_without_derivatives_or_coverage(
    npm: str, built_warehouse, page: Browser, tmp_path: Path, state: str
) -> None:
    """The pages build and say the data is not there, instead of breaking."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for sql in STATES[state]:
            con.execute(sql)
    project, _, _ = build_site(npm, tmp_path, warehouse)
    server, url = serve(project / "build")
    try:
        open_page(page, f"{url}/index.html", 1)
        assert "Leverage regimes:" in page.evaluate("document.body.innerText")
        page.navigate(f"{url}/derivatives.html", timeout=PAGE_TIMEOUT_S)
        page.wait_until("!!document.getElementById('derivatives-empty')", timeout=PAGE_TIMEOUT_S)
        assert "No derivatives data in this warehouse yet" in page.evaluate("document.body.innerText")
        page.navigate(f"{url}/coverage.html", timeout=PAGE_TIMEOUT_S)
        if state == "absent":
            page.wait_until("!!document.getElementById('coverage-empty')", timeout=PAGE_TIMEOUT_S)
        else:
            open_page(page, f"{url}/coverage.html", 1)
        open_page(page, f"{url}/regimes.html#spot/ETHUSDT", 4)
        assert not (project / "build" / "_file" / "data" / "derivatives").exists()
        assert_clean(page, url)
    finally:
        server.shutdown()
        server.server_close()
