{#- Per configured series, its freshness as the latest `update` run checked it (docs/operations.md,
    "Freshness"): latest loaded day from the manifests, the day Binance should have published, the lag
    and whether it is stale. One row per series of the newest run. -#}
{#- DuckDB SQL (lists, JSON): Spark does not read the run records, so the model is off there. -#}
{{ config(enabled=target.type == 'duckdb') }}

with

runs as (

    select * from {{ binance_operations_runs() }}

),

latest_run as (

    select
        runs.run_id,
        runs.started_at,
        runs.freshness
    from runs
    order by runs.started_at desc
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
        checks.check_row.market,
        checks.check_row.dataset,
        checks.check_row.{{ adapter.quote('interval') }},
        checks.check_row.symbol,
        checks.check_row.latest_day,
        checks.check_row.expected_day,
        checks.check_row.lag_days,
        checks.check_row.stale as is_stale,
        checks.checked_at,
        checks.run_id,
        {{ binance_built_at() }} as _built_at
    from checks

)

select * from final
