{#- Grain: one row per dataset, market, interval ('' for datasets without one), symbol and trade_date,
    for every calendar day from the series' first day to its last: rows present, rows expected, and
    whether the day is complete, incomplete or missing, with the known Binance outage that explains
    it (docs/features.md, "Symbol universe and coverage"). Incremental: the series of changed (market, symbol)
    pairs are recomputed and rewritten whole (a new month after a gap adds missing days before it). -#}
{{ config(**binance_incremental_config(
    unique_key=['dataset', 'market', 'interval', 'symbol', 'trade_date'],
)) }}
{%- set scope = binance_scope(upstream=[ref('int_binance__rows_daily')]) %}

with

rows_daily as (

    select * from {{ ref('int_binance__rows_daily') }}

),

intervals as (

    select * from {{ ref('binance_intervals') }}

),

outages as (

    select * from {{ ref('binance_known_outages') }}

),

scoped_rows as (

    select
        *,
        {{ binance_day_number('trade_date') }} as day_number
    from rows_daily
    where {{ binance_in_scope(scope, 'rows_daily') }}

),

series as (

    select
        dataset,
        market,
        {{ adapter.quote('interval') }},
        symbol,
        min(trade_date) as first_date,
        max(trade_date) as last_date,
        min(day_number) as first_day_number
    from scoped_rows
    group by dataset, market, {{ adapter.quote('interval') }}, symbol

),

calendar as (

    select
        series.dataset,
        series.market,
        series.{{ adapter.quote('interval') }},
        series.symbol,
        series.first_day_number,
        cast(spine.trade_date as date) as trade_date
    from series
    cross join
        {{ binance_unnest(
            binance_date_spine('series.first_date', 'series.last_date'), 'spine', 'trade_date'
        ) }}

),

calendar_rows as (

    select
        calendar.dataset,
        calendar.market,
        calendar.{{ adapter.quote('interval') }},
        calendar.symbol,
        calendar.trade_date,
        {{ binance_day_number('calendar.trade_date') }} - calendar.first_day_number as days_since_first,
        coalesce(scoped_rows.rows_present, 0) as rows_present,
        scoped_rows.hours_present,
        intervals.candles_per_day,
        intervals.interval_seconds
    from calendar
    left join scoped_rows
        on
            calendar.dataset = scoped_rows.dataset
            and calendar.market = scoped_rows.market
            and calendar.{{ adapter.quote('interval') }} = scoped_rows.{{ adapter.quote('interval') }}
            and calendar.symbol = scoped_rows.symbol
            and calendar.trade_date = scoped_rows.trade_date
    left join intervals
        on calendar.{{ adapter.quote('interval') }} = intervals.interval_code

),

with_funding_pace as (

    -- Funding: the hours one event covered on the latest day with events (Binance moved some symbols
    -- from 8 h to 4 h or 1 h), for the events a short or missing day lacks.
    select
        *,
        {{ binance_last_non_null(
            'cast(hours_present as double) / nullif(rows_present, 0)',
            'partition by dataset, market, ' ~ adapter.quote('interval') ~ ', symbol order by trade_date'
        ) }} as hours_per_event
    from calendar_rows

),

expected as (

    select
        *,
        case
            when dataset = 'metrics' then 288
            when dataset = 'aggTrades' then cast(null as bigint)
            when dataset = 'fundingRate'
                then
                    rows_present
                    + cast(ceil(greatest(24 - coalesce(hours_present, 0), 0) / hours_per_event) as bigint)
            when candles_per_day is not null then candles_per_day
            -- Candles longer than a day (3d, 1w, 1mo) count on the day they open.
            when {{ adapter.quote('interval') }} = '1mo'
                then case when extract(day from trade_date) = 1 then 1 else 0 end
            when mod(days_since_first * 86400, interval_seconds) = 0 then 1
            else 0
        end as rows_expected
    from with_funding_pace

),

with_status as (

    select
        *,
        case
            when rows_present = 0 and coalesce(rows_expected, 1) > 0 then 'missing'
            when rows_expected is null or rows_present >= rows_expected then 'complete'
            else 'incomplete'
        end as status
    from expected

),

explained as (

    select
        with_status.dataset,
        with_status.market,
        with_status.{{ adapter.quote('interval') }},
        with_status.symbol,
        with_status.trade_date,
        min(outages.description) as known_reason
    from with_status
    inner join outages
        on
            ' ' || outages.markets || ' ' like '% ' || with_status.market || ' %'
            and outages.starts_at < {{ binance_add_days('with_status.trade_date', 1) }}
            and with_status.trade_date < outages.ends_at
    where with_status.status != 'complete'
    group by
        with_status.dataset,
        with_status.market,
        with_status.{{ adapter.quote('interval') }},
        with_status.symbol,
        with_status.trade_date

),

final as (

    select
        with_status.dataset,
        with_status.market,
        with_status.{{ adapter.quote('interval') }},
        with_status.symbol,
        with_status.trade_date,
        with_status.rows_present,
        with_status.rows_expected,
        with_status.status,
        explained.known_reason,
        {{ binance_built_at() }} as _built_at
    from with_status
    left join explained
        on
            with_status.dataset = explained.dataset
            and with_status.market = explained.market
            and with_status.{{ adapter.quote('interval') }} = explained.{{ adapter.quote('interval') }}
            and with_status.symbol = explained.symbol
            and with_status.trade_date = explained.trade_date

)

{{ binance_incremental_select('final') }}
