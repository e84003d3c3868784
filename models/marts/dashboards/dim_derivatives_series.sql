{#- Grain: one row per futures market and symbol of fct_derivatives_series_daily: its latest day's
    7-day funding, open interest value and basis, and how many days have each measure at all (a
    chart with none shows its own empty state). -#}

with

daily as (

    select * from {{ ref('fct_derivatives_series_daily').include(database=false) }}

),

measures as (

    select
        market,
        symbol,
        count(funding_rate_annualized) as funding_days,
        count(open_interest_value) as open_interest_days,
        count(basis) as basis_days
    from daily
    group by market, symbol

),

latest_days as (

    select *
    from daily
    qualify row_number() over (partition by market, symbol order by trade_date desc) = 1

),

final as (

    select
        latest_days.market,
        latest_days.symbol,
        latest_days.trade_date as latest_date,
        latest_days.funding_rate_7d_annualized,
        latest_days.open_interest_value,
        latest_days.basis,
        measures.funding_days,
        measures.open_interest_days,
        measures.basis_days,
        {{ binance_built_at() }} as _built_at
    from latest_days
    inner join measures
        on latest_days.market = measures.market and latest_days.symbol = measures.symbol

)

select * from final
