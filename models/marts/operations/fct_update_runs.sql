{#- One row per `binance-warehouse update` run (docs/operations.md), newest last: what the
    dashboards show as the warehouse's own health. Read from the run records in the lake. -#}
{#- DuckDB SQL (lists, JSON): Spark does not read the run records, so the model is off there. -#}
{{ config(enabled=target.type == 'duckdb') }}

with

runs as (

    select * from {{ binance_operations_runs() }}

),

final as (

    select
        runs.run_id,
        runs.started_at,
        runs.finished_at,
        cast(runs.started_at as date) as run_date,
        cast(
            date_diff('millisecond', runs.started_at, runs.finished_at) / 1000.0 as double
        ) as duration_seconds,
        runs.status,
        runs.exit_code,
        runs.archives_loaded,
        runs.rows_loaded,
        runs.series_checked,
        cast(len(runs.stale_series) as integer) as stale_series_count,
        array_to_string(runs.stale_series, ', ') as stale_series,
        array_to_string(runs.failed_steps, ', ') as failed_steps,
        cast(
            list_sum([step.seconds for step in runs.steps if step."name" like 'load %']) as double
        ) as load_seconds,
        cast(
            list_sum([step.seconds for step in runs.steps if step."name" = 'dbt build']) as double
        ) as build_seconds,
        {{ binance_built_at() }} as _built_at
    from runs

)

select * from final
