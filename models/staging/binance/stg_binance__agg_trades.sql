{#- Aggregate trades of the lake, renamed, unique on (market, symbol, agg_trade_id): see
    binance_stage_deduplicated. -#}
{%- set renamed -%}
    market,
    symbol,
    agg_trade_id,
    first_trade_id,
    last_trade_id,
    price,
    quantity,
    transact_time as transact_at,
    is_buyer_maker,
    is_best_match
{%- endset -%}
{{ binance_stage_deduplicated('agg_trades', renamed, ['market', 'symbol', 'agg_trade_id'], 'transact_time') }}
