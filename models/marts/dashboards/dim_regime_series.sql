{#- Grain: one row per market and symbol of fct_regime_features_daily: its first and latest day, its
    day count, and the close, regimes, 30-day volatility and RSI-14 of its latest day (the dashboards'
    Overview). -#}

with

features as (

    select * from {{ ref('fct_regime_features_daily').include(database=false) }}

),

series as (

    select
        market,
        symbol,
        min(trade_date) as first_date,
        max(trade_date) as latest_date,
        count(*) as day_count
    from features
    group by market, symbol

),

final as (

    select
        series.market,
        series.symbol,
        series.first_date,
        series.latest_date,
        series.day_count,
        features.close_price,
        features.regime,
        features.leverage_regime,
        features.volatility_30d,
        features.rsi_14,
        {{ binance_built_at() }} as _built_at
    from series
    inner join features
        on
            series.market = features.market
            and series.symbol = features.symbol
            and series.latest_date = features.trade_date

)

select * from final
