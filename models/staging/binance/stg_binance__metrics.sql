{#- Open interest and long/short ratio measurements (every 5 minutes), renamed, unique on (market,
    symbol, metric_at): daily archives only, one file per day, each unique on its time by the loader's
    contract, so the view needs no deduplicating sort (the grain test checks the recent months). -#}

with

metrics as (

    select * from {{ binance_source('metrics') }}

),

final as (

    select
        market,
        symbol,
        metric_time as metric_at,
        open_interest,
        open_interest_value,
        top_trader_account_ratio,
        top_trader_position_ratio,
        account_ratio,
        taker_buy_sell_ratio,
        {{ adapter.quote('month') }} as lake_month
    from metrics

)

select * from final
