{#- Grain: one row per fit_id and state: each state's estimated daily mean return and annualised
    volatility, persistence, and long-run share (docs/regimes.md). The query is shared with the hourly
    model's fct_regime_model_states_hourly (macros/regimes/regime_model_marts.sql). -#}

with

fits as (

    select * from {{ ref('int_regime__fits') }}

),

state_names as (

    select * from {{ ref('regime_state_names') }}

),

final as (

    {{ regime_state_rows('fits', 'state_names', 365, 'expected_duration_days') }}

)

select * from final
