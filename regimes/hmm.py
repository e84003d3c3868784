"""Gaussian Markov-switching model of returns: EM (Baum-Welch) estimator and Hamilton filter.

The estimator (fit) runs each series alone through the compiled EM of regimes.kernels, so a series'
fit is the same bits whatever else is in its batch (full build == incremental build). The filter
(forward) works on a batch at once, stepping through time with numpy operations across the batch: one
series' arithmetic is elementwise in its own row and every sum over states or days is written out in a
fixed order, so it is batch-independent too. Observations sit on a grid of steps (calendar days, or hours
for the hourly model); a NaN (no row, or a null return after a gap) is a step with no observation: the
prediction step only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regimes import kernels, settings

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class Params:
    """Parameters of n series: mean and sigma (n, K) of each state, transition (n, K, K), rows sum to 1."""

    mean: np.ndarray
    sigma: np.ndarray
    transition: np.ndarray

    @property
    def n_states(self) -> int:
        return int(self.mean.shape[1])

    def take(self, rows: np.ndarray) -> Params:
        return Params(self.mean[rows], self.sigma[rows], self.transition[rows])


@dataclass(frozen=True)
class Fit:
    """An estimate per series, states ordered by sigma ascending (0 = calmest)."""

    params: Params
    log_likelihood: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    n_obs: np.ndarray


def ksum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis in a fixed order (left to right): the same bits whatever the batch."""
    out = a[..., 0].copy()
    for k in range(1, a.shape[-1]):
        out += a[..., k]
    return out


def predict(state: np.ndarray, transition: np.ndarray) -> np.ndarray:
    """One prediction step, state (n, K) times transition (n, K, K), summed over i in a fixed order."""
    out = state[:, 0, None] * transition[:, 0, :]
    for i in range(1, state.shape[1]):
        out += state[:, i, None] * transition[:, i, :]
    return out


def stationary(transition: np.ndarray) -> np.ndarray:
    """Stationary distribution pi = pi P of each (K, K) transition matrix: (n, K)."""
    n, k, _ = transition.shape
    a = np.swapaxes(transition, 1, 2) - np.eye(k)[None]
    a[:, -1, :] = 1.0
    b = np.zeros((n, k, 1))
    b[:, -1, 0] = 1.0
    pi = np.clip(np.linalg.solve(a, b)[..., 0], 0.0, None)
    return pi / ksum(pi)[:, None]


