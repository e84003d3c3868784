"""`python -m loaders.r2 push|ls` against an S3-compatible server on loopback (moto, signatures checked),
on lakes written by the real loader."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import loaders.r2.mirror as mirror
from loaders import config, contract
from loaders.binance import LoadSummary
from loaders.r2 import R2Settings, push
from loaders.summary import RunSummary
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.loader_cli import start
from tests.fixtures.paths import REPO_ROOT
from tests.fixtures.s3 import S3Server
from tests.fixtures.warehouse import LoadedLake

PREFIX = "mirror/v1"  # normalised to "mirror/v1/"


def lake_files(lake: Path) -> dict[str, Path]:
    """What a user expects in the bucket: every file under the lake except hidden ones."""
    return {
        p.relative_to(lake).as_posix(): p
        for p in lake.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(lake).parts)
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(*args: str, env: dict[str, str | None], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real command line, as a user types it, with `env` on top of a clean copy of ours."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "AWS_"))}
    full.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-m", "loaders.r2", *args],
        cwd=REPO_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def settings_for(s3: S3Server, bucket: str, prefix: str = PREFIX) -> R2Settings:
    return R2Settings.from_env({k: v for k, v in s3.env(bucket, prefix).items() if v is not None})


def object_etags(s3: S3Server, bucket: str) -> dict[str, str]:
    out = {}
    for page in s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out.update({o["Key"]: o["ETag"] for o in page.get("Contents", [])})
    return out


@pytest.fixture
def lake(loaded_lake: LoadedLake, tmp_path: Path) -> Path:
    """A private copy of the session lake (real loader output), plus a loader-style temp file that must
    never be mirrored."""
    lake = loaded_lake.copy_to(tmp_path / "lake")
    some_dir = next(iter(lake_files(lake).values())).parent
    (some_dir / ".BTCUSDT-1h-2023-06.parquet.tmp-4242").write_bytes(b"half written")
    return lake


class HeadCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = mirror.head_sha

        def counting(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(mirror, "head_sha", counting)


def test_push_mirrors_the_lake_then_skips_everything(
    lake: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(lake)}
    first = run_cli("push", env=env)
    assert first.returncode == 0, first.stderr
    files = lake_files(lake)
    assert len(files) >= 10  # parquet per archive + the manifest
    assert f"uploaded {len(files)} " in first.stdout and "skipped 0 unchanged" in first.stdout
    assert s3_server.secret_access_key not in first.stdout + first.stderr

    # Every file is there, under R2_PREFIX + its lake path, with its size and its sha256 in the metadata.
    client = s3_server.client()
    assert s3_server.objects(s3_bucket) == {f"mirror/v1/{rel}": p.stat().st_size for rel, p in files.items()}
    for rel, path in files.items():
        head = client.head_object(Bucket=s3_bucket, Key=f"mirror/v1/{rel}")
        assert head["Metadata"]["sha256"] == sha256(path), rel
    assert not any(".tmp-" in key for key in s3_server.objects(s3_bucket))

    # A second push uploads nothing, and needs no HEAD either: the listing and the state cache suffice.
    etags = object_etags(s3_server, s3_bucket)
    second = run_cli("push", env=env)
    assert second.returncode == 0, second.stderr
    assert f"uploaded 0 (0 B), skipped {len(files)} unchanged" in second.stdout
    assert object_etags(s3_server, s3_bucket) == etags
    heads = HeadCounter(monkeypatch)
    summary = push(lake, settings_for(s3_server, s3_bucket), progress=False)
    assert (summary.uploaded, summary.skipped, heads.calls) == (0, len(files), 0)

    # Without the cache (another machine, same lake), the stored checksums still say "unchanged".
    (lake / config.R2_STATE_FILE).unlink()
    summary = push(lake, settings_for(s3_server, s3_bucket), progress=False)
    assert (summary.uploaded, summary.skipped, heads.calls) == (0, len(files), len(files))

    # `ls` lists what the bucket holds.
    listing = run_cli("ls", env=env)
    assert listing.returncode == 0, listing.stderr
    assert f"{len(files)} objects" in listing.stdout
    assert all(f"mirror/v1/{rel}" in listing.stdout for rel in files)


def test_only_changed_files_are_uploaded_manifest_last(
    lake: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(s3_server, s3_bucket)
    push(lake, settings, progress=False)
    files = lake_files(lake)
    parquet = sorted(rel for rel in files if rel.endswith(".parquet") and "/klines/" in rel)
    manifest = contract.manifest_path(lake, "klines").relative_to(lake).as_posix()
    grown, same_size = files[parquet[0]], files[parquet[1]]
    # One file changes size; another changes content only (same size: the sha256 must catch it); a
    # reload rewrites the manifest.
    grown.write_bytes(grown.read_bytes() + b"\0")
    data = bytearray(same_size.read_bytes())
    data[len(data) // 2] ^= 0xFF
    same_size.write_bytes(bytes(data))
    files[manifest].write_bytes(files[manifest].read_bytes() + b"\0")
    etags = object_etags(s3_server, s3_bucket)
    started: list[str] = []
    real_upload = mirror.upload_one

    def recording(client, settings, f, *args):
        started.append(f.relpath)
        return real_upload(client, settings, f, *args)

    monkeypatch.setattr(mirror, "upload_one", recording)

    summary = push(lake, settings, progress=False, workers=4)
    assert (summary.uploaded, summary.skipped) == (3, len(files) - 3)
    assert sorted(started) == sorted([*parquet[:2], manifest])
    assert started[-1] == manifest  # only after the data it lists
    after = object_etags(s3_server, s3_bucket)
    changed = {k for k in after if after[k] != etags[k]}
    assert changed == {f"mirror/v1/{parquet[0]}", f"mirror/v1/{parquet[1]}", f"mirror/v1/{manifest}"}
    head = s3_server.client().head_object(Bucket=s3_bucket, Key=f"mirror/v1/{parquet[1]}")
    assert head["Metadata"]["sha256"] == sha256(same_size)


def test_dry_run_changes_nothing(lake: Path, s3_server: S3Server, s3_bucket: str) -> None:
    env = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(lake)}
    dry = run_cli("push", "--dry-run", "--delete", env=env)
    assert dry.returncode == 0, dry.stderr
    files = lake_files(lake)
    assert s3_server.objects(s3_bucket) == {}
    assert not (lake / config.R2_STATE_FILE).exists()
    assert dry.stdout.count("would upload mirror/v1/") == len(files)

    push(lake, settings_for(s3_server, s3_bucket), progress=False)
    stray = "mirror/v1/binance/klines/market=spot/interval=1h/symbol=XRPUSDT/month=2020-01/XRPUSDT-1h-2020-01.parquet"
    s3_server.client().put_object(Bucket=s3_bucket, Key=stray, Body=b"old")
    victim = files[sorted(files)[0]]
    victim.write_bytes(victim.read_bytes() + b"\0")
    etags = object_etags(s3_server, s3_bucket)
    dry = run_cli("push", "--dry-run", "--delete", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {stray}" in dry.stdout
    assert f"would upload mirror/v1/{sorted(files)[0]} (changed" in dry.stdout
    assert "dry run: would upload 1 " in dry.stdout and "would delete 1" in dry.stdout
    assert object_etags(s3_server, s3_bucket) == etags


def test_delete_removes_daily_files_a_monthly_archive_replaced(
    binance_server: BinanceServer, tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:

    lake = tmp_path / "lake"
    days = ["2024-03-01", "2024-03-02"]
    for seed, day in enumerate(days):
        binance_server.add_klines("spot", "BTCUSDT", "1h", day, seed=seed)

    def load_march() -> None:
        binance_server.load(lake, "spot", ["BTCUSDT"], ["1h"], start="2024-03", end="2024-03", check=False)

    load_march()
    month = contract.partition_dir(lake, "klines", "spot", "1h", "BTCUSDT", "2024-03")
    assert sorted(p.name for p in month.glob("*.parquet")) == [f"BTCUSDT-1h-{d}.parquet" for d in days]
    env = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(lake)}
    assert run_cli("push", env=env).returncode == 0

    # Binance publishes the monthly file; the loader replaces the daily files with it.
    binance_server.add_klines("spot", "BTCUSDT", "1h", "2024-03", seed=7)
    load_march()
    assert sorted(p.name for p in month.glob("*.parquet")) == ["BTCUSDT-1h-2024-03.parquet"]
    prefix = "mirror/v1/binance/klines/market=spot/interval=1h/symbol=BTCUSDT/month=2024-03/"

    kept = run_cli("push", env=env)  # without --delete the daily objects stay, and the summary says so
    assert kept.returncode == 0, kept.stderr
    assert "2 only in the bucket" in kept.stdout
    assert sorted(k for k in s3_server.objects(s3_bucket) if k.startswith(prefix)) == [
        prefix + "BTCUSDT-1h-2024-03-01.parquet",
        prefix + "BTCUSDT-1h-2024-03-02.parquet",
        prefix + "BTCUSDT-1h-2024-03.parquet",
    ]
    deleted = run_cli("push", "--delete", env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted 2" in deleted.stdout
    remote = s3_server.objects(s3_bucket)
    assert sorted(k for k in remote if k.startswith(prefix)) == [prefix + "BTCUSDT-1h-2024-03.parquet"]
    assert set(remote) == {f"mirror/v1/{rel}" for rel in lake_files(lake)}


def test_delete_refuses_an_empty_lake(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="mirror/v1/keep.parquet", Body=b"x")
    (tmp_path / "empty").mkdir()
    env = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(tmp_path / "empty")}
    out = run_cli("push", "--delete", env=env)
    assert out.returncode == 2  # bad input, like a missing variable
    assert "holds no files" in out.stderr
    assert list(s3_server.objects(s3_bucket)) == ["mirror/v1/keep.parquet"]
    missing = run_cli("push", "--lake", str(tmp_path / "nope"), env=env)
    assert missing.returncode == 2 and f"lake {tmp_path / 'nope'} does not exist" in missing.stderr


def test_multipart_upload_and_an_interrupted_one(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small thresholds so a 12 MiB file goes multipart (S3's minimum part is 5 MiB).
    monkeypatch.setattr(config, "R2_MULTIPART_THRESHOLD", 5 << 20)
    monkeypatch.setattr(config, "R2_MULTIPART_CHUNKSIZE", 5 << 20)
    lake = tmp_path / "lake"
    big = (
        contract.partition_dir(lake, "klines", "spot", "1s", "BTCUSDT", "2024-01")
        / "BTCUSDT-1s-2024-01.parquet"
    )
    big.parent.mkdir(parents=True)
    big.write_bytes(os.urandom(12 << 20))
    small = big.with_name("BTCUSDT-1s-2024-01-01.parquet")
    small.write_bytes(b"small")
    settings = settings_for(s3_server, s3_bucket)
    client = s3_server.client()
    key = settings.key_for(big.relative_to(lake).as_posix())

    # What a push killed mid-upload leaves: a multipart upload with a part sent, never completed.
    upload = client.create_multipart_upload(Bucket=s3_bucket, Key=key)
    client.upload_part(
        Bucket=s3_bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"\0" * (5 << 20)
    )
    assert s3_server.objects(s3_bucket) == {}  # nothing half-uploaded is visible

    summary = push(lake, settings, progress=False)
    assert (summary.uploaded, summary.aborted_multipart, summary.failed) == (2, 1, [])
    head = client.head_object(Bucket=s3_bucket, Key=key)
    assert head["ContentLength"] == 12 << 20
    assert head["ETag"].strip('"').endswith("-3")  # three 5 MiB parts: the ETag is not an MD5...
    assert head["Metadata"]["sha256"] == sha256(big)  # ...so the sha256 rides in the metadata
    assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []

    (lake / config.R2_STATE_FILE).unlink()  # judged by the stored sha256, not by the ETag
    summary = push(lake, settings, progress=False)
    assert (summary.uploaded, summary.skipped) == (0, 2)


def test_configuration_and_request_failures_are_one_line_without_the_secret(
    lake: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    good = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(lake)}
    secret = s3_server.secret_access_key
    wrong_secret = "wr0ng/SECRET+value-that-must-not-leak"
    cases = [
        ({**good, "R2_BUCKET": None}, 2, ["R2_BUCKET"]),
        (
            {**good, "R2_SECRET_ACCESS_KEY": None, "R2_ENDPOINT_URL": None},
            2,
            ["R2_SECRET_ACCESS_KEY", "R2_ACCOUNT_ID"],
        ),
        ({**good, "R2_ENDPOINT_URL": "ftp://x"}, 2, ["R2_ENDPOINT_URL"]),
        (
            {**good, "R2_SECRET_ACCESS_KEY": wrong_secret},
            1,
            ["refused", "403", s3_bucket, s3_server.endpoint_url],
        ),
        ({**good, "R2_BUCKET": "no-such-bucket"}, 1, ["'no-such-bucket' does not exist"]),
        ({**good, "R2_ENDPOINT_URL": "http://127.0.0.1:9"}, 1, ["cannot reach http://127.0.0.1:9"]),
        ({**good, "R2_TIMEOUT": "soon"}, 2, ["R2_TIMEOUT must be seconds", "'soon'"]),
    ]
    for env, code, words in cases:
        for command in (["push"], ["ls"]):
            out = run_cli(*command, env=env, timeout=30)
            assert out.returncode == code, (command, env, out.stderr)
            errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
            assert all(w in errors[0] for w in words), errors[0]
            assert secret not in out.stdout + out.stderr and wrong_secret not in out.stdout + out.stderr
    assert s3_server.objects(s3_bucket) == {}


@contextmanager
def silent_endpoint() -> Iterator[str]:
    """A loopback server that accepts every connection and never answers (a hung proxy, a firewall
    that swallows traffic, a wrong port on a busy host); yields its URL."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_an_endpoint_that_never_answers_is_named_at_once_and_given_up_on(tmp_path: Path) -> None:
    """It used to print nothing for 242 s (4 attempts of 60 s). Now one line names the endpoint within a
    few seconds, and the push gives up after 3 attempts of the timeout (--timeout, R2_TIMEOUT) with one
    error line, exit 1."""
    lake = tmp_path / "lake"
    (lake / "binance").mkdir(parents=True)
    (lake / "binance" / "a.parquet").write_bytes(b"PAR1")
    with silent_endpoint() as url:
        env = {"R2_ENDPOINT_URL": url, "R2_ACCESS_KEY_ID": "AKID", "R2_SECRET_ACCESS_KEY": "s3cr3t-v4lue"}
        env |= {"R2_BUCKET": "market-data", "LAKE_DIR": str(lake)}
        for args, extra in ((["push", "--timeout", "1.5"], {}), (["ls"], {"R2_TIMEOUT": "1.5"})):
            began = time.monotonic()
            out = run_cli(*args, env={**env, **extra}, timeout=60)
            took = time.monotonic() - began
            assert out.returncode == 1, out.stderr
            waiting = [line for line in out.stderr.splitlines() if line.startswith("waiting for")]
            errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
            assert len(waiting) == 1 and url in waiting[0] and "ListObjectsV2" in waiting[0], out.stderr
            assert "3 attempts of 1.5 s" in waiting[0]
            assert len(errors) == 1 and f"{url} accepted the connection but never answered" in errors[0]
            assert "Traceback" not in out.stderr and "s3cr3t-v4lue" not in out.stderr
            assert 4.5 <= took < 20, took  # 3 attempts of 1.5 s, plus start-up and back-off

    # The defaults give up within a minute and a half (3 attempts of 30 s), not four minutes.
    cfg = R2Settings.from_env(env).client().meta.config
    assert cfg.retries["total_max_attempts"] * cfg.read_timeout <= 90 and cfg.connect_timeout <= 10


