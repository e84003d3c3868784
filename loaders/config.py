"""Settings and tuning constants shared by every loader: environment variables and their defaults, HTTP
and R2 behaviour. The lake layout, datasets and intervals live in loaders/contract.py.

Configuration comes from environment variables with working local defaults (docs/architecture.md,
"Environment variables"); a CLI flag, where there is one, wins over the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- environment -------------------------------------------------------------------------------

DEFAULT_BASE_URL = "https://data.binance.vision"
DEFAULT_LISTING_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
DEFAULT_LAKE_DIR = "./lake"
DEFAULT_DUCKDB_PATH = "./warehouse.duckdb"


def env(name: str, default: str | None = None) -> str | None:
    """An environment variable, with empty strings treated as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def base_url() -> str:
    return env("BINANCE_BASE_URL", DEFAULT_BASE_URL).rstrip("/")


def listing_url() -> str:
    return env("BINANCE_LISTING_URL", DEFAULT_LISTING_URL).rstrip("/")


def lake_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The lake root, absolute, so paths stored or printed do not depend on the working directory."""
    return Path(override or env("LAKE_DIR", DEFAULT_LAKE_DIR)).expanduser().resolve()


# DuckDB reads a path holding one of these as a pattern (`lake?` also reads `lakeB`): a lake path with
# one is refused by every reader that globs it (dbt's plugin and guard, `status`).
GLOB_CHARACTERS = "*?[]{}"


def glob_characters_in(path: str | os.PathLike[str]) -> str | None:
    """A one-line reason when `path` holds glob characters, else None."""
    found = sorted({c for c in str(path) if c in GLOB_CHARACTERS})
    if not found:
        return None
    return (
        f"LAKE_DIR {path} contains the glob character(s) {' '.join(found)}, which would read other "
        "folders too: use a path without them"
    )


# --- the Binance loader ---------------------------------------------------------------------------

# HTTP: (connect, read) timeouts in seconds, and retries with exponential backoff on connection errors,
# timeouts, 5xx and 403 (Binance's CDN answers 403 during outages; 404 alone means "not published").
HTTP_TIMEOUT = (10.0, 60.0)
# A download that receives fewer than STALL_MIN_BYTES in any STALL_SECONDS (default; `--stall-timeout`)
# is stalled: aborted and retried like a cut connection. No byte at all for that long is a read timeout.
STALL_SECONDS = 60.0
STALL_MIN_BYTES = 64 << 10
HTTP_RETRIES = 5
HTTP_BACKOFF_SECONDS = 0.5
HTTP_BACKOFF_MAX_SECONDS = 8.0
DOWNLOAD_CHUNK_BYTES = 1 << 20
# A daily archive this many days old or newer that the listing lists but the base URL does not serve
# yet is Binance's known publishing lag (a warning); older, it is a failure.
NEWEST_DAY_LAG_DAYS = 2
# Ctrl-C: how long workers get to finish their atomic write or clean up before the run reports.
CANCEL_GRACE_SECONDS = 2.0
# CSV is parsed in blocks of this many bytes and written in row groups of this many rows (DuckDB's own
# row-group size), so memory stays flat however large the archive (a 1s month is ~2.6M rows). Larger
# blocks or groups cost memory (4 MiB / 256k rows: ~490 MB peak on a 1s month) for no speed gain.
CSV_BLOCK_BYTES = 1 << 20
# Members up to this size are inflated as pyarrow reads them; larger ones in a read-ahead thread that
# overlaps inflating with parsing (a thread per small daily archive cost more than it saved).
INFLATE_AHEAD_MIN_BYTES = 4 << 20
PARQUET_ROW_GROUP_ROWS = 122_880
PARQUET_COMPRESSION = "zstd"
# The manifest is rewritten at most this often during a run (and always at the end), so a killed run
# keeps most of what it recorded.
MANIFEST_FLUSH_SECONDS = 5.0
DEFAULT_WORKERS = 4

# --- the R2 mirror --------------------------------------------------------------------------------

R2_ENDPOINT_TEMPLATE = "https://{account_id}.r2.cloudflarestorage.com"
R2_REGION = "auto"
# Object metadata key (x-amz-meta-sha256) holding the hex sha256 of the file: the checksum that decides
# "unchanged", since a multipart ETag is not the MD5 of the object.
R2_SHA256_METADATA = "sha256"
# Files above the threshold go multipart in parts of this size (R2: parts >= 5 MiB, all but the last
# of equal size); below it a single PUT with Content-MD5.
R2_MULTIPART_THRESHOLD = 32 << 20
R2_MULTIPART_CHUNKSIZE = 16 << 20
R2_PART_CONCURRENCY = 4
R2_DEFAULT_WORKERS = 8
# Per-lake cache of sha256 (by size + mtime) and of the remote sha256 (by key + ETag), so an unchanged
# push costs one listing, not a read of every file and a HEAD of every object. Hidden: never pushed.
R2_STATE_FILE = ".r2-push-state.json"
# An endpoint that accepts connections and never answers fails after R2_MAX_ATTEMPTS x R2_READ_TIMEOUT,
# about 90 s (it was 242 s: 4 attempts of 60 s, botocore's `max_attempts` counting retries only);
# R2_TIMEOUT or --timeout set the read timeout. A request unanswered for R2_WAIT_NOTICE_SECONDS gets
# one line naming the endpoint, so a hung push is never silent.
R2_CONNECT_TIMEOUT = 5
R2_READ_TIMEOUT = 30
R2_MAX_TIMEOUT = 3600
R2_MAX_ATTEMPTS = 3  # the first try and 2 retries
R2_WAIT_NOTICE_SECONDS = 5
R2_DELETE_BATCH = 1000
