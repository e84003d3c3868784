{#- Grain: one row per coverage series (dataset, market, interval, symbol) and run of consecutive days
    with the same status and known reason: the Coverage page's heat map and problem ranges. -#}

with

coverage as (

    select * from {{ ref('fct_coverage_daily').include(database=false) }}

),

runs as (

    {{ binance_day_runs(
        'coverage',
        ['dataset', 'market', adapter.quote('interval'), 'symbol'],
        ['status', 'known_reason'],
        ['cast(sum(rows_present) as double) as rows_present', 'cast(sum(rows_expected) as double) as rows_expected'],
    ) }}

),

final as (

    select
        dataset,
        market,
        {{ adapter.quote('interval') }},
        symbol,
        status,
        known_reason,
        start_date,
        end_date,
        day_count,
        rows_present,
        rows_expected,
        {{ binance_built_at() }} as _built_at
    from runs

)

select * from final
