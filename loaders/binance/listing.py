"""The bucket listing: S3 ListObjects (v1) XML, paginated by `marker`, turned into listed objects."""

from __future__ import annotations

import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from loaders.binance.errors import ArchiveError, LoadError
from loaders.binance.transport import Http

# A listing never legitimately needs more pages than this (1000 keys each); stop a runaway server.
MAX_PAGES = 10_000


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    etag: str  # without quotes
    last_modified: str  # as the listing prints it (ISO 8601, UTC)


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_page(xml: bytes, url: str) -> tuple[list[ListedObject], list[str], bool, str | None]:
    """(objects, common prefixes, is_truncated, next_marker) of one page."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LoadError(f"listing {url} returned something that is not S3 XML: {exc}") from exc
    if _strip_ns(root.tag) != "ListBucketResult":
        raise LoadError(f"listing {url} returned <{_strip_ns(root.tag)}>, not a ListBucketResult")
    objects: list[ListedObject] = []
    prefixes: list[str] = []
    truncated, next_marker = False, None
    for child in root:
        tag = _strip_ns(child.tag)
        if tag == "Contents":
            fields = {_strip_ns(c.tag): (c.text or "") for c in child}
            objects.append(
                ListedObject(
                    key=fields.get("Key", ""),
                    size=int(fields.get("Size", "0") or 0),
                    etag=fields.get("ETag", "").strip('"'),
                    last_modified=fields.get("LastModified", ""),
                )
            )
        elif tag == "CommonPrefixes":
            prefixes.extend(c.text or "" for c in child if _strip_ns(c.tag) == "Prefix")
        elif tag == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
        elif tag == "NextMarker":
            next_marker = child.text or None
    return objects, prefixes, truncated, next_marker


def list_prefix(http: Http, listing_url: str, prefix: str) -> tuple[list[ListedObject], list[str]]:
    """Every object and common prefix ("folder") directly under `prefix` (delimiter '/'), following
    pages by marker."""
    objects: list[ListedObject] = []
    folders: list[str] = []
    marker = ""
    for _ in range(MAX_PAGES):
        query = {"prefix": prefix, "delimiter": "/"}
        if marker:
            query["marker"] = marker
        url = f"{listing_url}?{urllib.parse.urlencode(query)}"

        def fetch(url: str = url) -> bytes:
            with http.get(url) as resp:
                return resp.content

        try:
            body = http.retrying(f"listing {prefix}", fetch)
        except ArchiveError as exc:
            raise LoadError(f"bucket listing failed: {exc}") from exc
        page, prefixes, truncated, next_marker = _parse_page(body, url)
        objects.extend(page)
        folders.extend(prefixes)
        if not truncated:
            return objects, folders
        # v1 returns NextMarker only with a delimiter; otherwise the last key is the marker.
        new_marker = next_marker or max([o.key for o in page] + prefixes, default="")
        if not new_marker or new_marker <= marker:
            raise LoadError(f"listing {listing_url} for {prefix} is truncated but does not advance")
        marker = new_marker
    raise LoadError(f"listing {listing_url} for {prefix} exceeded {MAX_PAGES} pages")
