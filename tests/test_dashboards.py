"""The dashboards (dashboards/, Observable Framework), tried as a user would: `npm run sources` reads a
copy of the session warehouse read-only and lets go of it, `npm run build` makes the static site
without the network, and Debian's headless Chromium opens every page from a loopback server: the
charts render, the market/symbol dropdown changes the chart, nothing is logged as an error and no
request leaves the machine.

The project is copied to a temp folder (its node_modules linked) so the tests never touch a
developer's dashboards/src/data or dashboards/build. Prerequisites: node >= 18 and npm (the machine's),
Debian's chromium (.ci/run installs it), and dashboards/node_modules (this module runs `npm ci` when
it is missing). With CI set, a missing prerequisite fails; elsewhere it skips, naming what to install.

Screenshots go to the test's temp folder: the README's come from the README's own offline run
(tests/test_docs_commands.py, `UPDATE_SCREENSHOTS=1`), not from this suite's warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.fixtures.chromium import Browser, browser, chromium_binary
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


# The drawn page (text and SVG attributes, not the page's scripts).
MAIN_HTML = "document.getElementById('observablehq-main').innerHTML"


def assert_clean(page: Browser, base_url: str) -> None:
    """No console error, no failed request, nothing asked of any host but the loopback server, and no
    "NaN" drawn (a tick, a label or a path of a chart with nothing to show)."""
    assert "NaN" not in page.evaluate(MAIN_HTML), "NaN on the page"
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
    path_png = page.screenshot(tmp_path / shot)
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
        # Nor the dashboards' views on those marts (models/marts/dashboards/), and the Overview's series
        # without the leverage column, as a warehouse built before them has.
        *(f"drop view {v}" for v in ("fct_derivatives_series_daily", "dim_derivatives_series")),
        *(f"drop view {v}" for v in ("fct_coverage_runs", "dim_coverage_series")),
        "create table series_copy as select * exclude (leverage_regime) from dim_regime_series",
        "drop view dim_regime_series",
        "alter table series_copy rename to dim_regime_series",
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


# --- the default warehouse, gaps, date ranges, empty states, problem ranges, latest days ----------------


def test_sources_defaults_to_the_warehouse_dbt_builds(npm: str, built_warehouse, tmp_path: Path) -> None:
    """Without DUCKDB_PATH, `npm --prefix dashboards run sources` reads ./warehouse.duckdb at the
    repository root (dbt's default); a relative DUCKDB_PATH is taken from where npm was run, as dbt
    takes it."""
    project = copy_project(tmp_path / "dashboards")  # the copy's repository root is tmp_path
    shutil.copyfile(built_warehouse.duckdb_path, tmp_path / "warehouse.duckdb")
    log = sources(npm, project, None, cwd=tmp_path)
    manifest = json.loads((project / "src" / "data" / "manifest.json").read_text())
    assert manifest["warehouse"] == "warehouse.duckdb", log
    assert manifest["regime_series"], log
    (tmp_path / "elsewhere").mkdir()
    shutil.copyfile(built_warehouse.duckdb_path, tmp_path / "elsewhere" / "other.duckdb")
    log = sources(npm, project, "elsewhere/other.duckdb", cwd=tmp_path)
    assert (
        json.loads((project / "src" / "data" / "manifest.json").read_text())["warehouse"] == "other.duckdb"
    ), log


def chart_paths(page: Browser, chart: str, mark: str) -> list[str]:
    """The `d` of each path of `mark` (line, area) in the chart whose aria-label starts with `chart`."""
    return page.evaluate(
        f'Array.from(document.querySelectorAll(\'#observablehq-main svg[aria-label^="{chart}"] '
        f"g[aria-label={mark}] path')).map(p => p.getAttribute('d'))"
    )


def runs_of_values(days: list[tuple[date, float | None]]) -> int:
    """How many unbroken stretches of consecutive calendar days with a value: the pieces a line must
    be drawn in."""
    runs = 0
    previous: date | None = None
    for day, value in days:
        if value is not None and (previous is None or day - previous != timedelta(days=1)):
            runs += 1
        previous = day if value is not None else None
    return runs


@pytest.mark.parametrize("series", ["spot/ETHUSDT", "um/ETHUSDT"])
def test_lines_break_at_missing_days(site: Site, page: Browser, series: str) -> None:
    """spot ETHUSDT lacks 2023-02-14, um ETHUSDT 2026-06-01..22: each line and area is drawn in as many
    pieces (M commands) as there are stretches of consecutive days with a value, instead of one
    straight line across the gap."""
    market, symbol = series.split("/")
    open_page(page, f"{site.url}/regimes.html#{series}", 3)
    page.wait_until(f"document.getElementById('series-title')?.innerText.startsWith('{symbol}')")
    days = built_rows(
        site,
        "select trade_date, close_price, volatility_30d, rsi_14 from fct_regime_features_daily "
        f"where market = '{market}' and symbol = '{symbol}' order by trade_date",
    )
    checks = [
        ("Daily close", "line", 1, "close-empty"),
        ("30-day volatility", "line", 2, "volatility-empty"),
        ("30-day volatility", "area", 2, "volatility-empty"),
        ("RSI-14", "line", 3, "rsi-empty"),
    ]
    assert runs_of_values([(d[0], d[1]) for d in days]) > 1
    for chart, mark, column, empty in checks:
        expected = runs_of_values([(d[0], d[column]) for d in days])
        if expected == 0:  # no value at all: the chart's empty state instead
            assert page.evaluate(f"!!document.getElementById('{empty}')"), chart
            continue
        paths = chart_paths(page, chart, mark)
        assert len(paths) == 1, (chart, mark, paths)
        assert paths[0].count("M") == expected, (chart, mark, expected)
    assert_clean(page, site.url)


def built_rows(site: Site, sql: str) -> list[tuple]:
    with duckdb.connect(str(site.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def set_range(page: Browser, start: str, end: str) -> None:
    page.evaluate(
        "(() => { const f = document.getElementById('range-from'), t = document.getElementById('range-to'); "
        f"f.value = '{start}'; t.value = '{end}'; f.dispatchEvent(new Event('input', {{bubbles: true}})); }})()"
    )


def test_date_range_narrows_the_timeline(site: Site, page: Browser) -> None:
    """The date-range control redraws the charts over the chosen days only; a preset picks the last
    30 days; a range where a measure has no value shows that chart's empty state, not an empty chart."""
    open_page(page, f"{site.url}/regimes.html#spot/BTCUSDT", 3)
    page.wait_until("document.getElementById('series-title')?.innerText.startsWith('BTCUSDT')")
    day_rects = "document.querySelectorAll('#observablehq-main svg[aria-label^=\"Daily close\"] g[aria-label=rect] rect').length"
    assert page.evaluate(day_rects) == 151
    set_range(page, "2023-03-01", "2023-03-31")
    page.wait_until(f"{day_rects} === 31", timeout=PAGE_TIMEOUT_S)
    page.evaluate("document.querySelector('button[data-days=\"30\"]').click()")
    page.wait_until(
        f"{day_rects} === 30 && document.getElementById('range-from').value === '2023-05-02'",
        timeout=PAGE_TIMEOUT_S,
    )
    # um ETHUSDT in June: one day (2026-06-23) with a close and nothing else.
    open_page(page, f"{site.url}/regimes.html#um/ETHUSDT", 3)
    page.wait_until("document.getElementById('series-title')?.innerText.startsWith('ETHUSDT')")
    set_range(page, "2026-06-01", "2026-06-23")
    page.wait_until(
        "!!document.getElementById('volatility-empty') && !!document.getElementById('rsi-empty')",
        timeout=PAGE_TIMEOUT_S,
    )
    # The lone day is a dot (a line cannot draw one point).
    assert (
        page.evaluate(
            "document.querySelectorAll('#observablehq-main svg[aria-label^=\"Daily close\"] g[aria-label=dot] circle').length"
        )
        == 1
    )
    assert_clean(page, site.url)


FUNDING_ONLY = [
    # Funding archives loaded, no metrics and no mark/index klines.
    "update fct_derivatives_daily set open_interest = null, open_interest_value = null, oi_change_1d = null, "
    "mark_close = null, index_close = null, basis = null",
    "update fct_regime_features_daily set oi_change_7d = null, basis = null, leverage_regime = null",
]


def test_funding_without_metrics_has_an_empty_state_per_chart(
    npm: str, built_warehouse, page: Browser, tmp_path: Path
) -> None:
    """With funding but no open interest and no basis, the Derivatives page draws the funding chart and
    says why the other two are empty (no "NaN" tick, no flat 0 % line); the Overview names the same
    series as having derivatives data."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse.duckdb_path, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        for sql in FUNDING_ONLY:
            con.execute(sql)
        with_funding = [
            f"{m}/{s}"
            for m, s in con.execute(
                "select distinct market, symbol from fct_derivatives_daily "
                "where funding_rate_annualized is not null order by all"
            ).fetchall()
        ]
    assert with_funding
    project, _, _ = build_site(npm, tmp_path, warehouse)
    server, url = serve(project / "build")
    try:
        open_page(page, f"{url}/derivatives.html", 2, notice="basis-empty")
        text = page.evaluate("document.body.innerText")
        assert "No open interest for this series" in text
        assert "No basis for this series" in text
        labels = page.evaluate(f"{CHARTS}.map(s => s.getAttribute('aria-label'))")
        assert not any(label.startswith(("Open interest", "Basis")) for label in labels), labels
        picker = page.evaluate(
            "Array.from(document.querySelectorAll('#series-picker option')).map(o => o.value)"
        )
        assert picker == with_funding
        assert_clean(page, url)
        open_page(page, f"{url}/index.html", 1, notice="leverage-empty")
        note = page.evaluate("document.getElementById('leverage-empty').innerText")
        assert "no series has derivatives data" not in note
        assert all(series in note for series in with_funding), note
        assert_clean(page, url)
    finally:
        server.shutdown()
        server.server_close()


def problem_ranges(site: Site) -> list[tuple[str, str, int, str, str]]:
    """The coverage mart's non-complete days folded into ranges here, independently of sources.mjs:
    consecutive days of one series with the same status and known reason; latest first."""
    days = built_rows(
        site,
        'select market, dataset, "interval", symbol, trade_date, status, known_reason '
        'from fct_coverage_daily order by market, dataset, "interval", symbol, trade_date',
    )
    ranges: list[list] = []
    for market, dataset, interval, symbol, day, status, reason in days:
        key = (market, dataset, interval, symbol, status, reason)
        last = ranges[-1] if ranges else None
        if last and last[0] == key and day - last[2] == timedelta(days=1):
            last[2] = day
        else:
            ranges.append([key, day, day])
    rows = [(str(a), str(b), (b - a).days + 1, k[4], k[5] or "") for k, a, b in ranges if k[4] != "complete"]
    return sorted(rows, key=lambda r: r[0], reverse=True)


def test_coverage_lists_problem_days_as_ranges(site: Site, page: Browser) -> None:
    """One row per run of problem days (from, to, day count), as many rows as runs in the mart."""
    open_page(page, f"{site.url}/coverage.html", 1)
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#problem-ranges tbody tr')).map(tr => "
        "Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    expected = problem_ranges(site)
    assert len(shown) == len(expected) > 1
    assert sorted((r[0], r[1], int(r[2]), r[4], r[6]) for r in shown) == sorted(expected)
    days = sum(r[2] for r in expected)
    assert f"{days} days in {len(expected)} ranges" in page.evaluate("document.body.innerText")
    assert_clean(page, site.url)


def test_overview_shows_each_series_latest_day(site: Site, page: Browser) -> None:
    """The card spans the series' own latest days; the ⚠ marks exactly the series that end before the
    latest of them, and a caption on the page says so."""
    open_page(page, f"{site.url}/index.html", 2)
    latest = dict(
        ((m, s), str(d))
        for m, s, d in built_rows(
            site, "select market, symbol, max(trade_date) from fct_regime_features_daily group by all"
        )
    )
    card = page.evaluate("document.getElementById('latest-days').innerText")
    assert f"{min(latest.values())} to {max(latest.values())}" in card, card
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('#observablehq-main table tbody tr')).map(tr => "
        "Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
    )
    flagged = {(r[0], r[1]) for r in rows if "⚠" in r[3]}
    assert flagged == {k for k, d in latest.items() if d < max(latest.values())}
    assert flagged
    caption = page.evaluate("document.getElementById('overview-caption').innerText")
    assert "⚠" in caption and max(latest.values()) in caption


LATEST_STATES_SQL = (
    "select market, symbol, strftime(trade_date, '%Y-%m-%d'), vol_state, vol_state_probability, "
    "turbulent_probability from fct_regime_features_daily where vol_state is not null "
    "qualify row_number() over (partition by market, symbol order by trade_date desc) = 1 order by 1, 2"
)
TABLE_CELLS = (
    "Array.from(document.querySelectorAll('#{id} tbody tr')).map(tr => "
    "Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()))"
)
BAND = "document.querySelector('#observablehq-main svg[aria-label^=\"Filtered regime probabilities\"]')"


def shown_percent(text: str) -> float:
    return float(text.rstrip("%").strip())


def test_overview_lists_each_series_most_likely_state(site: Site, page: Browser) -> None:
    """#regime-probabilities-latest: one row per series with probabilities, its latest such day, state
    and probabilities as in fct_regime_features_daily; with none in the warehouse, the empty state."""
    latest = built_rows(site, LATEST_STATES_SQL)
    open_page(page, f"{site.url}/index.html", 1)
    if not latest:
        page.wait_until(
            "!!document.getElementById('regime-probabilities-latest-none')", timeout=PAGE_TIMEOUT_S
        )
        assert page.evaluate("document.getElementById('regime-probabilities-latest')") is None
    else:
        page.wait_until("!!document.getElementById('regime-probabilities-latest')", timeout=PAGE_TIMEOUT_S)
        rows = page.evaluate(TABLE_CELLS.format(id="regime-probabilities-latest"))
        assert len(rows) == len(latest), rows
        for (market, symbol, day, state, probability, turbulent), cells in zip(latest, rows, strict=True):
            assert cells[0].split() == [symbol, market] and cells[1:3] == [day, state], cells
            # Shown as a percentage with one decimal: within half a unit of the last digit.
            assert abs(shown_percent(cells[3]) - 100 * probability) <= 0.05 + 1e-9, (cells, probability)
            assert abs(shown_percent(cells[4]) - 100 * turbulent) <= 0.05 + 1e-9, (cells, turbulent)
        assert page.evaluate("document.getElementById('regime-probabilities-latest-none')") is None
    assert_clean(page, site.url)


def test_regimes_page_draws_the_probability_band(site: Site, page: Browser) -> None:
    """Each series with probabilities gets the stacked band under its close, one legend entry per state
    name of fct_regime_probabilities_daily, over the page's date range; a series without any shows
    #regime-probabilities-none instead."""
    series = built_rows(site, "select distinct market, symbol from fct_regime_features_daily order by 1, 2")
    states = {}
    for market, symbol, names, days in built_rows(
        site,
        "select market, symbol, list(distinct state_name order by state_name), count(distinct trade_date) "
        "from fct_regime_probabilities_daily group by all",
    ):
        states[(market, symbol)] = (names, days)
    assert series
    for market, symbol in series:
        open_page(page, f"{site.url}/regimes.html#{market}/{symbol}", 3)
        page.wait_until(
            f"document.getElementById('series-title')?.innerText === '{symbol} ({market})'",
            timeout=PAGE_TIMEOUT_S,
        )
        if (market, symbol) not in states:
            page.wait_until("!!document.getElementById('regime-probabilities-none')", timeout=PAGE_TIMEOUT_S)
            assert page.evaluate(f"{BAND} === null")
            continue
        names, days = states[(market, symbol)]
        page.wait_until(f"{BAND}?.querySelectorAll('rect').length > 0", timeout=PAGE_TIMEOUT_S)
        assert page.evaluate(f"{BAND}.getAttribute('aria-label')") == (
            f"Filtered regime probabilities of {symbol} ({market}), stacked by state"
        )
        legend = page.evaluate(
            f"Array.from({BAND}.closest('figure').querySelectorAll('[class$=\"-swatch\"]')).map(e => e.textContent.trim())"
        )
        assert sorted(legend) == sorted(names), legend
        # One rect per day and state over the whole series (the default range); same x axis as the close.
        assert page.evaluate(f"{BAND}.querySelectorAll('g[aria-label=rect] rect').length") == days * len(
            names
        )
        ticks = "Array.from({svg}.querySelectorAll('g[aria-label=\"x-axis tick label\"] text')).map(t => t.textContent)"
        close = "document.querySelector('#observablehq-main svg[aria-label^=\"Daily close\"]')"
        assert page.evaluate(ticks.format(svg=BAND)) == page.evaluate(ticks.format(svg=close))
        assert page.evaluate("document.getElementById('regime-probabilities-none')") is None
    assert_clean(page, site.url)


def test_regimes_page_lists_the_series_spells_and_transition_matrix(site: Site, page: Browser) -> None:
    """#regime-spells: one row per spell of fct_regime_spells of the chosen series (regime, start, end,
    ongoing flag, days, log return, max drawdown); #regime-transitions: the series' transition matrix,
    each seen (from, to) cell showing fct_regime_transitions' probability and count; a series without
    spells or transitions shows the empty states."""
    series = built_rows(site, "select distinct market, symbol from fct_regime_features_daily order by 1, 2")
    assert len(series) >= 2
    for market, symbol in series:
        where = f"where market = '{market}' and symbol = '{symbol}'"
        spells = built_rows(
            site,
            "select regime, strftime(spell_start, '%Y-%m-%d'), strftime(spell_end, '%Y-%m-%d'), is_ongoing, "
            f"days, spell_log_return, max_drawdown from fct_regime_spells {where} order by spell_start",
        )
        transitions = built_rows(
            site,
            f"select from_regime, to_regime, transitions, probability from fct_regime_transitions {where}",
        )
        open_page(page, f"{site.url}/regimes.html#{market}/{symbol}", 3)
        page.wait_until(
            f"document.getElementById('series-title')?.innerText === '{symbol} ({market})'",
            timeout=PAGE_TIMEOUT_S,
        )
        if not spells:
            page.wait_until("!!document.getElementById('regime-spells-none')", timeout=PAGE_TIMEOUT_S)
        else:
            page.wait_until(
                f"document.querySelectorAll('#regime-spells tbody tr').length === {len(spells)}",
                timeout=PAGE_TIMEOUT_S,
            )
            rows = page.evaluate(TABLE_CELLS.format(id="regime-spells"))
            for (regime, start, end, ongoing, days, log_return, drawdown), cells in zip(
                spells, rows, strict=True
            ):
                assert cells[:3] == [regime, start, end + (" (ongoing)" if ongoing else "")], cells
                assert int(cells[3]) == days, cells
                assert abs(shown_percent(cells[4]) - 100 * log_return) <= 0.05 + 1e-9, (cells, log_return)
                assert abs(shown_percent(cells[5]) - 100 * drawdown) <= 0.05 + 1e-9, (cells, drawdown)
        if not transitions:
            page.wait_until("!!document.getElementById('regime-transitions-none')", timeout=PAGE_TIMEOUT_S)
            continue
        page.wait_until("!!document.getElementById('regime-transitions')", timeout=PAGE_TIMEOUT_S)
        header = page.evaluate(
            "Array.from(document.querySelectorAll('#regime-transitions thead th')).map(th => th.innerText.trim())"
        )[1:]
        matrix = page.evaluate(
            "Array.from(document.querySelectorAll('#regime-transitions tbody tr')).map(tr => "
            "[tr.querySelector('th').innerText.trim(), ...Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim())])"
        )
        shown = {(row[0], to): text for row in matrix for to, text in zip(header, row[1:], strict=True)}
        expected = {(f, t): (n, p) for f, t, n, p in transitions}
        assert {k for k, text in shown.items() if text != "·"} == set(expected), shown
        for key, (n, probability) in expected.items():
            percent, count = shown[key].split()
            assert count == f"({n})" and abs(shown_percent(percent) - 100 * probability) <= 0.05 + 1e-9, (
                shown[key]
            )


def test_market_page_draws_a_heat_map_row_per_symbol(site: Site, page: Browser) -> None:
    """The Market page (dashboards/src/market.md) opens on the group with the most symbols: its index,
    breadth and heat map drawn, one heat-map row and one table row per symbol of the group."""
    with duckdb.connect(str(site.duckdb_path), read_only=True) as con:
        groups = con.execute(
            "select market || '/' || quote_asset as grp, list(symbol order by symbol) as symbols "
            "from dim_market_symbols where quote_asset is not null group by all order by len(symbols) desc, grp"
        ).fetchall()
    group, symbols = groups[0]
    open_page(page, f"{site.url}/market.html", 3)
    assert f"{group.replace('/', ' · ')}" in page.evaluate(
        "document.getElementById('market-title').innerText"
    )
    heat_rows = page.evaluate(
        "new Set(Array.from(document.querySelectorAll('#observablehq-main "
        "svg[aria-label^=\"Regime of every symbol\"] g[aria-label=bar] rect')).map(r => r.getAttribute('y'))).size"
    )
    assert heat_rows == len(symbols)
    table = page.evaluate(
        "Array.from(document.querySelectorAll('#market-symbols tbody tr td:first-child')).map(td => td.innerText)"
    )
    assert sorted(table) == symbols
    assert_clean(page, site.url)
