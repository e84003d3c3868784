"""`pip install .` gives working loaders and dbt plugins: every third-party package imported by a module
under loaders/, dbt_plugins/ or regimes/ is a declared runtime dependency (not only a dev one), and the
console scripts pyproject declares run the same programs as `python -m`."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.paths import REPO_ROOT

FIRST_PARTY = {"loaders", "dbt_plugins", "regimes"}
DISTRIBUTION = "binance-warehouse"


def imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def runtime_requirements() -> set[str]:
    """Names of the distribution's runtime dependencies (extras left out), normalised."""
    out = set()
    for req in importlib.metadata.requires(DISTRIBUTION) or []:
        if "extra ==" in req:
            continue
        out.add(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower().replace("_", "-"))
    return out


def test_every_runtime_import_is_a_declared_dependency() -> None:
    declared = runtime_requirements()
    providers = importlib.metadata.packages_distributions()
    undeclared = []
    modules = sorted(
        [
            *(REPO_ROOT / "loaders").rglob("*.py"),
            *(REPO_ROOT / "dbt_plugins").rglob("*.py"),
            # The regime-probability models' estimator, imported by dbt Python models at build time.
            *(REPO_ROOT / "regimes").rglob("*.py"),
        ]
    )
    assert len(modules) > 20
    for module in modules:
        for name in imported_top_levels(module):
            if name in FIRST_PARTY or name in sys.stdlib_module_names or name == "__future__":
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(name, [])}
            if not dists & declared:
                undeclared.append(
                    f"{module.relative_to(REPO_ROOT)} imports {name} (from {sorted(dists) or '?'})"
                )
    assert not undeclared, "\n".join(undeclared)


def test_the_scan_sees_a_dev_only_package(tmp_path: Path) -> None:
    """The check can fail: pandas (a dev dependency) is not a runtime one."""
    probe = tmp_path / "probe.py"
    probe.write_text("import pandas\nfrom numpy import array\n")
    providers = importlib.metadata.packages_distributions()
    declared = runtime_requirements()
    found = {n: {d.lower() for d in providers.get(n, [])} & declared for n in imported_top_levels(probe)}
    assert found == {"pandas": set(), "numpy": {"numpy"}}


def console_scripts() -> dict[str, str]:
    """[project.scripts] of pyproject.toml: command name -> "module:function"."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(REPO_ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"].get("scripts", {})


def call_script(
    target: str,
    name: str,
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """What the installed command does: pip's wrapper imports `module`, calls `function()` with
    sys.argv[0] set to the command's name and exits with what it returns or raises."""
    module, function = target.split(":")
    monkeypatch.setattr(sys, "argv", [f"/somewhere/bin/{name}", *args])
    with pytest.raises(SystemExit) as exc:
        getattr(importlib.import_module(module), function)()
    return exc.value.code or 0, capsys.readouterr().out


def test_console_scripts_are_the_loader_and_the_mirror(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`binance-loader` and `binance-r2` are installed with the package: the functions pyproject names
    exist, answer --version with the distribution's version and --help under their own name."""
    scripts = console_scripts()
    assert set(scripts) >= {"binance-loader", "binance-r2"}, scripts
    version = f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"
    for name in ("binance-loader", "binance-r2"):
        code, out = call_script(scripts[name], name, ["--version"], monkeypatch, capsys)
        assert (code, out.strip()) == (0, version), name
        code, out = call_script(scripts[name], name, ["--help"], monkeypatch, capsys)
        assert code == 0 and out.startswith(f"usage: {name} "), out[:200]
    assert f"{name} push --dry-run" in out  # the examples name the command that was typed


@pytest.mark.parametrize("module", ["loaders.binance", "loaders.r2"])
def test_python_dash_m_still_works(module: str) -> None:
    res = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"{DISTRIBUTION} {importlib.metadata.version(DISTRIBUTION)}"
