"""What a build can leave out: the nodes that read only datasets with no file in the lake (docs/
operations.md "What a build leaves out"). On a klines-only lake, the derivatives, metrics, funding and
trade-flow models and their data tests have nothing to read, yet each costs dbt's per-node overhead on
every build.

Left out, from dbt's manifest.json of the previous run (the graph, without parsing again):
- a model whose lake datasets (through its ancestors) all have no file, unless a model that is built
  reads it (it must exist, even empty: e.g. fct_regime_features_daily joins the derivatives features);
- a data test or unit test whose lake datasets all have no file, or that reads a model left out.
Nothing is left out when there is no manifest.json or the project changed after it was written (its
graph may be stale): then the build is the whole project, as `dbt build` is. When a dataset gains its
first file, its nodes are built again (their incremental models from scratch)."""

from __future__ import annotations

import json
from pathlib import Path

from loaders import contract


def dataset_has_files(lake: Path, dataset: str) -> bool:
    """Whether the dataset has a Parquet file in the lake (stops at the first one found)."""
    root = contract.dataset_root(lake, dataset)
    return root.is_dir() and next(root.rglob("*.parquet"), None) is not None


def _newest_mtime(project_dir: Path, dirs: tuple[str, ...], files: tuple[str, ...]) -> float:
    paths = [project_dir / f for f in files]
    for d in dirs:
        if (project_dir / d).is_dir():
            paths.extend((project_dir / d).rglob("*"))
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def excluded(manifest_file: Path, lake: Path, project_dir: Path) -> list[str]:
    """Node names (`dbt build --exclude ...`) reading only datasets with no file in the lake; [] when
    the manifest is missing or older than a project file."""
    from binance_warehouse.update.stamp import PROJECT_DIRS, PROJECT_FILES

    try:
        if manifest_file.stat().st_mtime < _newest_mtime(project_dir, PROJECT_DIRS, PROJECT_FILES):
            return []
        manifest = json.loads(manifest_file.read_text())
    except (OSError, ValueError):
        return []
    return leave_out(manifest, lambda ds: dataset_has_files(lake, ds))


def leave_out(manifest: dict, present) -> list[str]:
    """The names of the nodes to leave out of `manifest`'s graph, given present(dataset) -> bool."""
    sources = {
        uid: s["meta"]["dataset"]
        for uid, s in manifest.get("sources", {}).items()
        if s["meta"].get("dataset")
    }
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    datasets: dict[str, frozenset[str]] = {}

    def lake_datasets(uid: str) -> frozenset[str]:
        if uid in sources:
            return frozenset([sources[uid]])
        if uid not in nodes:
            return frozenset()
        if uid not in datasets:
            datasets[uid] = frozenset()  # (no cycles in dbt's graph; a guard all the same)
            datasets[uid] = frozenset().union(*map(lake_datasets, _deps(nodes[uid])))
        return datasets[uid]

    def idle(uid: str) -> bool:
        ds = lake_datasets(uid)
        return bool(ds) and not any(present(d) for d in ds)

    models = {uid for uid, n in nodes.items() if n["resource_type"] == "model"}
    kept = {uid for uid in models if not idle(uid)}
    stack = list(kept)
    while stack:  # what a built model reads is built too
        for dep in _deps(nodes[stack.pop()]):
            if dep in models and dep not in kept:
                kept.add(dep)
                stack.append(dep)
    out = {uid for uid in models - kept}
    for uid, n in nodes.items():
        if n["resource_type"] in ("test", "unit_test") and (idle(uid) or any(d in out for d in _deps(n))):
            out.add(uid)
    # dbt selects a unit test by its model's name and its own ("model_name.test_name" is not a
    # selector), a data test by its name: names are unique within the project.
    return sorted(nodes[uid]["name"] for uid in out)


def _deps(node: dict) -> list[str]:
    return node.get("depends_on", {}).get("nodes", [])
