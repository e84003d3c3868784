{#- One row per market, symbol and UTC day with metrics rows: the day's last measurement (latest
    metric_at) of open interest and the long/short ratios, the mean taker buy/sell ratio and the row
    count. Incremental on the metrics manifest. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(datasets=['metrics']) %}

with

metrics as (

    select *
    from {{ binance_lake_read(
        ref('stg_binance__metrics'), scope
    ) }} as metrics  -- noqa: AL05
    where {{ binance_in_scope(scope, 'metrics', 'metric_at') }}

),

final as (

    select
        market,
        symbol,
        cast(metric_at as date) as trade_date,
        {{ binance_arg_max('open_interest', 'metric_at') }} as open_interest,
        {{ binance_arg_max('open_interest_value', 'metric_at') }} as open_interest_value,
        {{ binance_arg_max('top_trader_account_ratio', 'metric_at') }} as top_trader_account_ratio,
        {{ binance_arg_max('top_trader_position_ratio', 'metric_at') }} as top_trader_position_ratio,
        {{ binance_arg_max('account_ratio', 'metric_at') }} as account_ratio,
        avg(taker_buy_sell_ratio) as taker_buy_sell_ratio,
        count(*) as metrics_rows,
        max(metric_at) as last_metric_at,
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from metrics
    group by market, symbol, cast(metric_at as date)

)

{{ binance_incremental_select('final') }}
