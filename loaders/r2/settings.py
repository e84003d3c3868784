"""Where the R2 mirror lives and how to talk to it: settings from the environment, the boto3 client, the
DuckDB secret, and error messages that never carry the secret.

One module for all three consumers (the push CLI, the dbt plugin that gives DuckDB its secret, and the
tests) so they cannot disagree on the endpoint, the addressing style or the object keys.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from loaders import config

ENV_BUCKET = "R2_BUCKET"
ENV_PREFIX = "R2_PREFIX"
ENV_ACCOUNT_ID = "R2_ACCOUNT_ID"
ENV_ACCESS_KEY_ID = "R2_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "R2_SECRET_ACCESS_KEY"
ENV_ENDPOINT_URL = "R2_ENDPOINT_URL"
ENV_TIMEOUT = "R2_TIMEOUT"

# Cloudflare account ids are 32 hex characters; accept any DNS label so a typo fails at the request with
# a clear message rather than here, but never anything that could change the URL's host.
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9-]{1,63}$")


class R2Error(Exception):
    """A failure explained in one line for the user (the message is already free of secrets)."""


class R2ConfigError(R2Error):
    """The environment does not say where or how to reach the bucket."""


def normalize_prefix(prefix: str | None) -> str:
    """`R2_PREFIX` as a key prefix: no leading slash and, unless empty, exactly one trailing slash, so
    `lake` and `lake/` both give keys `lake/binance/...`."""
    prefix = (prefix or "").strip().strip("/")
    return f"{prefix}/" if prefix else ""


def parse_timeout(value: str | float, what: str) -> float:
    """A positive number of seconds, or R2ConfigError naming `what` (the variable or the flag)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= config.R2_MAX_TIMEOUT:  # also false for nan
        raise R2ConfigError(f"{what} must be seconds between 0 and {config.R2_MAX_TIMEOUT}, not {value!r}")
    return seconds


