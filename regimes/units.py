"""The time unit of a regime model (docs/regimes.md, "Hourly probabilities"): the day or the hour.

The walk-forward schedule and the filter work on step numbers (whole units since 1970-01-01 UTC, one
filter step per unit); a Unit converts between those and the warehouse's values (a date for the day,
a naive UTC timestamp for the hour), names the columns and vars, and says where a calendar period
ends in its steps. One implementation serves both grains: only this object differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from regimes import settings

EPOCH = date(1970, 1, 1)
EPOCH_TIME = datetime(1970, 1, 1)
US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class Unit:
    """One time unit: `per_day` steps in a calendar day, `per_year` in a year (annualisation)."""

    name: str
    per_day: int
    per_year: int
    # Column of the returns relation and of the probabilities (trade_date, hour_start).
    time_column: str
    # The vars of the refit cadence and of the returns needed before the first fit.
    cadence_var: str
    min_var: str
    # Model version suffix before K=...: empty for the day, so stored daily fits stay valid.
    version_tag: str

    @property
    def arrow_type(self) -> pa.DataType:
        return pa.date32() if self.per_day == 1 else pa.timestamp("us")

    @property
    def plural(self) -> str:
        return f"{self.name}s"

    def number(self, value: date | datetime) -> int:
        """The step number of a date (day) or a timestamp (hour; naive values are UTC)."""
        if self.per_day == 1:
            return (value - EPOCH).days if not isinstance(value, datetime) else (value.date() - EPOCH).days
        if not isinstance(value, datetime):
            return (value - EPOCH).days * self.per_day
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return int((value - EPOCH_TIME) // timedelta(hours=1))

    def value(self, n: int) -> date | datetime:
        """The warehouse value of step n: a date, or the timestamp the hour starts at."""
        if self.per_day == 1:
            return EPOCH + timedelta(days=int(n))
        return EPOCH_TIME + timedelta(hours=int(n))

    def label(self, n: int) -> str:
        """Step n as text in a fit_id: 2024-03-31, or 2024-03-31T23:00 for an hour."""
        v = self.value(n)
        return v.isoformat(timespec="minutes") if isinstance(v, datetime) else v.isoformat()

    def arrow_array(self, numbers: object) -> pa.Array:
        """Step numbers (an int array) as the time column's Arrow values."""
        if self.per_day == 1:
            return pa.array(numbers, pa.int32()).cast(self.arrow_type)
        return pa.array(np.asarray(numbers, dtype=np.int64) * US_PER_HOUR, pa.int64()).cast(self.arrow_type)

    def number_sql(self, column: str) -> str:
        """SQL (DuckDB) of the step number of a time column."""
        if self.per_day == 1:
            return f"cast(date_diff('day', date '1970-01-01', {column}) as bigint)"
        return f"cast(epoch_us(cast({column} as timestamp)) // {US_PER_HOUR} as bigint)"

    def period_ends(self, first: int, last: int, cadence: str) -> list[int]:
        """Last steps of the calendar months / quarters / years that end within steps [first, last]: the
        last day of the period, or its last hour (23:00 UTC of that day)."""
        first_day = EPOCH + timedelta(days=first // self.per_day)
        days = period_end_days(first_day, EPOCH + timedelta(days=last // self.per_day), cadence)
        ends = [((d - EPOCH).days + 1) * self.per_day - 1 for d in days]
        return [n for n in ends if first <= n <= last]


def period_end_days(first: date, last: date, cadence: str) -> list[date]:
    """Last days of the calendar months / quarters / years that end within [first, last]."""
    step = {"month": 1, "quarter": 3, "year": 12}[cadence]
    out: list[date] = []
    y, m = first.year, first.month
    # Move to the first period boundary month (months 3, 6, 9, 12 for quarters; 12 for years).
    while m % step:
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    while True:
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        end = date(ny, nm, 1) - timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        for _ in range(step):
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)


DAY = Unit(
    name="day",
    per_day=1,
    per_year=settings.DAYS_PER_YEAR,
    time_column="trade_date",
    cadence_var="regime_refit_every",
    min_var="regime_min_days",
    version_tag="",
)
HOUR = Unit(
    name="hour",
    per_day=24,
    per_year=settings.HOURS_PER_YEAR,
    time_column="hour_start",
    cadence_var="regime_refit_every_hourly",
    min_var="regime_min_hours",
    version_tag="unit=hour ",
)
