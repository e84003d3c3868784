{#- Grain: one row per market, quote_asset and trade_date with any symbol present: the day's
    cross-section (int_market__cross_section_daily) and the market index, its level chained from the
    first day, its 30-day features and its rule-based regime (docs/features.md#market-wide).
    Incremental: a group with changed days is recomputed over its whole history (one row a day, so
    cheap: the level is a running product) and only its days from the earliest change are written. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'quote_asset', 'trade_date'])) }}

{%- set changed = market_group_changed([ref('int_market__cross_section_daily')]) %}

with

cross_section as (

    select * from {{ ref('int_market__cross_section_daily') }}

),

thresholds as (

    select * from {{ ref('regime_thresholds') }}

),

series as (

    select
        *,
        {{ binance_day_number('trade_date') }} as day_number
    from cross_section
    where {{ market_group_in_scope(changed, 'cross_section') }}

),

indexed as (

    -- 100 on the first day, times exp(index_log_return) each day (a null return leaves it unchanged);
    -- the first day's return is always null (no symbol has the day before it).
    select
        *,
        100 * exp(sum(coalesce(index_log_return, 0)) over (
            partition by market, quote_asset
            order by trade_date rows between unbounded preceding and current row
        )) as index_level
    from series

),

windowed as (

    -- The daily feature definitions over calendar days ending at trade_date: a value needs every day.
    select
        *,
        count(index_log_return) over last_30_days as return_count_30,
        stddev_samp(index_log_return) over last_30_days as return_stddev_30,
        count(index_level) over last_30_days as level_count_30,
        avg(index_level) over last_30_days as level_mean_30
    from indexed
    window last_30_days as (
        partition by market, quote_asset order by day_number range between 29 preceding and current row
    )

),

index_features as (

    select
        market,
        quote_asset,
        trade_date,
        symbols_present,
        breadth_above_sma30,
        advancers_share,
        dispersion,
        median_volatility_30d,
        top_symbol_quote_volume_share,
        index_log_return,
        index_level,
        case when return_count_30 = 30 then return_stddev_30 * sqrt(365) end as index_volatility_30d,
        case when level_count_30 = 30 then index_level / level_mean_30 - 1 end as index_trend_30d
    from windowed
    where {{ market_group_in_scope(changed, 'windowed', 'trade_date') }}

),

final as (

    select
        index_features.*,
        thresholds.regime as index_regime,
        thresholds.regime_id as index_regime_id,
        {{ binance_built_at() }} as _built_at
    from index_features
    left join thresholds
        on {{ market_regime_matches(
            'thresholds', 'index_features.index_trend_30d', 'index_features.index_volatility_30d'
        ) }}

)

{{ binance_incremental_select('final') }}
