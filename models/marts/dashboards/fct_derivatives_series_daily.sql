{#- Grain: one row per futures market, symbol and trade_date of fct_derivatives_daily: the measures the
    dashboards' Derivatives page draws, with the 7-day funding mean of fct_regime_features_daily (a
    features row carries its futures market's mean: derivatives_market). -#}

with

derivatives as (

    select * from {{ ref('fct_derivatives_daily').include(database=false) }}

),

features as (

    select * from {{ ref('fct_regime_features_daily').include(database=false) }}

),

funding_7d as (

    -- Spot and um rows of a symbol carry the same um mean: one row per futures series and day.
    select
        derivatives_market as market,
        symbol,
        trade_date,
        max(funding_rate_7d_annualized) as funding_rate_7d_annualized
    from features
    where derivatives_market is not null
    group by derivatives_market, symbol, trade_date

),

final as (

    select
        derivatives.market,
        derivatives.symbol,
        derivatives.trade_date,
        derivatives.funding_rate_annualized,
        funding_7d.funding_rate_7d_annualized,
        derivatives.open_interest,
        derivatives.open_interest_value,
        derivatives.basis,
        {{ binance_built_at() }} as _built_at
    from derivatives
    left join funding_7d
        on
            derivatives.market = funding_7d.market
            and derivatives.symbol = funding_7d.symbol
            and derivatives.trade_date = funding_7d.trade_date

)

select * from final
