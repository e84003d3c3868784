{% macro regime_state_rows(fits, state_names, periods_per_year, duration_column) -%}
    {#- The states of each fit in `fits` (a relation of int_regime__fits or int_regime__fits_hourly rows):
        one row per fit_id and state with its mean return per step, its sigma annualised with
        sqrt(periods_per_year), p_stay, the expected spell length in steps, 1 / (1 - p_stay), named
        `duration_column`, and its long-run share. One query for the daily and the hourly model
        (docs/regimes.md). -#}
    select
        states.fit_id,
        states.state,
        state_names.state_name,
        states.mean_returns[states.state + 1] as mean_return,
        states.sigmas[states.state + 1] * sqrt({{ periods_per_year }}) as volatility,
        states.transitions[states.state * states.n_states + states.state + 1] as p_stay,
        1 / (1 - states.transitions[states.state * states.n_states + states.state + 1])
            as {{ duration_column }},
        states.stationary_probabilities[states.state + 1] as stationary_probability,
        {{ binance_built_at() }} as _built_at
    from (
        select
            fits.*,
            unnest(range(fits.n_states)) as state
        from {{ fits }} as fits
    ) as states
    inner join {{ state_names }} as state_names
        on
            states.n_states = state_names.n_states
            and states.state = state_names.state
{%- endmacro %}


{% macro regime_transition_rows(fits) -%}
    {#- The transition matrix of each fit in `fits` (int_regime__fits or int_regime__fits_hourly rows):
        one row per fit_id, from_state and to_state, Pr(state at the next step = to_state | state now =
        from_state). One query for the daily and the hourly model (docs/regimes.md). -#}
    select
        cells.fit_id,
        cells.cell // cells.n_states as from_state,
        cells.cell % cells.n_states as to_state,
        cells.transitions[cells.cell + 1] as probability,
        {{ binance_built_at() }} as _built_at
    from (
        select
            fits.fit_id,
            fits.n_states,
            fits.transitions,
            unnest(range(fits.n_states * fits.n_states)) as cell
        from {{ fits }} as fits
    ) as cells
{%- endmacro %}


{% macro regime_fit_rows(fits) -%}
    {#- The fits marts' rows (daily and hourly): one per fit of `fits` (int_regime__fits or its hourly
        twin), the estimates' summary without the parameter arrays the states and transitions unpack. -#}
    select
        fit_id,
        market,
        symbol,
        fitted_through,
        n_obs,
        n_states,
        log_likelihood,
        aic,
        bic,
        iterations,
        is_converged,
        model_version,
        {{ binance_built_at() }} as _built_at
    from {{ fits }}
{%- endmacro %}
