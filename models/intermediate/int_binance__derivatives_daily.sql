{#- One row per futures market (um, cm), symbol and UTC trade_date with any derivatives data: funding,
    mark/index/premium closes and open interest with the long/short ratios, and what docs/features.md derives
    from them ("Derivatives marts"). Both fct_derivatives_daily and fct_regime_features_daily read it (no
    mart reads another mart: a failed Postgres export of one must not skip the other). Incremental:
    series whose per-dataset rows changed are recomputed over their whole daily history (oi_change_1d
    needs the day before) and only their changed days are written. -#}
{{ config(**binance_incremental_config()) }}
{%- set scope = binance_scope(upstream=[
    ref('int_binance__funding_daily'), ref('int_binance__metrics_daily'), ref('int_binance__price_klines_daily'),
]) %}

with

funding as (

    select * from {{ ref('int_binance__funding_daily') }}

),

metrics as (

    select * from {{ ref('int_binance__metrics_daily') }}

),

prices as (

    select * from {{ ref('int_binance__price_klines_daily') }}

),

futures_days as (

    -- Every day of the series to rebuild that has any derivatives data (whole history).
    select
        market,
        symbol,
        trade_date
    from funding
    where {{ binance_in_scope(scope, 'funding') }}
    union
    select
        market,
        symbol,
        trade_date
    from metrics
    where {{ binance_in_scope(scope, 'metrics') }}
    union
    select
        market,
        symbol,
        trade_date
    from prices
    where {{ binance_in_scope(scope, 'prices') }}

),

joined as (

    select
        futures_days.market,
        futures_days.symbol,
        futures_days.trade_date,
        funding.funding_rate_sum,
        coalesce(funding.funding_events, 0) as funding_events,
        funding.funding_hours,
        prices.mark_close,
        prices.index_close,
        prices.premium_close,
        prices.premium_mean,
        metrics.open_interest,
        metrics.open_interest_value,
        metrics.top_trader_account_ratio,
        metrics.top_trader_position_ratio,
        metrics.account_ratio,
        metrics.taker_buy_sell_ratio,
        coalesce(metrics.metrics_rows, 0) as metrics_rows
    from futures_days
    left join funding
        on
            futures_days.market = funding.market
            and futures_days.symbol = funding.symbol
            and futures_days.trade_date = funding.trade_date
    left join metrics
        on
            futures_days.market = metrics.market
            and futures_days.symbol = metrics.symbol
            and futures_days.trade_date = metrics.trade_date
    left join prices
        on
            futures_days.market = prices.market
            and futures_days.symbol = prices.symbol
            and futures_days.trade_date = prices.trade_date

),

with_previous_day as (

    select
        *,
        -- The previous calendar day's open interest (null when that day has no row).
        case
            when lag(trade_date) over by_day = {{ binance_add_days('trade_date', -1) }}
                then lag(open_interest) over by_day
        end as previous_open_interest
    from joined
    window by_day as (partition by market, symbol order by trade_date)

),

final as (

    select
        market,
        symbol,
        trade_date,
        funding_rate_sum,
        funding_events,
        funding_hours,
        case when funding_hours > 0 then funding_rate_sum / funding_hours * 24 * 365 end
            as funding_rate_annualized,
        mark_close,
        index_close,
        premium_close,
        premium_mean,
        mark_close / nullif(index_close, 0) - 1 as basis,
        open_interest,
        open_interest_value,
        top_trader_account_ratio,
        top_trader_position_ratio,
        account_ratio,
        taker_buy_sell_ratio,
        metrics_rows,
        case
            when
                open_interest > 0 and previous_open_interest > 0
                then ln(open_interest / previous_open_interest)
        end as oi_change_1d,
        {{ binance_built_at() }} as _built_at
    from with_previous_day
    where {{ binance_in_scope(scope, 'with_previous_day', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
