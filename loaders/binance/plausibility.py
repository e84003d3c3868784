"""Plausibility of converted rows (docs/failure-contract.md, "Plausibility"): the rules of
loaders/contract.py (PLAUSIBILITY, and every row's time inside the archive's period) applied to each
parsed block.

Vectorised and cheap: a clean column costs two reductions (its min and max; NaN propagates through
both), no temporary arrays; only a block that breaks a rule is searched for its first bad row, which the
error names by its CSV line, with the value."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loaders import contract
from loaders.binance.errors import ArchiveError

_PERIOD = re.compile(r"\d{4}-\d{2}(?:-\d{2})?$")
_EPOCH = datetime(1970, 1, 1)


def period_bounds(stem: str) -> tuple[str, int, int] | None:
    """The archive's period from the end of its stem (`BTCUSDT-1h-2025-01`, `...-2025-01-02`): the
    period as written, and its [start, end) in microseconds since the epoch; None if the stem names no
    real month or day."""
    m = _PERIOD.search(stem)
    if m is None:
        return None
    try:
        start, end = contract.period_range(m[0])
    except ValueError:
        return None
    one = timedelta(microseconds=1)
    return m[0], (start - _EPOCH) // one, (end - _EPOCH) // one


def _ok(values: np.ndarray, rule: str) -> np.ndarray:
    """Row by row: does the value keep `rule` (and, for floats, is it finite)?"""
    finite = values < np.inf
    if rule == contract.POSITIVE:
        return (values > 0) & finite
    if rule == contract.NON_NEGATIVE:
        return (values >= 0) & finite
    return (values > -np.inf) & finite  # FINITE; NaN fails every comparison


def _holds(values: np.ndarray, rule: str) -> bool:
    """Whether every value keeps `rule`, from the min and max alone (NaN makes both NaN)."""
    low, high = values.min(), values.max()
    if not high < np.inf:
        return False
    if rule == contract.POSITIVE:
        return bool(low > 0)
    if rule == contract.NON_NEGATIVE:
        return bool(low >= 0)
    return bool(low > -np.inf)


def _numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:  # nulls (metrics' empty ratio fields) are not checked: 1 keeps every rule
        array = pc.fill_null(array, pa.scalar(1, array.type))
    return array.to_numpy(zero_copy_only=False)  # no copy for a null-free number array


def _shown(value: object) -> str:
    return repr(value.item()) if isinstance(value, np.generic) else repr(value)


class Checker:
    """Checks the blocks of one archive in order, counting rows so an error names the CSV line."""

    def __init__(self, ds: contract.Dataset, stem: str, header: bool) -> None:
        self.ds = ds
        self.rules = contract.PLAUSIBILITY[ds.name]
        self.period = period_bounds(stem)
        self.next_line = 2 if header else 1  # CSV line of the next block's first row
        csv_of = {c.lake: c.csv for c in ds.columns if c.lake}
        self.names = {lake: lake if csv == lake else f"{csv} ({lake})" for lake, csv in csv_of.items()}

    def check(self, table: pa.Table, times: np.ndarray) -> None:
        """Raise ArchiveError naming the first row of `table` that breaks a rule; `times` is the
        dataset's row time in microseconds."""
        try:
            self._columns(table)
            self._ordered(table)
            self._times(times)
        finally:
            self.next_line += table.num_rows

    def _error(self, row: int, what: str) -> ArchiveError:
        return ArchiveError(f"line {self.next_line + row}: {what} (implausible row)")

    def _columns(self, table: pa.Table) -> None:
        for name, rule in self.rules.columns.items():
            values = _numpy(table.column(name))
            if len(values) == 0 or _holds(values, rule):
                continue
            row = int(np.argmin(_ok(values, rule)))
            value = values[row]
            if isinstance(value, np.floating) and not np.isfinite(value):
                raise self._error(row, f"{self.names[name]} is {_shown(value)}, not a finite number")
            raise self._error(row, f"{self.names[name]} is {_shown(value)}, not {rule}")

    def _ordered(self, table: pa.Table) -> None:
        for low_name, high_name in self.rules.ordered:
            low, high = _numpy(table.column(low_name)), _numpy(table.column(high_name))
            if len(low) and not np.all(low <= high):
                row = int(np.argmin(low <= high))
                raise self._error(
                    row,
                    f"{self.names[low_name]} {_shown(low[row])} is greater than "
                    f"{self.names[high_name]} {_shown(high[row])}",
                )

    def _times(self, times: np.ndarray) -> None:
        if self.period is None or len(times) == 0:
            return
        period, start, end = self.period
        end += 1 if self.rules.ends_inclusive else 0
        if times.min() >= start and times.max() < end:
            return
        row = int(np.argmax((times < start) | (times >= end)))
        when = _EPOCH + timedelta(microseconds=int(times[row]))
        raise self._error(
            row,
            f"{self.names[self.ds.time]} {when:%Y-%m-%d %H:%M:%S} is outside the archive's period {period}",
        )
