{#- One row per market, symbol and UTC hour: the hour's candles of `hourly_source_interval` (Binance's own
    1h candle, or the finer candles aggregated). Incremental like int_binance__klines_daily: a run reads
    only the days whose archives changed (macros/binance/incremental.sql). trade_date (the hour's UTC
    day) is what the incremental scopes and Spark's partitions key on. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'symbol', 'hour_start'])) }}
{%- set source_interval = var('hourly_source_interval') -%}
{%- set scope = binance_scope(datasets=['klines'], interval=source_interval) %}

with

candles as (

    select
        *,
        {{ binance_hour_start('open_at') }} as hour_start
    from {{ binance_lake_read(
        ref('stg_binance__klines'), scope
    ) }} as candles  -- noqa: AL05
    where
        {{ adapter.quote('interval') }} = {{ binance_literal(source_interval) }}
        and {{ binance_in_scope(scope, 'candles', 'open_at') }}

),

hourly as (

    select
        market,
        symbol,
        hour_start,
        {{ binance_arg_min('open_price', 'open_at') }} as open_price,
        max(high_price) as high_price,
        min(low_price) as low_price,
        {{ binance_arg_max('close_price', 'open_at') }} as close_price,
        sum(base_volume) as base_volume,
        sum(quote_volume) as quote_volume,
        sum(taker_buy_base_volume) as taker_buy_base_volume,
        sum(taker_buy_quote_volume) as taker_buy_quote_volume,
        cast(sum(trade_count) as bigint) as trade_count,
        count(*) as candle_count,
        -- Candles breaking OHLC order or with a negative volume, counted in this single scan (the data
        -- test on them stays cheap and incremental).
        count(*) filter (where not {{ binance_ohlc_is_sane() }}) as invalid_candle_count,
        min(open_at) as first_open_at,
        max(open_at) as last_open_at
    from candles
    group by market, symbol, hour_start

),

final as (

    select
        market,
        symbol,
        hour_start,
        cast(hour_start as date) as trade_date,
        {{ binance_literal(source_interval) }} as source_interval,
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
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from hourly

)

{{ binance_incremental_select('final') }}
