"""Every command README.md and docs/*.md show, run as written in one checkout against the demo server.

The commands are read from the fenced bash/sh/python blocks of the pages themselves (README first, then
docs/ in the README's "Read more" order, then any page it does not link), so a newly documented command
runs here by default. A line is split at `&&`; each command runs with `bash -c` in a copy of the
repository's tracked files (the set-up's .venv linked in), in order, and must exit 0. `export` lines
change the environment of the commands after them. The only commands not run are in SKIP, each with
its reason; the demo server's command runs in the background (its port swapped for a free one)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.chromium import browser, screenshot_path
from tests.fixtures.dashboards import open_page, serve
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.prerequisites import missing
from tests.fixtures.s3 import S3Server
from tests.test_fresh_clone import checkout_copy

pytestmark = pytest.mark.slow

FENCE = re.compile(r"^```(bash|sh|python)\n(.*?)^```", re.S | re.M)
# Command text (a substring) -> why the test does not run it. Keep it short: anything not listed runs.
SKIP = {
    "bash scripts/setup.sh": "the suite runs in the set-up .venv; re-running would re-point it at this copy",
    "bash scripts/test.sh": "the test suite itself",
    "dbt docs serve": "serves until stopped (dbt docs generate runs)",
    "run preview": "serves until stopped (the build runs)",
    "npm --prefix dashboards ci": "run once in the repository's dashboards/ (as tests/test_dashboards.py does), linked here",
    "--target spark": "a Spark build takes minutes (tests/test_spark.py runs it)",
    "benchmarks/bench_": "benchmarks run for minutes (docs/benchmarks.md)",
    "UPDATE_SCREENSHOTS=1": "rewrites the repository's screenshots",
    "PGHOST=db.example.com": "a real Postgres host (tests/test_postgres_export.py exports to one)",
    "export_window_days": "an export option: without Postgres a plain build (tests/test_postgres_export.py)",
    "export_schema": "an export option: without Postgres a plain build (tests/test_postgres_export.py)",
    "PGPASSWORD=...": "a real password",
    "R2_ACCOUNT_ID=0123": "a real Cloudflare account (the test points R2_ENDPOINT_URL at moto)",
    "R2_ACCESS_KEY_ID=...": "real R2 credentials (the test gives moto's)",
    "--target r2": "a minute through moto; tests/test_r2_dbt.py builds it (push and ls run here)",
    "LAKE_DIR=/data/lake": "another machine's paths",
    "dbt source freshness": "the demo's history ends 2025-12, so it rightly errors (stale after 40 days)",
}
# Command text (without its comment) -> (exit status, why): documented commands whose answer on the demo
# is a non-zero exit. Anything not listed must exit 0.
EXPECTED_EXIT = {
    ".venv/bin/python -m loaders.binance status --check": (
        1,
        "the demo's 1s, 1m and aggTrades series stop before its last day: stale, as status --check says",
    ),
}
DEMO_SERVER = "-m tests.fixtures.binance_server"
LOADED = re.compile(r"^loaded (\d+), skipped", re.M)  # a loader's summary line
DEMO_PORT = "8765"  # the port the pages use; the test swaps it for a free one
R2_BUCKET = "market-data"  # the bucket docs/r2.md exports
COMMAND_TIMEOUT_S = 300
NODE_MODULES = REPO_ROOT / "dashboards" / "node_modules"


def node_modules_ready() -> bool:
    """npm and dashboards/node_modules (installed here with `npm ci` when missing, as the dashboards
    tests do); False when Node.js is not installed or the registry cannot be reached."""
    npm = shutil.which("npm")
    if npm is None:
        return False
    if not (NODE_MODULES / "@observablehq" / "framework").is_dir():
        proc = subprocess.run(
            [npm, "--prefix", str(REPO_ROOT / "dashboards"), "ci", "--no-audit", "--no-fund"],
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        return proc.returncode == 0
    return True


def pages() -> list[Path]:
    """README.md, then docs/*.md in the order the README links them, then the rest of docs/."""
    readme = REPO_ROOT / "README.md"
    linked = [REPO_ROOT / m for m in re.findall(r"\]\((docs/[\w-]+\.md)\)", readme.read_text())]
    rest = sorted(p for p in (REPO_ROOT / "docs").glob("*.md") if p not in linked)
    return [readme, *dict.fromkeys(linked), *rest]


def commands(page: Path) -> list[tuple[str, str]]:
    """(kind, command) of every command in the page's blocks: kind "sh" (one per `&&` part of a line,
    continuation lines joined, comment lines dropped) or "python" (a whole block)."""
    out: list[tuple[str, str]] = []
    for lang, body in FENCE.findall(page.read_text()):
        if lang == "python":
            out.append(("python", body))
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            out.extend(("sh", part.strip()) for part in line.split(" && "))
    return out


def skip_reason(command: str) -> str | None:
    return next((why for key, why in SKIP.items() if key in command), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exported(command: str, env: dict[str, str], cwd: Path) -> dict[str, str]:
    """The environment after an `export` line, as bash sees it."""
    out = subprocess.run(
        ["bash", "-c", f"{command}\nenv -0"], cwd=cwd, env=env, capture_output=True, check=True, timeout=30
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def start_demo_server(command: str, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    """The documented server command, in the background; returns once it prints its URLs."""
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline() if proc.stdout else ""
    assert "BINANCE_BASE_URL=" in line, f"{command} printed {line!r}"
    return proc


def test_every_documented_command_runs(tmp_path: Path, s3_server: S3Server) -> None:
    project = checkout_copy(tmp_path / "clone")
    has_npm = node_modules_ready()
    if has_npm:
        (project / "dashboards" / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    port = str(free_port())
    s3_server.create_bucket(R2_BUCKET)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LAKE_DIR", "DUCKDB_PATH") and not k.startswith(("PG", "R2_", "BINANCE_"))
    }
    # What a fresh clone's editable install gives: this copy's packages first.
    env["PYTHONPATH"] = str(project)
    # The README's offline premise (its block exports the same two URLs after starting the server).
    env["BINANCE_BASE_URL"] = f"http://127.0.0.1:{port}"
    env["BINANCE_LISTING_URL"] = f"http://127.0.0.1:{port}/listing"
    env.update({k: v for k, v in s3_server.env(R2_BUCKET).items() if v is not None})
    documented = [
        (page.relative_to(REPO_ROOT).as_posix(), kind, command.replace(DEMO_PORT, port))
        for page in pages()
        for kind, command in commands(page)
    ]
    # Offline, the demo server runs first (the README's offline block); its command is run as written.
    server_command = next((c for _, _, c in documented if DEMO_SERVER in c), None)
    if server_command is None:
        missing("no page starts the demo server (python -m tests.fixtures.binance_server)")
    server = start_demo_server(server_command, env, project)
    done: set[tuple[str, int]] = set()
    loads = 0  # loader runs so far: a build is run again only when a loader ran since
    ran, skipped = [], []
    try:
        for where, kind, command in documented:
            why = skip_reason(command)
            if why is None and "npm " in command and not has_npm:
                why = "Node.js/npm missing, or `npm ci` could not reach the registry"
            if why is not None:
                skipped.append(f"{where}: {command[:80]} ({why})")
                continue
            if DEMO_SERVER in command:
                continue
            if command.startswith("export "):
                env = exported(command, env, project)
                continue
            key = (re.sub(r"\s{2,}#.*$", "", command), loads)
            if key in done:  # the same command on the same lake (e.g. `dbt build` twice): once is proof
                continue
            argv = [str(project / ".venv/bin/python"), "-"] if kind == "python" else ["bash", "-c", command]
            started = time.monotonic()
            proc = subprocess.run(
                argv,
                input=command if kind == "python" else None,
                cwd=project,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_S,
            )
            output = (proc.stdout + proc.stderr)[-3000:]
            expected, _ = EXPECTED_EXIT.get(key[0], (0, ""))
            assert proc.returncode == expected, f"{where}: `{command}` exited {proc.returncode}:\n{output}"
            done.add(key)
            if any(int(n) for n in LOADED.findall(proc.stdout + proc.stderr)):
                loads += 1
            ran.append(f"{time.monotonic() - started:6.1f}s {where}: {command[:100]}")
            print(ran[-1], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print("\n".join(["ran:", *ran, "skipped:", *skipped]))
    assert (project / "warehouse.duckdb").is_file()
    if has_npm:
        screenshot_dashboards(project / "dashboards" / "build", tmp_path)


# The dashboards' screenshots the README and docs/dashboards.md show: (page, charts drawn, file).
# Derivatives: funding (with its 7-day mean), open interest, basis (docs/loading.md loads mark and index
# candles) and every series' latest 7-day funding.
SCREENSHOTS = (
    ("index.html", 2, "dashboards-overview.png"),
    ("regimes.html", 4, "dashboards-regimes.png"),
    ("derivatives.html", 4, "dashboards-derivatives.png"),
    ("coverage.html", 1, "dashboards-coverage.png"),
)


def screenshot_dashboards(site: Path, tmp_path: Path) -> None:
    """Screenshots of the site the documented `npm run build` made from the README's warehouse (so the
    README shows what its own commands give offline); `UPDATE_SCREENSHOTS=1` writes them to docs/images/."""
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        return
    assert (site / "index.html").is_file(), "the documented `npm run build` made no site"
    server, url = serve(site)
    try:
        with browser(tmp_path / "chromium-profile") as page:
            for name, charts, shot in SCREENSHOTS:
                open_page(page, f"{url}/{name}", charts)
                page.evaluate("window.scrollTo(0, 0)")
                png = page.screenshot(screenshot_path(tmp_path, shot))
                assert png.stat().st_size > 20_000, f"{name}: blank page?"
    finally:
        server.shutdown()
        server.server_close()
