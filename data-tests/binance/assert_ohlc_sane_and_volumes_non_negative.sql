{#- Error: low <= min(open, close) <= max(open, close) <= high and volumes, trade counts >= 0, for every
    candle (counted per day by int_binance__klines_daily during its single scan of the lake, so this
    stays cheap) and for every day of fct_ohlcv_daily. One row per offending day. -#}

with

candle_days as (

    select * from {{ ref('int_binance__klines_daily') }}

),

daily as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

bad_candles as (

    select
        market,
        symbol,
        trade_date,
        invalid_candle_count || ' of ' || candle_count || ' ' || source_interval
        || ' candles break low <= open, close <= high or have a negative volume or trade count' as problem
    from candle_days
    where invalid_candle_count > 0

),

bad_days as (

    select
        market,
        symbol,
        trade_date,
        'daily row breaks low <= open, close <= high or has a negative volume or trade count' as problem
    from daily
    where not {{ binance_ohlc_is_sane() }}

),

final as (

    select * from bad_candles
    union all
    select * from bad_days

)

select * from final
