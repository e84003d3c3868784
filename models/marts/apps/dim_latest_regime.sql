{#- Grain: one row per market and symbol. Each series' latest day with its close, rule-based regime,
    most likely volatility state and its probabilities, leverage regime and the age of the data: the
    "current regime" look-up of apps, exported to Postgres as table latest_regime (docs/postgres.md).
    DuckDB only: it exists for the Postgres export, which runs on DuckDB targets only. -#}
{{ config(alias='latest_regime', enabled=target.type == 'duckdb') }}

with

daily as (

    select * from {{ ref('fct_ohlcv_daily') }}

),

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

hourly as (

    select * from {{ ref('fct_ohlcv_hourly') }}

),

hourly_features as (

    select * from {{ ref('fct_regime_features_hourly') }}

),

latest_days as (

    select
        market,
        symbol,
        max(trade_date) as trade_date
    from daily
    group by market, symbol

),

latest_hours as (

    select
        market,
        symbol,
        max(hour_start) as hour_start
    from hourly
    group by market, symbol

),

final as (

    select
        latest_days.market,
        latest_days.symbol,
        latest_days.trade_date,
        latest_hours.hour_start as latest_hour_start,
        daily.close_price,
        daily.is_complete,
        features.regime,
        features.vol_state,
        features.vol_state_probability,
        features.turbulent_probability,
        features.derivatives_market,
        features.leverage_regime,
        hourly_features.regime as latest_hour_regime,
        -- Whole days from the latest day to the build's UTC date: 0 = today, 1 = yesterday.
        {{ binance_day_number('cast(' ~ binance_built_at() ~ ' as date)') }}
        - {{ binance_day_number('latest_days.trade_date') }} as data_age_days,
        {{ binance_built_at() }} as _built_at
    from latest_days
    inner join daily
        on
            latest_days.market = daily.market
            and latest_days.symbol = daily.symbol
            and latest_days.trade_date = daily.trade_date
    left join features
        on
            latest_days.market = features.market
            and latest_days.symbol = features.symbol
            and latest_days.trade_date = features.trade_date
    left join latest_hours
        on latest_days.market = latest_hours.market and latest_days.symbol = latest_hours.symbol
    left join hourly_features
        on
            latest_hours.market = hourly_features.market
            and latest_hours.symbol = hourly_features.symbol
            and latest_hours.hour_start = hourly_features.hour_start
)

select * from final
