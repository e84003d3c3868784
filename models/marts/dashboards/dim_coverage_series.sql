{#- Grain: one row per coverage series (dataset, market, interval, symbol) of fct_coverage_daily: its
    first and last day and its complete, incomplete and missing day counts (the Coverage page). -#}

with

coverage as (

    select * from {{ ref('fct_coverage_daily').include(database=false) }}

),

final as (

    select
        dataset,
        market,
        {{ adapter.quote('interval') }},
        symbol,
        min(trade_date) as first_date,
        max(trade_date) as last_date,
        count(case when status = 'complete' then 1 end) as complete_days,
        count(case when status = 'incomplete' then 1 end) as incomplete_days,
        count(case when status = 'missing' then 1 end) as missing_days,
        {{ binance_built_at() }} as _built_at
    from coverage
    group by dataset, market, {{ adapter.quote('interval') }}, symbol

)

select * from final
