{#- Grain: one row per market, symbol and UTC trade_date: the daily close and the regime features.

    Features are computed over each rebuilt series' whole daily history (one row a day, so cheap), and
    only the rebuilt days are written: windows and Wilder averages see exactly what a full refresh sees,
    so incremental and full-refresh tables are identical. -#}
{{ config(**binance_incremental_config()) }}

{%- set scope = binance_scope(upstream=[ref('int_binance__klines_daily'), 'derivatives_of_regime_rows']) -%}
{%- set period = 14 %}

with

daily as (

    select * from {{ ref('int_binance__klines_daily') }}

),

derivatives as (

    select * from {{ ref('int_binance__derivatives_daily') }}

),

thresholds as (

    select * from {{ ref('regime_thresholds') }}

),

leverage_thresholds as (

    select * from {{ ref('leverage_regime_thresholds') }}

),

regime_states as (

    -- Most likely regime-probability state of each day (docs/regimes.md); no rows on Spark (models off).
    select * from {{ ref('int_regime__states_daily') }}

),

derivatives_of_regime_rows as (  -- noqa: ST03

    -- The futures rows as the regime rows they feed (derivatives_market below): um futures feed the spot
    -- and um rows of the symbol, cm futures the cm rows. Read by an incremental run's scope only.
    select
        market,
        symbol,
        trade_date,
        _built_at
    from derivatives
    union all
    select
        'spot' as market,
        symbol,
        trade_date,
        _built_at
    from derivatives
    where market = 'um'

),

series as (

    -- Whole daily history of every series to rebuild (all series on a full build).
    select
        *,
        {{ binance_day_number('trade_date') }} as day_number
    from daily
    where {{ binance_in_scope(scope, 'daily') }}

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
        taker_buy_base_volume,
        realized_variance,
        day_number,
        -- The previous calendar day's close; null when that day is missing.
        case
            when lag(day_number) over by_day = day_number - 1 then lag(close_price) over by_day
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
        {{ binance_ln('close_price / previous_close') }} as log_return
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
        last_7_days as ({{ binance_calendar_days(6) }}),
        last_30_days as ({{ binance_calendar_days(29) }}),
        last_90_days as ({{ binance_calendar_days(89) }}),
        day_30_ago as ({{ binance_calendar_days(30, 30) }})

),

features as (

    select
        market,
        symbol,
        trade_date,
        close_price,
        log_return,
        sqrt(realized_variance) as realized_vol,
        sqrt(pow({{ binance_ln('high_price / low_price') }}, 2) / (4 * ln(2))) as parkinson_vol,
        {{ binance_sqrt(
            "0.5 * pow(" ~ binance_ln('high_price / low_price') ~ ", 2) - (2 * ln(2) - 1) * pow("
            ~ binance_ln('close_price / open_price') ~ ", 2)"
        ) }} as garman_klass_vol,
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
        taker_buy_base_volume / nullif(base_volume, 0) as taker_buy_ratio,
        -- Futures data of the same symbol: um for spot and um rows, cm for cm rows.
        case when market = 'cm' then 'cm' else 'um' end as derivatives_market,
        avg_gain as rsi_avg_gain_14,
        avg_loss as rsi_avg_loss_14
    from windowed

),

derivatives_series as (

    -- The futures rows of the symbols to rebuild (whole history, for the trailing windows).
    select
        market,
        symbol,
        trade_date,
        {{ binance_day_number('trade_date') }} as day_number,
        funding_rate_annualized,
        open_interest,
        premium_close,
        basis
    from derivatives
    where exists (
        select 1
        from series
        where
            series.symbol = derivatives.symbol
            and (case when series.market = 'cm' then 'cm' else 'um' end) = derivatives.market
    )

),

derivatives_windowed as (

    -- Trailing calendar-day windows over the futures rows: a value needs every day of its window.
    select
        market,
        symbol,
        trade_date,
        basis,
        case
            when count(funding_rate_annualized) over last_7_days = 7
                then avg(funding_rate_annualized) over last_7_days
        end as funding_rate_7d_annualized,
        case
            when open_interest > 0 and first_value(open_interest) over day_7_ago > 0
                then ln(open_interest / first_value(open_interest) over day_7_ago)
        end as oi_change_7d,
        case
            when
                count(premium_close) over last_30_days = 30
                and stddev_samp(premium_close) over last_30_days > 0
                then
                    (premium_close - avg(premium_close) over last_30_days)
                    / stddev_samp(premium_close) over last_30_days
        end as premium_zscore_30d
    from derivatives_series
    window
        last_7_days as ({{ binance_calendar_days(6) }}),
        last_30_days as ({{ binance_calendar_days(29) }}),
        day_7_ago as ({{ binance_calendar_days(7, 7) }})

),

with_derivatives as (

    select
        features.*,
        derivatives_windowed.funding_rate_7d_annualized,
        derivatives_windowed.oi_change_7d,
        derivatives_windowed.premium_zscore_30d,
        derivatives_windowed.basis
    from features
    left join derivatives_windowed
        on
            features.derivatives_market = derivatives_windowed.market
            and features.symbol = derivatives_windowed.symbol
            and features.trade_date = derivatives_windowed.trade_date
    where {{ binance_in_scope(scope, 'features', 'trade_date') }}

),

leverage_matches as (

    -- Every leverage regime whose bounds hold; the first by priority wins below.
    select
        with_derivatives.market,
        with_derivatives.symbol,
        with_derivatives.trade_date,
        leverage_thresholds.leverage_regime,
        row_number() over (
            partition by with_derivatives.market, with_derivatives.symbol, with_derivatives.trade_date
            order by leverage_thresholds.priority
        ) as match_rank
    from with_derivatives
    inner join leverage_thresholds
        on
            with_derivatives.funding_rate_7d_annualized is not null
            and with_derivatives.oi_change_7d is not null
            and (
                leverage_thresholds.funding_rate_7d_annualized_above is null
                or with_derivatives.funding_rate_7d_annualized
                > leverage_thresholds.funding_rate_7d_annualized_above
            )
            and (
                leverage_thresholds.funding_rate_7d_annualized_below is null
                or with_derivatives.funding_rate_7d_annualized
                < leverage_thresholds.funding_rate_7d_annualized_below
            )
            and (
                leverage_thresholds.oi_change_7d_above is null
                or with_derivatives.oi_change_7d > leverage_thresholds.oi_change_7d_above
            )
            and (
                leverage_thresholds.oi_change_7d_below is null
                or with_derivatives.oi_change_7d < leverage_thresholds.oi_change_7d_below
            )

),

final as (

    select
        with_derivatives.market,
        with_derivatives.symbol,
        with_derivatives.trade_date,
        with_derivatives.close_price,
        with_derivatives.log_return,
        with_derivatives.realized_vol,
        with_derivatives.parkinson_vol,
        with_derivatives.garman_klass_vol,
        with_derivatives.volatility_7d,
        with_derivatives.volatility_30d,
        with_derivatives.sma_7,
        with_derivatives.sma_30,
        with_derivatives.sma_90,
        with_derivatives.trend_30d,
        with_derivatives.momentum_30d,
        with_derivatives.rsi_14,
        with_derivatives.atr_14,
        with_derivatives.drawdown_90d,
        with_derivatives.volume_zscore_30d,
        thresholds.regime,
        thresholds.regime_id,
        with_derivatives.taker_buy_ratio,
        with_derivatives.derivatives_market,
        with_derivatives.funding_rate_7d_annualized,
        with_derivatives.oi_change_7d,
        with_derivatives.premium_zscore_30d,
        with_derivatives.basis,
        leverage_matches.leverage_regime,
        with_derivatives.rsi_avg_gain_14,
        with_derivatives.rsi_avg_loss_14,
        regime_states.vol_state,
        regime_states.vol_state_probability,
        regime_states.turbulent_probability,
        {{ binance_built_at() }} as _built_at
    from with_derivatives
    left join thresholds
        on
            with_derivatives.trend_30d is not null
            and with_derivatives.volatility_30d is not null
            and (
                thresholds.trend_30d_above is null or with_derivatives.trend_30d > thresholds.trend_30d_above
            )
            and (
                thresholds.trend_30d_at_most is null
                or with_derivatives.trend_30d <= thresholds.trend_30d_at_most
            )
            and (
                thresholds.volatility_30d_above is null
                or with_derivatives.volatility_30d > thresholds.volatility_30d_above
            )
            and (
                thresholds.volatility_30d_at_most is null
                or with_derivatives.volatility_30d <= thresholds.volatility_30d_at_most
            )
    left join leverage_matches
        on
            with_derivatives.market = leverage_matches.market
            and with_derivatives.symbol = leverage_matches.symbol
            and with_derivatives.trade_date = leverage_matches.trade_date
            and leverage_matches.match_rank = 1
    left join regime_states
        on
            with_derivatives.market = regime_states.market
            and with_derivatives.symbol = regime_states.symbol
            and with_derivatives.trade_date = regime_states.trade_date

)

{{ binance_incremental_select('final') }}
