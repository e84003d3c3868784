"""Archive -> Parquet: stream the CSV member of a Binance zip in blocks into row groups.

Memory stays flat in archive size: the CSV is parsed block by block and written as row groups as we go.
Only when a block shows a duplicate or unsorted key (a real Binance defect, rare) does the file get a
second, whole-table pass to sort and deduplicate. The columns, their CSV spellings and the lake schema of
every dataset come from loaders/contract.py.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from loaders import config, contract
from loaders.binance.errors import ArchiveError, Cancelled
from loaders.binance.plausibility import Checker
from loaders.binance.zipstream import READ_ERRORS, Prefetch, csv_member, first_line, inflate

_PARSE_TYPES = {
    "epoch": pa.int64(),  # normalised to timestamp[us] per file (ms or µs)
    "datetime": pa.timestamp("us"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
# Binance's CSVs are bare values: no quoting, so the tokenizer takes its faster unquoted path (a stray
# quote then fails the value conversion, as corrupt data should).
_PARSE = pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False)


@dataclass(frozen=True)
class Converted:
    rows: int
    first_time: int  # the dataset's row time (contract.Dataset.time), microseconds since the epoch
    last_time: int
    repaired: bool  # duplicates or unsorted rows were fixed


@dataclass(frozen=True)
class _Layout:
    """How one file is laid out: a header row or not, and how many of the dataset's columns it has."""

    header: bool
    width: int


def _layout(ds: contract.Dataset, line: bytes) -> _Layout:
    """A first line is a header only if every field is a known column name (any of Binance's
    spellings); a data row that merely fails to start with a digit is data, and fails as such."""
    fields = line.decode("utf-8", "replace").split(",")
    narrowest = len(ds.columns) - ds.optional_tail
    if not narrowest <= len(fields) <= len(ds.columns):
        expected = f"{narrowest}" if narrowest == len(ds.columns) else f"{narrowest} or {len(ds.columns)}"
        raise ArchiveError(f"the first line has {len(fields)} fields, a {ds.name} file has {expected}")
    names = [contract.normalize_header(f) for f in fields]
    if not all(name and name in ds.header_names() for name in names):
        return _Layout(header=False, width=len(fields))
    for name, column in zip(names, ds.columns, strict=False):
        if name != contract.normalize_header(column.csv) and name not in column.spellings:
            raise ArchiveError(f"header column {name!r} is not {column.csv!r}: not Binance's column order")
    return _Layout(header=True, width=len(fields))


def _read_options(ds: contract.Dataset, layout: _Layout) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(
        column_names=ds.csv_names[: layout.width],
        skip_rows=1 if layout.header else 0,
        block_size=config.CSV_BLOCK_BYTES,
        # One parsing thread per archive: the inflate and Parquet threads already overlap with it, and
        # the archives run --workers at a time; more threads only cost CPU (~15% of the parse).
        use_threads=False,
    )


def _convert_options(ds: contract.Dataset, layout: _Layout) -> pacsv.ConvertOptions:
    present = ds.columns[: layout.width]
    return pacsv.ConvertOptions(
        column_types={c.csv: _PARSE_TYPES[c.parse] for c in present if c.lake},
        include_columns=[c.csv for c in present if c.lake],
        timestamp_parsers=["%Y-%m-%d %H:%M:%S"],
        # Only an empty field is missing: pyarrow's defaults also read "nan", "NaN", "NA" and "null" as
        # missing, which hid a NaN price as an "empty field"; a NaN now fails as a non-finite value.
        null_values=[""],
    )


def parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """zstd without dictionaries (prices and volumes are mostly distinct, so dictionaries cost time and
    bytes) and delta encoding for the regular timestamps and ids: on real Binance months this halves
    the file and the write time compared with pyarrow's defaults."""
    delta = [f.name for f in schema if pa.types.is_timestamp(f.type) or f.name.endswith("_id")]
    return pq.ParquetWriter(
        path,
        schema,
        compression=config.PARQUET_COMPRESSION,
        use_dictionary=False,
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    )


