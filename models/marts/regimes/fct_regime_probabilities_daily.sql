{#- Grain: one row per market, symbol, trade_date and state: the filtered probability (no look-ahead)
    that the series is in the state on that day, and the fit it was filtered with (docs/regimes.md).
    Days with a row in fct_regime_features_daily after the series' first fit; none for a series with
    fewer than var regime_min_days returns. -#}

with

probabilities as (

    select * from {{ ref('int_regime__probabilities_daily') }}

),

fits as (

    select * from {{ ref('int_regime__fits') }}

),

state_names as (

    select * from {{ ref('regime_state_names') }}

),

final as (

    select
        probabilities.market,
        probabilities.symbol,
        probabilities.trade_date,
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
