{#- fct_regime_transitions against the spells, per series: its self-transitions number the spells' days
    less one each, its other transitions the spells that start the day after another ends, and their sum
    the pairs of consecutive classified days counted from fct_regime_features_daily directly; each
    from_regime's probabilities sum to 1; fct_market_regime_transitions sums the series' counts. Fails
    for every series (or market) where a count or a sum differs. -#}
{%- set days = adapter.quote('days') %}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

spells as (

    select * from {{ ref('fct_regime_spells') }}

),

transitions as (

    select * from {{ ref('fct_regime_transitions') }}

),

market_transitions as (

    select * from {{ ref('fct_market_regime_transitions') }}

),

classified_days as (

    select
        market,
        symbol,
        {{ binance_day_number('trade_date') }} as day_number
    from features
    where regime is not null

),

consecutive_pairs as (

    select
        today.market,
        today.symbol,
        count(*) as pairs
    from classified_days as today
    inner join classified_days as yesterday
        on
            today.market = yesterday.market
            and today.symbol = yesterday.symbol
            and yesterday.day_number = today.day_number - 1
    group by today.market, today.symbol

),

spell_counts as (

    select
        market,
        symbol,
        sum({{ days }} - 1) as days_within_spells
    from spells
    group by market, symbol

),

adjacent_spells as (

    select
        later.market,
        later.symbol,
        count(*) as spell_changes
    from spells as later
    inner join spells as earlier
        on
            later.market = earlier.market
            and later.symbol = earlier.symbol
            and {{ binance_day_number('later.spell_start') }}
            = {{ binance_day_number('earlier.spell_end') }} + 1
    group by later.market, later.symbol

),

transition_counts as (

    select
        market,
        symbol,
        sum(transitions) as all_transitions,
        sum(case when from_regime = to_regime then transitions else 0 end) as self_transitions
    from transitions
    group by market, symbol

),

probability_sums as (

    select
        market,
        symbol,
        from_regime,
        sum(probability) as probability_sum
    from transitions
    group by market, symbol, from_regime

),

market_sums as (

    select
        market,
        from_regime,
        to_regime,
        sum(transitions) as transitions
    from transitions
    group by market, from_regime, to_regime

),

series_checks as (

    select
        spell_counts.market,
        spell_counts.symbol,
        coalesce(consecutive_pairs.pairs, 0) as pairs,
        coalesce(transition_counts.all_transitions, 0) as all_transitions,
        coalesce(transition_counts.self_transitions, 0) as self_transitions,
        spell_counts.days_within_spells,
        coalesce(adjacent_spells.spell_changes, 0) as spell_changes
    from spell_counts
    left join consecutive_pairs
        on spell_counts.market = consecutive_pairs.market and spell_counts.symbol = consecutive_pairs.symbol
    left join transition_counts
        on spell_counts.market = transition_counts.market and spell_counts.symbol = transition_counts.symbol
    left join adjacent_spells
        on spell_counts.market = adjacent_spells.market and spell_counts.symbol = adjacent_spells.symbol

),

violations as (

    select
        market,
        symbol,
        'series counts differ' as problem
    from series_checks
    where
        all_transitions != pairs
        or self_transitions != days_within_spells
        or all_transitions - self_transitions != spell_changes

    union all

    select
        market,
        symbol,
        'probabilities out of ' || from_regime || ' do not sum to 1' as problem
    from probability_sums
    where abs(probability_sum - 1) > 1e-9

    union all

    select
        coalesce(market_sums.market, market_transitions.market) as market,
        cast(null as string) as symbol,
        'market transitions differ from the sum of its series' as problem
    from market_sums
    full outer join market_transitions
        on
            market_sums.market = market_transitions.market
            and market_sums.from_regime = market_transitions.from_regime
            and market_sums.to_regime = market_transitions.to_regime
    where
        market_sums.transitions is null
        or market_transitions.transitions is null
        or market_sums.transitions != market_transitions.transitions

)

select * from violations
