{#- Error: latest_regime (dim_latest_regime) is each series' latest day of the marts: one row per series
    of fct_ohlcv_daily, whose every column equals that day's fct_ohlcv_daily / fct_regime_features_daily
    values. One row per series that differs or is missing. DuckDB only, like the model. -#}
{{ config(enabled=target.type == 'duckdb') }}

with

latest_regime as (

    select * from {{ ref('dim_latest_regime') }}

),

daily as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

latest_days as (

    select
        daily.market,
        daily.symbol,
        daily.trade_date,
        daily.close_price,
        daily.is_complete,
        features.regime,
        features.vol_state,
        features.vol_state_probability,
        features.turbulent_probability,
        features.derivatives_market,
        features.leverage_regime
    from daily
    left join features
        on
            daily.market = features.market
            and daily.symbol = features.symbol
            and daily.trade_date = features.trade_date
    qualify daily.trade_date = max(daily.trade_date) over (partition by daily.market, daily.symbol)

),

final as (

    select
        coalesce(latest_days.market, latest_regime.market) as market,
        coalesce(latest_days.symbol, latest_regime.symbol) as symbol,
        case
            when latest_regime.symbol is null then 'series missing from latest_regime'
            when latest_days.symbol is null then 'series not in fct_ohlcv_daily'
            else 'latest_regime differs from the marts on the latest day'
        end as problem
    from latest_days
    full outer join latest_regime
        on latest_days.market = latest_regime.market and latest_days.symbol = latest_regime.symbol
    where
        latest_regime.symbol is null
        or latest_days.symbol is null
        or latest_days.trade_date != latest_regime.trade_date
        or latest_days.close_price is distinct from latest_regime.close_price
        or latest_days.is_complete is distinct from latest_regime.is_complete
        or latest_days.regime is distinct from latest_regime.regime
        or latest_days.vol_state is distinct from latest_regime.vol_state
        or latest_days.vol_state_probability is distinct from latest_regime.vol_state_probability
        or latest_days.turbulent_probability is distinct from latest_regime.turbulent_probability
        or latest_days.derivatives_market is distinct from latest_regime.derivatives_market
        or latest_days.leverage_regime is distinct from latest_regime.leverage_regime

)

select * from final
