{#- One row per market, symbol and trade_date: the previous calendar day's close and the daily log
    return, computed once: the regime-probability model and int_binance__price_features_daily read them.
    Null on a series' first day and after a missing day. A table: one row a day, rebuilt in a second. -#}

with

daily as (

    select * from {{ ref('int_binance__klines_daily') }}

),

numbered as (

    select
        *,
        {{ binance_day_number('trade_date') }} as day_number
    from daily

),

with_previous_day as (

    select
        market,
        symbol,
        trade_date,
        close_price,
        -- The previous calendar day's close; null when that day is missing.
        case
            when lag(day_number) over by_day = day_number - 1 then lag(close_price) over by_day
        end as previous_close
    from numbered
    window by_day as (partition by market, symbol order by trade_date)

),

final as (

    select
        market,
        symbol,
        trade_date,
        previous_close,
        {{ binance_ln('close_price / previous_close') }} as log_return
    from with_previous_day

)

select * from final
