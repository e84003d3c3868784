{#- Grain: one row per market and symbol with a volatility state: its most likely state on its latest
    day with one (docs/regimes.md), for the dashboards' Overview. -#}

with

features as (

    select * from {{ ref('fct_regime_features_daily').include(database=false) }}

),

latest_states as (

    select
        market,
        symbol,
        trade_date,
        vol_state,
        vol_state_probability,
        turbulent_probability
    from features
    where vol_state is not null
    qualify row_number() over (partition by market, symbol order by trade_date desc) = 1

),

final as (

    select
        *,
        {{ binance_built_at() }} as _built_at
    from latest_states

)

select * from final
