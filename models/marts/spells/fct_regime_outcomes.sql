{#- Grain: one row per market, symbol and regime: what followed the series' days in that regime, the
    log return to the same series' close 1, 7 and 30 calendar days later (mean, median, share positive)
    over the days whose later day exists. LOOKS AHEAD BY DESIGN: it evaluates the regimes after the
    fact; no model reads it (docs/regimes.md#spells-transitions-and-outcomes). A table rebuilt whole
    on every run (docs/benchmarks.md#regime-spells-and-transitions). -#}
{%- set days = adapter.quote('days') %}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

numbered_days as (

    select
        market,
        symbol,
        regime,
        close_price,
        {{ binance_day_number('trade_date') }} as day_number
    from features

),

forward_returns as (

    -- Each classified day with its forward log returns (null when the later day is missing).
    select
        today.market,
        today.symbol,
        today.regime,
        {{ binance_ln('later_1d.close_price / today.close_price') }} as fwd_return_1d,
        {{ binance_ln('later_7d.close_price / today.close_price') }} as fwd_return_7d,
        {{ binance_ln('later_30d.close_price / today.close_price') }} as fwd_return_30d
    from numbered_days as today
    left join numbered_days as later_1d
        on
            today.market = later_1d.market
            and today.symbol = later_1d.symbol
            and later_1d.day_number = today.day_number + 1
    left join numbered_days as later_7d
        on
            today.market = later_7d.market
            and today.symbol = later_7d.symbol
            and later_7d.day_number = today.day_number + 7
    left join numbered_days as later_30d
        on
            today.market = later_30d.market
            and today.symbol = later_30d.symbol
            and later_30d.day_number = today.day_number + 30
    where today.regime is not null

),

final as (

    -- A comparison is null where the return is: the hit rates count the days with a later day only.
    select
        market,
        symbol,
        regime,
        count(*) as {{ days }},
        avg(fwd_return_1d) as fwd_return_mean_1d,
        {{ binance_median('fwd_return_1d') }} as fwd_return_median_1d,
        avg(cast(fwd_return_1d > 0 as double)) as hit_rate_1d,
        avg(fwd_return_7d) as fwd_return_mean_7d,
        {{ binance_median('fwd_return_7d') }} as fwd_return_median_7d,
        avg(cast(fwd_return_7d > 0 as double)) as hit_rate_7d,
        avg(fwd_return_30d) as fwd_return_mean_30d,
        {{ binance_median('fwd_return_30d') }} as fwd_return_median_30d,
        avg(cast(fwd_return_30d > 0 as double)) as hit_rate_30d,
        {{ binance_built_at() }} as _built_at
    from forward_returns
    group by market, symbol, regime

)

select * from final
