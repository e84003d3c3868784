{#- fct_regime_spells tiles each series' classified days: every day with a non-null regime lies in
    exactly one spell, of its regime, and no spell holds any other day (docs/regimes.md). Fails for
    every day covered by other than one matching spell, and every spell whose days are not all
    classified days of its regime. -#}
{%- set days = adapter.quote('days') %}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

spells as (

    select * from {{ ref('fct_regime_spells') }}

),

classified_days as (

    select
        market,
        symbol,
        trade_date,
        regime
    from features
    where regime is not null

),

day_matches as (

    select
        classified_days.market,
        classified_days.symbol,
        classified_days.trade_date,
        count(spells.spell_start) as spells_covering,
        sum(case when spells.regime = classified_days.regime then 1 else 0 end) as spells_matching
    from classified_days
    left join spells
        on
            classified_days.market = spells.market
            and classified_days.symbol = spells.symbol
            and classified_days.trade_date between spells.spell_start and spells.spell_end
    group by classified_days.market, classified_days.symbol, classified_days.trade_date

),

spell_matches as (

    select
        spells.market,
        spells.symbol,
        spells.spell_start,
        spells.{{ days }},
        count(classified_days.trade_date) as classified_days_inside
    from spells
    left join classified_days
        on
            spells.market = classified_days.market
            and spells.symbol = classified_days.symbol
            and spells.regime = classified_days.regime
            and classified_days.trade_date between spells.spell_start and spells.spell_end
    group by spells.market, spells.symbol, spells.spell_start, spells.{{ days }}

),

violations as (

    select
        market,
        symbol,
        trade_date as day_or_spell_start,
        'day not in exactly one spell of its regime' as problem
    from day_matches
    where spells_covering != 1 or spells_matching != 1

    union all

    select
        market,
        symbol,
        spell_start as day_or_spell_start,
        'spell holds other than its regime''s classified days' as problem
    from spell_matches
    where classified_days_inside != {{ days }}

)

select * from violations
