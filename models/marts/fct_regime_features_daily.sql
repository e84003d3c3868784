{#- Grain: one row per market, symbol and UTC trade_date: the daily close and the regime features.

    Features are computed over each rebuilt series' whole daily history (one row a day, so cheap), and
    only the rebuilt days are written: windows and Wilder averages see exactly what a full refresh sees,
    so incremental and full-refresh tables are identical. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['market', 'symbol', 'trade_date'],
        on_schema_change='fail',
    )
}}

{%- set scope = [] -%}
{%- if execute and is_incremental() -%}
    {%- set scope = binance_scope_from_upstream(ref('int_binance__klines_daily')) -%}
{%- endif -%}
{%- set period = 14 %}

with

daily as (

    select * from {{ ref('int_binance__klines_daily') }}

),

thresholds as (

    select * from {{ ref('regime_thresholds') }}

),

series as (

    -- Whole daily history of every series to rebuild (all series on a full build).
    select daily.*
    from daily
    {%- if is_incremental() %}
        inner join {{ binance_scope_values(scope) }} as scope
            on daily.market = scope.market and daily.symbol = scope.symbol
    {%- endif %}

),

with_previous_day as (

    select
        market,
        symbol,
        trade_date,
        open_price,
        high_price,
        low_price,
        close_price,
        base_volume,
        realized_variance,
        _built_at,
        -- The previous calendar day's close; null when that day is missing.
        case
            when lag(trade_date) over by_day = trade_date - 1 then lag(close_price) over by_day
        end as previous_close
    from series
    window by_day as (partition by market, symbol order by trade_date)

),

segmented as (

    -- Runs of consecutive days: Wilder averages start over after a missing day.
    select
        *,
        sum(case when previous_close is null then 1 else 0 end) over (
            partition by market, symbol order by trade_date rows between unbounded preceding and current row
        ) as segment_id
    from with_previous_day

),

wilder_inputs as (

    select
        *,
        row_number() over (partition by market, symbol, segment_id order by trade_date) - 1 as day_in_segment,
        greatest(close_price - previous_close, 0) as gain,
        greatest(previous_close - close_price, 0) as loss,
        greatest(high_price - low_price, abs(high_price - previous_close), abs(low_price - previous_close))
            as true_range
    from segmented

),

wilder_growth as (

    select
        *,
        -- (n / (n - 1))^(j - n): the weight of day j's input in the closed form below.
        pow({{ period }} / ({{ period }} - 1), day_in_segment - {{ period }}) as growth
    from wilder_inputs

),

wilder_sums as (

    -- Wilder's average, avg_j = (avg_{j-1} * (n - 1) + x_j) / n, seeded at j = n with the mean of
    -- x_1..x_n (TA-Lib), has the exact closed form
    --   avg_j = q^(j - n) * (seed + sum_{k = n+1..j} x_k * q^-(k - n) / n),  q = (n - 1) / n,
    -- a running sum instead of a recursion. All x are >= 0, so the sum has no cancellation. (Exponents
    -- stay finite for runs of up to ~9,000 consecutive days.)
    select
        *,
        avg(case when day_in_segment between 1 and {{ period }} then gain end)
            over by_segment as seed_gain,
        sum(case when day_in_segment > {{ period }} then gain * growth end)
            over running_segment as weighted_gain,
        avg(case when day_in_segment between 1 and {{ period }} then loss end)
            over by_segment as seed_loss,
        sum(case when day_in_segment > {{ period }} then loss * growth end)
            over running_segment as weighted_loss,
        avg(case when day_in_segment between 1 and {{ period }} then true_range end)
            over by_segment as seed_true_range,
        sum(case when day_in_segment > {{ period }} then true_range * growth end)
            over running_segment as weighted_true_range,
        count(case when day_in_segment between 1 and {{ period }} then true_range end)
            over by_segment as seed_count
    from wilder_growth
    window
        by_segment as (partition by market, symbol, segment_id),
        running_segment as (
            partition by market, symbol, segment_id order by day_in_segment
            rows between unbounded preceding and current row
        )

),

wilder as (

    select
        *,
        case
            when day_in_segment >= {{ period }} and seed_count = {{ period }}
                then
                    pow(({{ period }} - 1) / {{ period }}, day_in_segment - {{ period }})
                    * (seed_gain + coalesce(weighted_gain, 0) / {{ period }})
        end as avg_gain,
        case
            when day_in_segment >= {{ period }} and seed_count = {{ period }}
                then
                    pow(({{ period }} - 1) / {{ period }}, day_in_segment - {{ period }})
                    * (seed_loss + coalesce(weighted_loss, 0) / {{ period }})
        end as avg_loss,
        case
            when day_in_segment >= {{ period }} and seed_count = {{ period }}
                then
                    pow(({{ period }} - 1) / {{ period }}, day_in_segment - {{ period }})
                    * (seed_true_range + coalesce(weighted_true_range, 0) / {{ period }})
        end as atr
    from wilder_sums

),