@dataclass(frozen=True)
class R2Settings:
    bucket: str
    prefix: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    endpoint_url: str
    # None when R2_ENDPOINT_URL overrides the endpoint (any S3-compatible store, path-style).
    account_id: str | None = None
    # Seconds one request may wait for an answer (R2_TIMEOUT, or --timeout) before it is retried.
    timeout: float = config.R2_READ_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> R2Settings:
        """Read the R2_* variables; a missing one raises R2ConfigError naming every missing variable."""
        environ = os.environ if environ is None else environ

        def get(name: str) -> str:
            return environ.get(name, "").strip()

        missing = [n for n in (ENV_BUCKET, ENV_ACCESS_KEY_ID, ENV_SECRET_ACCESS_KEY) if not get(n)]
        endpoint, account = get(ENV_ENDPOINT_URL), get(ENV_ACCOUNT_ID)
        if not endpoint and not account:
            missing.append(f"{ENV_ACCOUNT_ID} (or {ENV_ENDPOINT_URL} for another S3-compatible store)")
        if missing:
            raise R2ConfigError(f"R2 is not configured: set {', '.join(missing)}")
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise R2ConfigError(
                    f"{ENV_ENDPOINT_URL} must be an http(s) URL such as http://127.0.0.1:9000"
                )
            endpoint_url, account_id = endpoint.rstrip("/"), None
        else:
            if not _ACCOUNT_ID.match(account):
                raise R2ConfigError(
                    f"{ENV_ACCOUNT_ID} must be your Cloudflare account id (letters and digits)"
                )
            endpoint_url, account_id = config.R2_ENDPOINT_TEMPLATE.format(account_id=account), account
        timeout = parse_timeout(get(ENV_TIMEOUT) or config.R2_READ_TIMEOUT, ENV_TIMEOUT)
        return cls(
            bucket=get(ENV_BUCKET),
            prefix=normalize_prefix(get(ENV_PREFIX)),
            access_key_id=get(ENV_ACCESS_KEY_ID),
            secret_access_key=get(ENV_SECRET_ACCESS_KEY),
            endpoint_url=endpoint_url,
            account_id=account_id,
            timeout=timeout,
        )

    @property
    def destination(self) -> str:
        """Bucket, prefix and endpoint for messages (no credentials)."""
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url}"

    def scrub(self, text: str) -> str:
        """`text` with the secret key replaced, for anything printed that came from botocore or DuckDB."""
        return text.replace(self.secret_access_key, "***") if self.secret_access_key else text

    def key_for(self, relpath: str) -> str:
        """Object key of a lake file: R2_PREFIX + its POSIX path relative to the lake root (docs/r2.md)."""
        return self.prefix + relpath

    def lake_url(self) -> str:
        """The lake root as DuckDB reads it: r2://bucket/prefix for R2, s3://... for an endpoint override.
        No trailing slash, like a local LAKE_DIR."""
        scheme = "r2" if self.account_id else "s3"
        return f"{scheme}://{self.bucket}/{self.prefix}".rstrip("/")

    def duckdb_secret_sql(self, name: str = "r2_lake") -> str:
        """CREATE SECRET for httpfs: type r2 (account id) for Cloudflare, type s3 with the endpoint's host,
        path-style URLs and SSL per scheme for any other S3-compatible endpoint."""

        def lit(value: str) -> str:
            return "'" + value.replace("'", "''") + "'"

        opts = [f"key_id {lit(self.access_key_id)}", f"secret {lit(self.secret_access_key)}"]
        if self.account_id:
            opts = ["type r2", *opts, f"account_id {lit(self.account_id)}"]
        else:
            parts = urlsplit(self.endpoint_url)
            opts = [
                "type s3",
                *opts,
                f"endpoint {lit(parts.netloc)}",
                "url_style 'path'",
                f"use_ssl {'true' if parts.scheme == 'https' else 'false'}",
                f"region {lit(config.R2_REGION)}",
                f"scope {lit(self.lake_url())}",
            ]
        return f"create or replace temporary secret {name} ({', '.join(opts)})"

    @property
    def patience(self) -> str:
        """How long a request is waited for, for messages: `3 attempts of 30 s`."""
        return f"{config.R2_MAX_ATTEMPTS} attempts of {self.timeout:g} s"

    def client(self, max_pool_connections: int = 10):
        """A boto3 S3 client for the bucket. Region `auto` and checksums only "when required" are what R2
        accepts (newer boto3 adds CRC32 trailers R2 rejected); path-style works on R2 and every other
        S3-compatible store. Few retries and short timeouts so an endpoint that never answers fails in
        about a minute and a half (3 attempts of 30 s) rather than minutes."""
        import boto3
        from botocore.config import Config

        cfg = Config(
            region_name=config.R2_REGION,
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": config.R2_MAX_ATTEMPTS, "mode": "standard"},  # first try included
            connect_timeout=min(config.R2_CONNECT_TIMEOUT, self.timeout),
            read_timeout=self.timeout,
            max_pool_connections=max_pool_connections,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # An explicit session so AWS_* variables or ~/.aws of the user never mix into R2's credentials.
        session = boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=config.R2_REGION,
        )
        return session.client("s3", endpoint_url=self.endpoint_url, config=cfg)

    def explain(self, exc: BaseException, action: str) -> R2Error:
        """Turn a botocore exception into one line naming the bucket/endpoint and the likely fix."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        where = f"bucket {self.bucket!r} at {self.endpoint_url}"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = err.get("Code") or "?"
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",):
                msg = f"{action}: bucket {self.bucket!r} does not exist at {self.endpoint_url} (check {ENV_BUCKET})"
            elif status in (401, 403) or code in (
                "AccessDenied",
                "SignatureDoesNotMatch",
                "InvalidAccessKeyId",
                "InvalidClientTokenId",
            ):
                msg = (
                    f"{action}: {where} refused the request ({status} {code}); check {ENV_ACCESS_KEY_ID}/"
                    f"{ENV_SECRET_ACCESS_KEY} and the token's access to the bucket"
                )
            else:
                msg = f"{action}: {where} answered {status} {code}: {err.get('Message', '')}".rstrip(": ")
        elif isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            msg = f"{action}: cannot reach {self.endpoint_url} (check {ENV_ENDPOINT_URL}/{ENV_ACCOUNT_ID} and the network)"
        elif isinstance(exc, ReadTimeoutError):
            msg = (
                f"{action}: {self.endpoint_url} accepted the connection but never answered "
                f"({self.patience}; check {ENV_ENDPOINT_URL}/{ENV_ACCOUNT_ID}, or wait longer with "
                f"{ENV_TIMEOUT} / --timeout)"
            )
        elif isinstance(exc, NoCredentialsError):
            msg = f"{action}: no credentials (set {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY})"
        else:
            msg = f"{action}: {type(exc).__name__}: {exc}"
        return R2Error(self.scrub(msg))
