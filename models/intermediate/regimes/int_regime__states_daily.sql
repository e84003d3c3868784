{#- One row per market, symbol and trade_date with probabilities: the most likely state (ties: the
    calmer) with its probability, and the probability of the most turbulent state; the columns
    fct_regime_features_daily adds (docs/regimes.md). -#}

with

probabilities as (

    select * from {{ ref('fct_regime_probabilities_daily') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by market, symbol, trade_date order by probability desc, state asc
        ) as likelihood_rank,
        max(state) over (partition by market, symbol, trade_date) as top_state
    from probabilities

),

final as (

    select
        market,
        symbol,
        trade_date,
        max(case when likelihood_rank = 1 then state_name end) as vol_state,
        max(case when likelihood_rank = 1 then probability end) as vol_state_probability,
        max(case when state = top_state then probability end) as turbulent_probability
    from ranked
    group by market, symbol, trade_date

)

select * from final
