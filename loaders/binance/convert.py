"""Archive -> Parquet: stream the CSV member of a Binance zip in blocks into row groups.

Memory stays flat in archive size: the CSV is parsed block by block and written as row groups as we go.
Only when a block shows duplicate or unsorted open_time (a real Binance defect, rare) does the file get
a second, whole-table pass to sort and deduplicate.
"""

from __future__ import annotations

import io
import os
import queue
import struct
import threading
import zipfile
import zlib
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders import config
from loaders.binance.errors import ArchiveError

try:  # ISA-L inflates the CSV ~2.4x faster than zlib, and inflate is a third of the conversion's CPU.
    from isal import isal_zlib as _inflate_lib
except ImportError:  # pragma: no cover - a platform without isal wheels still works, slower
    _inflate_lib = zlib  # type: ignore[assignment]

# The 12 CSV columns in Binance's order, named as the lake names them (the last one is dropped).
CSV_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trade_count",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
    "ignore",
]
FLOATS = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
]
# Explicit types: floats accept "9" as readily as "9.0070"; timestamps are parsed as raw integers and
# normalised to microseconds per file.
CSV_TYPES = {"open_time": pa.int64(), "close_time": pa.int64(), "trade_count": pa.int64()} | dict.fromkeys(
    FLOATS, pa.float64()
)
# Every column is required (non-nullable): an empty field fails the archive, and Parquet then stores no
# definition levels (a tenth of the write time).
LAKE_SCHEMA = pa.schema(
    [
        pa.field(name, type_, nullable=False)
        for name, type_ in [
            ("open_time", pa.timestamp("us")),
            ("close_time", pa.timestamp("us")),
            *[(name, pa.float64()) for name in ["open", "high", "low", "close", "volume", "quote_volume"]],
            ("taker_buy_base_volume", pa.float64()),
            ("taker_buy_quote_volume", pa.float64()),
            ("trade_count", pa.int64()),
        ]
    ]
)


@dataclass(frozen=True)
class Converted:
    rows: int
    first_open_time: int  # microseconds since the epoch
    last_open_time: int
    unit: str  # "ms" or "us" as found in the file
    repaired: bool  # duplicates or unsorted rows were fixed


def parquet_writer(path: Path) -> pq.ParquetWriter:
    """zstd without dictionaries (prices and volumes are mostly distinct, so dictionaries cost time and
    bytes) and delta encoding for the regular timestamps: on real Binance months this halves the file
    and the write time compared with pyarrow's defaults."""
    return pq.ParquetWriter(
        path,
        LAKE_SCHEMA,
        compression=config.PARQUET_COMPRESSION,
        use_dictionary=False,
        column_encoding={"open_time": "DELTA_BINARY_PACKED", "close_time": "DELTA_BINARY_PACKED"},
    )


class _NeedsRepair(Exception):
    """Raised mid-stream when a block breaks strict open_time order."""