def test_r2_endpoint_and_duckdb_secret_from_the_account_id() -> None:
    env = {
        "R2_ACCOUNT_ID": "0123456789abcdef0123456789abcdef",
        "R2_ACCESS_KEY_ID": "AKID",
        "R2_SECRET_ACCESS_KEY": "it's secret",
        "R2_BUCKET": "market-data",
        "R2_PREFIX": "/lake/",
    }
    s = R2Settings.from_env(env)
    assert s.endpoint_url == "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com"
    assert s.key_for("binance/x.parquet") == "lake/binance/x.parquet"
    assert s.lake_url() == "r2://market-data/lake"
    sql = s.duckdb_secret_sql()
    assert "type r2" in sql and "account_id '0123456789abcdef0123456789abcdef'" in sql
    assert "secret 'it''s secret'" in sql  # quoted for SQL
    assert "it's secret" not in repr(s)
    client = s.client()
    assert client.meta.region_name == "auto"
    assert client.meta.endpoint_url == s.endpoint_url
    assert R2Settings.from_env({**env, "R2_PREFIX": ""}).lake_url() == "r2://market-data"


def test_duckdb_accepts_both_secret_kinds_and_hides_the_secret() -> None:
    import duckdb

    r2 = R2Settings.from_env(
        {
            "R2_ACCOUNT_ID": "acct1",
            "R2_ACCESS_KEY_ID": "AKID",
            "R2_SECRET_ACCESS_KEY": "s3cr3t-r2",
            "R2_BUCKET": "b1",
        }
    )
    s3 = R2Settings.from_env(
        {
            "R2_ENDPOINT_URL": "https://minio.example:9000/",
            "R2_ACCESS_KEY_ID": "AKID",
            "R2_SECRET_ACCESS_KEY": "s3cr3t-s3",
            "R2_BUCKET": "b2",
            "R2_PREFIX": "p",
        }
    )
    with duckdb.connect() as con:
        con.execute("load httpfs")
        con.execute(r2.duckdb_secret_sql("one"))
        con.execute(s3.duckdb_secret_sql("two"))
        secrets = {
            row[0]: row[1:]
            for row in con.execute("select name, type, scope, secret_string from duckdb_secrets()").fetchall()
        }
    assert secrets["one"][0] == "r2" and secrets["two"][0] == "s3"
    assert secrets["two"][1] == ["s3://b2/p"]
    assert "endpoint=minio.example:9000" in secrets["two"][2] and "use_ssl=true" in secrets["two"][2]
    assert "url_style=path" in secrets["two"][2]
    assert "s3cr3t" not in str(secrets)  # DuckDB redacts it


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"R2_ACCOUNT_ID": "acct1", "R2_ENDPOINT_URL": None}, "r2://lake-bucket/some/prefix"),
        ({"R2_ACCOUNT_ID": None, "R2_ENDPOINT_URL": "http://127.0.0.1:9"}, "s3://lake-bucket/some/prefix"),
    ],
)
def test_dbt_source_reads_the_bucket_the_mirror_writes(
    env: dict[str, str | None], expected: str, tmp_path: Path
) -> None:
    """The source's lake root for target r2 (Jinja in the source yml) is the mirror's own lake_url()."""
    from tests.fixtures.dbt import run_dbt

    full = {"R2_BUCKET": "lake-bucket", "R2_PREFIX": "/some/prefix/", "R2_ACCESS_KEY_ID": "AKID", **env}
    settings = R2Settings.from_env({**{k: v for k, v in full.items() if v}, "R2_SECRET_ACCESS_KEY": "x"})
    assert settings.lake_url() == expected
    run = run_dbt(
        "ls",
        "--target",
        "r2",
        "--resource-type",
        "source",
        "--select",
        "source:binance",
        "--output",
        "json",
        "--output-keys",
        "name meta",
        lake_dir=tmp_path,
        duckdb_path=tmp_path / "unused.duckdb",
        work_dir=tmp_path,
        env={**full, "R2_SECRET_ACCESS_KEY": "never-needed-to-parse"},
    )
    assert run.success
    roots = {json.loads(line)["meta"]["lake_root"] for line in run.result.result}
    assert roots == {expected}


