{#- A spell is a maximal run: the day after a spell is never a classified day of the same regime (it
    would belong to the spell). Fails for every spell followed by its own regime on the next day. -#}

with

features as (

    select * from {{ ref('fct_regime_features_daily') }}

),

spells as (

    select * from {{ ref('fct_regime_spells') }}

),

violations as (

    select
        spells.market,
        spells.symbol,
        spells.spell_start,
        spells.spell_end
    from spells
    inner join features
        on
            spells.market = features.market
            and spells.symbol = features.symbol
            and spells.regime = features.regime
            and {{ binance_day_number('features.trade_date') }}
            = {{ binance_day_number('spells.spell_end') }} + 1

)

select * from violations
