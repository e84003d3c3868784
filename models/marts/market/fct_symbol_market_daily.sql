{#- Grain: one row per market, symbol and trade_date of fct_regime_features_daily: the symbol against
    the market: 30-day correlation and beta of its log_return with the benchmark's (var
    `benchmark_symbol`, same market) and with its market/quote index (fct_market_daily), and its 30-day
    return relative to that index (docs/features.md#market-wide). Incremental: a symbol is rebuilt from
    its earliest change, its benchmark's or its index's, reading 30 days before it for the windows. -#}
{{ config(**binance_incremental_config()) }}

{%- set benchmark = binance_literal(var('benchmark_symbol')) %}
{%- set scope = binance_scope(
    upstream=[ref('fct_regime_features_daily'), 'benchmark_rows_of_symbols', 'index_rows_of_symbols']
) %}
{%- set window_scope = market_lookback(scope, 30) %}

with

features as (

    -- The columns read only: the CTE is read three times, so the engine may materialize it.
    select
        market,
        symbol,
        trade_date,
        log_return,
        momentum_30d,
        _built_at
    from {{ ref('fct_regime_features_daily') }}

),

symbols as (

    select * from {{ ref('dim_symbols') }}

),

market_daily as (

    select * from {{ ref('fct_market_daily') }}

),

benchmark_rows_of_symbols as (  -- noqa: ST03

    -- The benchmark's rows as rows of every symbol of its market (a change to it changes them all),
    -- for an incremental run's scope only.
    select
        symbols.market,
        symbols.symbol,
        features.trade_date,
        features._built_at
    from features
    inner join symbols on features.market = symbols.market
    where features.symbol = {{ benchmark }}

),

index_rows_of_symbols as (  -- noqa: ST03

    -- The index's rows as rows of every symbol of its group, for an incremental run's scope only.
    select
        symbols.market,
        symbols.symbol,
        market_daily.trade_date,
        market_daily._built_at
    from market_daily
    inner join symbols
        on market_daily.market = symbols.market and market_daily.quote_asset = symbols.quote_asset

),

benchmark_returns as (

    select
        market,
        trade_date,
        log_return as benchmark_log_return
    from features
    where symbol = {{ benchmark }}

),

series as (

    -- The days to write and the 30 before them (all days on a full build).
    select
        features.market,
        features.symbol,
        features.trade_date,
        features.log_return,
        features.momentum_30d,
        symbols.quote_asset,
        {{ binance_day_number('features.trade_date') }} as day_number
    from features
    left join symbols on features.market = symbols.market and features.symbol = symbols.symbol
    where
        {{ market_since_floor(
            [ref('fct_regime_features_daily'), ref('fct_market_daily')], 'features.trade_date', 30
        ) }}
        and {{ binance_in_scope(window_scope, 'features', 'trade_date') }}

),

paired as (

    select
        series.*,
        benchmark_returns.benchmark_log_return,
        market_daily.index_log_return,
        market_daily.index_level,
        index_30_days_ago.index_level as index_level_30_days_ago
    from series
    left join benchmark_returns
        on series.market = benchmark_returns.market and series.trade_date = benchmark_returns.trade_date
    left join market_daily
        on
            series.market = market_daily.market
            and series.quote_asset = market_daily.quote_asset
            and series.trade_date = market_daily.trade_date
    left join market_daily as index_30_days_ago
        on
            series.market = index_30_days_ago.market
            and series.quote_asset = index_30_days_ago.quote_asset
            and {{ binance_add_days('series.trade_date', -30) }} = index_30_days_ago.trade_date

),

windowed as (

    -- 30 rows spanning 29 days are the 30 calendar days ending at trade_date (a ROWS frame is cheaper
    -- than a RANGE one); a value needs all of them with both returns.
    select
        *,
        lag(day_number, 29) over by_day = day_number - 29 as has_30_days,
        count(case when log_return is not null and benchmark_log_return is not null then 1 end)
            over last_30_rows as benchmark_pairs_30,
        covar_samp(log_return, benchmark_log_return) over last_30_rows as benchmark_covariance_30,
        var_samp(log_return) over last_30_rows as return_variance_30,
        var_samp(benchmark_log_return) over last_30_rows as benchmark_variance_30,
        count(case when log_return is not null and index_log_return is not null then 1 end)
            over last_30_rows as index_pairs_30,
        covar_samp(log_return, index_log_return) over last_30_rows as index_covariance_30,
        var_samp(index_log_return) over last_30_rows as index_variance_30
    from paired
    window
        by_day as (partition by market, symbol order by day_number),
        last_30_rows as (
            partition by market, symbol order by day_number rows between 29 preceding and current row
        )

),

with_windows as (

    select
        *,
        has_30_days and benchmark_pairs_30 = 30 as has_benchmark_window,
        has_30_days and index_pairs_30 = 30 as has_index_window
    from windowed

),

final as (

    select
        market,
        symbol,
        trade_date,
        cast({{ benchmark }} as string) as benchmark_symbol,
        case
            when has_benchmark_window and symbol = {{ benchmark }} then cast(1 as double)
            when has_benchmark_window and return_variance_30 > 0 and benchmark_variance_30 > 0
                then benchmark_covariance_30 / sqrt(return_variance_30 * benchmark_variance_30)
        end as correlation_30d,
        case
            when has_benchmark_window and symbol = {{ benchmark }} then cast(1 as double)
            when has_benchmark_window and benchmark_variance_30 > 0
                then benchmark_covariance_30 / benchmark_variance_30
        end as beta_30d,
        case
            when has_index_window and return_variance_30 > 0 and index_variance_30 > 0
                then index_covariance_30 / sqrt(return_variance_30 * index_variance_30)
        end as index_correlation_30d,
        case
            when has_index_window and index_variance_30 > 0 then index_covariance_30 / index_variance_30
        end as index_beta_30d,
        momentum_30d - (index_level / index_level_30_days_ago - 1) as relative_strength_30d,
        {{ binance_built_at() }} as _built_at
    from with_windows
    where {{ binance_in_scope(scope, 'with_windows', 'trade_date') }}

)

{{ binance_incremental_select('final') }}
