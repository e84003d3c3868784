"""The regime-probability estimator and filter (regimes.hmm) against independent references: statsmodels'
MarkovRegression (maximum likelihood) and a plain-numpy forward filter written here; parameter recovery
on generated data with known parameters; batch independence (the same bits whatever else is fitted)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import warnings
from datetime import date

import numpy as np
import pytest

from regimes import hmm, walkforward
from tests.fixtures.paths import REPO_ROOT
from tests.regime_lake import TRUE_SIGMA, TRUE_TRANSITION, markov_returns

REAL_HOURLY = (
    REPO_ROOT
    / "tests"
    / "data"
    / "binance"
    / "spot"
    / "monthly"
    / "klines"
    / "BTCUSDT"
    / "1h"
    / "BTCUSDT-1h-2024-08.csv"
)


def real_returns() -> np.ndarray:
    """Hourly log returns of real BTCUSDT spot candles (August 2024, 744 hours)."""
    with REAL_HOURLY.open(newline="") as fh:
        closes = np.array([float(row[4]) for row in csv.reader(fh) if row and row[0].isdigit()])
    return np.diff(np.log(closes))


def project_fit(y: np.ndarray, k: int) -> hmm.Fit:
    batch = y[None, :]
    return hmm.fit(batch, np.array([0]), hmm.initial_params(batch, k))


def statsmodels_llf(y: np.ndarray, k: int) -> float:
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(MarkovRegression(y, k_regimes=k, switching_variance=True).fit(disp=False).llf)


def reference_filter(
    y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, float]:
    """Hamilton filter written from the textbook, independently of regimes.hmm: stationary start (the
    left eigenvector of P for eigenvalue 1), NaN = prediction step only."""
    w, v = np.linalg.eig(p.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
    pi = pi / pi.sum()
    out = np.zeros((y.size, mean.size))
    llf = 0.0
    prob = pi
    for t, r in enumerate(y):
        prior = pi if t == 0 else prob @ p
        if np.isnan(r):
            prob = prior
        else:
            dens = np.exp(-0.5 * ((r - mean) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            joint = prior * dens
            llf += np.log(joint.sum())
            prob = joint / joint.sum()
        out[t] = prob
    return out, llf


@pytest.mark.parametrize(
    ("name", "k"),
    [("real_btcusdt_hourly", 2), ("real_btcusdt_hourly", 3), ("generated", 2)],
)
def test_log_likelihood_no_worse_than_statsmodels(name: str, k: int) -> None:
    y = real_returns() if name.startswith("real") else markov_returns(1500, 11)[0]
    ours = float(project_fit(y, k).log_likelihood[0])
    theirs = statsmodels_llf(y, k)
    assert ours >= theirs - 1e-6 * abs(theirs), (ours, theirs, (ours - theirs) / abs(theirs))


def test_filter_equals_independent_reference() -> None:
    y = markov_returns(800, 5)[0]
    y[[10, 11, 400]] = np.nan  # a gap: prediction steps only
    f = project_fit(y, 2)
    mean, sigma, p = f.params.mean[0], f.params.sigma[0], f.params.transition[0]
    filt, _, llf = hmm.forward(y[None, :], f.params, np.array([0]))
    expected, expected_llf = reference_filter(y, mean, sigma, p)
    np.testing.assert_allclose(filt[0], expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(filt[0].sum(axis=1), 1.0, rtol=0, atol=1e-9)
    assert llf[0] == pytest.approx(expected_llf, rel=1e-12)
    assert float(f.log_likelihood[0]) == pytest.approx(expected_llf, rel=1e-12)


def test_parameter_recovery_on_3000_generated_days() -> None:
    y, _ = markov_returns(3000, 2024)
    f = project_fit(y, 2)
    assert bool(f.converged[0])
    p = f.params.transition[0]
    assert abs(p[0, 0] - TRUE_TRANSITION[0, 0]) <= 0.02, p
    assert abs(p[1, 1] - TRUE_TRANSITION[1, 1]) <= 0.02, p
    np.testing.assert_allclose(f.params.sigma[0], TRUE_SIGMA, rtol=0.05)


def test_a_series_gives_the_same_bits_alone_or_in_a_batch() -> None:
    """Full and incremental builds batch series differently: a fit must not depend on its batch."""
    a, _ = markov_returns(700, 1)
    b, _ = markov_returns(400, 2)
    alone = project_fit(a, 2)
    batch = np.full((2, 700), np.nan)
    batch[0] = a
    batch[1, 300:] = b
    start = np.array([0, 300])
    together = hmm.fit(batch, start, hmm.initial_params(batch, 2))
    assert together.params.mean[0].tobytes() == alone.params.mean[0].tobytes()
    assert together.params.sigma[0].tobytes() == alone.params.sigma[0].tobytes()
    assert together.params.transition[0].tobytes() == alone.params.transition[0].tobytes()
    assert together.log_likelihood[0] == alone.log_likelihood[0]
    b_alone = project_fit(b, 2)
    assert together.params.sigma[1].tobytes() == b_alone.params.sigma[0].tobytes()


def test_quarterly_refits_of_20_series_all_converge() -> None:
    """Every quarterly K=3 fit of 20 series x 3 years (180 fits) converges; how long they take is
    benchmarks/bench_regimes.py's (a benchmark, not a timed test)."""
    first = walkforward.day_number(date(2021, 1, 1))
    days = 3 * 365
    series = [
        walkforward.Series(
            "spot", f"S{i}", np.arange(first, first + days, dtype=np.int64), markov_returns(days, i)[0]
        )
        for i in range(20)
    ]
    rows = walkforward.fit_series(series, {}, 3, "quarter", 365)
    assert len(rows) == 20 * 9
    assert all(r["is_converged"] for r in rows)


def test_fit_bits_equal_freshly_compiled_and_cached(tmp_path) -> None:
    """Same lake, same bits: a run that compiles the kernels (empty numba cache) and one that loads them
    from the cache give identical fits."""
    code = (
        "import numpy as np; from regimes import hmm; from tests.regime_lake import markov_returns;"
        "y = markov_returns(600, 4)[0][None, :];"
        "f = hmm.fit(y, np.array([0]), hmm.initial_params(y, 3));"
        "print(f.params.sigma.tobytes().hex(), f.params.transition.tobytes().hex(), f.log_likelihood.tobytes().hex())"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    fresh, cached = (
        subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    )
    assert fresh.stdout and fresh.stdout == cached.stdout
