{#- One row per market, symbol and UTC trade_date: the day's candles of `daily_source_interval`
    aggregated, plus the realized variance the regime features need. The only model that reads every
    candle; incremental, so a run reads just the days whose archives changed
    (macros/binance/incremental.sql). -#}
{{ config(**binance_incremental_config()) }}
{%- set source_interval = var('daily_source_interval') -%}
{%- set scope = binance_scope(datasets=['klines'], interval=source_interval) %}

with

candles as (

    select *
    from {{ binance_lake_read(
        ref('stg_binance__klines'), scope
    ) }} as candles  -- noqa: AL05
    where
        {{ adapter.quote('interval') }} = {{ binance_literal(source_interval) }}
        and {{ binance_in_scope(scope, 'candles', 'open_at') }}

),

previous_day as (

    -- The close (and open time) of each rebuilt series' last candle before the rebuilt range: the
    -- candle before the range's first candle, for its return. Empty on a full build.
    {%- if is_incremental() %}
        select
            built_days.market,
            built_days.symbol,
            {{ binance_arg_max('built_days.close_price', 'built_days.trade_date') }} as previous_close,
            {{ binance_arg_max('built_days.last_open_at', 'built_days.trade_date') }} as previous_last_open_at
        from {{ this }} as built_days
        inner join ({{ scope.changed }}) as changed
            on built_days.market = changed.market and built_days.symbol = changed.symbol
        where built_days.trade_date < changed.rebuild_from
        group by built_days.market, built_days.symbol
    {%- else %}
        select
            cast(null as string) as market,
            cast(null as string) as symbol,
            cast(null as double) as previous_close,
            cast(null as timestamp) as previous_last_open_at
        where false
    {%- endif %}

),

daily as (

    select
        market,
        symbol,
        cast(open_at as date) as trade_date,
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
        -- Candles breaking low <= open, close <= high or with a negative volume or trade count,
        -- counted during this single scan so the data test on them stays cheap and incremental.
        count(*) filter (where not {{ binance_ohlc_is_sane() }}) as invalid_candle_count,
        min(open_at) as first_open_at,
        max(open_at) as last_open_at,
        -- The day's closes in time order: squared log returns between neighbours, without a window
        -- over every candle (a sort of the whole lake).
        {{ binance_ordered_list('close_price', 'open_at') }} as closes
    from candles
    group by market, symbol, cast(open_at as date)

),

with_previous_close as (

    select
        daily.*,
        coalesce(
            lag(daily.close_price) over (partition by daily.market, daily.symbol order by daily.trade_date),
            previous_day.previous_close
        ) as previous_close,
        coalesce(
            lag(daily.last_open_at) over (partition by daily.market, daily.symbol order by daily.trade_date),
            previous_day.previous_last_open_at
        ) as previous_last_open_at
    from daily
    left join previous_day
        on daily.market = previous_day.market and daily.symbol = previous_day.symbol

),

final as (

    select
        market,
        symbol,
        trade_date,
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
        -- r_i = ln(close_i / close_{i-1}) for every candle and the candle before it when that one opened
        -- at most a day earlier: the day's first candle pairs with the previous day's last close across
        -- midnight and a missing candle, never across a gap of days (docs/features.md).
        {{ binance_sum_squared_log_returns(
            'closes', 'previous_close', 'first_open_at', 'previous_last_open_at'
        ) }} as realized_variance,
        {{ binance_built_at() }} as _built_at,
        {{ scope.watermark }} as _manifest_loaded_at
    from with_previous_close

)

{{ binance_incremental_select('final') }}
