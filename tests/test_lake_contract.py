"""One definition of the lake contract (loaders/contract.py), and the dbt project agreeing with it: the
sources' globs and column types, the interval seed, the contract macro and every accepted_values list
on a market, interval or dataset column. A change on one side without the other fails here."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from loaders import contract
from tests.fixtures.paths import REPO_ROOT

SOURCES_YML = REPO_ROOT / "models" / "staging" / "binance" / "_binance__sources.yml"
# pyarrow type of a lake column -> the dbt source data_type declared for it.
DUCKDB_TYPES = {
    pa.timestamp("us"): "timestamp",
    pa.float64(): "double",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
}
PATH_COLUMNS = {"market", "interval", "symbol", "month", "filename"}


def source_tables() -> dict[str, dict[str, Any]]:
    (source,) = [s for s in yaml.safe_load(SOURCES_YML.read_text())["sources"] if s["name"] == "binance"]
    return {t["name"]: t for t in source["tables"]}


def glob_of(table: dict[str, Any]) -> str:
    found = re.search(r"read_parquet\('\{lake_root\}/([^']+)'", table["meta"]["external_location"])
    assert found, table["meta"]["external_location"]
    return found[1]


def test_every_dataset_is_a_source_with_the_contract_glob() -> None:
    tables = source_tables()
    by_dataset = {t["meta"]["dataset"]: t for t in tables.values() if "dataset" in t.get("meta", {})}
    assert set(by_dataset) == set(contract.DATASETS)
    for name, ds in contract.DATASETS.items():
        assert glob_of(by_dataset[name]) == ds.file_glob(), name
    manifest_glob = contract.manifest_path(Path(), "*").as_posix()
    assert glob_of(tables["manifest"]) == manifest_glob


def test_source_columns_are_the_lake_schema_plus_the_path() -> None:
    for table in source_tables().values():
        dataset = table.get("meta", {}).get("dataset")
        if dataset is None:
            continue
        ds = contract.DATASETS[dataset]
        declared = {c["name"]: c["data_type"] for c in table["columns"]}
        lake = {f.name: DUCKDB_TYPES[f.type] for f in ds.schema}
        path = {c for c in PATH_COLUMNS if c != "interval" or ds.has_interval}
        assert set(declared) == set(lake) | path, dataset
        assert {k: v for k, v in declared.items() if k in lake} == lake, dataset
        assert all(declared[c] == "varchar" for c in path), dataset


def test_manifest_source_columns_are_the_loader_manifest() -> None:
    from loaders.binance.manifest import SCHEMA

    declared = [c["name"] for c in source_tables()["manifest"]["columns"]]
    assert declared == [*SCHEMA.names, "filename"]


def test_interval_seed_matches_the_contract() -> None:
    with (REPO_ROOT / "seeds" / "binance_intervals.csv").open(newline="") as fh:
        rows = {r["interval_code"]: r for r in csv.DictReader(fh)}
    assert list(rows) == list(contract.INTERVAL_SECONDS)
    for code, seconds in contract.INTERVAL_SECONDS.items():
        row = rows[code]
        assert int(row["interval_seconds"] or 0) == seconds, code
        assert (row["has_daily_files"] == "true") == (code in contract.DAILY_FILE_INTERVALS), code
        expected = str(86400 // seconds) if code in contract.DAILY_FILE_INTERVALS else ""
        assert row["candles_per_day"] == expected, code


def test_contract_macro_matches_the_contract() -> None:
    text = (REPO_ROOT / "macros" / "binance" / "guards.sql").read_text()

    def listed(key: str) -> list[str]:
        found = re.search(rf"'{key}': \[([^\]]*)\]", text)
        assert found, key
        return re.findall(r"'([^']+)'", found[1])

    assert listed("markets") == list(contract.MARKETS)
    assert listed("intervals") == list(contract.INTERVAL_SECONDS)
    assert listed("daily_intervals") == sorted(
        contract.DAILY_FILE_INTERVALS, key=contract.INTERVAL_SECONDS.get
    )


def accepted_values(node: Any, column: str | None = None) -> Iterator[tuple[str, list[Any]]]:
    """(column, values) of every accepted_values test in a parsed yml tree."""
    if isinstance(node, dict):
        columns = node.get("columns")
        if isinstance(columns, list) and all(isinstance(c, dict) for c in columns):
            for col in columns:
                yield from accepted_values(col.get("data_tests", []), col.get("name"))
        for key, value in node.items():
            if key == "accepted_values" and column is not None:
                yield column, value["arguments"]["values"]
            elif not (key == "columns" and isinstance(columns, list)):
                yield from accepted_values(value, column)
    elif isinstance(node, list):
        for item in node:
            yield from accepted_values(item, column)


def test_every_accepted_values_list_agrees_with_the_contract() -> None:
    allowed = {
        "market": set(contract.MARKETS),
        "interval": set(contract.INTERVAL_SECONDS),
        "dataset": set(contract.DATASETS),
    }
    checked = []
    for yml in sorted((REPO_ROOT / "models").rglob("*.yml")):
        for column, values in accepted_values(yaml.safe_load(yml.read_text())):
            if column in allowed:
                assert set(values) <= allowed[column], (yml.name, column, values)
                if column == "dataset":
                    assert set(values) == allowed[column], (yml.name, values)
                checked.append((yml.name, column))
    assert ("_marts__models.yml", "dataset") in checked and ("_binance__models.yml", "market") in checked
