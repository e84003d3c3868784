{#- One row per market, symbol and UTC day with mark, index or premium index candles of
    `daily_source_interval`: the close of each series' last candle of the day and the mean premium.
    Incremental on the three datasets' manifests. -#}
{{ config(**binance_incremental_config()) }}
{%- set source_interval = var('daily_source_interval') -%}
{%- set scope = binance_scope(
    datasets=['markPriceKlines', 'indexPriceKlines', 'premiumIndexKlines'], interval=source_interval,
) %}

with

candles as (

    {%- for dataset, model in [
        ('markPriceKlines', 'stg_binance__mark_price_klines'),
        ('indexPriceKlines', 'stg_binance__index_price_klines'),
        ('premiumIndexKlines', 'stg_binance__premium_index_klines'),
    ] %}
        select
            {{ binance_literal(dataset) }} as dataset,
            market,
            symbol,
            open_at,
            close_price
        from {{ binance_lake_read(
            ref(model), scope
        ) }} as candles  -- noqa: AL05
        where
            {{ adapter.quote('interval') }} = {{ binance_literal(source_interval) }}
            and {{ binance_in_scope(scope, 'candles', 'open_at') }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

daily_per_dataset as (

    select
        dataset,
        market,
        symbol,
        cast(open_at as date) as trade_date,
        {{ binance_arg_max('close_price', 'open_at') }} as last_close,
        avg(close_price) as mean_close
    from candles
    group by dataset, market, symbol, cast(open_at as date)

),

final as (

    select
        market,
        symbol,
        trade_date,
        {{ binance_literal(source_interval) }} as source_interval,
        max(case when dataset = 'markPriceKlines' then last_close end) as mark_close,
        max(case when dataset = 'indexPriceKlines' then last_close end) as index_close,
        max(case when dataset = 'premiumIndexKlines' then last_close end) as premium_close,
        max(case when dataset = 'premiumIndexKlines' then mean_close end) as premium_mean,
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from daily_per_dataset
    group by market, symbol, trade_date

)

{{ binance_incremental_select('final') }}
