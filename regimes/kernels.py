"""Compiled (numba) EM of one series: forward filter, Kim smoother, M-step, SQUAREM, stopping rule.

Why compiled and per series: the numpy version stepped through days in Python across a batch, and a
round of fits ran until its slowest series converged; here one series' whole EM runs in machine code,
and a series' result cannot depend on any other series (batch independence by construction). Every sum
is a plain loop in a fixed order and nothing is compiled with fastmath, so the bits are deterministic.
The algorithm is the one regimes.hmm documents (fit, _transition_m_step); constants come from settings.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from regimes import settings

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
MIN_SIGMA = settings.MIN_SIGMA
MIN_WEIGHT = settings.MIN_WEIGHT
MIN_TRANSITION = settings.MIN_TRANSITION
TRANSITION_ROUNDS = settings.TRANSITION_ROUNDS
SQUAREM_MAX_STEP = settings.SQUAREM_MAX_STEP


@njit(cache=True)
def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x = b for a small square a (Gaussian elimination, partial pivoting); b is (k, m)."""
    k = a.shape[0]
    m = b.shape[1]
    a = a.copy()
    b = b.copy()
    for c in range(k):
        p = c
        for r in range(c + 1, k):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if p != c:
            for j in range(k):
                a[c, j], a[p, j] = a[p, j], a[c, j]
            for j in range(m):
                b[c, j], b[p, j] = b[p, j], b[c, j]
        for r in range(c + 1, k):
            f = a[r, c] / a[c, c]
            for j in range(c, k):
                a[r, j] -= f * a[c, j]
            for j in range(m):
                b[r, j] -= f * b[c, j]
    x = np.zeros((k, m))
    for c in range(k - 1, -1, -1):
        for j in range(m):
            s = b[c, j]
            for i in range(c + 1, k):
                s -= a[c, i] * x[i, j]
            x[c, j] = s / a[c, c]
    return x


@njit(cache=True)
def stationary(p: np.ndarray) -> np.ndarray:
    """Stationary distribution pi = pi P: (P^T - I) pi = 0 with the last equation replaced by sum = 1."""
    k = p.shape[0]
    a = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            a[i, j] = p[j, i] - (1.0 if i == j else 0.0)
    for j in range(k):
        a[k - 1, j] = 1.0
    b = np.zeros((k, 1))
    b[k - 1, 0] = 1.0
    x = _solve(a, b)
    pi = np.empty(k)
    total = 0.0
    for i in range(k):
        pi[i] = max(x[i, 0], 0.0)
        total += pi[i]
    for i in range(k):
        pi[i] /= total
    return pi


