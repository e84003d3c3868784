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

compared as (

    select
        aggregated.market,
        aggregated.symbol,
        aggregated.trade_date,
        aggregated.source_interval,
        aggregated.open_price,
        binance_daily.open_price as binance_open_price,
        aggregated.high_price,
        binance_daily.high_price as binance_high_price,
        aggregated.low_price,
        binance_daily.low_price as binance_low_price,
        aggregated.close_price,
        binance_daily.close_price as binance_close_price,
        aggregated.trade_count,
        binance_daily.trade_count as binance_trade_count,
        aggregated.base_volume,
        binance_daily.base_volume as binance_base_volume,
        aggregated.quote_volume,
        binance_daily.quote_volume as binance_quote_volume,
        aggregated.taker_buy_base_volume,
        binance_daily.taker_buy_base_volume as binance_taker_buy_base_volume,
        aggregated.taker_buy_quote_volume,
        binance_daily.taker_buy_quote_volume as binance_taker_buy_quote_volume
    from aggregated
    inner join binance_daily
        on
            aggregated.market = binance_daily.market
            and aggregated.symbol = binance_daily.symbol
            and aggregated.trade_date = cast(binance_daily.open_at as date)

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
