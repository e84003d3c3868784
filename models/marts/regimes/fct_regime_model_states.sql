{#- Grain: one row per fit_id and state: each state's estimated daily mean return and annualised
    volatility, persistence, and long-run share (docs/regimes.md). -#}

with

fits as (

    select * from {{ ref('int_regime__fits') }}

),

state_names as (

    select * from {{ ref('regime_state_names') }}

),

states as (

    select
        fits.*,
        unnest(range(fits.n_states)) as state
    from fits

),

final as (

    select
        states.fit_id,
        states.state,
        state_names.state_name,
        states.mean_returns[states.state + 1] as mean_return,
        states.sigmas[states.state + 1] * sqrt(365) as volatility,
        states.transitions[states.state * states.n_states + states.state + 1] as p_stay,
        1 / (1 - states.transitions[states.state * states.n_states + states.state + 1])
            as expected_duration_days,
        states.stationary_probabilities[states.state + 1] as stationary_probability,
        {{ binance_built_at() }} as _built_at
    from states
    inner join state_names
        on
            states.n_states = state_names.n_states
            and states.state = state_names.state

)

select * from final
