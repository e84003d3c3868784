{#- Grain: one row per market, symbol and UTC trade_date: the features of the daily candles (returns,
    volatilities, moving averages, trend, momentum, RSI, ATR, drawdown, volume), docs/regimes.md.

    Features are computed over each rebuilt series' whole daily history (one row a day, so cheap), and
    only the rebuilt days are written: windows and Wilder averages see exactly what a full refresh sees,
    so incremental and full-refresh tables are identical. -#}
{{ config(**binance_incremental_config()) }}

{%- set scope = binance_scope(upstream=[ref('int_binance__klines_daily')]) -%}
{%- set period = 14 %}

with

daily as (

    select * from {{ ref('int_binance__klines_daily') }}

),

daily_returns as (

    select * from {{ ref('int_binance__returns_daily') }}

),

series as (

    -- Whole daily history of every series to rebuild (all series on a full build), with the previous
    -- calendar day's close and the log return (null when that day is missing).
    select
        daily.market,
        daily.symbol,
        daily.trade_date,
        daily.open_price,
        daily.high_price,
        daily.low_price,
        daily.close_price,
        daily.base_volume,
        daily.taker_buy_base_volume,
        daily.realized_variance,
        daily_returns.previous_close,
        daily_returns.log_return,
        {{ binance_day_number('daily.trade_date') }} as day_number
    from daily
    inner join daily_returns
        on
            daily.market = daily_returns.market
            and daily.symbol = daily_returns.symbol
            and daily.trade_date = daily_returns.trade_date
    where {{ binance_in_scope(scope, 'daily') }}

),

segmented as (

    -- Runs of consecutive days: Wilder averages start over after a missing day.
    select
        *,
        sum(case when previous_close is null then 1 else 0 end) over (
            partition by market, symbol order by trade_date rows between unbounded preceding and current row
        ) as segment_id
    from series

),

wilder_inputs as (

    select
        *,
        row_number() over (partition by market, symbol, segment_id order by trade_date) - 1 as day_in_segment,
        greatest(close_price - previous_close, 0) as gain,
        greatest(previous_close - close_price, 0) as loss,
        {{ binance_true_range() }} as true_range
    from segmented

),

wilder as (

    select
        *,
        {{ binance_wilder_average('gain', period) }} as avg_gain,
        {{ binance_wilder_average('loss', period) }} as avg_loss,
        {{ binance_wilder_average('true_range', period) }} as atr
    from wilder_inputs

),

windowed as (

    -- Trailing windows of calendar days ending at trade_date: a value needs every day of its window
    -- (count = window length), so a window over a gap stays null.
    select
        *,
        count(log_return) over last_7_days as log_return_count_7,
        stddev_samp(log_return) over last_7_days as log_return_stddev_7,
        count(log_return) over last_30_days as log_return_count_30,
        stddev_samp(log_return) over last_30_days as log_return_stddev_30,
        count(close_price) over last_7_days as close_count_7,
        avg(close_price) over last_7_days as close_mean_7,
        count(close_price) over last_30_days as close_count_30,
        avg(close_price) over last_30_days as close_mean_30,
        count(close_price) over last_90_days as close_count_90,
        avg(close_price) over last_90_days as close_mean_90,
        max(close_price) over last_90_days as close_max_90,
        first_value(close_price) over day_30_ago as close_30_days_ago,
        count(base_volume) over last_30_days as volume_count_30,
        avg(base_volume) over last_30_days as volume_mean_30,
        stddev_samp(base_volume) over last_30_days as volume_stddev_30
    from wilder
    window
        last_7_days as ({{ binance_calendar_days(6) }}),
        last_30_days as ({{ binance_calendar_days(29) }}),
        last_90_days as ({{ binance_calendar_days(89) }}),
        day_30_ago as ({{ binance_calendar_days(30, 30) }})

),

final as (

    select
        market,
        symbol,
        trade_date,
        close_price,
        log_return,
        sqrt(realized_variance) as realized_vol,
        {{ binance_parkinson_vol() }} as parkinson_vol,
        {{ binance_garman_klass_vol() }} as garman_klass_vol,
        case when log_return_count_7 = 7 then log_return_stddev_7 * sqrt(365) end as volatility_7d,
        case when log_return_count_30 = 30 then log_return_stddev_30 * sqrt(365) end as volatility_30d,
        case when close_count_7 = 7 then close_mean_7 end as sma_7,
        case when close_count_30 = 30 then close_mean_30 end as sma_30,
        case when close_count_90 = 90 then close_mean_90 end as sma_90,
        case when close_count_30 = 30 then close_price / close_mean_30 - 1 end as trend_30d,
        close_price / close_30_days_ago - 1 as momentum_30d,
        {{ binance_rsi('avg_gain', 'avg_loss') }} as rsi_14,
        atr as atr_14,
        case when close_count_90 = 90 then close_price / close_max_90 - 1 end as drawdown_90d,
        case
            when volume_count_30 = 30 and volume_stddev_30 > 0
                then (base_volume - volume_mean_30) / volume_stddev_30
        end as volume_zscore_30d,
        taker_buy_base_volume / nullif(base_volume, 0) as taker_buy_ratio,
        avg_gain as rsi_avg_gain_14,
        avg_loss as rsi_avg_loss_14,
        {{ binance_built_at() }} as _built_at
    from windowed
    where {{ binance_in_scope(scope, 'windowed', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
