"""Mirror the lake to the bucket: upload what is new or changed, optionally delete what the lake lost.

"Changed" is decided by size and the sha256 stored in each object's metadata (x-amz-meta-sha256),
never by the ETag: a multipart ETag is not the MD5 of the object. To keep an unchanged push at one
listing, a small state file in the lake caches the local sha256 by (size, mtime) and the remote sha256
by (key, ETag); any object whose ETag is not in the cache is asked for its metadata with one HEAD.

Every upload is atomic on the server: a single PUT, or a multipart upload that becomes visible only when
completed. An interrupted push therefore leaves the old object (or none), and the next push, seeing a
missing or different object, uploads the file again; it also aborts the orphaned multipart uploads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from loaders import config, contract
from loaders.r2.settings import R2ConfigError, R2Error, R2Settings
from loaders.r2.waiting import WaitNotice
from loaders.summary import RunSummary

CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet", ".json": "application/json"}
HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    relpath: str  # POSIX, relative to the lake root
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class RemoteObject:
    key: str
    size: int
    etag: str
    last_modified: datetime | None = None


@dataclass
class Plan:
    upload: list[tuple[LocalFile, str]] = field(default_factory=list)  # (file, reason: new|changed)
    skip: list[LocalFile] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    remote_only: list[str] = field(default_factory=list)  # kept because --delete was not given


@dataclass
class PushSummary(RunSummary):
    """What a push did (the shape loaders/summary.py gives every loader command)."""

    uploaded: int = 0
    uploaded_bytes: int = 0
    skipped: int = 0
    deleted: int = 0
    remote_only: int = 0
    vanished: int = 0  # lake files removed (e.g. by a concurrent load) before their upload
    aborted_multipart: int = 0

    @property
    def failed(self) -> list[str]:
        """The failures (this summary's older name for them)."""
        return self.failures

    def line(self) -> str:
        verb = "would upload" if self.dry_run else "uploaded"
        parts = [
            f"{verb} {self.uploaded} ({_human(self.uploaded_bytes)})",
            f"skipped {self.skipped} unchanged",
            f"{'would delete' if self.dry_run else 'deleted'} {self.deleted}",
        ]
        if self.remote_only:
            parts.append(f"{self.remote_only} only in the bucket (kept; --delete removes them)")
        if self.vanished:
            parts.append(f"{self.vanished} vanished from the lake during the push")
        if self.aborted_multipart:
            verb = "would abort" if self.dry_run else "aborted"
            parts.append(f"{verb} {self.aborted_multipart} unfinished multipart upload(s)")
        if self.failures:
            parts.append(f"FAILED {len(self.failures)}")
        return f"{'dry run: ' if self.dry_run else ''}{', '.join(parts)} in {self.seconds:.2f} s"


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


# --- the lake ----------------------------------------------------------------------------------


def is_hidden(name: str) -> bool:
    """Hidden names are never mirrored: the loader's `.{name}.tmp-{pid}` files and our state file."""
    return name.startswith(".")


def is_manifest(relpath: str) -> bool:
    """Manifests are uploaded last, so a reader of the bucket never sees one listing a missing file."""
    return relpath.startswith(contract.manifest_dir(Path()).as_posix() + "/")


def scan_lake(lake: Path) -> dict[str, LocalFile]:
    """Every regular, non-hidden file under the lake, by POSIX relative path."""
    found: dict[str, LocalFile] = {}

    def walk(folder: Path, rel: str) -> None:
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_hidden(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), f"{rel}{entry.name}/")
                elif entry.is_file(follow_symlinks=False):
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:  # replaced by a concurrent load between listing and stat
                        continue
                    found[rel + entry.name] = LocalFile(
                        rel + entry.name, Path(entry.path), st.st_size, st.st_mtime_ns
                    )

    walk(lake, "")
    return found


def sha256_of(fh) -> str:
    digest = hashlib.sha256()
    while block := fh.read(HASH_BLOCK):
        digest.update(block)
    return digest.hexdigest()


# --- cached checksums --------------------------------------------------------------------------


