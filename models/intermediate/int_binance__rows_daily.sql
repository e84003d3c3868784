{#- Rows per UTC day of every series the lake holds: one row per dataset, market, interval ('' for
    datasets without one), symbol and trade_date that has rows. The input of the coverage mart and of
    dim_symbols. Incremental on every manifest: a dataset's branch reads only the series (and, for
    kline-format datasets, the intervals) whose archives changed. -#}
{{ config(**binance_incremental_config(
    unique_key=['dataset', 'market', 'interval', 'symbol', 'trade_date'],
)) }}

{%- set branches = [
    ('klines', 'stg_binance__klines', 'open_at', true),
    ('markPriceKlines', 'stg_binance__mark_price_klines', 'open_at', true),
    ('indexPriceKlines', 'stg_binance__index_price_klines', 'open_at', true),
    ('premiumIndexKlines', 'stg_binance__premium_index_klines', 'open_at', true),
    ('fundingRate', 'stg_binance__funding_rates', 'funding_at', false),
    ('metrics', 'stg_binance__metrics', 'metric_at', false),
    ('aggTrades', 'stg_binance__agg_trades', 'transact_at', false),
] -%}

with

{% for dataset, model, time_column, has_interval in branches %}
    {%- set scope = binance_scope(datasets=[dataset]) %}
    {{ dataset | lower }}_rows as (

        select
            {{ binance_literal(dataset) }} as dataset,
            market,
            {{ adapter.quote('interval') if has_interval else "''" }} as {{ adapter.quote('interval') }},
            symbol,
            cast({{ time_column }} as date) as trade_date,
            count(*) as rows_present,
            {{ 'cast(sum(funding_interval_hours) as bigint)' if dataset == 'fundingRate'
                else 'cast(null as bigint)' }} as hours_present,
            {{ scope.watermark }} as _manifest_loaded_at
        -- The alias is what the scope filter of an incremental run refers to.
        from {{ binance_lake_read(
            ref(model), scope
        ) }} as rows_of_day  -- noqa: AL05
        where {{ binance_in_scope(scope, 'rows_of_day', time_column) }}
        group by
            market,
            {{ adapter.quote('interval') ~ ',' if has_interval }}
            symbol,
            cast({{ time_column }} as date)

    ),

{% endfor %}
final as (

    {%- for dataset, model, time_column, has_interval in branches %}
        select
            dataset,
            market,
            {{ adapter.quote('interval') }},
            symbol,
            trade_date,
            rows_present,
            hours_present,
            {{ binance_built_at() }} as _built_at,
            _manifest_loaded_at
        from {{ dataset | lower }}_rows
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

{{ binance_incremental_select('final') }}
