{{ config(severity='warn') }}
{#- Warning: days whose aggregate trade ids are not contiguous (ids missing between the day's first and
    last): a truncated archive or a gap in Binance's own data. -#}

with

trade_flow as (

    select * from {{ ref('fct_trade_flow_daily') }}

),

final as (

    select
        market,
        symbol,
        trade_date,
        agg_trade_count,
        missing_agg_trade_ids
    from trade_flow
    where missing_agg_trade_ids != 0

)

select * from final