class State:
    """The lake's push cache: local sha256 by (size, mtime_ns), remote sha256 by (key, ETag) per
    destination. Only ever a shortcut: a wrong or missing entry costs a hash or a HEAD, never a wrong skip
    (an ETag changes whenever the object does)."""

    VERSION = 1

    def __init__(self, path: Path, destination: str) -> None:
        self.path = path
        self.destination = destination
        self.lock = threading.Lock()
        self.local: dict[str, list] = {}
        self.remote_all: dict[str, dict[str, list]] = {}
        try:
            data = json.loads(path.read_text())
            if data.get("version") == self.VERSION:
                self.local = data.get("local", {})
                self.remote_all = data.get("remote", {})
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or unreadable: start empty
        self.remote: dict[str, list] = self.remote_all.setdefault(destination, {})

    def local_sha(self, f: LocalFile) -> str | None:
        hit = self.local.get(f.relpath)
        return hit[2] if hit and hit[0] == f.size and hit[1] == f.mtime_ns else None

    def remember_local(self, relpath: str, size: int, mtime_ns: int, sha: str) -> None:
        with self.lock:
            self.local[relpath] = [size, mtime_ns, sha]

    def remote_sha(self, obj: RemoteObject) -> str | None:
        hit = self.remote.get(obj.key)
        return hit[1] if hit and hit[0] == obj.etag else None

    def remember_remote(self, key: str, etag: str, sha: str | None) -> None:
        with self.lock:
            if sha:
                self.remote[key] = [etag, sha]
            else:
                self.remote.pop(key, None)

    def save(self, local_keep: set[str], remote_keep: set[str]) -> None:
        """Write atomically, dropping entries for files and objects that no longer exist."""
        with self.lock:
            self.local = {k: v for k, v in self.local.items() if k in local_keep}
            self.remote_all[self.destination] = {k: v for k, v in self.remote.items() if k in remote_keep}
            payload = json.dumps({"version": self.VERSION, "local": self.local, "remote": self.remote_all})
        tmp = contract.temp_path(self.path)
        try:
            tmp.write_text(payload)
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a read-only lake only loses the cache


# --- the bucket --------------------------------------------------------------------------------


def list_remote(client, settings: R2Settings, subpath: str = "") -> Iterator[RemoteObject]:
    """Every object under the prefix (one ListObjectsV2 page per 1000 keys)."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=settings.bucket, Prefix=settings.prefix + subpath):
            for obj in page.get("Contents", []):
                yield RemoteObject(obj["Key"], obj["Size"], obj["ETag"], obj.get("LastModified"))
    except Exception as exc:
        raise settings.explain(exc, "listing the bucket") from None


def head_sha(client, settings: R2Settings, key: str) -> tuple[str | None, str | None, int]:
    """(ETag, stored sha256 or None, size) of one object; (None, None, -1) if it no longer exists."""
    from botocore.exceptions import ClientError

    try:
        head = client.head_object(Bucket=settings.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None, None, -1  # deleted since the listing: the file counts as changed
        raise settings.explain(exc, f"reading the metadata of {key}") from None
    except Exception as exc:
        raise settings.explain(exc, f"reading the metadata of {key}") from None
    sha = head.get("Metadata", {}).get(config.R2_SHA256_METADATA)
    return head["ETag"], sha, head["ContentLength"]


def abort_stale_multipart(client, settings: R2Settings, before: datetime, dry_run: bool) -> int:
    """Abort multipart uploads under the prefix started before this push (an interrupted push leaves
    them behind; they are invisible but billed). Stores without ListMultipartUploads are left alone."""
    from botocore.exceptions import ClientError

    count = 0
    try:
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=settings.bucket, Prefix=settings.prefix):
            for up in page.get("Uploads", []):
                if up["Initiated"] >= before:
                    continue
                count += 1
                if not dry_run:
                    client.abort_multipart_upload(
                        Bucket=settings.bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NotImplemented", "NoSuchUpload"):
            return count
        raise settings.explain(exc, "cleaning up unfinished multipart uploads") from None
    return count


# --- push --------------------------------------------------------------------------------------


def plan_push(
    client,
    settings: R2Settings,
    local: dict[str, LocalFile],
    remote: dict[str, RemoteObject],
    state: State,
    delete: bool,
    workers: int,
) -> Plan:
    """Decide per file: new (no object), changed (other size, or same size and other sha256) or skip.
    Same-size files need both checksums: from the cache, else by hashing the file / one HEAD, in parallel."""
    plan = Plan()
    verify: list[tuple[LocalFile, RemoteObject]] = []
    for rel in sorted(local):
        f = local[rel]
        obj = remote.get(settings.key_for(rel))
        if obj is None:
            plan.upload.append((f, "new"))
        elif obj.size != f.size:
            plan.upload.append((f, "changed"))
        else:
            verify.append((f, obj))

    def compare(f: LocalFile, obj: RemoteObject) -> tuple[LocalFile, bool | None]:
        local_sha = state.local_sha(f)
        if local_sha is None:
            try:
                with open(f.path, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    local_sha = sha256_of(fh)
            except FileNotFoundError:
                return f, None
            state.remember_local(f.relpath, st.st_size, st.st_mtime_ns, local_sha)
        remote_sha = state.remote_sha(obj)
        if remote_sha is None:
            etag, remote_sha, _ = head_sha(client, settings, obj.key)
            if etag is not None:
                state.remember_remote(obj.key, etag, remote_sha)
        return f, remote_sha is not None and local_sha == remote_sha

    # Cache hits are answered inline; only misses go to the pool (hashing and HEADs overlap there).
    misses = []
    for f, obj in verify:
        local_sha, remote_sha = state.local_sha(f), state.remote_sha(obj)
        if local_sha is None or remote_sha is None:
            misses.append((f, obj))
        elif local_sha == remote_sha:
            plan.skip.append(f)
        else:
            plan.upload.append((f, "changed"))
    if misses:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for fut in as_completed([pool.submit(compare, f, o) for f, o in misses]):
                f, same = fut.result()
                if same is None:
                    continue  # vanished since the scan (a concurrent load): the next push settles it
                if same:
                    plan.skip.append(f)
                else:
                    plan.upload.append((f, "changed"))
    plan.upload.sort(key=lambda item: item[0].relpath)

    local_keys = {settings.key_for(rel) for rel in local}
    orphans = sorted(k for k in remote if k not in local_keys)
    if delete:
        plan.delete = orphans
    else:
        plan.remote_only = orphans
    return plan


def upload_one(
    client,
    settings: R2Settings,
    f: LocalFile,
    state: State,
    progress: Callable[[int], None],
    transfer_config,
) -> int | None:
    """Upload one file with its sha256 in the metadata; returns bytes sent, None if the file vanished.

    The file is hashed and sent from one open descriptor: if the loader replaces it meanwhile (always by
    rename), we still send the old inode's bytes, so the stored checksum always matches the content."""
    try:
        with open(f.path, "rb") as fh:
            return _upload_open(client, settings, f, fh, state, progress, transfer_config)
    except FileNotFoundError:
        return None