with_log_return as (

    select
        *,
        ln(close_price / previous_close) as log_return
    from wilder

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
    from with_log_return
    window
        last_7_days as (
            partition by market, symbol order by trade_date
            range between interval 6 days preceding and current row
        ),
        last_30_days as (
            partition by market, symbol order by trade_date
            range between interval 29 days preceding and current row
        ),
        last_90_days as (
            partition by market, symbol order by trade_date
            range between interval 89 days preceding and current row
        ),
        day_30_ago as (
            partition by market, symbol order by trade_date
            range between interval 30 days preceding and interval 30 days preceding
        )

),

features as (

    select
        market,
        symbol,
        trade_date,
        close_price,
        log_return,
        sqrt(realized_variance) as realized_vol,
        sqrt(ln(high_price / low_price) ^ 2 / (4 * ln(2))) as parkinson_vol,
        sqrt(
            0.5 * ln(high_price / low_price) ^ 2
            - (2 * ln(2) - 1) * ln(close_price / open_price) ^ 2
        ) as garman_klass_vol,
        case when log_return_count_7 = 7 then log_return_stddev_7 * sqrt(365) end as volatility_7d,
        case when log_return_count_30 = 30 then log_return_stddev_30 * sqrt(365) end as volatility_30d,
        case when close_count_7 = 7 then close_mean_7 end as sma_7,
        case when close_count_30 = 30 then close_mean_30 end as sma_30,
        case when close_count_90 = 90 then close_mean_90 end as sma_90,
        case when close_count_30 = 30 then close_price / close_mean_30 - 1 end as trend_30d,
        close_price / close_30_days_ago - 1 as momentum_30d,
        case when avg_gain + avg_loss > 0 then 100 * avg_gain / (avg_gain + avg_loss) end as rsi_14,
        atr as atr_14,
        case when close_count_90 = 90 then close_price / close_max_90 - 1 end as drawdown_90d,
        case
            when volume_count_30 = 30 and volume_stddev_30 > 0
                then (base_volume - volume_mean_30) / volume_stddev_30
        end as volume_zscore_30d,
        avg_gain as rsi_avg_gain_14,
        avg_loss as rsi_avg_loss_14,
        _built_at
    from windowed

),

rebuilt_days as (

    select features.*
    from features
    {%- if is_incremental() %}
        inner join {{ binance_scope_values(scope) }} as scope
            on features.market = scope.market and features.symbol = scope.symbol
        where features.trade_date >= scope.rebuild_from
    {%- endif %}

),

final as (

    select
        rebuilt_days.market,
        rebuilt_days.symbol,
        rebuilt_days.trade_date,
        rebuilt_days.close_price,
        rebuilt_days.log_return,
        rebuilt_days.realized_vol,
        rebuilt_days.parkinson_vol,
        rebuilt_days.garman_klass_vol,
        rebuilt_days.volatility_7d,
        rebuilt_days.volatility_30d,
        rebuilt_days.sma_7,
        rebuilt_days.sma_30,
        rebuilt_days.sma_90,
        rebuilt_days.trend_30d,
        rebuilt_days.momentum_30d,
        rebuilt_days.rsi_14,
        rebuilt_days.atr_14,
        rebuilt_days.drawdown_90d,
        rebuilt_days.volume_zscore_30d,
        thresholds.regime,
        thresholds.regime_id,
        rebuilt_days.rsi_avg_gain_14,
        rebuilt_days.rsi_avg_loss_14,
        rebuilt_days._built_at
    from rebuilt_days
    left join thresholds
        on
            rebuilt_days.trend_30d is not null
            and rebuilt_days.volatility_30d is not null
            and (thresholds.trend_30d_above is null or rebuilt_days.trend_30d > thresholds.trend_30d_above)
            and (
                thresholds.trend_30d_at_most is null
                or rebuilt_days.trend_30d <= thresholds.trend_30d_at_most
            )
            and (
                thresholds.volatility_30d_above is null
                or rebuilt_days.volatility_30d > thresholds.volatility_30d_above
            )
            and (
                thresholds.volatility_30d_at_most is null
                or rebuilt_days.volatility_30d <= thresholds.volatility_30d_at_most
            )

)

select * from final
