{#- Grain: one row per market, symbol, hour_start and state: the filtered probability (no look-ahead)
    that the series is in the state in that hour, and the fit it was filtered with (docs/regimes.md).
    Hours with a row in int_binance__returns_hourly after the series' first fit; none for a series with
    fewer than var regime_min_hours returns. -#}

with

probabilities as (

    select * from {{ ref('int_regime__probabilities_hourly') }}

),

fits as (

    select * from {{ ref('int_regime__fits_hourly') }}

),

state_names as (

    select * from {{ ref('regime_state_names') }}

),

final as (

    select
        probabilities.market,
        probabilities.symbol,
        probabilities.hour_start,
        probabilities.state,
        state_names.state_name,
        probabilities.probability,
        probabilities.fit_id,
        {{ binance_built_at() }} as _built_at
    from probabilities
    inner join fits on probabilities.fit_id = fits.fit_id
    inner join state_names
        on
            fits.n_states = state_names.n_states
            and probabilities.state = state_names.state

)

select * from final