def _upload_open(
    client, settings: R2Settings, f: LocalFile, fh, state: State, progress, transfer_config
) -> int:
    key = settings.key_for(f.relpath)
    st = os.fstat(fh.fileno())
    cached = state.local.get(f.relpath)
    if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
        sha = cached[2]
    else:
        sha = sha256_of(fh)
        fh.seek(0)
        state.remember_local(f.relpath, st.st_size, st.st_mtime_ns, sha)
    extra = {
        "Metadata": {config.R2_SHA256_METADATA: sha},
        "ContentType": CONTENT_TYPES.get(f.path.suffix, "application/octet-stream"),
    }
    try:
        if st.st_size < config.R2_MULTIPART_THRESHOLD:
            body = fh.read()
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            etag = client.put_object(Bucket=settings.bucket, Key=key, Body=body, ContentMD5=md5, **extra)[
                "ETag"
            ]
            progress(len(body))
        else:
            client.upload_fileobj(
                fh, settings.bucket, key, ExtraArgs=extra, Config=transfer_config, Callback=progress
            )
            # upload_fileobj returns nothing: read back the ETag (for the cache) and check what landed.
            etag, stored, size = head_sha(client, settings, key)
            if stored != sha or size != st.st_size:
                raise R2Error(
                    f"uploading {key}: the bucket holds {size} bytes / sha256 {stored}, expected {st.st_size} / {sha}"
                )
    except R2Error:
        raise
    except Exception as exc:
        raise settings.explain(exc, f"uploading {key}") from None
    state.remember_remote(key, etag, sha)
    return st.st_size


