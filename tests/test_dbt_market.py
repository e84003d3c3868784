"""The market-wide marts (fct_market_daily, fct_symbol_market_daily; docs/features.md#market-wide) in real
dbt builds of a lake the real loader built from generated 1d candles of a small universe: every column
against an independent numpy computation from the marts' inputs, an incremental build after a month
equal to a full refresh, and one day appended rewriting only the days its windows touch.

The universe (spot, 2023-01..04, plus um): a benchmark, a symbol with a missing day, one listed mid-way,
one delisted, one with a gap of several days, a day no USDT symbol has (so the next day's index return
is null and the level holds), a two-symbol BTC-quoted group (dispersion needs 3 returns), and a futures
market with its own benchmark."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.dbt_helpers import query, regime_thresholds, row_differences
from tests.fixtures.binance_server import BinanceServer
from tests.fixtures.dbt import run_dbt
from tests.fixtures.warehouse import ArchiveTree, Load, generated_klines_csv, load_tree
from tests.regime_lake import finish, write_daily_series

pytestmark = pytest.mark.slow

VARS = "{daily_source_interval: 1d}"
MONTHS = ("2023-01", "2023-02", "2023-03", "2023-04")
ADDED_MONTH = "2023-04"
APPENDED_DAY = date(2023, 5, 1)
NO_USDT_DAY = date(2023, 3, 15)


def _days(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=k) for k in range((last - first).days + 1))


# (market, symbol) -> (first month, last month, missing days).
UNIVERSE: dict[tuple[str, str], tuple[str, str, tuple[date, ...]]] = {
    ("spot", "BTCUSDT"): ("2023-01", "2023-04", (NO_USDT_DAY,)),
    ("spot", "ETHUSDT"): ("2023-01", "2023-04", (date(2023, 2, 14), NO_USDT_DAY)),
    ("spot", "SOLUSDT"): ("2023-02", "2023-04", (*_days(date(2023, 2, 1), date(2023, 2, 10)), NO_USDT_DAY)),
    ("spot", "LUNAUSDT"): ("2023-01", "2023-03", (*_days(date(2023, 3, 10), date(2023, 3, 31)),)),
    ("spot", "XRPUSDT"): ("2023-01", "2023-04", (*_days(date(2023, 3, 1), date(2023, 3, 4)), NO_USDT_DAY)),
    ("spot", "ETHBTC"): ("2023-01", "2023-04", ()),
    ("spot", "BNBBTC"): ("2023-02", "2023-04", ()),
    ("um", "BTCUSDT"): ("2023-01", "2023-04", ()),
    ("um", "ETHUSDT"): ("2023-01", "2023-04", ()),
}
REL = 1e-9
MARKET_KEY = ("market", "quote_asset", "trade_date")
SYMBOL_KEY = ("market", "symbol", "trade_date")


def publish(tree: ArchiveTree, sources: Path, months: tuple[str, ...]) -> None:
    """Monthly 1d archives of every symbol of UNIVERSE for `months` (its own months only)."""
    sources.mkdir(parents=True, exist_ok=True)
    for k, ((market, symbol), (first, last, missing)) in enumerate(sorted(UNIVERSE.items())):
        price = 10.0 * (k + 1)
        for m, month in enumerate(MONTHS):
            if not first <= month <= last:
                continue
            data, price = generated_klines_csv(month, 86_400, 5000 + 100 * k + m, price, missing)
            if month in months:
                stem = f"{symbol}-1d-{month}"
                source = sources / f"{market}-{stem}.csv"
                source.write_bytes(data)
                tree.add_csv_bytes(market, "monthly", symbol, "1d", stem, data, source)


def publish_day(tree: ArchiveTree, sources: Path, day: date) -> None:
    """One daily 1d archive for `day` of every symbol still listed at the end (a day appended)."""
    for k, ((market, symbol), (_, last, _)) in enumerate(sorted(UNIVERSE.items())):
        if last != MONTHS[-1]:
            continue
        data, _ = generated_klines_csv(f"{day:%Y-%m}", 86_400, 9000 + k, 10.0 * (k + 1))
        line = next(row for row in data.decode().splitlines() if row.startswith(str(_epoch_ms(day))))
        stem = f"{symbol}-1d-{day}"
        source = sources / f"{market}-{stem}.csv"
        source.write_bytes((line + "\n").encode())
        tree.add_csv_bytes(market, "daily", symbol, "1d", stem, source.read_bytes(), source)


def _epoch_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000


LOADS = tuple(
    Load(market, "klines", tuple(sorted(s for m, s in UNIVERSE if m == market)), ("1d",))
    for market in ("spot", "um")
)
TABLES = ("int_market__cross_section_daily", "fct_market_daily", "fct_symbol_market_daily")


def snapshot(db: Path) -> dict[str, list[dict[str, Any]]]:
    return {t: query(db, f"select * from main.{t}") for t in TABLES}


def build(lake: Path, db: Path, work: Path) -> None:
    run = run_dbt("build", "--vars", VARS, lake_dir=lake, duckdb_path=db, work_dir=work)
    assert run.success, {n: s for n, s in run.statuses().items() if s not in ("success", "pass")}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """incremental: built through March, then April built incrementally; full: one build of the same lake;
    appended: the incremental warehouse after one more day (the tables before and after)."""
    root = tmp_path_factory.mktemp("market_dbt")
    tree = ArchiveTree(root / "tree")
    lake, sources = root / "lake", root / "sources"
    publish(tree, sources, tuple(m for m in MONTHS if m != ADDED_MONTH))
    with BinanceServer(tree.root) as server:
        load_tree(server, lake, LOADS)
        build(lake, root / "inc.duckdb", root / "w1")
        publish(tree, sources, (ADDED_MONTH,))
        load_tree(server, lake, LOADS)
        build(lake, root / "inc.duckdb", root / "w2")
        out: dict[str, Any] = {"incremental": snapshot(root / "inc.duckdb"), "db": root / "inc.duckdb"}
        build(lake, root / "full.duckdb", root / "w3")
        out["full"] = snapshot(root / "full.duckdb")
        out["full_db"] = root / "full.duckdb"
        publish_day(tree, sources, APPENDED_DAY)
        load_tree(server, lake, LOADS)
        build(lake, root / "inc.duckdb", root / "w4")
        out["appended"] = snapshot(root / "inc.duckdb")
    yield out


# ---- the reference: plain Python/numpy over the marts' inputs -------------------------------------------


def inputs(db: Path) -> list[dict[str, Any]]:
    """The symbol-day rows the market marts read: features, quote volume, quote asset."""
    return query(
        db,
        "select f.market, f.symbol, f.trade_date, f.close_price, f.log_return, f.sma_30, f.volatility_30d, "
        "f.momentum_30d, o.quote_volume, s.quote_asset from fct_regime_features_daily f "
        "join fct_ohlcv_daily o using (market, symbol, trade_date) join dim_symbols s using (market, symbol)",
    )


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _regime(trend: float | None, vol: float | None) -> str | None:
    if trend is None or vol is None:
        return None
    for rule in regime_thresholds().rules:
        if (
            (rule.trend_above is None or trend > rule.trend_above)
            and (rule.trend_at_most is None or trend <= rule.trend_at_most)
            and (rule.volatility_above is None or vol > rule.volatility_above)
            and (rule.volatility_at_most is None or vol <= rule.volatility_at_most)
        ):
            return rule.regime
    raise AssertionError("the seed's regimes cover every trend and volatility")


def expected_market(rows: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    by_group: dict[tuple[str, str], dict[date, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_group[r["market"], r["quote_asset"]][r["trade_date"]].append(r)
    out: dict[tuple, dict[str, Any]] = {}
    for (market, quote), days in by_group.items():
        level = 100.0
        series: dict[date, dict[str, Any]] = {}
        for i, d in enumerate(sorted(days)):
            members = days[d]
            returns = [m for m in members if m["log_return"] is not None]
            with_sma = [m for m in members if m["sma_30"] is not None]
            vols = [m["volatility_30d"] for m in members if m["volatility_30d"] is not None]
            weights = sum(m["quote_volume"] for m in returns)
            index_return = (
                sum(m["quote_volume"] * m["log_return"] for m in returns) / weights if returns else None
            )
            if i > 0 and index_return is not None:
                level *= math.exp(index_return)
            series[d] = {
                "symbols_present": len(members),
                "breadth_above_sma30": _share([m["close_price"] > m["sma_30"] for m in with_sma]),
                "advancers_share": _share([m["log_return"] > 0 for m in returns]),
                "dispersion": (
                    float(np.std([m["log_return"] for m in returns], ddof=1)) if len(returns) >= 3 else None
                ),
                "median_volatility_30d": float(np.median(vols)) if vols else None,
                "top_symbol_quote_volume_share": max(m["quote_volume"] for m in members)
                / sum(m["quote_volume"] for m in members),
                "index_log_return": index_return,
                "index_level": level,
            }
        for d, row in series.items():
            window = [series.get(d - timedelta(days=k)) for k in range(30)]
            full = all(w is not None for w in window)
            rets = [w["index_log_return"] for w in window if w is not None]
            vol = (
                float(np.std(rets, ddof=1)) * math.sqrt(365)
                if full and all(x is not None for x in rets)
                else None
            )
            trend = (
                row["index_level"] / float(np.mean([w["index_level"] for w in window])) - 1 if full else None
            )
            row |= {
                "index_volatility_30d": vol,
                "index_trend_30d": trend,
                "index_regime": _regime(trend, vol),
            }
            out[market, quote, d] = row
    return out


def _against(x: list[float | None], y: list[float | None]) -> tuple[float | None, float | None]:
    """(correlation, beta of x on y), sample statistics, over 30 pairs all present; else nulls."""
    if len(x) != 30 or any(v is None for v in x + y):
        return None, None
    xs, ys = np.array(x, dtype=float), np.array(y, dtype=float)
    cov = float(np.cov(xs, ys, ddof=1)[0, 1])
    var_x, var_y = float(np.var(xs, ddof=1)), float(np.var(ys, ddof=1))
    corr = cov / math.sqrt(var_x * var_y) if var_x > 0 and var_y > 0 else None
    return corr, cov / var_y if var_y > 0 else None


def expected_symbols(
    rows: list[dict[str, Any]], market_rows: dict[tuple, dict[str, Any]], benchmark: str = "BTCUSDT"
) -> dict[tuple, dict[str, Any]]:
    by_key = {(r["market"], r["symbol"], r["trade_date"]): r for r in rows}
    out: dict[tuple, dict[str, Any]] = {}
    for (market, symbol, d), r in by_key.items():
        window = [by_key.get((market, symbol, d - timedelta(days=k))) for k in range(30)]
        mine = [w["log_return"] if w else None for w in window]
        bench = [
            by_key[market, benchmark, d - timedelta(days=k)]["log_return"]
            if (market, benchmark, d - timedelta(days=k)) in by_key
            else None
            for k in range(30)
        ]
        index = [
            market_rows[market, r["quote_asset"], d - timedelta(days=k)]["index_log_return"]
            if (market, r["quote_asset"], d - timedelta(days=k)) in market_rows
            else None
            for k in range(30)
        ]
        corr, beta = _against(mine, bench)
        if symbol == benchmark and corr is not None:
            corr, beta = 1.0, 1.0
        index_corr, index_beta = _against(mine, index)
        now = market_rows.get((market, r["quote_asset"], d))
        before = market_rows.get((market, r["quote_asset"], d - timedelta(days=30)))
        strength = (
            r["momentum_30d"] - (now["index_level"] / before["index_level"] - 1)
            if now and before and r["momentum_30d"] is not None
            else None
        )
        out[market, symbol, d] = {
            "benchmark_symbol": benchmark,
            "correlation_30d": corr,
            "beta_30d": beta,
            "index_correlation_30d": index_corr,
            "index_beta_30d": index_beta,
            "relative_strength_30d": strength,
        }
    return out


def _mismatches(table: list[dict[str, Any]], expected: dict[tuple, dict[str, Any]], key: tuple) -> list[str]:
    got = {tuple(r[k] for k in key): r for r in table}
    problems = [f"rows: got {len(got)}, want {len(expected)}"] if set(got) != set(expected) else []
    for k, want in expected.items():
        for column, value in want.items():
            have = got.get(k, {}).get(column)
            same = (
                math.isclose(have, value, rel_tol=REL, abs_tol=1e-12)
                if isinstance(value, float) and isinstance(have, float)
                else have == value
            )
            if not same:
                problems.append(f"{k} {column}: got {have}, want {value}")
    return problems


# ---- tests ----------------------------------------------------------------------------------------------


def test_market_daily_equals_an_independent_computation(builds: dict[str, Any]) -> None:
    rows = inputs(builds["full_db"])
    expected = expected_market(rows)
    problems = _mismatches(builds["full"]["fct_market_daily"], expected, MARKET_KEY)
    assert not problems, "\n".join(problems[:20])
    # The lake has what the columns must cope with: a day whose index return is null (the day after no
    # USDT symbol traded), a two-symbol group (no dispersion), a symbol listed and one delisted mid-way.
    usdt = {k[2]: v for k, v in expected.items() if k[:2] == ("spot", "USDT")}
    assert NO_USDT_DAY not in usdt and usdt[NO_USDT_DAY + timedelta(days=1)]["index_log_return"] is None
    assert (
        min(v["symbols_present"] for v in usdt.values())
        < max(v["symbols_present"] for v in usdt.values())
        == 5
    )
    assert all(v["dispersion"] is None for k, v in expected.items() if k[1] == "BTC")
    assert any(v["index_regime"] for v in expected.values())


def test_symbol_market_daily_equals_an_independent_computation(builds: dict[str, Any]) -> None:
    rows = inputs(builds["full_db"])
    expected = expected_symbols(rows, expected_market(rows))
    problems = _mismatches(builds["full"]["fct_symbol_market_daily"], expected, SYMBOL_KEY)
    assert not problems, "\n".join(problems[:20])
    filled = {c: sum(v[c] is not None for v in expected.values()) for c in next(iter(expected.values()))}
    assert all(filled.values()), f"a column is never computed on this lake: {filled}"


def test_incremental_build_equals_a_full_refresh(builds: dict[str, Any]) -> None:
    for table in TABLES:
        key = MARKET_KEY if table != "fct_symbol_market_daily" else SYMBOL_KEY
        problems = row_differences(
            builds["full"][table], builds["incremental"][table], key,
            names=("the full build", "the incremental build"), rel=1e-12, abs_tol=1e-12,
        )  # fmt: skip
        assert not problems, f"{table}:\n" + "\n".join(problems[:20])


def test_an_appended_day_rewrites_only_the_days_its_windows_touch(builds: dict[str, Any]) -> None:
    for table in TABLES:
        key = MARKET_KEY if table != "fct_symbol_market_daily" else SYMBOL_KEY
        before = {tuple(r[k] for k in key): r for r in builds["incremental"][table]}
        after = {tuple(r[k] for k in key): r for r in builds["appended"][table]}
        assert {k[-1] for k in set(after) - set(before)} == {APPENDED_DAY}, table
        rewritten = sorted({k[-1] for k, r in before.items() if after[k]["_built_at"] != r["_built_at"]})
        assert not rewritten, f"{table}: old rows rewritten: {rewritten[:5]}"


def test_a_bad_benchmark_symbol_fails_in_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The var reaches SQL as a literal; a value that is no symbol stops the run before any model."""
    lake = tmp_path / "lake"
    write_daily_series(lake, "BTCUSDT", date(2023, 1, 1), np.zeros(40))
    finish(lake)
    run = run_dbt(
        "run", "--select", "int_binance__returns_daily",
        "--vars", "{daily_source_interval: 1d, benchmark_symbol: \"btc'usdt\"}",
        lake_dir=lake, duckdb_path=tmp_path / "w.duckdb", work_dir=tmp_path / "work",
    )  # fmt: skip
    assert not run.success
    out = capsys.readouterr().out + (tmp_path / "work" / "logs" / "dbt.log").read_text()
    assert [ln for ln in out.splitlines() if "var benchmark_symbol" in ln and "btc'usdt" in ln], out[-3000:]
    assert "Traceback" not in out
