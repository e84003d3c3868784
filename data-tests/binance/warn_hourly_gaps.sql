{{ config(severity='warn') }}
{#- Warning (Binance has real outages): every day of fct_ohlcv_hourly with fewer than 24 hours or with an
    incomplete hour (missing candles of `hourly_source_interval`). One row per such series and day;
    the build goes on. Days missing whole are warn_coverage_gaps' (fct_coverage_daily). A hash
    aggregate, not a window over every hour: it runs on every build. -#}

with

hourly as (

    select * from {{ ref('fct_ohlcv_hourly') }}

),

hourly_days as (

    select
        market,
        symbol,
        trade_date,
        count(*) as hours_present,
        sum(case when is_complete then 0 else 1 end) as incomplete_hours
    from hourly
    group by market, symbol, trade_date

),

final as (

    select *
    from hourly_days
    where hours_present < 24 or incomplete_hours > 0

)

select * from final