def delete_keys(client, settings: R2Settings, keys: list[str]) -> int:
    deleted = 0
    for start in range(0, len(keys), config.R2_DELETE_BATCH):
        batch = keys[start : start + config.R2_DELETE_BATCH]
        try:
            resp = client.delete_objects(
                Bucket=settings.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        except Exception as exc:
            raise settings.explain(exc, "deleting objects") from None
        errors = resp.get("Errors", [])
        if errors:
            first = errors[0]
            raise R2Error(
                f"deleting {first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip()
            )
        deleted += len(batch)
    return deleted


def push(
    lake: Path,
    settings: R2Settings,
    *,
    dry_run: bool = False,
    delete: bool = False,
    workers: int = config.R2_DEFAULT_WORKERS,
    progress: bool | None = None,
    report: Callable[[str], None] = print,
    notice: Callable[[str], None] | None = None,
) -> PushSummary:
    """Mirror `lake` to the bucket. Raises R2Error (one line, no secret) on a setup or request failure;
    per-file upload failures are collected in the summary (`failures`) after every other file was tried.
    `notice` gets one line if a request goes unanswered for a few seconds (loaders/r2/waiting.py)."""
    started = time.perf_counter()
    if not lake.is_dir():  # bad input (exit 2), like a missing variable
        raise R2ConfigError(
            f"lake {lake} does not exist (set LAKE_DIR or --lake; run python -m loaders.binance first)"
        )
    local = scan_lake(lake)
    if delete and not local:
        raise R2ConfigError(
            f"lake {lake} holds no files: refusing --delete, which would empty s3://{settings.bucket}/{settings.prefix}"
        )
    workers = max(1, workers)
    client = settings.client(max_pool_connections=workers * config.R2_PART_CONCURRENCY + 2)
    with WaitNotice(settings, notice or (lambda line: None)) as waiting:
        waiting.watch(client)
        return _mirror(lake, settings, client, local, dry_run, delete, workers, progress, report, started)


def _mirror(
    lake: Path,
    settings: R2Settings,
    client,
    local: dict[str, LocalFile],
    dry_run: bool,
    delete: bool,
    workers: int,
    progress: bool | None,
    report: Callable[[str], None],
    started: float,
) -> PushSummary:
    """The push once its lake is checked and its client made."""
    from boto3.s3.transfer import TransferConfig
    from tqdm import tqdm

    started_at = datetime.now(timezone.utc)
    state = State(lake / config.R2_STATE_FILE, f"{settings.endpoint_url}|{settings.bucket}")
    remote = {o.key: o for o in list_remote(client, settings)}
    plan = plan_push(client, settings, local, remote, state, delete, workers)
    summary = PushSummary(dry_run=dry_run, skipped=len(plan.skip), remote_only=len(plan.remote_only))
    summary.aborted_multipart = abort_stale_multipart(client, settings, started_at, dry_run)

    if dry_run:
        for f, reason in plan.upload:
            report(f"would upload {settings.key_for(f.relpath)} ({reason}, {_human(f.size)})")
        for key in plan.delete:
            report(f"would delete {key}")
        summary.uploaded = len(plan.upload)
        summary.uploaded_bytes = sum(f.size for f, _ in plan.upload)
        summary.deleted = len(plan.delete)
        summary.seconds = time.perf_counter() - started
        return summary

    transfer_config = TransferConfig(
        multipart_threshold=config.R2_MULTIPART_THRESHOLD,
        multipart_chunksize=config.R2_MULTIPART_CHUNKSIZE,
        max_concurrency=config.R2_PART_CONCURRENCY,
    )
    total = sum(f.size for f, _ in plan.upload)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="push",
        disable=None if progress is None else not progress,
    )
    bar_lock = threading.Lock()

    def advance(n: int) -> None:
        with bar_lock:
            bar.update(n)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        # The manifest goes last, once every data file it may list is in the bucket: a reader of the
        # bucket (dbt --target r2) never sees a manifest newer than the data.
        waves = [
            [f for f, _ in plan.upload if not is_manifest(f.relpath)],
            [f for f, _ in plan.upload if is_manifest(f.relpath)],
        ]
        for wave in waves:
            futures = [
                pool.submit(upload_one, client, settings, f, state, advance, transfer_config) for f in wave
            ]
            for fut in as_completed(futures):
                try:
                    sent = fut.result()
                except R2Error as exc:
                    summary.failures.append(str(exc))
                    continue
                if sent is None:
                    summary.vanished += 1
                else:
                    summary.uploaded += 1
                    summary.uploaded_bytes += sent
        # A failed upload keeps the orphans: they may be the daily files of a month whose monthly file
        # did not make it, and deleting them would leave the bucket without that month.
        if plan.delete and not summary.failures:
            summary.deleted = delete_keys(client, settings, plan.delete)
        elif plan.delete:
            report(f"not deleting {len(plan.delete)} object(s) because uploads failed")
    except BaseException:
        # Ctrl-C or a fatal error: start no further uploads (those in flight stay invisible until complete).
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=False)
        bar.close()
        remote_keys = set(remote) | {settings.key_for(f.relpath) for f, _ in plan.upload}
        state.save(set(local), remote_keys - set(plan.delete[: summary.deleted]))
        summary.seconds = time.perf_counter() - started
    return summary


def format_listing(objects: list[RemoteObject]) -> Iterator[str]:
    for o in objects:
        stamp = (
            o.last_modified.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if o.last_modified else "-"
        )
        yield f"{o.size:>12}  {stamp}  {o.key}"
    yield f"{len(objects)} objects, {_human(sum(o.size for o in objects))}"
