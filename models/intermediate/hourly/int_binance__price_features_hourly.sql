{#- Grain: one row per market, symbol and UTC hour_start: the daily price features on hourly bars
    (docs/features.md#hourly-grain): windows of 24 / 168 / 720 hours, annualised with sqrt(8760), RSI
    and ATR Wilder on hourly bars, starting over after a missing hour.

    Incremental: a rebuilt series reads its stored hours from 60 days (1,440 hours) before its
    rebuild_from, which every window and Wilder average of a rebuilt hour reaches back to at most
    (binance_wilder_grid_columns), and writes the rebuilt hours only: they equal a full refresh. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'symbol', 'hour_start'])) }}

{%- set scope = binance_scope(upstream=[ref('int_binance__klines_hourly')]) -%}
{%- set period = 14 -%}
{#- Wilder chunks: 2 x 720 hours = 60 days of history per rebuilt hour. -#}
{%- set wilder_half_grid = 720 -%}
{%- set history_days = 60 %}

with

hourly as (

    select * from {{ ref('int_binance__klines_hourly') }}

),

hourly_returns as (

    select * from {{ ref('int_binance__returns_hourly') }}

),

series as (

    -- The hours of every series to rebuild (all on a full build) back to the history the rebuilt
    -- hours' windows need, with the previous hour's close and the log return.
    select
        hourly.market,
        hourly.symbol,
        hourly.hour_start,
        hourly.trade_date,
        hourly.open_price,
        hourly.high_price,
        hourly.low_price,
        hourly.close_price,
        hourly.base_volume,
        hourly_returns.previous_close,
        hourly_returns.log_return,
        {{ binance_hour_number('hourly.hour_start') }} as hour_number
    from hourly
    inner join hourly_returns
        on
            hourly.market = hourly_returns.market
            and hourly.symbol = hourly_returns.symbol
            and hourly.hour_start = hourly_returns.hour_start
    where {{ binance_in_scope(scope, 'hourly', 'trade_date', days_before=history_days) }}

),

windowed as (

    -- One sort by hour per series for every trailing window and the run each hour is in. Trailing
    -- windows of hours ending at hour_start: a value needs every hour of its window (count = window
    -- length), so a window over a gap stays null. Runs of consecutive hours: Wilder averages start
    -- over after a missing hour (run_start: the run's first hour, where previous_close is null).
    select
        *,
        -- -1: the run began before the hours an incremental run reads (a label only: its chunks start
        -- after it, binance_wilder_grid_columns).
        coalesce(
            max(case when previous_close is null then hour_number end) over (
                partition by market, symbol order by hour_number
                rows between unbounded preceding and current row
            ),
            -1
        ) as run_start,
        count(log_return) over last_24_hours as log_return_count_24,
        stddev_samp(log_return) over last_24_hours as log_return_stddev_24,
        count(log_return) over last_168_hours as log_return_count_168,
        stddev_samp(log_return) over last_168_hours as log_return_stddev_168,
        count(close_price) over last_24_hours as close_count_24,
        avg(close_price) over last_24_hours as close_mean_24,
        count(close_price) over last_168_hours as close_count_168,
        avg(close_price) over last_168_hours as close_mean_168,
        count(close_price) over last_720_hours as close_count_720,
        avg(close_price) over last_720_hours as close_mean_720,
        max(close_price) over last_720_hours as close_max_720,
        first_value(close_price) over hour_168_ago as close_168_hours_ago,
        count(base_volume) over last_168_hours as volume_count_168,
        avg(base_volume) over last_168_hours as volume_mean_168,
        stddev_samp(base_volume) over last_168_hours as volume_stddev_168
    from series
    window
        last_24_hours as ({{ binance_trailing_units(23, 0, 'hour_number') }}),
        last_168_hours as ({{ binance_trailing_units(167, 0, 'hour_number') }}),
        last_720_hours as ({{ binance_trailing_units(719, 0, 'hour_number') }}),
        hour_168_ago as ({{ binance_trailing_units(168, 168, 'hour_number') }})

),

wilder_inputs as (

    select
        *,
        {{ binance_wilder_grid_columns('hour_number', 'run_start', wilder_half_grid) }},
        greatest(close_price - previous_close, 0) as gain,
        greatest(previous_close - close_price, 0) as loss,
        {{ binance_true_range() }} as true_range
    from windowed

),

wilder as (

    select
        *,
        {{ binance_wilder_average_long('gain', period) }} as avg_gain,
        {{ binance_wilder_average_long('loss', period) }} as avg_loss,
        {{ binance_wilder_average_long('true_range', period) }} as atr
    from wilder_inputs

),

final as (

    select
        market,
        symbol,
        hour_start,
        trade_date,
        close_price,
        log_return,
        {{ binance_parkinson_vol() }} as parkinson_vol,
        {{ binance_garman_klass_vol() }} as garman_klass_vol,
        case when log_return_count_24 = 24 then log_return_stddev_24 * sqrt(8760) end as volatility_24h,
        case when log_return_count_168 = 168 then log_return_stddev_168 * sqrt(8760) end as volatility_168h,
        case when close_count_24 = 24 then close_mean_24 end as sma_24,
        case when close_count_168 = 168 then close_mean_168 end as sma_168,
        case when close_count_720 = 720 then close_mean_720 end as sma_720,
        case when close_count_168 = 168 then close_price / close_mean_168 - 1 end as trend_168h,
        close_price / close_168_hours_ago - 1 as momentum_168h,
        {{ binance_rsi('avg_gain', 'avg_loss') }} as rsi_14,
        atr as atr_14,
        case when close_count_720 = 720 then close_price / close_max_720 - 1 end as drawdown_720h,
        case
            when volume_count_168 = 168 and volume_stddev_168 > 0
                then (base_volume - volume_mean_168) / volume_stddev_168
        end as volume_zscore_168h,
        avg_gain as rsi_avg_gain_14,
        avg_loss as rsi_avg_loss_14,
        {{ binance_built_at() }} as _built_at
    from wilder
    where {{ binance_in_scope(scope, 'wilder', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
