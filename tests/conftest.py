"""Shared pytest set-up: each real part (Binance server, S3 server, Postgres, dbt runs) lives in its own
module under tests/fixtures/ and is registered here."""

pytest_plugins = [
    "tests.fixtures.binance_fixtures",
    "tests.fixtures.s3",
    "tests.fixtures.postgres",
    "tests.fixtures.warehouse",
]
