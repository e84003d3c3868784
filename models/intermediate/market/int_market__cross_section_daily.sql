{#- Grain: one row per market, quote_asset and trade_date with any symbol present (a row in
    fct_regime_features_daily): the cross-section of that day's symbols (docs/features.md#market-wide).
    Symbols without a known quote asset (dim_symbols) belong to no group. Each day reads that day's rows
    only, so an incremental run recomputes the groups with changed rows from their earliest changed day. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'quote_asset', 'trade_date'])) }}

{%- set upstream = [ref('fct_regime_features_daily'), ref('fct_ohlcv_daily')] %}
{%- set changed = market_group_changed(upstream, symbols=ref('dim_symbols')) %}
{%- set since_floor = market_since_floor(upstream, 'trade_date') %}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

ohlcv as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

features_since_floor as (

    select * from features
    where {{ since_floor }}

),

ohlcv_since_floor as (

    select * from ohlcv
    where {{ since_floor }}

),

symbols as (

    select * from {{ ref('dim_symbols') }}

),

members as (

    -- Every symbol present on a day, with its group and the day's quote volume.
    select
        features.market,
        symbols.quote_asset,
        features.symbol,
        features.trade_date,
        features.close_price,
        features.log_return,
        features.sma_30,
        features.volatility_30d,
        ohlcv.quote_volume
    from features_since_floor as features
    inner join symbols
        on
            features.market = symbols.market
            and features.symbol = symbols.symbol
            and symbols.quote_asset is not null
    left join ohlcv_since_floor as ohlcv
        on
            features.market = ohlcv.market
            and features.symbol = ohlcv.symbol
            and features.trade_date = ohlcv.trade_date

),

members_in_scope as (

    select * from members
    where {{ market_group_in_scope(changed, 'members', 'trade_date') }}

),

cross_section as (

    select
        market,
        quote_asset,
        trade_date,
        count(*) as symbols_present,
        avg(case when sma_30 is not null then cast(close_price > sma_30 as double) end)
            as breadth_above_sma30,
        avg(case when log_return is not null then cast(log_return > 0 as double) end) as advancers_share,
        case when count(log_return) >= 3 then stddev_samp(log_return) end as dispersion,
        median(volatility_30d) as median_volatility_30d,
        max(quote_volume) / nullif(sum(quote_volume), 0) as top_symbol_quote_volume_share,
        -- Quote-volume-weighted mean over the symbols with a return (weights sum to 1 over them).
        sum(case when log_return is not null then quote_volume * log_return end)
        / nullif(sum(case when log_return is not null then quote_volume end), 0) as index_log_return
    from members_in_scope
    group by market, quote_asset, trade_date

),

final as (

    select
        *,
        {{ binance_built_at() }} as _built_at
    from cross_section

)

{{ binance_incremental_select('final') }}
