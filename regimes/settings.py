"""Constants of the regime-probability model (docs/regimes.md), in one place."""

from __future__ import annotations

# Bump when the estimator or the filter changes what they compute: stored fits then need a full refresh.
MODEL_VERSION = "gaussian-msm-em/2"

ALLOWED_STATES = (2, 3, 4)
CADENCES = ("month", "quarter", "year")
DEFAULT_STATES = 3
DEFAULT_CADENCE = "quarter"
DEFAULT_MIN_DAYS = 365

# EM stops when an iteration raises the log-likelihood by less than this, relative: tight enough that the
# fit is within 1e-6 (relative) of statsmodels' optimum (tests/test_regime_model.py).
EM_TOLERANCE = 1e-11
EM_MAX_ITERATIONS = 5000

# Fixed-point rounds of the transition M-step (regimes.hmm._transition_m_step).
TRANSITION_ROUNDS = 4

# Days whose emission densities are computed at once in the filter (bounds the memory of a batch).
EMISSION_BLOCK = 256

# Longest SQUAREM extrapolation step (alpha; -1 is a plain double EM step).
SQUAREM_MAX_STEP = -64.0

# Floors against a degenerate state (one that collapses onto a few returns has an unbounded likelihood).
MIN_SIGMA = 1e-6
MIN_WEIGHT = 1e-12
# Transition probabilities are kept off exact 0 so the filter never divides by a zero prediction.
MIN_TRANSITION = 1e-12

# Annualisation of a daily sigma (crypto trades every day), as the features' volatility columns.
DAYS_PER_YEAR = 365
# The hourly model's annualisation (docs/regimes.md, "Hourly probabilities"): 24 x 365 hours.
HOURS_PER_YEAR = 8760
DEFAULT_CADENCE_HOURLY = "month"
DEFAULT_MIN_HOURS = 2160
# Largest padded grid (series-fit rows x steps) the filter runs at once: bounds its memory (an hourly
# full build has thousands of fits over tens of thousands of hours); the filter is batch-independent.
FILTER_BATCH_CELLS = 8_000_000