def _column(batch: pa.RecordBatch | pa.Table, name: str) -> pa.Array:
    col = batch.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _int64s(array: pa.Array) -> np.ndarray:
    """A zero-copy numpy view of a null-free 64-bit array."""
    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array), offset=array.offset * 8)


def _valid(array: pa.Array) -> np.ndarray:
    return array.is_valid().to_numpy(zero_copy_only=False)


def _unit_of(ds: contract.Dataset, batch: pa.RecordBatch | pa.Table) -> str:
    """ "ms" or "us" from the file's first row time (files are one unit throughout)."""
    epoch = [c.csv for c in ds.columns if c.parse == "epoch"]
    if not epoch:
        return "us"
    first = batch.column(epoch[0])[0].as_py()
    return "us" if first is not None and first >= contract.MICROSECOND_THRESHOLD else "ms"


class _Batches:
    """Turns parsed CSV blocks, in file order, into lake tables: timestamps in µs, required columns
    non-empty, every row plausible (loaders/binance/plausibility.py), the lake's column order; also
    returns the key as int64 for the order checks."""

    def __init__(self, ds: contract.Dataset, stem: str, layout: _Layout, unit: str) -> None:
        self.ds, self.unit = ds, unit
        by_lake = {c.lake: c for c in ds.columns[: layout.width] if c.lake}
        self.sources = [by_lake.get(f.name) for f in ds.schema]
        self.plausible = Checker(ds, stem, layout.header)

    def to_lake(self, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, np.ndarray, int, int]:
        arrays = []
        for field, source in zip(self.ds.schema, self.sources, strict=True):
            if source is None:  # an optional column this file does not have
                arrays.append(pa.nulls(batch.num_rows, field.type))
                continue
            array = _column(batch, source.csv)
            if array.null_count:
                if not field.nullable:
                    line = self.plausible.next_line + int(np.argmax(~_valid(array)))
                    raise ArchiveError(f"line {line}: {source.csv} is empty")
            elif source.parse in ("epoch", "datetime"):
                array = self._time(array, source)
            arrays.append(array)
        table = pa.Table.from_arrays(arrays, schema=self.ds.schema)
        key = _int64s(arrays[self.ds.schema.get_field_index(self.ds.key)])
        times = _int64s(arrays[self.ds.schema.get_field_index(self.ds.time)])
        self.plausible.check(table, times)
        return table, key, int(times.min()), int(times.max())

    def _time(self, array: pa.Array, source: contract.CsvColumn) -> pa.Array:
        values = _int64s(array)
        low, high = int(values.min()), int(values.max())
        if source.parse == "epoch":
            in_ms = [v < contract.MICROSECOND_THRESHOLD for v in (low, high)]
            # A file is one unit throughout; a mix means a corrupt or hand-edited file.
            if in_ms != [self.unit == "ms"] * 2:
                raise ArchiveError(f"{source.csv} mixes millisecond and microsecond values")
            if self.unit == "ms":  # cannot overflow: every value is below MICROSECOND_THRESHOLD
                values, low, high = values * 1000, low * 1000, high * 1000
            array = pa.Array.from_buffers(pa.timestamp("us"), len(values), [None, pa.py_buffer(values)])
        lo, hi = contract.PLAUSIBLE_TIME_US
        if low < lo or high >= hi:
            bad = low if low < lo else high
            raise ArchiveError(
                f"{source.csv} value {bad} is not a time between 2010 and 2100 (malformed row)"
            )
        return array


