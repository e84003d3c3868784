"""Walk-forward schedule of the regime model and the rows the warehouse stores (docs/regimes.md,
"The contract"): which fits are due, fitting them (warm-started from the series' previous fit, so a refit
takes a few EM iterations and stays deterministic given the lake), and the filtered probabilities of the
steps after each fit, continuing from the stored last step on an incremental run.

One implementation for both grains: a step is a unit of `regimes.units` (a calendar day, or an hour
for the hourly model); every function takes the unit, the day by default.
Inputs and outputs are plain numpy/pyarrow so the module runs without dbt (tests, benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa

from regimes import hmm, settings, units
from regimes.units import DAY, Unit

FITS_SCHEMA = pa.schema(
    [
        ("fit_id", pa.string()),
        ("market", pa.string()),
        ("symbol", pa.string()),
        ("fitted_through", pa.date32()),
        ("n_obs", pa.int64()),
        ("n_states", pa.int64()),
        ("log_likelihood", pa.float64()),
        ("aic", pa.float64()),
        ("bic", pa.float64()),
        ("iterations", pa.int64()),
        ("is_converged", pa.bool_()),
        ("model_version", pa.string()),
        ("mean_returns", pa.list_(pa.float64())),
        ("sigmas", pa.list_(pa.float64())),
        ("stationary_probabilities", pa.list_(pa.float64())),
        # Row-major K x K: transitions[i * K + j] = P(state j tomorrow | state i today).
        ("transitions", pa.list_(pa.float64())),
    ]
)

PROBABILITIES_SCHEMA = pa.schema(
    [
        ("market", pa.string()),
        ("symbol", pa.string()),
        ("trade_date", pa.date32()),
        ("state", pa.int64()),
        ("probability", pa.float64()),
        ("fit_id", pa.string()),
    ]
)


def fits_schema(unit: Unit = DAY) -> pa.Schema:
    """The stored fits: `fitted_through` is the fit's last step (a date, or the hour it starts at)."""
    return FITS_SCHEMA.set(
        FITS_SCHEMA.get_field_index("fitted_through"), pa.field("fitted_through", unit.arrow_type)
    )


def probabilities_schema(unit: Unit = DAY) -> pa.Schema:
    """The filtered probabilities, one row per series, step (trade_date or hour_start) and state."""
    return PROBABILITIES_SCHEMA.set(2, pa.field(unit.time_column, unit.arrow_type))


class RegimeConfigError(ValueError):
    """A var of the regime model is out of range: one line naming it."""


def check_config(
    n_states: object, cadence: object, min_steps: object, unit: Unit = DAY
) -> tuple[int, str, int]:
    """The vars as (K, cadence, min_steps), or RegimeConfigError naming the first bad one."""
    try:
        k = int(str(n_states))
    except ValueError:
        k = -1
    if k not in settings.ALLOWED_STATES:
        raise RegimeConfigError(f'var regime_states "{n_states}" is not 2, 3 or 4')
    if str(cadence) not in settings.CADENCES:
        raise RegimeConfigError(f'var {unit.cadence_var} "{cadence}" is not month, quarter or year')
    text = str(min_steps).strip()
    if not text.isdigit() or int(text) < 2:
        raise RegimeConfigError(
            f'var {unit.min_var} "{min_steps}" is not a whole number of {unit.plural} >= 2'
        )
    return k, str(cadence), int(text)


def model_version(n_states: int, cadence: str, min_steps: int, unit: Unit = DAY) -> str:
    """What a stored fit was made with: a change needs a full refresh (the stored fits would not match).
    The hourly model's says unit=hour; the daily one's has no unit (daily fits stored before the hourly
    model existed stay valid)."""
    return (
        f"{settings.MODEL_VERSION} {unit.version_tag}K={n_states} every={cadence} "
        f"min_{unit.plural}={min_steps}"
    )


def day_number(d: date) -> int:
    return DAY.number(d)


def from_day_number(n: int) -> date:
    return DAY.value(n)


def period_ends(first: date, last: date, cadence: str) -> list[date]:
    """Last days of the calendar months / quarters / years that end within [first, last]."""
    return units.period_end_days(first, last, cadence)


@dataclass
class Series:
    """One (market, symbol): its row steps (step numbers of its unit, ascending; `days` for the
    daily model, where a step is a day) and returns (NaN when null)."""

    market: str
    symbol: str
    days: np.ndarray
    returns: np.ndarray
    first_return: int = field(init=False)

    def __post_init__(self) -> None:
        observed = np.flatnonzero(~np.isnan(self.returns))
        self.first_return = int(self.days[observed[0]]) if observed.size else -1

    @property
    def key(self) -> tuple[str, str]:
        return (self.market, self.symbol)

    def grid(self, origin: int, end: int) -> np.ndarray:
        """Returns on the steps origin..end (NaN on a step with no row or a null return)."""
        out = np.full(end - origin + 1, np.nan)
        inside = (self.days >= origin) & (self.days <= end)
        out[self.days[inside] - origin] = self.returns[inside]
        return out

    def due_fits(self, cadence: str, min_steps: int, unit: Unit = DAY) -> list[int]:
        """Step numbers of the fits this series' data calls for (docs/regimes.md: the last step of each
        period within its data, once it has min_steps non-null returns up to it)."""
        if self.first_return < 0:
            return []
        observed_days = self.days[~np.isnan(self.returns)]
        out = []
        for n in unit.period_ends(self.first_return, int(self.days[-1]), cadence):
            if int(np.searchsorted(observed_days, n, side="right")) >= min_steps:
                out.append(n)
        return out


