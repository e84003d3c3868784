{#- Grain: one row per fit_id, from_state and to_state: the fitted transition matrix,
    Pr(state tomorrow = to_state | state today = from_state) (docs/regimes.md). The query is shared
    with fct_regime_model_transitions_hourly (macros/regimes/regime_model_marts.sql). -#}

with

fits as (

    select * from {{ ref('int_regime__fits') }}

),

final as (

    {{ regime_transition_rows('fits') }}

)

select * from final
