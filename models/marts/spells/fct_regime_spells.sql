{#- Grain: one row per market, symbol and spell_start: a regime spell, a maximal run of consecutive
    calendar days in one non-null regime (a missing day or a null regime ends it), with its log return
    and its deepest drawdown (docs/regimes.md#spells-transitions-and-outcomes). A table rebuilt whole
    on every run: one pass over the daily regimes (docs/benchmarks.md#regime-spells-and-transitions). -#}
{%- set days = adapter.quote('days') %}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

series_ends as (

    select
        market,
        symbol,
        max(trade_date) as last_date
    from features
    group by market, symbol

),

classified_days as (

    -- A day number minus the day's rank within (series, regime) is constant along a run of
    -- consecutive days and changes at a gap or another regime: it keys the spell.
    select
        market,
        symbol,
        trade_date,
        regime,
        close_price,
        {{ binance_day_number('trade_date') }}
        - row_number() over (partition by market, symbol, regime order by trade_date) as spell_key
    from features
    where regime is not null

),

spell_days as (

    select
        *,
        close_price / max(close_price) over (
            partition by market, symbol, regime, spell_key
            order by trade_date
            rows between unbounded preceding and current row
        ) - 1 as drawdown
    from classified_days

),

spells as (

    select
        market,
        symbol,
        regime,
        min(trade_date) as spell_start,
        max(trade_date) as spell_end,
        count(*) as {{ days }},
        {{ binance_arg_min('close_price', 'trade_date') }} as start_close,
        {{ binance_arg_max('close_price', 'trade_date') }} as end_close,
        min(drawdown) as max_drawdown
    from spell_days
    group by market, symbol, regime, spell_key

),

final as (

    select
        spells.market,
        spells.symbol,
        spells.spell_start,
        spells.regime,
        spells.spell_end,
        spells.{{ days }},
        {{ binance_ln('spells.end_close / spells.start_close') }} as spell_log_return,
        spells.max_drawdown,
        spells.spell_end = series_ends.last_date as is_ongoing,
        {{ binance_built_at() }} as _built_at
    from spells
    inner join series_ends
        on
            spells.market = series_ends.market
            and spells.symbol = series_ends.symbol

)

select * from final
