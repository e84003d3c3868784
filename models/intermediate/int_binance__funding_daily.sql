{#- One row per market, symbol and UTC day with funding events: their sum, count and hours (a funding
    event belongs to the day of its funding_at). Incremental on the fundingRate manifest. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(datasets=['fundingRate']) %}

with

funding as (

    select *
    from {{ binance_lake_read(
        ref('stg_binance__funding_rates'), scope
    ) }} as funding  -- noqa: AL05
    where {{ binance_in_scope(scope, 'funding', 'funding_at') }}

),

final as (

    select
        market,
        symbol,
        cast(funding_at as date) as trade_date,
        sum(funding_rate) as funding_rate_sum,
        count(*) as funding_events,
        cast(sum(funding_interval_hours) as bigint) as funding_hours,
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from funding
    group by market, symbol, cast(funding_at as date)

)

{{ binance_incremental_select('final') }}