def _member(zf: zipfile.ZipFile, stem: str) -> zipfile.ZipInfo:
    """The CSV member: `<stem>.csv` as Binance names it, else the only .csv in the archive."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    for info in infos:
        if info.filename == f"{stem}.csv":
            return info
    csvs = [i for i in infos if i.filename.lower().endswith(".csv")]
    if len(csvs) == 1:
        return csvs[0]
    raise ArchiveError(f"expected one CSV member {stem}.csv, found {[i.filename for i in infos]}")


def _has_header(first_line: bytes) -> bool:
    """Spot files start with a digit; futures files often start with a header row."""
    text = first_line.lstrip(b"\xef\xbb\xbf").strip()
    return bool(text) and not text[:1].isdigit()


def _read_options(header: bool) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(
        column_names=CSV_COLUMNS,
        skip_rows=1 if header else 0,
        block_size=config.CSV_BLOCK_BYTES,
        # One parsing thread per archive: the inflate and Parquet threads already overlap with it, and
        # the archives run --workers at a time; more threads only cost CPU (~15% of the parse).
        use_threads=False,
    )


_CONVERT = pacsv.ConvertOptions(column_types=CSV_TYPES, include_columns=CSV_COLUMNS[:11])
# Binance's CSVs are bare numbers: no quoting, so the tokenizer takes its faster unquoted path (a stray
# quote then fails the number conversion, as corrupt data should).
_PARSE = pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False)


def _unit_of(first_open_time: int) -> str:
    return "us" if first_open_time >= config.MICROSECOND_THRESHOLD else "ms"


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array:
    col = batch.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _int64s(array: pa.Array) -> np.ndarray:
    """A zero-copy numpy view of a null-free 64-bit array."""
    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array), offset=array.offset * 8)


def _to_lake(batch: pa.RecordBatch | pa.Table, unit: str) -> tuple[pa.Table, np.ndarray]:
    """Normalise one parsed block to the lake schema (timestamps in µs, lake column order); also return
    open_time as int64 microseconds for the order checks (numpy on zero-copy views of the buffers)."""
    arrays = [_column(batch, n) for n in LAKE_SCHEMA.names]
    if any(a.null_count for a in arrays):
        raise ArchiveError("CSV has empty fields")
    for k in (0, 1):
        values = _int64s(arrays[k])
        in_ms = [int(v) < config.MICROSECOND_THRESHOLD for v in (values.min(), values.max())]
        # A file is one unit throughout; a mix means a corrupt or hand-edited file.
        if in_ms != [unit == "ms"] * 2:
            raise ArchiveError(f"{LAKE_SCHEMA.names[k]} mixes millisecond and microsecond values")
        if unit == "ms":
            values = values * 1000  # cannot overflow: every value is below MICROSECOND_THRESHOLD
        arrays[k] = pa.Array.from_buffers(pa.timestamp("us"), len(values), [None, pa.py_buffer(values)])
    open_us = _int64s(arrays[0])
    return pa.Table.from_arrays(arrays, schema=LAKE_SCHEMA), open_us


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length (30 bytes)


def _inflate(zip_path: Path, info: zipfile.ZipInfo, chunk: int = 1 << 20) -> Generator[bytes, None, None]:
    """The member's bytes in chunks of at most `chunk`, inflated with ISA-L and checked against the
    size and CRC-32 of the central directory (what zipfile checks, at a third of its CPU)."""
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{info.filename} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError(f"{info.filename}: unsupported zip compression method {info.compress_type}")
    with open(zip_path, "rb") as f:
        f.seek(info.header_offset)
        head = f.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"{info.filename}: bad local file header")
        name_len, extra_len = _LOCAL_HEADER.unpack(head)[1:]
        f.seek(name_len + extra_len, os.SEEK_CUR)
        left = info.compress_size
        stored = info.compress_type == zipfile.ZIP_STORED
        d = None if stored else _inflate_lib.decompressobj(-zlib.MAX_WBITS)
        crc, size, tail = 0, 0, b""
        while True:
            if not tail:
                if left == 0:
                    break
                tail = f.read(min(left, chunk // 4))
                if not tail:
                    raise EOFError(f"{info.filename}: archive ends inside the member")
                left -= len(tail)
            if d is None:
                out, tail = tail, b""
            else:
                # max_length bounds each chunk, so a highly compressed member cannot blow up memory.
                out = d.decompress(tail, chunk)
                tail = d.unconsumed_tail
            if out:
                crc = _inflate_lib.crc32(out, crc)
                size += len(out)
                yield out
        if d is not None:
            while rest := d.decompress(b"", chunk):  # output held back by the last max_length
                crc = _inflate_lib.crc32(rest, crc)
                size += len(rest)
                yield rest
            if not d.eof:
                raise EOFError(f"{info.filename}: compressed data ends early")
    if size != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"{info.filename}: size or CRC-32 does not match the zip directory")


class _Prefetch(io.RawIOBase):
    """Runs the inflate iterator ahead in its own thread (ISA-L releases the GIL), so inflating the
    next chunk overlaps with pyarrow parsing the current one. At most `depth` chunks are buffered."""

    def __init__(self, chunks: Generator[bytes, None, None], depth: int = 4) -> None:
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._buf = memoryview(b"")
        self._eof = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(chunks,), daemon=True, name="inflate")
        self._thread.start()

    def _run(self, chunks: Generator[bytes, None, None]) -> None:
        try:
            for data in chunks:
                if self._stop.is_set():
                    return
                self._put(data)
            self._put(b"")
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(exc)
        finally:
            chunks.close()  # closes the archive file

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        # Never block for good: pyarrow may read again after an error (or after close, while it
        # shuts its read-ahead down), so errors and end of stream are sticky and close() ends waits.
        while not self._buf and not self._eof:
            if self._error is not None:
                raise self._error
            if self._stop.is_set():
                return
            try:
                item = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(item, BaseException):
                self._error = item
                raise item
            self._eof = not item
            self._buf = memoryview(item)

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes; a whole inflated chunk is handed over without a copy (pyarrow reads
        blocks of CSV_BLOCK_BYTES, and a short read is not the end of the stream)."""
        self._fill()
        if size is None or size < 0 or size >= len(self._buf):
            out, self._buf = self._buf, memoryview(b"")
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out.obj if len(out) == len(out.obj) else bytes(out)  # type: ignore[union-attr]

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        super().close()


