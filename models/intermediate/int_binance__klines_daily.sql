{#- One row per market, symbol and UTC trade_date: the day's candles of `daily_source_interval`
    aggregated, plus the realized variance the regime features need. The only model that reads every
    candle; incremental, so a run reads just the days whose archives changed
    (see macros/binance/incremental.sql). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['market', 'symbol', 'trade_date'],
        on_schema_change='fail',
    )
}}

{%- set source_interval = var('daily_source_interval') -%}
{%- set scope = [] -%}
{%- set new_series_too = false -%}
{%- if execute and is_incremental() -%}
    {%- set built_from = run_query("select distinct source_interval from " ~ this).columns[0].values() -%}
    {%- if built_from | reject('equalto', source_interval) | list | length > 0 -%}
        {{- exceptions.raise_compiler_error(
            this ~ " was built from " ~ (built_from | join(', ')) ~ " candles, daily_source_interval is now "
            ~ source_interval ~ ": run `dbt build --full-refresh` to rebuild it") -}}
    {%- endif -%}
    {%- if binance_manifest_exists() -%}
        {%- set scope = binance_scope_from_manifest(source_interval) -%}
    {%- else -%}
        {#- No manifest (a lake not written by the loader): rebuild each known series from its last
            (possibly partial) day, and new series entirely. Replaced old archives go unnoticed. -#}
        {%- set scope = binance_rows_to_scope(run_query(
            "select market, symbol, max(trade_date) from " ~ this ~ " group by all order by all")) -%}
        {%- set new_series_too = true -%}
        {{- log("int_binance__klines_daily: no manifest in the lake; rebuilding from each series' last day", info=true) -}}
    {%- endif -%}
{%- endif -%}
{%- set manifest_loaded_at = binance_manifest_watermark() if execute else 'null::timestamptz' -%}
{%- set candles_from = binance_scope_min_date(scope)
    if is_incremental() and not new_series_too else "'-infinity'::timestamp" %}

with

candles as (

    select
        market,
        symbol,
        open_at,
        open_price,
        high_price,
        low_price,
        close_price,
        base_volume,
        quote_volume,
        taker_buy_base_volume,
        taker_buy_quote_volume,
        trade_count
    from {{ ref('stg_binance__klines') }}
    where
        "interval" = '{{ source_interval }}'
        -- Earliest rebuilt day as a literal, so the Parquet scan skips older row groups.
        and open_at >= {{ candles_from }}

),

scoped_candles as (

    select candles.*
    from candles
    {%- if is_incremental() %}
        {{ 'left' if new_series_too else 'inner' }} join {{ binance_scope_values(scope) }} as scope
            on candles.market = scope.market and candles.symbol = scope.symbol
        where
            {%- if new_series_too %}
                scope.rebuild_from is null or
            {%- endif %}
            candles.open_at >= scope.rebuild_from
    {%- endif %}

),

previous_day as (

    -- The close of each rebuilt series' last day before the rebuilt range: the candle before the
    -- range's first candle, for its return. Empty on a full build.
    select
        built_days.market,
        built_days.symbol,
        arg_max(built_days.close_price, built_days.trade_date) as previous_close
    {%- if is_incremental() %}
        from {{ this }} as built_days
        inner join {{ binance_scope_values(scope) }} as scope
            on built_days.market = scope.market and built_days.symbol = scope.symbol
        where built_days.trade_date < scope.rebuild_from
    {%- else %}
        from (
            select
                null::varchar as market,
                null::varchar as symbol,
                null::date as trade_date,
                null::double as close_price
        ) as built_days
        where false
    {%- endif %}
    group by built_days.market, built_days.symbol

),

daily as (

    select
        market,
        symbol,
        open_at::date as trade_date,
        arg_min(open_price, open_at) as open_price,
        max(high_price) as high_price,
        min(low_price) as low_price,
        arg_max(close_price, open_at) as close_price,
        sum(base_volume) as base_volume,
        sum(quote_volume) as quote_volume,
        sum(taker_buy_base_volume) as taker_buy_base_volume,
        sum(taker_buy_quote_volume) as taker_buy_quote_volume,
        sum(trade_count) as trade_count,
        count(*) as candle_count,
        -- Candles breaking low <= open, close <= high or with a negative volume or trade count,
        -- counted during this single scan so the data test on them stays cheap and incremental.
        count(*) filter (where not {{ binance_ohlc_is_sane() }}) as invalid_candle_count,
        min(open_at) as first_open_at,
        max(open_at) as last_open_at,
        -- The day's closes in time order: squared log returns between neighbours, without a window
        -- over every candle (a sort of the whole lake).
        list(close_price order by open_at) as closes
    from scoped_candles
    group by market, symbol, open_at::date

),

with_previous_close as (

    select
        daily.*,
        coalesce(
            lag(daily.close_price) over (partition by daily.market, daily.symbol order by daily.trade_date),
            previous_day.previous_close
        ) as previous_close
    from daily
    left join previous_day
        on daily.market = previous_day.market and daily.symbol = previous_day.symbol

),

final as (

    select
        market,
        symbol,
        trade_date,
        '{{ source_interval }}' as source_interval,
        open_price,
        high_price,
        low_price,
        close_price,
        base_volume,
        quote_volume,
        taker_buy_base_volume,
        taker_buy_quote_volume,
        trade_count,
        candle_count,
        invalid_candle_count,
        first_open_at,
        last_open_at,
        -- r_i = ln(close_i / close_{i-1}) for every candle and the candle before it: the first candle
        -- of the day pairs with the previous day's close (across midnight and gaps).
        case
            when previous_close is not null or len(closes) > 1
                then
                    coalesce(ln(closes[1] / previous_close) ^ 2, 0)
                    + coalesce(list_sum(list_transform(
                        range(2, len(closes) + 1), i -> ln(closes[i] / closes[i - 1]) ^ 2
                    )), 0)
        end as realized_variance,
        {{ binance_built_at() }} as _built_at,
        {{ manifest_loaded_at }} as _manifest_loaded_at
    from with_previous_close

)

select * from final
