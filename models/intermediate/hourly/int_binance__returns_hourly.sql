{#- One row per market, symbol and UTC hour: the previous hour's close and the hourly log return, null on
    a series' first hour and after a missing hour (int_binance__returns_daily by the hour). Incremental:
    a rebuilt series reads its stored hours from the day before its rebuild_from, for the first
    rebuilt hour's previous close. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'symbol', 'hour_start'])) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__klines_hourly')]) %}

with

hourly as (

    select * from {{ ref('int_binance__klines_hourly') }}

),

scoped_hourly as (

    select
        market,
        symbol,
        hour_start,
        trade_date,
        close_price,
        {{ binance_hour_number('hour_start') }} as hour_number
    from hourly
    where {{ binance_in_scope(scope, 'hourly', 'trade_date', days_before=1) }}

),

with_previous_hour as (

    select
        market,
        symbol,
        hour_start,
        trade_date,
        close_price,
        -- The previous hour's close; null when that hour is missing.
        case
            when lag(hour_number) over by_hour = hour_number - 1 then lag(close_price) over by_hour
        end as previous_close
    from scoped_hourly
    window by_hour as (partition by market, symbol order by hour_start)

),

final as (

    select
        market,
        symbol,
        hour_start,
        trade_date,
        previous_close,
        {{ binance_ln('close_price / previous_close') }} as log_return,
        {{ binance_built_at() }} as _built_at
    from with_previous_hour
    where {{ binance_in_scope(scope, 'with_previous_hour', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