def _open_csv(zip_path: Path, stem: str) -> tuple[zipfile.ZipInfo, bool]:
    """The CSV member and whether it starts with a header row (read from its first inflated chunk)."""
    with zipfile.ZipFile(zip_path) as zf:
        info = _member(zf, stem)
    first = _inflate(zip_path, info, chunk=1 << 16)
    try:
        head = next(first, b"")
    finally:
        first.close()
    return info, _has_header(head.split(b"\n", 1)[0])


def convert_zip(zip_path: Path, stem: str, out: Path) -> Converted:
    """Convert the archive at `zip_path` to the Parquet file `out`, atomically (temporary sibling, then
    os.replace). On any error `out` is untouched and no temporary file remains."""
    tmp = config.temp_path(out)
    try:
        try:
            result = _stream(zip_path, stem, tmp)
        except _NeedsRepair:
            tmp.unlink(missing_ok=True)
            result = _repair(zip_path, stem, tmp)
        os.replace(tmp, out)
        return result
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        _inflate_lib.error,
        EOFError,
        OSError,
        pa.ArrowException,
        ValueError,
    ) as exc:
        raise ArchiveError(
            f"cannot convert: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)


class _RowGroupWriter:
    """Writes full row groups of PARQUET_ROW_GROUP_ROWS from the parsed blocks, in a background thread,
    so compressing one row group overlaps with parsing the next (both release the GIL). At most one
    row group is in flight, which keeps memory flat."""

    def __init__(self, tmp: Path) -> None:
        self._writer = parquet_writer(tmp)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._inflight: Future[None] | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def add(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= config.PARQUET_ROW_GROUP_ROWS:
            self._submit(whole=False)

    def _submit(self, *, whole: bool) -> None:
        table = pa.concat_tables(self._pending)
        size = config.PARQUET_ROW_GROUP_ROWS
        cut = table.num_rows if whole else table.num_rows - table.num_rows % size
        rest = table.slice(cut)
        self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        if cut:
            self._wait()
            self._inflight = self._pool.submit(self._writer.write_table, table.slice(0, cut), size)

    def _wait(self) -> None:
        if self._inflight is not None:
            self._inflight.result()  # re-raises a write error here
            self._inflight = None

    def finish(self) -> None:
        if self._pending:
            self._submit(whole=True)
        self._wait()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._writer.close()


def _stream(zip_path: Path, stem: str, tmp: Path) -> Converted:
    info, header = _open_csv(zip_path, stem)
    rows, first, last, unit = 0, None, None, None
    with _Prefetch(_inflate(zip_path, info)) as ahead:
        reader = pacsv.open_csv(
            ahead, read_options=_read_options(header), parse_options=_PARSE, convert_options=_CONVERT
        )
        writer = _RowGroupWriter(tmp)
        try:
            for batch in reader:
                if batch.num_rows == 0:
                    continue
                if unit is None:
                    unit = _unit_of(batch.column("open_time")[0].as_py())
                table, ot = _to_lake(batch, unit)
                if (last is not None and ot[0] <= last) or (len(ot) > 1 and not np.all(ot[1:] > ot[:-1])):
                    raise _NeedsRepair
                if first is None:
                    first = int(ot[0])
                last = int(ot[-1])
                rows += len(ot)
                writer.add(table)
            writer.finish()
        finally:
            writer.close()
    if rows == 0 or first is None or last is None or unit is None:
        raise ArchiveError("archive holds no candles")
    return Converted(rows, first, last, unit, repaired=False)


def _repair(zip_path: Path, stem: str, tmp: Path) -> Converted:
    """Whole-file pass for defective files: sort by open_time (stable) and keep the first row of each
    open_time, i.e. the one Binance printed first."""
    info, header = _open_csv(zip_path, stem)
    with _Prefetch(_inflate(zip_path, info)) as member:
        raw = pacsv.read_csv(
            member, read_options=_read_options(header), parse_options=_PARSE, convert_options=_CONVERT
        )
    if raw.num_rows == 0:
        raise ArchiveError("archive holds no candles")
    unit = _unit_of(raw.column("open_time")[0].as_py())
    table = _to_lake(raw, unit)[0].sort_by("open_time")
    ot = table.column("open_time").combine_chunks().view(pa.int64()).to_numpy()
    keep = np.ones(len(ot), dtype=bool)
    keep[1:] = ot[1:] != ot[:-1]
    table = table.filter(pa.array(keep))
    with parquet_writer(tmp) as writer:
        writer.write_table(table, row_group_size=config.PARQUET_ROW_GROUP_ROWS)
    first = int(ot[keep][0])
    last = int(ot[keep][-1])
    return Converted(table.num_rows, first, last, unit, repaired=True)
