{{ config(severity='warn') }}
{#- Warning (Binance has real outages): every incomplete hour of fct_ohlcv_hourly and every run of
    missing hours between two loaded hours of a series. One row per such hour or run; the build goes on. -#}

with

hourly as (

    select * from {{ ref('fct_ohlcv_hourly') }}

),

with_next as (

    select
        market,
        symbol,
        hour_start,
        is_complete,
        candle_count,
        expected_candle_count,
        {{ binance_hour_number('hour_start') }} as hour_number,
        lead({{ binance_hour_number('hour_start') }}) over (
            partition by market, symbol order by hour_start
        ) as next_hour_number
    from hourly

),

final as (

    select
        market,
        symbol,
        hour_start,
        case
            when not is_complete
                then 'incomplete: ' || candle_count || ' of ' || expected_candle_count || ' candles'
            else (next_hour_number - hour_number - 1) || ' missing hour(s) after it'
        end as problem
    from with_next
    where not is_complete or next_hour_number > hour_number + 1

)

select * from final
