{#- Grain: one row per market, symbol and UTC trade_date: the daily close and the regime features.

    The price features (int_binance__price_features_daily) joined with the derivatives features of the
    symbol's futures market (int_binance__derivatives_features_daily through binance_derivatives_market),
    then classified: the price regime and the leverage regime from their seed thresholds, and the most
    likely regime-probability state. Incremental: the series whose features a run rewrote, from their
    first rewritten day (the features are already exact, so no history is re-read). -#}
{{ config(**binance_incremental_config()) }}

{%- set scope = binance_scope(
    upstream=[ref('int_binance__price_features_daily'), 'derivatives_of_regime_rows']
) %}

with

price_features as (

    select * from {{ ref('int_binance__price_features_daily') }}

),

derivatives_features as (

    select * from {{ ref('int_binance__derivatives_features_daily') }}

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

    -- The futures rows as the regime rows they feed (binance_derivatives_markets), for an incremental
    -- run's scope only.
    {%- for market, futures in binance_derivatives_markets().items() %}
        select
            {{ binance_literal(market) }} as market,
            symbol,
            trade_date,
            _built_at
        from derivatives_features
        where market = {{ binance_literal(futures) }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

features as (

    -- The days to write, each with the derivatives features of its symbol's futures market.
    select
        price_features.*,
        {{ binance_derivatives_market('price_features.market') }} as derivatives_market
    from price_features
    where {{ binance_in_scope(scope, 'price_features', 'trade_date') }}

),

with_derivatives as (

    select
        features.*,
        derivatives_features.funding_rate_7d_annualized,
        derivatives_features.oi_change_7d,
        derivatives_features.premium_zscore_30d,
        derivatives_features.basis
    from features
    left join derivatives_features
        on
            features.derivatives_market = derivatives_features.market
            and features.symbol = derivatives_features.symbol
            and features.trade_date = derivatives_features.trade_date

),

price_regimes as (

    -- The price regime whose trend and volatility bounds hold (the seed's boxes do not overlap).
    select
        with_derivatives.market,
        with_derivatives.symbol,
        with_derivatives.trade_date,
        thresholds.regime,
        thresholds.regime_id
    from with_derivatives
    inner join thresholds
        on {{ binance_price_regime_matches('with_derivatives', 'thresholds', 'trend_30d', 'volatility_30d') }}

),

leverage_matches as (

    -- Every leverage regime whose bounds hold; the first by priority wins (leverage_regimes).
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

leverage_regimes as (

    select
        market,
        symbol,
        trade_date,
        leverage_regime
    from leverage_matches
    where match_rank = 1

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
        price_regimes.regime,
        price_regimes.regime_id,
        with_derivatives.taker_buy_ratio,
        with_derivatives.derivatives_market,
        with_derivatives.funding_rate_7d_annualized,
        with_derivatives.oi_change_7d,
        with_derivatives.premium_zscore_30d,
        with_derivatives.basis,
        leverage_regimes.leverage_regime,
        with_derivatives.rsi_avg_gain_14,
        with_derivatives.rsi_avg_loss_14,
        regime_states.vol_state,
        regime_states.vol_state_probability,
        regime_states.turbulent_probability,
        {{ binance_built_at() }} as _built_at
    from with_derivatives
    left join price_regimes
        on
            with_derivatives.market = price_regimes.market
            and with_derivatives.symbol = price_regimes.symbol
            and with_derivatives.trade_date = price_regimes.trade_date
    left join leverage_regimes
        on
            with_derivatives.market = leverage_regimes.market
            and with_derivatives.symbol = leverage_regimes.symbol
            and with_derivatives.trade_date = leverage_regimes.trade_date
    left join regime_states
        on
            with_derivatives.market = regime_states.market
            and with_derivatives.symbol = regime_states.symbol
            and with_derivatives.trade_date = regime_states.trade_date

)

{{ binance_incremental_select('final') }}
