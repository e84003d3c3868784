{#- Funding events, renamed, unique on (market, symbol, funding_at). Monthly archives only, so files
    never overlap; a reloaded month replaces its file. -#}

with

funding as (

    select * from {{ binance_source('funding_rate') }}

),

final as (

    select
        market,
        symbol,
        funding_time as funding_at,
        funding_interval_hours,
        funding_rate,
        {{ adapter.quote('month') }} as lake_month
    from funding

)

select * from final
