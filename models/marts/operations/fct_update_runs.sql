{#- One row per `binance-warehouse update` run (SPEC "Keeping it current"), newest last: what the
    dashboards show as the warehouse's own health. Read from the run records in the lake. -#}
with

runs as (

    select * from {{ binance_operations_runs() }}

),

final as (

    select
        run_id,
        started_at,
        finished_at,
        cast(date_diff('millisecond', started_at, finished_at) / 1000.0 as double) as duration_seconds,
        status,
        exit_code,
        archives_loaded,
        rows_loaded,
        series_checked,
        cast(len(stale_series) as integer) as stale_series_count,
        array_to_string(stale_series, ', ') as stale_series,
        array_to_string(failed_steps, ', ') as failed_steps,
        cast(
            list_sum([s.seconds for s in steps if s.name like 'load %']) as double
        ) as load_seconds,
        cast(list_sum([s.seconds for s in steps if s.name = 'dbt build']) as double) as build_seconds
    from runs

)

select * from final