def test_ctrl_c_stops_the_push_and_the_next_push_completes_it(
    tmp_path: Path, s3_server: S3Server, s3_bucket: str
) -> None:
    import signal
    import time

    lake = tmp_path / "lake"
    for day in range(1, 29):
        folder = contract.partition_dir(lake, "klines", "spot", "1m", f"S{day}USDT", "2024-02")
        folder.mkdir(parents=True)
        for hour in range(12):
            (folder / f"S{day}USDT-1m-2024-02-{hour:02d}.parquet").write_bytes(os.urandom(2048))
    files = lake_files(lake)
    env = {**s3_server.env(s3_bucket, PREFIX), "LAKE_DIR": str(lake)}
    full = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "AWS_"))}
    full.update({k: v for k, v in env.items() if v is not None})
    proc = start("loaders.r2", "push", "--workers", "2", env=full)
    deadline = time.monotonic() + 30
    while not s3_server.objects(s3_bucket) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "interrupted; run the push again" in err
    partial = s3_server.objects(s3_bucket)
    assert 0 < len(partial) < len(files)
    # Whatever is visible is whole: right size and checksum.
    client = s3_server.client()
    for key, size in partial.items():
        path = files[key.removeprefix("mirror/v1/")]
        assert size == path.stat().st_size
        assert client.head_object(Bucket=s3_bucket, Key=key)["Metadata"]["sha256"] == sha256(path)

    again = run_cli("push", env=env)
    assert again.returncode == 0, again.stderr
    assert f"uploaded {len(files) - len(partial)} " in again.stdout
    assert s3_server.objects(s3_bucket) == {f"mirror/v1/{rel}": p.stat().st_size for rel, p in files.items()}


def test_push_and_load_summaries_share_one_shape() -> None:
    """`ok`, `failures` and `line()` mean the same on both commands' summaries (loaders/summary.py)."""
    for summary in (LoadSummary(dry_run=True), mirror.PushSummary()):
        assert isinstance(summary, RunSummary)
        assert (summary.ok, summary.failures, summary.exit_code) == (True, [], 0)
        summary.failures.append("https://example.invalid/x.zip: HTTP 500")
        assert (summary.ok, summary.exit_code) == (False, 1)
        assert summary.line().count("\n") == 0 and summary.failed
