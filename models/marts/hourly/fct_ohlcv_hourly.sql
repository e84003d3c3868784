{#- Grain: one row per market, symbol and UTC hour_start, from the candles of `hourly_source_interval`. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'symbol', 'hour_start'])) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__klines_hourly')]) %}

with

hourly as (

    select * from {{ ref('int_binance__klines_hourly') }}

),

intervals as (

    select * from {{ ref('binance_intervals') }}

),

scoped_hourly as (

    -- The hours to (re)write: all on a full build, else each changed series from its rebuild_from.
    select *
    from hourly
    where {{ binance_in_scope(scope, 'hourly', 'trade_date') }}

),

final as (

    select
        scoped_hourly.market,
        scoped_hourly.symbol,
        scoped_hourly.hour_start,
        scoped_hourly.trade_date,
        scoped_hourly.open_price,
        scoped_hourly.high_price,
        scoped_hourly.low_price,
        scoped_hourly.close_price,
        scoped_hourly.base_volume,
        scoped_hourly.quote_volume,
        scoped_hourly.taker_buy_base_volume,
        scoped_hourly.taker_buy_quote_volume,
        scoped_hourly.trade_count,
        scoped_hourly.quote_volume / nullif(scoped_hourly.base_volume, 0) as vwap,
        scoped_hourly.candle_count,
        cast(3600 / intervals.interval_seconds as bigint) as expected_candle_count,
        coalesce(scoped_hourly.candle_count = 3600 / intervals.interval_seconds, false) as is_complete,
        scoped_hourly.source_interval,
        {{ binance_built_at() }} as _built_at
    from scoped_hourly
    left join intervals
        on scoped_hourly.source_interval = intervals.interval_code

)

{{ binance_incremental_select('final') }}
