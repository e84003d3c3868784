{#- Grain: one row per market and symbol the lake holds (any dataset): its base and quote asset, the
    first and last day of its data, whether it is still active, and what is loaded for it. -#}

with

rows_daily as (

    select * from {{ ref('int_binance__rows_daily') }}

),

quote_assets as (

    select * from {{ ref('quote_assets') }}

),

intervals as (

    select * from {{ ref('binance_intervals') }}

),

symbols as (

    select
        market,
        symbol,
        -- COIN-M symbols carry a contract suffix (BTCUSD_PERP, BTCUSD_240628): the pair comes first.
        {{ dbt.split_part('symbol', "'_'", 1) }} as pair,
        min(trade_date) as first_date,
        max(trade_date) as last_date
    from rows_daily
    group by market, symbol

),

quote_matches as (

    -- The longest quote asset the pair ends with (BTCFDUSD: FDUSD, not USD).
    select
        symbols.market,
        symbols.symbol,
        quote_assets.quote_asset,
        row_number() over (
            partition by symbols.market, symbols.symbol order by length(quote_assets.quote_asset) desc
        ) as match_rank
    from symbols
    inner join quote_assets
        on
            symbols.pair like '%' || quote_assets.quote_asset
            and length(symbols.pair) > length(quote_assets.quote_asset)

),

symbol_datasets as (

    select distinct
        market,
        symbol,
        dataset
    from rows_daily

),

symbol_intervals as (

    select distinct
        market,
        symbol,
        {{ adapter.quote('interval') }}
    from rows_daily
    where {{ adapter.quote('interval') }} != ''

),

lake_latest as (

    -- The latest day of any series in the lake: a symbol without data in the 7 days before is inactive.
    select max(last_date) as last_date
    from symbols

),

datasets_loaded as (

    select
        market,
        symbol,
        {{ binance_string_agg('dataset', 'dataset') }} as datasets
    from symbol_datasets
    group by market, symbol

),

intervals_loaded as (

    select
        symbol_intervals.market,
        symbol_intervals.symbol,
        -- Shortest first; 1mo has no fixed length and sorts last.
        {{ binance_string_agg(
            'symbol_intervals.' ~ adapter.quote('interval'), 'coalesce(intervals.interval_seconds, 9999999999)'
        ) }}
            as intervals
    from symbol_intervals
    left join intervals
        on symbol_intervals.{{ adapter.quote('interval') }} = intervals.interval_code
    group by symbol_intervals.market, symbol_intervals.symbol

),

final as (

    select
        symbols.market,
        symbols.symbol,
        case
            when quote_matches.quote_asset is not null
                then substr(symbols.pair, 1, length(symbols.pair) - length(quote_matches.quote_asset))
        end as base_asset,
        quote_matches.quote_asset,
        symbols.first_date,
        symbols.last_date,
        symbols.last_date >= {{ binance_add_days('lake_latest.last_date', -7) }} as is_active,
        datasets_loaded.datasets,
        coalesce(intervals_loaded.intervals, '') as intervals,
        {{ binance_built_at() }} as _built_at
    from symbols
    cross join lake_latest
    left join quote_matches
        on
            symbols.market = quote_matches.market
            and symbols.symbol = quote_matches.symbol
            and quote_matches.match_rank = 1
    left join datasets_loaded
        on symbols.market = datasets_loaded.market and symbols.symbol = datasets_loaded.symbol
    left join intervals_loaded
        on symbols.market = intervals_loaded.market and symbols.symbol = intervals_loaded.symbol

)

select * from final
