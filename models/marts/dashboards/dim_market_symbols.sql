{#- Grain: one row per market and symbol of fct_symbol_market_daily: its latest day against the market
    (correlation, beta, relative strength) with its quote asset and that day's regime: the Market
    page's table. -#}

with

symbol_market as (

    select * from {{ ref('fct_symbol_market_daily').include(database=false) }}

),

features as (

    select * from {{ ref('fct_regime_features_daily').include(database=false) }}

),

symbols as (

    select * from {{ ref('dim_symbols').include(database=false) }}

),

latest as (

    select
        *,
        row_number() over (partition by market, symbol order by trade_date desc) as day_rank
    from symbol_market

),

final as (

    select
        latest.market,
        latest.symbol,
        symbols.quote_asset,
        latest.trade_date as latest_date,
        features.regime,
        latest.benchmark_symbol,
        latest.correlation_30d,
        latest.beta_30d,
        latest.index_correlation_30d,
        latest.index_beta_30d,
        latest.relative_strength_30d,
        {{ binance_built_at() }} as _built_at
    from latest
    left join features
        on
            latest.market = features.market
            and latest.symbol = features.symbol
            and latest.trade_date = features.trade_date
    left join symbols
        on latest.market = symbols.market and latest.symbol = symbols.symbol
    where latest.day_rank = 1

)

select * from final