@njit(cache=True)
def _transition_m_step(xi: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The M-step for P with the stationary initial distribution: maximise
    sum_ij xi_ij log P_ij + sum_k first_k log pi_k(P) over row-stochastic P. Its conditions
    xi_ij / P_ij + g_ij = lambda_i, with g_ij = pi_i (Z (first / pi))_j and Z = (I - P + 1 pi)^-1 the
    fundamental matrix (the derivative of pi), are solved by a few fixed-point rounds from the usual
    estimate xi / row sums (g is O(1) against counts O(T), so they converge fast). Without this term EM
    stops ~1e-6 (relative) short of the maximum likelihood statsmodels finds."""
    k = xi.shape[0]
    rows = np.zeros(k)
    for i in range(k):
        for j in range(k):
            rows[i] += xi[i, j]
    p = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            p[i, j] = xi[i, j] / rows[i]
    eye = np.eye(k)
    g = np.empty((k, k))
    lam = np.empty(k)
    for _ in range(TRANSITION_ROUNDS):
        pi = stationary(p)
        for i in range(k):
            pi[i] = max(pi[i], MIN_WEIGHT)
        a = np.empty((k, k))
        for i in range(k):
            for j in range(k):
                a[i, j] = eye[i, j] - p[i, j] + pi[j]
        z = _solve(a, eye)
        v = np.zeros(k)
        for i in range(k):
            for j in range(k):
                v[i] += z[i, j] * (first[j] / pi[j])
        for i in range(k):
            s = 0.0
            for j in range(k):
                g[i, j] = pi[i] * v[j]
                s += g[i, j] * p[i, j]
            lam[i] = rows[i] + s
        for i in range(k):
            gmax = g[i, 0]
            for j in range(1, k):
                gmax = max(gmax, g[i, j])
            for _ in range(TRANSITION_ROUNDS):
                # Newton on sum_j xi_ij / (lambda_i - g_ij) = 1, kept above max_j g_ij.
                h = 0.0
                dh = 0.0
                for j in range(k):
                    gap = max(lam[i] - g[i, j], MIN_WEIGHT)
                    h += xi[i, j] / gap
                    dh -= xi[i, j] / (gap * gap)
                h -= 1.0
                lam[i] = max(lam[i] - h / dh, gmax + MIN_WEIGHT)
        for i in range(k):
            s = 0.0
            for j in range(k):
                p[i, j] = xi[i, j] / max(lam[i] - g[i, j], MIN_WEIGHT)
                s += p[i, j]
            s2 = 0.0
            for j in range(k):
                p[i, j] = max(p[i, j] / s, MIN_TRANSITION)
                s2 += p[i, j]
            for j in range(k):
                p[i, j] /= s2
    return p


@njit(cache=True)
def forward(
    y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, p: np.ndarray, filt: np.ndarray, pred: np.ndarray
) -> float:
    """Hamilton filter of one series from the stationary distribution into filt, pred (T, K); returns the
    log-likelihood. Each day's densities are scaled by its largest (no underflow); NaN: prediction only."""
    t_len = y.shape[0]
    k = mean.shape[0]
    pi = stationary(p)
    log_sigma = np.log(sigma)
    cur = pi.copy()
    prior = np.empty(k)
    logf = np.empty(k)
    llf = 0.0
    for t in range(t_len):
        if t == 0:
            for j in range(k):
                prior[j] = pi[j]
        else:
            for j in range(k):
                s = cur[0] * p[0, j]
                for i in range(1, k):
                    s += cur[i] * p[i, j]
                prior[j] = s
        obs = not math.isnan(y[t])
        top = 0.0
        if obs:
            for j in range(k):
                z = (y[t] - mean[j]) / sigma[j]
                logf[j] = -0.5 * z * z - log_sigma[j] - LOG_SQRT_2PI
            top = logf[0]
            for j in range(1, k):
                top = max(top, logf[j])
        total = 0.0
        for j in range(k):
            joint = prior[j] * (math.exp(logf[j] - top) if obs else 1.0)
            cur[j] = joint
            total += joint
        for j in range(k):
            cur[j] /= total
            filt[t, j] = cur[j]
            pred[t, j] = prior[j]
        llf += math.log(total) + top
    return llf


@njit(cache=True)
def em_step(
    y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, p: np.ndarray, filt: np.ndarray, pred: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Forward filter, Kim smoother, M-step: (llf of the given parameters, new mean, sigma, P)."""
    t_len = y.shape[0]
    k = mean.shape[0]
    llf = forward(y, mean, sigma, p, filt, pred)
    smooth = filt[t_len - 1].copy()
    new_smooth = np.empty(k)
    ratio = np.empty(k)
    xi = np.zeros((k, k))
    w0 = np.zeros(k)
    w1 = np.zeros(k)
    w2 = np.zeros(k)
    # Moments accumulate from the last day back (a fixed order of this series alone).
    yt = y[t_len - 1]
    if not math.isnan(yt):
        for j in range(k):
            w0[j] += smooth[j]
            w1[j] += smooth[j] * yt
            w2[j] += smooth[j] * (yt * yt)
    for t in range(t_len - 2, -1, -1):
        # Kim smoother: gamma_t(i) = filt_t(i) sum_j P_ij gamma_{t+1}(j) / pred_{t+1}(j).
        for j in range(k):
            ratio[j] = smooth[j] / max(pred[t + 1, j], MIN_WEIGHT)
        for i in range(k):
            s = 0.0
            for j in range(k):
                joint = filt[t, i] * p[i, j] * ratio[j]
                xi[i, j] += joint
                s += joint
            new_smooth[i] = s
        for i in range(k):
            smooth[i] = new_smooth[i]
        yt = y[t]
        if not math.isnan(yt):
            for j in range(k):
                w0[j] += smooth[j]
                w1[j] += smooth[j] * yt
                w2[j] += smooth[j] * (yt * yt)
    new_mean = np.empty(k)
    new_sigma = np.empty(k)
    for j in range(k):
        if w0[j] > MIN_WEIGHT:
            new_mean[j] = w1[j] / w0[j]
            var = w2[j] / w0[j] - new_mean[j] * new_mean[j]
        else:
            new_mean[j] = mean[j]
            var = sigma[j] * sigma[j]
        new_sigma[j] = math.sqrt(max(var, MIN_SIGMA * MIN_SIGMA))
    for i in range(k):
        for j in range(k):
            xi[i, j] = max(xi[i, j], MIN_TRANSITION)
    # smooth now holds gamma_0: the weights of the initial (stationary) distribution.
    new_p = _transition_m_step(xi, smooth)
    return llf, new_mean, new_sigma, new_p


@njit(cache=True)
def _to_vector(mean: np.ndarray, sigma: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Unconstrained coordinates (mean, log sigma, log P) for the SQUAREM extrapolation."""
    k = mean.shape[0]
    u = np.empty(2 * k + k * k)
    for j in range(k):
        u[j] = mean[j]
        u[k + j] = math.log(sigma[j])
    for i in range(k):
        for j in range(k):
            u[2 * k + i * k + j] = math.log(p[i, j])
    return u


@njit(cache=True)
def _from_vector(u: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = u[:k].copy()
    sigma = np.empty(k)
    for j in range(k):
        sigma[j] = max(math.exp(u[k + j]), MIN_SIGMA)
    p = np.empty((k, k))
    for i in range(k):
        top = u[2 * k + i * k]
        for j in range(1, k):
            top = max(top, u[2 * k + i * k + j])
        s = 0.0
        for j in range(k):
            p[i, j] = math.exp(u[2 * k + i * k + j] - top)
            s += p[i, j]
        s2 = 0.0
        for j in range(k):
            p[i, j] = max(p[i, j] / s, MIN_TRANSITION)
            s2 += p[i, j]
        for j in range(k):
            p[i, j] /= s2
    return mean, sigma, p


@njit(cache=True)
def fit_one(
    y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, p: np.ndarray, tolerance: float, max_iterations: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int, bool]:
    """EM with SQUAREM of one series from (mean, sigma, P): see regimes.hmm.fit for the rule. Returns
    (mean, sigma, P, llf of those parameters, iterations, converged); states not yet ordered."""
    t_len = y.shape[0]
    k = mean.shape[0]
    filt = np.empty((t_len, k))
    pred = np.empty((t_len, k))
    cur_m, cur_s, cur_p = mean.copy(), sigma.copy(), p.copy()
    iterations = 0
    while True:
        l0, m1, s1, p1 = em_step(y, cur_m, cur_s, cur_p, filt, pred)
        l1, m2, s2, p2 = em_step(y, m1, s1, p1, filt, pred)
        iterations += 2
        done = abs(l1 - l0) <= tolerance * abs(l1)
        if done or iterations >= max_iterations:
            # The parameters l1 belongs to.
            return m1, s1, p1, l1, iterations, done
        u0 = _to_vector(cur_m, cur_s, cur_p)
        u1 = _to_vector(m1, s1, p1)
        u2 = _to_vector(m2, s2, p2)
        rr = 0.0
        vv = 0.0
        for i in range(u0.shape[0]):
            r = u1[i] - u0[i]
            v = u2[i] - 2.0 * u1[i] + u0[i]
            rr += r * r
            vv += v * v
        alpha = -math.sqrt(rr / vv) if vv > 0 else -1.0
        alpha = min(max(alpha, SQUAREM_MAX_STEP), -1.0)
        uj = np.empty(u0.shape[0])
        for i in range(u0.shape[0]):
            r = u1[i] - u0[i]
            v = u2[i] - 2.0 * u1[i] + u0[i]
            uj[i] = u0[i] - 2.0 * alpha * r + alpha * alpha * v
        mj, sj, pj = _from_vector(uj, k)
        lj, ma, sa, pa = em_step(y, mj, sj, pj, filt, pred)
        iterations += 1
        if math.isfinite(lj) and lj >= l1:
            cur_m, cur_s, cur_p = ma, sa, pa
        else:
            cur_m, cur_s, cur_p = m2, s2, p2
