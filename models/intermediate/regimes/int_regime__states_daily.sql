{#- One row per market, symbol and trade_date with probabilities: the most likely state (ties: the
    calmer) with its probability, and the probability of the most turbulent state; the columns
    fct_regime_features_daily adds (docs/regimes.md). On Spark, where the probability models (dbt Python
    models) are off, it has no rows, so the features mart and its unit tests read
    the same relation on both engines. -#}
{%- if target.type == 'spark' %}

    select
        cast(null as string) as market,
        cast(null as string) as symbol,
        cast(null as date) as trade_date,
        cast(null as string) as vol_state,
        cast(null as double) as vol_state_probability,
        cast(null as double) as turbulent_probability
    where false
{%- else %}

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
{%- endif %}
