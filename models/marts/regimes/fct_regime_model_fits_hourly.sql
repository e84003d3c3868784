{#- Grain: one row per fit_id (a series and the hour it was fitted through, the last hour of a calendar
    period): the walk-forward fits of the hourly regime-probability model (docs/regimes.md). The
    estimates live in int_regime__fits_hourly. -#}

with

fits as (

    select * from {{ ref('int_regime__fits_hourly') }}

),

final as (

    {{ regime_fit_rows('fits') }}

)

select * from final
