{#- Error: where Binance's own 1d candles are loaded, the daily aggregate of `daily_source_interval`
    must equal them: open, high, low, close and trade count exactly, volumes to 1e-9 relative. Returns
    one row per disagreeing day, with both versions. -#}

with

binance_daily as (

    select * from {{ ref('stg_binance__klines') }}
    where {{ adapter.quote('interval') }} = '1d'

),

aggregated as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

disagreeing as (

    {{ binance_candles_disagreeing(
        'aggregated', 'binance_daily', 'trade_date', 'cast(binance_daily.open_at as date)'
    ) }}

)

select * from disagreeing
