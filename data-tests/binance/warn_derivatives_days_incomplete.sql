{{ config(severity='warn') }}
{#- Warning: futures days whose metrics do not cover all 288 five-minute rows, or whose funding events do
    not add up to 24 hours (a missing event; Binance changed some symbols' funding interval, which
    funding_hours accounts for). Early metrics files are coarser than 5 minutes and warn too. -#}

with

derivatives as (

    select * from {{ ref('fct_derivatives_daily') }}

),

final as (

    select
        market,
        symbol,
        trade_date,
        metrics_rows,
        funding_events,
        funding_hours,
        case
            when metrics_rows between 1 and 287 then 'metrics rows: ' || metrics_rows || ' of 288'
            else 'funding covers ' || funding_hours || ' of 24 hours'
        end as problem
    from derivatives
    where metrics_rows between 1 and 287 or (funding_events > 0 and funding_hours != 24)

)

select * from final
