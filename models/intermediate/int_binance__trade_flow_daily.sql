{#- Grain: one row per market, symbol and UTC trade_date with aggregate trades: who took liquidity on
    which side, and the day's volume-weighted price (published by fct_trade_flow_daily). Quantities are
    in the base asset for spot and um, in contracts for cm (COIN-M contracts are USD-denominated: price x quantity is then not a
    notional).
    Incremental on the aggTrades manifest: a run reads only the days whose archives changed. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(datasets=['aggTrades']) %}

with

trades as (

    select *
    from {{ binance_lake_read(
        ref('stg_binance__agg_trades'), scope
    ) }} as trades  -- noqa: AL05
    where {{ binance_in_scope(scope, 'trades', 'transact_at') }}

),

daily as (

    select
        market,
        symbol,
        cast(transact_at as date) as trade_date,
        count(*) as agg_trade_count,
        cast(sum(last_trade_id - first_trade_id + 1) as bigint) as trade_count,
        coalesce(sum(case when not is_buyer_maker then quantity end), 0) as taker_buy_quantity,
        coalesce(sum(case when is_buyer_maker then quantity end), 0) as taker_sell_quantity,
        coalesce(sum(case when not is_buyer_maker then price * quantity end), 0) as taker_buy_quote,
        coalesce(sum(case when is_buyer_maker then price * quantity end), 0) as taker_sell_quote,
        sum(price * quantity) / nullif(sum(quantity), 0) as vwap,
        max(agg_trade_id) - min(agg_trade_id) + 1 - count(*) as missing_agg_trade_ids
    from trades
    group by market, symbol, cast(transact_at as date)

),

final as (

    select
        *,
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from daily

)

{{ binance_incremental_select('final') }}