def convert_zip(
    zip_path: Path, stem: str, out: Path, ds: contract.Dataset, cancel: threading.Event | None = None
) -> Converted:
    """Convert the archive at `zip_path` into the new Parquet file `out` (the caller writes to a
    temporary name and renames it into place: lake.temp_path). On any error `out` is removed."""
    cancel = cancel or threading.Event()
    try:
        try:
            return _stream(zip_path, stem, out, ds, cancel)
        except _NeedsRepair:
            out.unlink(missing_ok=True)
            return _repair(zip_path, stem, out, ds)
    except OSError as exc:
        out.unlink(missing_ok=True)
        if isinstance(exc, pa.ArrowException) and exc.errno is None:  # an Arrow read error, not the disk
            raise ArchiveError(f"cannot convert: {str(exc).splitlines()[0]}") from exc
        raise  # the disk (full, read-only): the run reports it
    except (*READ_ERRORS, pa.ArrowException, ValueError) as exc:
        out.unlink(missing_ok=True)
        raise ArchiveError(
            f"cannot convert: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise


class _NeedsRepair(Exception):
    """Raised mid-stream when a block breaks strict key order."""


class _RowGroupWriter:
    """Writes full row groups of PARQUET_ROW_GROUP_ROWS from the parsed blocks, in a background thread,
    so compressing one row group overlaps with parsing the next (both release the GIL). At most one
    row group is in flight, which keeps memory flat."""

    def __init__(self, tmp: Path, schema: pa.Schema) -> None:
        self._writer = parquet_writer(tmp, schema)
        self._pool: ThreadPoolExecutor | None = None  # started by the first full row group
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
            if whole:  # the last write: nothing left to overlap it with
                self._writer.write_table(table.slice(0, cut), size)
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
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
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            self._writer.close()


def _open(zip_path: Path, stem: str, ds: contract.Dataset) -> tuple[Prefetch, _Layout]:
    info = csv_member(zip_path, stem)
    ahead = Prefetch(inflate(zip_path, info), threaded=info.file_size > config.INFLATE_AHEAD_MIN_BYTES)
    return ahead, _layout(ds, first_line(zip_path, info))


def _stream(zip_path: Path, stem: str, tmp: Path, ds: contract.Dataset, cancel: threading.Event) -> Converted:
    ahead, layout = _open(zip_path, stem, ds)
    rows, first, last, low, high = 0, None, None, None, None
    batches: _Batches | None = None
    with ahead:
        reader = pacsv.open_csv(
            ahead.source(),
            read_options=_read_options(ds, layout),
            parse_options=_PARSE,
            convert_options=_convert_options(ds, layout),
        )
        writer = _RowGroupWriter(tmp, ds.schema)
        try:
            for batch in reader:
                if cancel.is_set():
                    raise Cancelled
                if batch.num_rows == 0:
                    continue
                if batches is None:
                    batches = _Batches(ds, stem, layout, _unit_of(ds, batch))
                table, key, t_min, t_max = batches.to_lake(batch)
                if (last is not None and key[0] <= last) or (len(key) > 1 and not np.all(key[1:] > key[:-1])):
                    raise _NeedsRepair
                first = int(key[0]) if first is None else first
                last = int(key[-1])
                low = t_min if low is None else min(low, t_min)
                high = t_max if high is None else max(high, t_max)
                rows += len(key)
                writer.add(table)
            writer.finish()
        finally:
            reader = None  # an exception's traceback keeps this frame: let pyarrow go (Prefetch.source)
            writer.close()
    if rows == 0 or low is None or high is None:
        raise ArchiveError("archive holds no rows")
    return Converted(rows, low, high, repaired=False)


def _repair(zip_path: Path, stem: str, tmp: Path, ds: contract.Dataset) -> Converted:
    """Whole-file pass for defective files: sort by the key (stable) and keep the first row of each
    key, i.e. the one Binance printed first."""
    ahead, layout = _open(zip_path, stem, ds)
    with ahead:
        raw = pacsv.read_csv(
            ahead.source(),
            read_options=_read_options(ds, layout),
            parse_options=_PARSE,
            convert_options=_convert_options(ds, layout),
        )
    if raw.num_rows == 0:
        raise ArchiveError("archive holds no rows")
    table = _Batches(ds, stem, layout, _unit_of(ds, raw)).to_lake(raw)[0].sort_by(ds.key)
    key = _int64s(_column(table, ds.key).cast(pa.int64()))
    keep = np.ones(len(key), dtype=bool)
    keep[1:] = key[1:] != key[:-1]
    table = table.filter(pa.array(keep))
    with parquet_writer(tmp, ds.schema) as writer:
        writer.write_table(table, row_group_size=config.PARQUET_ROW_GROUP_ROWS)
    times = _int64s(_column(table, ds.time).cast(pa.int64()))
    return Converted(table.num_rows, int(times.min()), int(times.max()), repaired=True)
