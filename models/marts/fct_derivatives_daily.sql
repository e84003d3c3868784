{#- Grain: one row per futures market (um, cm), symbol and UTC trade_date with any derivatives data
    (docs/features.md); computed in int_binance__derivatives_daily. Incremental: the days that
    model rewrote since this mart's last build. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__derivatives_daily')]) %}

with

derivatives as (

    select * from {{ ref('int_binance__derivatives_daily') }}

),

final as (

    select
        market,
        symbol,
        trade_date,
        funding_rate_sum,
        funding_events,
        funding_hours,
        funding_rate_annualized,
        mark_close,
        index_close,
        premium_close,
        premium_mean,
        basis,
        open_interest,
        open_interest_value,
        top_trader_account_ratio,
        top_trader_position_ratio,
        account_ratio,
        taker_buy_sell_ratio,
        metrics_rows,
        oi_change_1d,
        {{ binance_built_at() }} as _built_at
    from derivatives
    where {{ binance_in_scope(scope, 'derivatives', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
