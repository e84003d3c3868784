"""Download one archive to a temporary file, hashing as it streams, and verify it against .CHECKSUM."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3.exceptions

from loaders import config
from loaders.binance.errors import ArchiveError, Cancelled, NotPublished
from loaders.binance.transport import Http, Stalled

log = logging.getLogger("loaders.binance")
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Downloaded:
    sha256: str
    size: int
    verified: bool  # False when there was no .CHECKSUM to compare with


def _read_body(http: Http, resp: requests.Response, dest: Path) -> tuple[str, int]:
    """The body into `dest`: one socket read at a time (read1), so a trickling body is noticed as a
    stall and Ctrl-C is noticed between reads."""
    digest, size = hashlib.sha256(), 0
    window_start, window_bytes = time.monotonic(), 0
    with open(dest, "wb") as f:
        while True:
            if http.cancel.is_set():
                raise Cancelled
            try:
                chunk = resp.raw.read1(config.DOWNLOAD_CHUNK_BYTES, decode_content=False)
            except urllib3.exceptions.ReadTimeoutError as exc:  # what iter_content would raise
                raise requests.exceptions.ConnectionError(exc) from exc
            except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError, OSError) as exc:
                if http.cancel.is_set():
                    raise Cancelled from exc
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            if not chunk:
                if http.cancel.is_set():  # a shut-down socket reads as the end of the body
                    raise Cancelled
                return digest.hexdigest(), size
            f.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            window_bytes += len(chunk)
            now = time.monotonic()
            if now - window_start >= http.stall_seconds:
                if window_bytes < config.STALL_MIN_BYTES:
                    raise Stalled(
                        f"stalled: {window_bytes} bytes in the last {http.stall_seconds:g} s "
                        f"({size} bytes so far)"
                    )
                window_start, window_bytes = now, 0


def fetch_to(http: Http, url: str, dest: Path) -> tuple[str, int]:
    """Stream `url` into `dest` (retrying transient failures from scratch); return (sha256, bytes)."""

    def attempt() -> tuple[str, int]:
        with http.get(url, stream=True) as resp:
            untrack = http.track(resp)
            try:
                sha, size = _read_body(http, resp, dest)
            finally:
                untrack()
            expected = resp.headers.get("Content-Length")
        if expected is not None and int(expected) != size:
            # A cut connection: transient, so raise what the retry loop retries.
            raise requests.exceptions.ChunkedEncodingError(f"got {size} of {expected} bytes")
        return sha, size

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
            return Downloaded(sha, size, verified=False)
        if expected == sha:
            return Downloaded(sha, size, verified=True)
        if attempt == 1:
            log.warning("%s: sha256 mismatch (.CHECKSUM %s, got %s); downloading again", url, expected, sha)
    raise ArchiveError(f"{url}: sha256 mismatch: .CHECKSUM says {expected}, downloaded file is {sha}")


def is_published(http: Http, url: str) -> bool:
    """Whether the base URL serves `url`: one HEAD, no retries; only a 404 says no (an outage or a
    timeout is for the download's own retries to judge). A host that refuses HEAD (403, 405) while
    its GET says 404 is asked again with a GET, whose body is not read."""
    for head in (True, False):
        try:
            http.get(url, head=head, stream=True, timeout=(5, 15)).close()
        except NotPublished:
            return False
        except ArchiveError:  # a status other than 404: HEAD may be refused, ask with a GET
            continue
        except requests.RequestException:
            return True
        return True
    return True
