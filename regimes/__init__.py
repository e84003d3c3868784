"""Regime probabilities: a K-state Gaussian Markov-switching model of daily or hourly log returns, fitted
walk-forward by maximum likelihood, with filtered (no look-ahead) state probabilities.

The numerics live in `regimes.hmm` (EM estimator, Hamilton filter, batched across series); the
walk-forward schedule and the rows the warehouse stores in `regimes.walkforward`, in steps of a time
unit of `regimes.units` (the day, or the hour). The dbt Python models
(models/intermediate/int_regime__*.py) are thin wrappers over these (docs/regimes.md).
"""
