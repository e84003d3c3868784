{#- Error: where Binance's own 1h candles are loaded and the hourly mart is built from a finer interval,
    the hourly aggregate must equal them: open, high, low, close and trade count exactly, volumes to
    1e-9 relative (assert_daily_ohlcv_reconciles_with_binance_1d by the hour). One row per disagreeing
    hour, with both versions. -#}

with

binance_hourly as (

    -- Nothing to read when the mart is built from 1h itself (a constant the planner folds).
    select * from {{ ref('stg_binance__klines') }}
    where
        {{ adapter.quote('interval') }} = '1h'
        and {{ binance_literal(var('hourly_source_interval')) }} != '1h'

),

aggregated as (

    select * from {{ ref('fct_ohlcv_hourly') }}
    where source_interval != '1h'

),

disagreeing as (

    {{ binance_candles_disagreeing('aggregated', 'binance_hourly', 'hour_start', 'binance_hourly.open_at') }}

)

select * from disagreeing
