{#- Grain: one row per market, symbol and spell_start: a regime spell, a maximal run of consecutive
    calendar days in one non-null regime (a missing day or a null regime ends it), with its log return
    and its deepest drawdown (docs/regimes.md#spells-transitions-and-outcomes).

    Incremental on DuckDB: a series fct_regime_features_daily rewrote from some day is recomputed from
    its last stored spell starting before that day (which the new days may extend, and which was the
    ongoing one), its earlier spells kept as stored; the run writes every spell of the series it
    touched (delete+insert by series). On Spark (no deletes) a table rebuilt whole. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['market', 'symbol'],
    on_schema_change='fail',
) }}
{%- set days = adapter.quote('days') %}
{%- set scope = binance_scope(upstream=[ref('fct_regime_features_daily')]) %}

with

all_features as (

    select * from {{ ref('fct_regime_features_daily') }}

),
{%- if is_incremental() %}

stored_spells as (

    select * from {{ this }}

),

recompute_from as (

    -- Each rewritten series: the start of its last stored spell before the first rewritten day, else
    -- that day.
    select
        changed.market,
        changed.symbol,
        coalesce(max(stored_spells.spell_start), min(changed.rebuild_from)) as first_day
    from ({{ scope.changed }}) as changed
    left join stored_spells
        on
            changed.market = stored_spells.market
            and changed.symbol = stored_spells.symbol
            and stored_spells.spell_start < changed.rebuild_from
    group by changed.market, changed.symbol

),

kept_spells as (

    select stored_spells.*
    from stored_spells
    inner join recompute_from
        on
            stored_spells.market = recompute_from.market
            and stored_spells.symbol = recompute_from.symbol
            and stored_spells.spell_start < recompute_from.first_day

),
{%- endif %}

features as (

    select all_features.*
    from all_features
    {%- if is_incremental() %}
        inner join recompute_from
            on
                all_features.market = recompute_from.market
                and all_features.symbol = recompute_from.symbol
                and all_features.trade_date >= recompute_from.first_day
    {%- endif %}

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
    {%- if is_incremental() %}

    union all

    select * from kept_spells
    {%- endif %}

)

select * from final
