{#- Grain: one row per market, from_regime and to_regime: fct_regime_transitions summed over the
    market's symbols, with the empirical probability among the market's transitions out of
    from_regime (docs/regimes.md#spells-transitions-and-outcomes). -#}

with

series_transitions as (

    select * from {{ ref('fct_regime_transitions') }}

),

counts as (

    select
        market,
        from_regime,
        to_regime,
        cast(sum(transitions) as bigint) as transitions
    from series_transitions
    group by market, from_regime, to_regime

),

final as (

    select
        market,
        from_regime,
        to_regime,
        transitions,
        cast(transitions as double)
        / sum(transitions) over (partition by market, from_regime) as probability,
        {{ binance_built_at() }} as _built_at
    from counts

)

select * from final
