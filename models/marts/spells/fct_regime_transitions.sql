{#- Grain: one row per market, symbol, from_regime and to_regime: how often a day in from_regime was
    followed by a day in to_regime (the next calendar day, both classified; self-transitions included)
    and the empirical probability among the transitions out of from_regime
    (docs/regimes.md#spells-transitions-and-outcomes). Pairs never seen have no row. A table rebuilt
    whole on every run (docs/benchmarks.md#regime-spells-and-transitions). -#}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

numbered_days as (

    select
        market,
        symbol,
        regime,
        {{ binance_day_number('trade_date') }} as day_number
    from features

),

with_previous as (

    select
        market,
        symbol,
        regime,
        day_number,
        lag(regime) over (partition by market, symbol order by day_number) as previous_regime,
        lag(day_number) over (partition by market, symbol order by day_number) as previous_day_number
    from numbered_days

),

counts as (

    select
        market,
        symbol,
        previous_regime as from_regime,
        regime as to_regime,
        count(*) as transitions
    from with_previous
    where
        previous_day_number = day_number - 1
        and previous_regime is not null
        and regime is not null
    group by market, symbol, previous_regime, regime

),

final as (

    select
        market,
        symbol,
        from_regime,
        to_regime,
        transitions,
        cast(transitions as double)
        / sum(transitions) over (partition by market, symbol, from_regime) as probability,
        {{ binance_built_at() }} as _built_at
    from counts

)

select * from final
