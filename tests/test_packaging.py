"""`pip install .` gives working loaders and dbt plugins: every third-party package imported by a module
under loaders/, dbt_plugins/ or regimes/ is a declared runtime dependency (not only a dev one)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

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
