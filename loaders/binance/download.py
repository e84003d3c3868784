"""Download one archive to a temporary file, hashing as it streams, and verify it against .CHECKSUM."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import requests

from loaders import config
from loaders.binance.errors import ArchiveError, NotPublished
from loaders.binance.transport import Http

log = logging.getLogger("loaders.binance")
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    size: int
    verified: bool  # False when there was no .CHECKSUM to compare with


def fetch_to(http: Http, url: str, dest: Path) -> tuple[str, int]:
    """Stream `url` into `dest` (retrying transient failures from scratch); return (sha256, bytes)."""

    def attempt() -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with http.get(url, stream=True) as resp, open(dest, "wb") as f:
            expected = resp.headers.get("Content-Length")
            for chunk in resp.iter_content(config.DOWNLOAD_CHUNK_BYTES):
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        if expected is not None and int(expected) != size:
            # A cut connection: transient, so raise what the retry loop retries.
            raise requests.exceptions.ChunkedEncodingError(f"got {size} of {expected} bytes")
        return digest.hexdigest(), size

    return http.retrying(url, attempt)


def fetch_checksum(http: Http, url: str) -> str | None:
    """The sha256 that `{url}.CHECKSUM` states (`<hex>  <name>`, newline or not), or None if missing."""
    ck_url = f"{url}.CHECKSUM"

    def attempt() -> str:
        with http.get(ck_url) as resp:
            return resp.text

    try:
        text = http.retrying(ck_url, attempt)
    except NotPublished:
        return None
    token = text.strip().split()[0] if text.strip() else ""
    if not _HEX.match(token):
        raise ArchiveError(f"{ck_url} does not hold a sha256 digest")
    return token.lower()


def download(http: Http, url: str, dest: Path) -> Downloaded:
    """Download and verify. A checksum mismatch is retried once (both files fetched again: Binance
    sometimes serves a stale .CHECKSUM next to a replaced archive); a second mismatch fails the archive
    with both digests."""
    for attempt in (1, 2):
        sha, size = fetch_to(http, url, dest)
        expected = fetch_checksum(http, url)
        if expected is None:
            log.warning("%s: no .CHECKSUM published; loading it unverified", url)
            return Downloaded(dest, sha, size, verified=False)
        if expected == sha:
            return Downloaded(dest, sha, size, verified=True)
        if attempt == 1:
            log.warning("%s: sha256 mismatch (.CHECKSUM %s, got %s); downloading again", url, expected, sha)
    raise ArchiveError(f"{url}: sha256 mismatch: .CHECKSUM says {expected}, downloaded file is {sha}")
