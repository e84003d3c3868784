{#- Grain: one row per market, symbol and UTC trade_date with aggregate trades; aggregated in
    int_binance__trade_flow_daily. Incremental: the days that model rewrote since this mart's last
    build. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__trade_flow_daily')]) %}

with

trade_flow as (

    select * from {{ ref('int_binance__trade_flow_daily') }}

),

final as (

    select
        market,
        symbol,
        trade_date,
        agg_trade_count,
        trade_count,
        taker_buy_quantity,
        taker_sell_quantity,
        taker_buy_quote,
        taker_sell_quote,
        (taker_buy_quantity - taker_sell_quantity) / nullif(taker_buy_quantity + taker_sell_quantity, 0)
            as order_flow_imbalance,
        vwap,
        missing_agg_trade_ids,
        {{ binance_built_at() }} as _built_at,
        _manifest_loaded_at
    from trade_flow
    where {{ binance_in_scope(scope, 'trade_flow', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
