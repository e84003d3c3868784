{#- Grain: one row per market, symbol and UTC hour_start: the hourly close, the price features of
    int_binance__price_features_hourly and the price regime from seed regime_thresholds_hourly.
    Incremental: the series whose features a run rewrote, from their first rewritten day. -#}
{{ config(**binance_incremental_config(unique_key=['market', 'symbol', 'hour_start'])) }}

{%- set scope = binance_scope(upstream=[ref('int_binance__price_features_hourly')]) %}

with

price_features as (

    select * from {{ ref('int_binance__price_features_hourly') }}

),

thresholds as (

    select * from {{ ref('regime_thresholds_hourly') }}

),

features as (

    select *
    from price_features
    where {{ binance_in_scope(scope, 'price_features', 'trade_date') }}

),

final as (

    select
        features.market,
        features.symbol,
        features.hour_start,
        features.trade_date,
        features.close_price,
        features.log_return,
        features.parkinson_vol,
        features.garman_klass_vol,
        features.volatility_24h,
        features.volatility_168h,
        features.sma_24,
        features.sma_168,
        features.sma_720,
        features.trend_168h,
        features.momentum_168h,
        features.rsi_14,
        features.atr_14,
        features.drawdown_720h,
        features.volume_zscore_168h,
        thresholds.regime,
        thresholds.regime_id,
        {{ binance_built_at() }} as _built_at
    from features
    left join thresholds
        on {{ binance_price_regime_matches('features', 'thresholds', 'trend_168h', 'volatility_168h') }}

)

{{ binance_incremental_select('final') }}
