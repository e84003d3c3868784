{{ config(severity='warn') }}
{#- Warning (Binance has real outages, e.g. BTCUSDT spot 2023-03-24 12:00-14:00 UTC): days with fewer
    candles than a full day, and calendar days missing between a series' first and last day. One row per
    such day; the build goes on. -#}

with

daily as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

incomplete_days as (

    select
        market,
        symbol,
        trade_date,
        'incomplete day: ' || candle_count || ' of ' || expected_candle_count || ' '
        || source_interval || ' candles' as problem
    from daily
    where not is_complete

),

next_days as (

    select
        market,
        symbol,
        trade_date,
        lead(trade_date) over (partition by market, symbol order by trade_date) as next_trade_date
    from daily

),

missing_days as (

    select
        market,
        symbol,
        trade_date + 1 as trade_date,
        'missing days: ' || (next_trade_date - trade_date - 1) || ' from ' || (trade_date + 1) as problem
    from next_days
    where next_trade_date > trade_date + 1

),

final as (

    select * from incomplete_days
    union all
    select * from missing_days

)

select * from final