def fit_id(market: str, symbol: str, fitted_through: int, unit: Unit = DAY) -> str:
    return f"{market}/{symbol}/{unit.label(fitted_through)}"


def _right_aligned(
    series: list[Series], origins: list[int], end: int | list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Grids of `series` from each origin to `end`, right-aligned in one (n, T) array (NaN padding in
    front) and each row's first step."""
    ends = [end] * len(series) if isinstance(end, int) else end
    lengths = [e - o + 1 for o, e in zip(origins, ends, strict=True)]
    t_len = max(lengths)
    y = np.full((len(series), t_len), np.nan)
    start = np.zeros(len(series), dtype=np.int64)
    for r, (s, o, e, n) in enumerate(zip(series, origins, ends, lengths, strict=True)):
        y[r, t_len - n :] = s.grid(o, e)
        start[r] = t_len - n
    return y, start


def fit_series(
    series: list[Series],
    stored: dict[tuple[str, str], list[dict]],
    n_states: int,
    cadence: str,
    min_days: int,
    unit: Unit = DAY,
) -> list[dict]:
    """The fits due and not yet stored, each warm-started from its series' previous fit (stored or made
    in this run), made in rounds by fit step so one EM runs over every series due at that step.
    `min_days` counts steps of `unit` (regime_min_hours for the hourly model)."""
    version = model_version(n_states, cadence, min_days, unit)
    previous: dict[tuple[str, str], hmm.Params] = {}
    todo: dict[int, list[Series]] = {}
    for s in series:
        done = {unit.number(f["fitted_through"]) for f in stored.get(s.key, [])}
        if stored.get(s.key):
            last = max(stored[s.key], key=lambda f: f["fitted_through"])
            previous[s.key] = params_of(last)
        for n in s.due_fits(cadence, min_days, unit):
            if n not in done and (not done or n > max(done)):
                todo.setdefault(n, []).append(s)
    rows: list[dict] = []
    for end in sorted(todo):
        batch = todo[end]
        y, start = _right_aligned(batch, [s.first_return for s in batch], end)
        cold = hmm.initial_params(y, n_states)
        init = hmm.Params(
            np.stack(
                [previous[s.key].mean if s.key in previous else cold.mean[r] for r, s in enumerate(batch)]
            ),
            np.stack(
                [previous[s.key].sigma if s.key in previous else cold.sigma[r] for r, s in enumerate(batch)]
            ),
            np.stack(
                [
                    previous[s.key].transition if s.key in previous else cold.transition[r]
                    for r, s in enumerate(batch)
                ]
            ),
        )
        result = hmm.fit(y, start, init)
        pi = hmm.stationary(result.params.transition)
        k_params = hmm.n_parameters(n_states)
        for r, s in enumerate(batch):
            p = result.params.take(np.array([r]))
            previous[s.key] = hmm.Params(p.mean[0], p.sigma[0], p.transition[0])
            llf = float(result.log_likelihood[r])
            n_obs = int(result.n_obs[r])
            rows.append(
                {
                    "fit_id": fit_id(s.market, s.symbol, end, unit),
                    "market": s.market,
                    "symbol": s.symbol,
                    "fitted_through": unit.value(end),
                    "n_obs": n_obs,
                    "n_states": n_states,
                    "log_likelihood": llf,
                    "aic": -2.0 * llf + 2.0 * k_params,
                    "bic": -2.0 * llf + k_params * float(np.log(n_obs)),
                    "iterations": int(result.iterations[r]),
                    "is_converged": bool(result.converged[r]),
                    "model_version": version,
                    "mean_returns": p.mean[0].tolist(),
                    "sigmas": p.sigma[0].tolist(),
                    "stationary_probabilities": pi[r].tolist(),
                    "transitions": p.transition[0].reshape(-1).tolist(),
                }
            )
    return rows


def params_of(fit: dict) -> hmm.Params:
    """One stored fit's parameters (unbatched: mean (K,), sigma (K,), transition (K, K))."""
    k = len(fit["mean_returns"])
    return hmm.Params(
        np.asarray(fit["mean_returns"], dtype=np.float64),
        np.asarray(fit["sigmas"], dtype=np.float64),
        np.asarray(fit["transitions"], dtype=np.float64).reshape(k, k),
    )


@dataclass(frozen=True)
class LastDay:
    """The stored last published step of a series: its step number, fit and filtered probabilities."""

    day: int
    fit_id: str
    probabilities: np.ndarray


def filter_series(
    series: list[Series],
    fits: dict[tuple[str, str], list[dict]],
    stored: dict[tuple[str, str], LastDay],
    unit: Unit = DAY,
) -> pa.Table:
    """Filtered probabilities of every row step after the series' first fit and after its stored last
    step. A step uses the latest fit through an earlier step; steps under the fit of the stored last
    step continue from its probabilities, steps under a newer fit run the filter from the first return."""
    items: list[tuple[Series, dict, int, int, np.ndarray | None, np.ndarray]] = []
    for s in series:
        series_fits = sorted(fits.get(s.key, []), key=lambda f: f["fitted_through"])
        last = stored.get(s.key)
        for i, f in enumerate(series_fits):
            lo = unit.number(f["fitted_through"])
            hi = unit.number(series_fits[i + 1]["fitted_through"]) if i + 1 < len(series_fits) else None
            after = lo if last is None else max(lo, last.day)
            days = s.days[(s.days > after) & (s.days <= hi if hi is not None else True)]
            if days.size == 0:
                continue
            if last is not None and last.day > lo:
                if last.fit_id != f["fit_id"]:
                    raise ValueError(
                        f"{s.market} {s.symbol}: stored probabilities of {unit.label(last.day)} use fit "
                        f"{last.fit_id}, not {f['fit_id']}: run `dbt build --full-refresh`"
                    )
                items.append((s, f, last.day + 1, int(days[-1]), last.probabilities, days))
            else:
                items.append((s, f, s.first_return, int(days[-1]), None, days))
    schema = probabilities_schema(unit)
    columns: dict[str, list] = {name: [] for name in schema.names}
    # Rows continuing a stored day and rows starting from the stationary distribution: two batches.
    for continuing in (False, True):
        for batch in _chunks([it for it in items if (it[4] is not None) == continuing]):
            _filter_batch(batch, continuing, columns, unit)
    return probabilities_table(columns, unit)


def _chunks(items: list[tuple]) -> list[list[tuple]]:
    """Consecutive groups of filter items whose padded grid (rows x longest row) stays within
    settings.FILTER_BATCH_CELLS (an hourly full build would not fit in memory at once). The filter is
    batch-independent, so the grouping changes no bit."""
    out: list[list[tuple]] = []
    group: list[tuple] = []
    longest = 0
    for it in items:
        length = int(it[3] - it[2] + 1)
        if group and (len(group) + 1) * max(longest, length) > settings.FILTER_BATCH_CELLS:
            out.append(group)
            group, longest = [], 0
        group.append(it)
        longest = max(longest, length)
    if group:
        out.append(group)
    return out


def _filter_batch(batch: list[tuple], continuing: bool, columns: dict[str, list], unit: Unit) -> None:
    """Run the filter over one group of items and append their published rows to `columns`."""
    y, start = _right_aligned([it[0] for it in batch], [it[2] for it in batch], [it[3] for it in batch])
    params = hmm.Params(
        np.stack([params_of(it[1]).mean for it in batch]),
        np.stack([params_of(it[1]).sigma for it in batch]),
        np.stack([params_of(it[1]).transition for it in batch]),
    )
    width = min(max(int(it[3] - it[5][0] + 1) for it in batch), y.shape[1])
    init = np.stack([it[4] for it in batch]) if continuing else None
    filt, _, _ = hmm.forward(y, params, start, init=init, keep_last=width)
    for r, (s, f, _origin, end, _init, days) in enumerate(batch):
        probs = filt[r, width - 1 - (end - days)]  # (days, K)
        k = probs.shape[1]
        columns["market"].append(np.full(probs.size, s.market, dtype=object))
        columns["symbol"].append(np.full(probs.size, s.symbol, dtype=object))
        columns[unit.time_column].append(np.repeat(days, k))
        columns["state"].append(np.tile(np.arange(k, dtype=np.int64), days.size))
        columns["probability"].append(probs.reshape(-1))
        columns["fit_id"].append(np.full(probs.size, f["fit_id"], dtype=object))


def probabilities_table(columns: dict[str, list], unit: Unit = DAY) -> pa.Table:
    """The probability rows as an Arrow table of probabilities_schema(unit) (empty when there are none)."""
    schema = probabilities_schema(unit)
    arrays = []
    for name in schema.names:
        parts = columns[name]
        kind = schema.field(name).type
        if not parts:
            arrays.append(pa.array([], kind))
        elif name == unit.time_column:
            arrays.append(unit.arrow_array(np.concatenate(parts)))
        else:
            arrays.append(pa.array(np.concatenate(parts), kind))
    return pa.Table.from_arrays(arrays, schema=schema)


def fits_table(rows: list[dict], unit: Unit = DAY) -> pa.Table:
    """Fit rows as an Arrow table of fits_schema(unit) (empty when there are none)."""
    return pa.Table.from_pylist(rows, schema=fits_schema(unit))


def check_stored_version(stored: dict[tuple[str, str], list[dict]], version: str) -> None:
    """Stored fits made with other settings (K, cadence, min_days, unit, estimator) cannot be continued."""
    for fits in stored.values():
        for f in fits:
            if f["model_version"] != version:
                raise RegimeConfigError(
                    f"stored regime fits were made with {f['model_version']!r}, the vars now give {version!r}: "
                    "run `dbt build --full-refresh`"
                )
