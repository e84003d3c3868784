{#- Grain: one row per market, symbol and UTC trade_date, from the candles of `daily_source_interval`. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__klines_daily')]) %}

with

daily as (

    select * from {{ ref('int_binance__klines_daily') }}

),

intervals as (

    select * from {{ ref('binance_intervals') }}

),

scoped_daily as (

    -- The days to (re)write: all on a full build, else each changed series from its rebuild_from.
    select *
    from daily
    where {{ binance_in_scope(scope, 'daily', 'trade_date') }}

),

final as (

    select
        scoped_daily.market,
        scoped_daily.symbol,
        scoped_daily.trade_date,
        scoped_daily.open_price,
        scoped_daily.high_price,
        scoped_daily.low_price,
        scoped_daily.close_price,
        scoped_daily.base_volume,
        scoped_daily.quote_volume,
        scoped_daily.taker_buy_base_volume,
        scoped_daily.taker_buy_quote_volume,
        scoped_daily.trade_count,
        scoped_daily.quote_volume / nullif(scoped_daily.base_volume, 0) as vwap,
        scoped_daily.candle_count,
        intervals.candles_per_day as expected_candle_count,
        coalesce(scoped_daily.candle_count = intervals.candles_per_day, false) as is_complete,
        scoped_daily.source_interval,
        {{ binance_built_at() }} as _built_at
    from scoped_daily
    left join intervals
        on scoped_daily.source_interval = intervals.interval_code

)

{{ binance_incremental_select('final') }}
