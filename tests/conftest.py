"""Shared pytest set-up: each real part (Binance server, S3 server, Postgres, dbt runs) lives in its own
module under tests/fixtures/ and is registered here.

Tests that need a heavy real part carry its marker (registered in pyproject.toml), so a local run can
leave them out (`pytest -m "not spark and not browser"`); CI runs everything. `spark` is set by
tests/test_spark.py; `postgres` and `browser` are added here to every test that uses the Postgres server
or a Chromium page fixture, directly or through another fixture."""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fixtures.binance_fixtures",
    "tests.fixtures.s3",
    "tests.fixtures.postgres",
    "tests.fixtures.warehouse",
]

# Fixture -> the marker of the real part it starts.
FIXTURE_MARKERS = {"postgres_server": "postgres", "page": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
