{#- Error: where Binance's own 1h candles are loaded and the hourly mart is built from a finer interval,
    the hourly aggregate must equal them: open, high, low, close and trade count exactly, volumes to
    1e-9 relative (assert_daily_ohlcv_reconciles_with_binance_1d by the hour). One row per disagreeing
    hour, with both versions. -#}

with

binance_hourly as (

    select * from {{ ref('stg_binance__klines') }}
    where {{ adapter.quote('interval') }} = '1h'

),

aggregated as (

    select * from {{ ref('fct_ohlcv_hourly') }}
    where source_interval != '1h'

),

compared as (

    select
        aggregated.market,
        aggregated.symbol,
        aggregated.hour_start,
        aggregated.source_interval,
        aggregated.open_price,
        binance_hourly.open_price as binance_open_price,
        aggregated.high_price,
        binance_hourly.high_price as binance_high_price,
        aggregated.low_price,
        binance_hourly.low_price as binance_low_price,
        aggregated.close_price,
        binance_hourly.close_price as binance_close_price,
        aggregated.trade_count,
        binance_hourly.trade_count as binance_trade_count,
        aggregated.base_volume,
        binance_hourly.base_volume as binance_base_volume,
        aggregated.quote_volume,
        binance_hourly.quote_volume as binance_quote_volume,
        aggregated.taker_buy_base_volume,
        binance_hourly.taker_buy_base_volume as binance_taker_buy_base_volume,
        aggregated.taker_buy_quote_volume,
        binance_hourly.taker_buy_quote_volume as binance_taker_buy_quote_volume
    from aggregated
    inner join binance_hourly
        on
            aggregated.market = binance_hourly.market
            and aggregated.symbol = binance_hourly.symbol
            and aggregated.hour_start = binance_hourly.open_at

),

disagreeing as (

    select *
    from compared
    where
        open_price != binance_open_price
        or high_price != binance_high_price
        or low_price != binance_low_price
        or close_price != binance_close_price
        or trade_count != binance_trade_count
        {%- set volumes = [
            'base_volume', 'quote_volume', 'taker_buy_base_volume', 'taker_buy_quote_volume'
        ] %}
        {%- for volume in volumes %}
            or abs({{ volume }} - binance_{{ volume }})
            > 1e-9 * greatest(abs({{ volume }}), abs(binance_{{ volume }}))
        {%- endfor %}

)

select * from disagreeing
