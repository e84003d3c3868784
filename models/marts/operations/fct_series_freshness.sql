{#- Per configured series, its freshness as the latest `update` run checked it (SPEC "Keeping it
    current"): latest loaded day from the manifests, the day Binance should have published, the lag
    and whether it is stale. One row per series of the newest run. -#}
with

runs as (

    select * from {{ binance_operations_runs() }}

),

latest_run as (

    select run_id, started_at, freshness
    from runs
    order by started_at desc
    limit 1

),

checks as (

    select
        latest_run.run_id,
        latest_run.started_at as checked_at,
        unnest(
            from_json(
                latest_run.freshness,
                '[{"market": "VARCHAR", "dataset": "VARCHAR", "interval": "VARCHAR", "symbol": "VARCHAR",
                   "latest_day": "DATE", "expected_day": "DATE", "lag_days": "INTEGER", "stale": "BOOLEAN"}]'
            )
        ) as check_row
    from latest_run

),

final as (

    select
        check_row.market as market,
        check_row.dataset as dataset,
        check_row.interval as {{ adapter.quote('interval') }},
        check_row.symbol as symbol,
        check_row.latest_day as latest_day,
        check_row.expected_day as expected_day,
        check_row.lag_days as lag_days,
        check_row.stale as is_stale,
        checked_at,
        run_id
    from checks

)

select * from final
