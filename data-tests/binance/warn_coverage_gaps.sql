{{ config(severity='warn') }}
{#- Warning (Binance has real outages, e.g. BTCUSDT spot 2023-03-24 12:00-13:40 UTC): every incomplete or
    missing day of every series in fct_coverage_daily, with the known outage that explains it, if any.
    One row per such day; the build goes on. -#}

with

coverage as (

    select * from {{ ref('fct_coverage_daily') }}

),

final as (

    select
        dataset,
        market,
        {{ adapter.quote('interval') }},
        symbol,
        trade_date,
        status,
        rows_present,
        rows_expected,
        known_reason
    from coverage
    where status != 'complete'

)

select * from final
