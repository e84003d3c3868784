{#- Error: low <= min(open, close) <= max(open, close) <= high and volumes, trade counts >= 0, for every
    candle of `hourly_source_interval` (counted per hour by int_binance__klines_hourly during its scan)
    and for every hour of fct_ohlcv_hourly. One row per offending hour. -#}

with

candle_hours as (

    select * from {{ ref('int_binance__klines_hourly') }}

),

hourly as (

    select * from {{ ref('fct_ohlcv_hourly') }}

),

bad_candles as (

    select
        market,
        symbol,
        hour_start,
        invalid_candle_count || ' of ' || candle_count || ' ' || source_interval
        || ' candles break low <= open, close <= high or have a negative volume or trade count' as problem
    from candle_hours
    where invalid_candle_count > 0

),

bad_hours as (

    select
        market,
        symbol,
        hour_start,
        'hourly row breaks low <= open, close <= high or has a negative volume or trade count' as problem
    from hourly
    where not {{ binance_ohlc_is_sane() }}

),

final as (

    select * from bad_candles
    union all
    select * from bad_hours

)

select * from final
