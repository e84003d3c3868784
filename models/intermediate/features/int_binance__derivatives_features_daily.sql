{#- Grain: one row per futures market (um, cm), symbol and UTC trade_date with derivatives data: the
    trailing-window features of funding, open interest and the premium, and the basis, that the regime
    marts join to a series through binance_derivatives_market (docs/regimes.md).

    Features are computed over each rebuilt series' whole daily history and only the rebuilt days are
    written, so incremental and full-refresh tables are identical. -#}
{{ config(**binance_incremental_config()) }}

{%- set scope = binance_scope(upstream=[ref('int_binance__derivatives_daily')]) %}

with

derivatives as (

    select * from {{ ref('int_binance__derivatives_daily') }}

),

series as (

    -- Whole daily history of every futures series to rebuild (all series on a full build).
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
    where {{ binance_in_scope(scope, 'derivatives') }}

),

windowed as (

    -- Trailing calendar-day windows: a value needs every day of its window.
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
    from series
    window
        last_7_days as ({{ binance_calendar_days(6) }}),
        last_30_days as ({{ binance_calendar_days(29) }}),
        day_7_ago as ({{ binance_calendar_days(7, 7) }})

),

final as (

    select
        market,
        symbol,
        trade_date,
        funding_rate_7d_annualized,
        oi_change_7d,
        premium_zscore_30d,
        basis,
        {{ binance_built_at() }} as _built_at
    from windowed
    where {{ binance_in_scope(scope, 'windowed', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
