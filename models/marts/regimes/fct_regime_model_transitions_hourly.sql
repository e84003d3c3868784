{#- Grain: one row per fit_id, from_state and to_state: the hourly model's transition matrix,
    Pr(state next hour = to_state | state this hour = from_state) (docs/regimes.md). The query is shared
    with fct_regime_model_transitions (macros/regimes/regime_model_marts.sql). -#}

with

fits as (

    select * from {{ ref('int_regime__fits_hourly') }}

),

final as (

    {{ regime_transition_rows('fits') }}

)

select * from final
