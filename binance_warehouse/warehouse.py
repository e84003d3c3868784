"""`Warehouse`: the read side of the project for notebooks and scripts (docs/api.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from binance_warehouse import arguments, files, lake, results, settings
from loaders import config

SymbolArg = str | Iterable[str] | None


class Warehouse:
    """Read-only access to the lake (candles) and the marts of the DuckDB file.

    `duckdb_path` and `lake_dir` default to DUCKDB_PATH and LAKE_DIR (then ./warehouse.duckdb and
    ./lake), as for dbt and the loaders. `output` is the default result format: "pandas" (needs pandas:
    the `api` extra), "arrow", "polars" or "relation" (a DuckDB relation: `.df()`, `.arrow()`, `.pl()`);
    every method takes `output=` too. `wait` is how long a read of the DuckDB file waits for a writer
    (a `dbt build`) to finish before it raises WarehouseBusyError.
    """

    def __init__(
        self,
        duckdb_path: str | os.PathLike[str] | None = None,
        lake_dir: str | os.PathLike[str] | None = None,
        output: str = settings.DEFAULT_OUTPUT,
        wait: float = settings.DEFAULT_WAIT_SECONDS,
    ) -> None:
        path = duckdb_path or config.env("DUCKDB_PATH", config.DEFAULT_DUCKDB_PATH)
        self.duckdb_path = Path(path).expanduser().resolve()
        self.lake_dir = config.lake_dir(lake_dir)
        self.output = arguments.output(output)
        if not isinstance(wait, int | float) or wait < 0:
            raise ValueError(f"wait must be a number of seconds >= 0, not {wait!r}")
        self.wait = float(wait)
        # In-memory DuckDB for the lake reads: no file lock, so it is kept (a new one costs ~20 ms).
        self._memory: duckdb.DuckDBPyConnection | None = None

    def __repr__(self) -> str:
        return f"Warehouse(duckdb_path='{self.duckdb_path}', lake_dir='{self.lake_dir}')"

    # --- the lake ------------------------------------------------------------------------------

    def candles(
        self,
        symbol: str | Iterable[str],
        interval: str,
        start: Any = None,
        end: Any = None,
        market: str = "spot",
        output: str | None = None,
    ) -> Any:
        """Candles of `symbol` (or a list of symbols) at any loaded `interval`, read from the lake's
        Parquet files (works while a `dbt build` holds the DuckDB file). start/end: a date, a datetime
        or 'YYYY-MM[-DD]', both inclusive (end='2024-03' is through March 31)."""
        out = self._output(output)
        names = arguments.symbols(symbol)
        if names is None:
            raise ValueError("candles: give a symbol or a list of symbols")
        arguments.market(market)
        arguments.interval(interval)
        period = arguments.period(start, end)
        if self._memory is None:
            self._memory = duckdb.connect()
        with self._memory.cursor() as cursor:
            tables = [lake.candles(cursor, self.lake_dir, market, interval, name, period) for name in names]
        return results.convert(pa.concat_tables(tables), out)

    # --- the marts -------------------------------------------------------------------------------

    def features(
        self,
        symbol: SymbolArg = None,
        start: Any = None,
        end: Any = None,
        market: str | None = "spot",
        output: str | None = None,
    ) -> Any:
        """fct_regime_features_daily: returns, volatilities, RSI, ATR, regime, leverage regime."""
        return self._mart(settings.FEATURES_TABLE, symbol, start, end, market, None, output)

    def derivatives(
        self,
        symbol: SymbolArg = None,
        start: Any = None,
        end: Any = None,
        market: str | None = "um",
        output: str | None = None,
    ) -> Any:
        """fct_derivatives_daily: funding, mark/index/premium, basis, open interest, long/short ratios."""
        if market is not None:
            arguments.market(market, ("um", "cm"))
        return self._mart(settings.DERIVATIVES_TABLE, symbol, start, end, market, None, output)

    def regimes(
        self,
        symbol: SymbolArg = None,
        start: Any = None,
        end: Any = None,
        market: str | None = "spot",
        output: str | None = None,
    ) -> Any:
        """The regime columns of fct_regime_features_daily (and their inputs), plus one `prob_<state>`
        column per state of fct_regime_probabilities_daily when the warehouse has that table."""
        out = self._output(output)
        names, period = self._checked(symbol, start, end, market)
        with files.read_only(self.duckdb_path, self.wait) as con:
            present = set(files.columns(con, settings.FEATURES_TABLE))
            self._require(con, settings.FEATURES_TABLE, present, names, market)
            wanted = settings.REGIME_COLUMNS + settings.OPTIONAL_REGIME_COLUMNS
            cols = ", ".join(f"features.{c}" for c in wanted if c in present)
            joined, extra = self._probabilities(con)
            where, params = self._where("features", names, period, market)
            sql = f"""
                select features.market, features.symbol, features.trade_date, {cols}{extra}
                from main.{settings.FEATURES_TABLE} as features {joined}
                where {where}
                order by features.market, features.symbol, features.trade_date
            """
            return results.convert(files.fetch(con, sql, params), out)

    def coverage(
        self,
        symbol: SymbolArg = None,
        start: Any = None,
        end: Any = None,
        market: str | None = None,
        dataset: str | None = None,
        interval: str | None = None,
        status: str | Sequence[str] | None = None,
        output: str | None = None,
    ) -> Any:
        """fct_coverage_daily: every day of every series, complete, incomplete or missing (and why).
        `status='missing'` (or a list) keeps only those days."""
        filters: dict[str, Any] = {}
        if dataset is not None:
            from loaders import contract

            if dataset not in contract.DATASETS:
                raise ValueError(f"unknown dataset {dataset!r}: use one of {', '.join(contract.DATASETS)}")
            filters["dataset"] = [dataset]
        if interval is not None:
            filters['"interval"'] = [arguments.interval(interval)]
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            bad = [s for s in wanted if s not in ("complete", "incomplete", "missing")]
            if bad:
                raise ValueError(f"unknown status {bad[0]!r}: use complete, incomplete or missing")
            filters["status"] = wanted
        return self._mart(settings.COVERAGE_TABLE, symbol, start, end, market, filters, output)

    def symbols(self, market: str | None = None, output: str | None = None) -> Any:
        """dim_symbols: every symbol of the lake, its assets, first and last day, what is loaded
        (columns starting with `_`, build bookkeeping, left out as in the daily marts)."""
        out = self._output(output)
        where, params = ("market = ?", [arguments.market(market)]) if market else ("true", [])
        with files.read_only(self.duckdb_path, self.wait) as con:
            present = files.columns(con, settings.SYMBOLS_TABLE)
            cols = ", ".join(f'"{c}"' for c in present if not c.startswith("_"))
            sql = f"select {cols} from main.{settings.SYMBOLS_TABLE} where {where} order by market, symbol"
            return results.convert(files.fetch(con, sql, params), out)

    def sql(
        self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, output: str | None = None
    ) -> Any:
        """Any read-only SQL on the warehouse (`?` or `$name` parameters), e.g.
        `wh.sql("select * from fct_ohlcv_daily where symbol = ?", ["BTCUSDT"])`."""
        out = self._output(output)
        if not isinstance(query, str) or not query.strip():
            raise ValueError("sql: give a query string")
        with files.read_only(self.duckdb_path, self.wait) as con:
            return results.convert(files.fetch(con, query, params or ()), out)

    # --- helpers ---------------------------------------------------------------------------------

    def _output(self, output: str | None) -> str:
        return self.output if output is None else arguments.output(output)

    @staticmethod
    def _checked(
        symbol: SymbolArg, start: Any, end: Any, market: str | None
    ) -> tuple[tuple[str, ...] | None, arguments.Period]:
        if market is not None:
            arguments.market(market)
        return arguments.symbols(symbol), arguments.period(start, end)

    @staticmethod
    def _require(
        con: duckdb.DuckDBPyConnection,
        table: str,
        present: set[str],
        names: tuple[str, ...] | None,
        market: str | None,
    ) -> None:
        """A missing table (no build yet) or an unknown symbol: one ValueError that says what exists."""
        if not present:
            raise ValueError(f"the warehouse has no table {table}: run `dbt build` first")
        if names is None:
            return
        where, params = ("where market = ?", [market]) if market else ("", [])
        known = {
            r[0] for r in con.execute(f"select distinct symbol from main.{table} {where}", params).fetchall()
        }
        unknown = [n for n in names if n not in known]
        if unknown:
            scope = f"{market} " if market else ""
            raise ValueError(
                f"unknown symbol {unknown[0]!r}: no {scope}rows in {table}"
                f" (symbols there: {arguments.listing(known)})"
            )

    @staticmethod
    def _where(
        alias: str,
        names: tuple[str, ...] | None,
        period: arguments.Period,
        market: str | None,
        filters: dict[str, list[Any]] | None = None,
    ) -> tuple[str, list[Any]]:
        clauses, params = ["true"], []
        if market is not None:
            clauses.append(f"{alias}.market = ?")
            params.append(market)
        if names is not None:
            clauses.append(f"list_contains(?, {alias}.symbol)")
            params.append(list(names))
        if period.start is not None:
            clauses.append(f"{alias}.trade_date >= ?")
            params.append(period.start)
        if period.end is not None:
            clauses.append(f"{alias}.trade_date < ?")
            params.append(period.end)
        for column, values in (filters or {}).items():
            clauses.append(f"list_contains(?, {alias}.{column})")
            params.append(values)
        return " and ".join(clauses), params

    def _mart(
        self,
        table: str,
        symbol: SymbolArg,
        start: Any,
        end: Any,
        market: str | None,
        filters: dict[str, list[Any]] | None,
        output: str | None,
    ) -> Any:
        """Rows of a daily mart for the symbols, period and filters, in key order; columns starting
        with `_` (build bookkeeping) left out."""
        out = self._output(output)
        names, period = self._checked(symbol, start, end, market)
        with files.read_only(self.duckdb_path, self.wait) as con:
            present = files.columns(con, table)
            self._require(con, table, set(present), names, market)
            cols = ", ".join(f'"{c}"' for c in present if not c.startswith("_"))
            where, params = self._where(table, names, period, market, filters)
            key = ", ".join(
                c
                for c in ("dataset", "market", '"interval"', "symbol", "trade_date")
                if c.strip('"') in present
            )
            sql = f"select {cols} from main.{table} where {where} order by {key}"
            return results.convert(files.fetch(con, sql, params), out)

    @staticmethod
    def _probabilities(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
        """The join and the columns that add each state's filtered probability, or ('', '') when the
        warehouse has no fct_regime_probabilities_daily (the regime-probability model is optional)."""
        table = settings.PROBABILITIES_TABLE
        present = set(files.columns(con, table))
        if not {"market", "symbol", "trade_date", "state", "state_name", "probability"} <= present:
            return "", ""
        states = [
            r[0]
            for r in con.execute(
                f"select state_name from main.{table} group by state_name order by min(state)"
            ).fetchall()
            if r[0] is not None and re.match(settings.STATE_NAME_PATTERN, r[0])
        ]
        if not states:
            return "", ""
        pivots = ", ".join(f"max(probability) filter (where state_name = '{s}') as prob_{s}" for s in states)
        fit = ", max(fit_id) as fit_id" if "fit_id" in present else ""
        joined = f"""
            left join (
                select market, symbol, trade_date, {pivots}{fit}
                from main.{table}
                group by market, symbol, trade_date
            ) as probabilities
                on features.market = probabilities.market
                and features.symbol = probabilities.symbol
                and features.trade_date = probabilities.trade_date
        """
        extra = "".join(f", probabilities.prob_{s}" for s in states) + (
            ", probabilities.fit_id" if fit else ""
        )
        return joined, extra
