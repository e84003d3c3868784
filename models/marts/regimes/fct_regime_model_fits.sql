{#- Grain: one row per fit_id (a series and the day it was fitted through): the walk-forward fits of the
    regime-probability model (docs/regimes.md). The estimates live in int_regime__fits. -#}

with

fits as (

    select * from {{ ref('int_regime__fits') }}

),

final as (

    {{ regime_fit_rows('fits') }}

)

select * from final
