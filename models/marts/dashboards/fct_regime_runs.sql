{#- Grain: one row per market, symbol and run of consecutive days in one regime ('unclassified' while
    the features lack history): the Regime timeline's strip of every series. -#}

with

features as (

    select * from {{ ref('fct_regime_features_daily').include(database=false) }}

),

classified_days as (

    select
        market,
        symbol,
        trade_date,
        coalesce(regime, 'unclassified') as regime
    from features

),

runs as (

    {{ binance_day_runs('classified_days', ['market', 'symbol'], ['regime']) }}

),

final as (

    select
        market,
        symbol,
        regime,
        start_date,
        end_date,
        day_count,
        {{ binance_built_at() }} as _built_at
    from runs

)

select * from final