def _emissions(y: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Scaled densities (n, C, K) of a block of days y (n, C), and the log scale (n, C) they were divided
    by (each day's largest state log density), so an outlier far in every state's tail never underflows
    to 0/0. A NaN day has density 1 in every state (prediction step only)."""
    z = (y[:, :, None] - params.mean[:, None, :]) / params.sigma[:, None, :]
    logf = -0.5 * z * z - np.log(params.sigma)[:, None, :] - LOG_SQRT_2PI
    logf = np.where(np.isnan(y)[:, :, None], 0.0, logf)
    top = logf.max(axis=2)
    return np.exp(logf - top[:, :, None]), top


def forward(
    y: np.ndarray,
    params: Params,
    start: np.ndarray,
    init: np.ndarray | None = None,
    keep_last: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hamilton filter over y (n, T); row r starts at step start[r] (earlier steps are padding).

    Without `init`, a row's first step has the stationary distribution as its prediction (docs/regimes.md); with
    `init` (n, K), the filtered probabilities of the day before the row's first step, that step
    predicts from them (an incremental run continuing a stored day). Returns the filtered (n, W, K) and
    predicted (n, W, K) probabilities of the last W = keep_last (default T) steps, and the
    log-likelihood (n,) of each row's observations (summed day by day in order: padding adds exact 0s).
    """
    n, t_len = y.shape
    k = params.n_states
    pi = stationary(params.transition)
    cur = pi.copy() if init is None else init.copy()
    width = t_len if keep_last is None else keep_last
    filt = np.zeros((n, width, k))
    pred = np.zeros((n, width, k))
    log_days = np.zeros((n, t_len))
    starts_at: dict[int, np.ndarray] = {}
    if init is None:
        for t in np.unique(start).tolist():
            starts_at[t] = np.flatnonzero(start == t)
    last_start = int(start.max()) if n else 0
    for c0 in range(0, t_len, settings.EMISSION_BLOCK):
        c1 = min(c0 + settings.EMISSION_BLOCK, t_len)
        dens, top = _emissions(y[:, c0:c1], params)
        totals = np.ones((n, c1 - c0))
        for t in range(c0, c1):
            prior = predict(cur, params.transition)
            rows = starts_at.get(t)
            if rows is not None:
                prior[rows] = pi[rows]
            joint = prior * dens[:, t - c0]
            total = ksum(joint)
            new = joint / total[:, None]
            if t < last_start:
                active = (t >= start)[:, None]
                cur = np.where(active, new, cur)
                total = np.where(active[:, 0], total, 1.0)
            else:
                cur = new
            totals[:, t - c0] = total
            w = t - (t_len - width)
            if w >= 0:
                filt[:, w] = cur
                pred[:, w] = prior
        log_days[:, c0:c1] = np.where(np.arange(c0, c1)[None, :] >= start[:, None], np.log(totals) + top, 0.0)
    llf = np.add.accumulate(log_days, axis=1)[:, -1] if t_len else np.zeros(n)
    return filt, pred, llf


def initial_params(y: np.ndarray, n_states: int) -> Params:
    """A deterministic starting point: state k's sigma is the root mean square of the returns in the
    k-th band of |r - mean| (quantiles), every mean the overall mean, P sticky (0.95 on the diagonal)."""
    n = y.shape[0]
    mean = np.zeros((n, n_states))
    sigma = np.zeros((n, n_states))
    for r in range(n):
        obs = y[r][~np.isnan(y[r])]
        centre = float(np.mean(obs))
        dev = np.sort(np.abs(obs - centre))
        bands = np.array_split(dev, n_states)
        mean[r] = centre
        sigma[r] = [max(float(np.sqrt(np.mean(b * b))), settings.MIN_SIGMA) for b in bands]
    stay = 0.95
    transition = np.full((n, n_states, n_states), (1.0 - stay) / (n_states - 1))
    transition[:, np.arange(n_states), np.arange(n_states)] = stay
    return Params(mean, sigma, transition)


def order_by_sigma(params: Params) -> Params:
    """Renumber states by sigma ascending (stable), permuting the transition matrix alike."""
    order = np.argsort(params.sigma, axis=1, kind="stable")
    by_row = np.take_along_axis(params.transition, order[:, :, None], axis=1)
    transition = np.take_along_axis(by_row, order[:, None, :], axis=2)
    take = np.take_along_axis
    return Params(take(params.mean, order, axis=1), take(params.sigma, order, axis=1), transition)


def fit(
    y: np.ndarray,
    start: np.ndarray,
    init: Params,
    tolerance: float = settings.EM_TOLERANCE,
    max_iterations: int = settings.EM_MAX_ITERATIONS,
) -> Fit:
    """Maximum-likelihood fit by EM of each row of y (n, T) from `init`, accelerated by SQUAREM
    (Varadhan and Roland 2008): two EM steps, an extrapolation along them, one EM step from there,
    kept only if it does not lower the likelihood (else the plain two steps), so it stays monotone. A
    row stops when one EM step raises the log-likelihood by at most tolerance x |llf| and returns the
    parameters that log-likelihood belongs to (ordered by sigma). Each row runs alone through the
    compiled EM (regimes.kernels.fit_one) on its days from start[r]: no row waits for another, and a
    row's result cannot depend on the rest of the batch."""
    n = y.shape[0]
    mean, sigma, transition = init.mean.copy(), init.sigma.copy(), init.transition.copy()
    llf = np.full(n, np.nan)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    for r in range(n):
        row = np.ascontiguousarray(y[r, int(start[r]) :], dtype=np.float64)
        m, s, p, ll, it, done = kernels.fit_one(
            row,
            np.ascontiguousarray(init.mean[r], dtype=np.float64),
            np.ascontiguousarray(init.sigma[r], dtype=np.float64),
            np.ascontiguousarray(init.transition[r], dtype=np.float64),
            float(tolerance),
            int(max_iterations),
        )
        mean[r], sigma[r], transition[r] = m, s, p
        llf[r], iterations[r], converged[r] = ll, it, done
    n_obs = ((~np.isnan(y)) & (np.arange(y.shape[1])[None, :] >= start[:, None])).sum(axis=1)
    params = order_by_sigma(Params(mean, sigma, transition))
    return Fit(params, llf, iterations, converged, n_obs)


def n_parameters(n_states: int) -> int:
    """K means, K variances, K (K - 1) free transition probabilities (statsmodels counts the same)."""
    return n_states * n_states + n_states
