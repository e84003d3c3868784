{#- Grain: one row per fit_id and state: each state's estimated hourly mean return and volatility annualised
    with sqrt(8760), persistence (in hours), and long-run share (docs/regimes.md). The query is shared
    with the daily fct_regime_model_states (macros/regimes/regime_model_marts.sql). -#}

with

fits as (

    select * from {{ ref('int_regime__fits_hourly') }}

),

state_names as (

    select * from {{ ref('regime_state_names') }}

),

final as (

    {{ regime_state_rows('fits', 'state_names', 8760, 'expected_duration_hours') }}

)

select * from final
