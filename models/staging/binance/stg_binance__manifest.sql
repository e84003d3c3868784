{#- Every archive the lake holds, as the loaders recorded it, plus the lake files no manifest records
    (a loader killed between writing a file and saving its manifest, or a lake copied by hand): those
    have is_recorded = false and no loaded_at, and every incremental build rebuilds their series until
    a loader records them. The incremental models read this to learn what changed since their last
    build (macros/binance/incremental.sql).
    A table, read once per build under the manifest lock: a loader replaces its manifest file as it
    goes, and a view would read whatever version each query met (or a file swapped mid-query). -#}
{{ config(
    materialized='table',
    pre_hook="{{ binance_manifest_hold('acquire') }}",
    post_hook="{{ binance_manifest_hold('release') }}",
) }}

{%- set path_pattern = '^binance/([^/]+)/market=([^/]+)/(interval=([^/]+)/)?symbol=([^/]+)/month=[^/]+/[^/]*-([0-9]{4}-[0-9]{2}(-[0-9]{2})?)[.]parquet$' %}

with

manifest as (

    select * from {{ binance_source('manifest') }}

),

lake_files as (

    {%- set datasets = [] -%}
    {%- for node in graph.sources.values() if execute and node.source_name == 'binance' and node.meta.get('dataset') -%}
        {%- do datasets.append(node.name) -%}
    {%- endfor %}
    {%- for table_name in datasets %}
        select {{ binance_lake_relative_path('lake_files.file') }} as lake_path
        from {{ binance_lake_files(table_name) }} as lake_files
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- else %}
        select cast(null as string) as lake_path where false
    {%- endfor %}

),

recorded as (

    select
        {{ adapter.quote('path') }} as lake_path,
        -- Manifests written before datasets existed are klines' (their file is klines.parquet).
        coalesce(dataset, regexp_extract(filename, '([^/]+)[.]parquet$', 1)) as dataset,
        market,
        symbol,
        coalesce({{ adapter.quote('interval') }}, '') as {{ adapter.quote('interval') }},
        period,
        kind,
        rows as row_count,
        first_open_time as first_row_at,
        last_open_time as last_row_at,
        loaded_at,
        true as is_recorded
    from manifest

),

unrecorded as (

    select
        lake_path,
        regexp_extract(lake_path, '{{ path_pattern }}', 1) as dataset,
        regexp_extract(lake_path, '{{ path_pattern }}', 2) as market,
        regexp_extract(lake_path, '{{ path_pattern }}', 5) as symbol,
        regexp_extract(lake_path, '{{ path_pattern }}', 4) as {{ adapter.quote('interval') }},
        regexp_extract(lake_path, '{{ path_pattern }}', 6) as period,
        case when length(regexp_extract(lake_path, '{{ path_pattern }}', 6)) = 10 then 'daily' else 'monthly' end as kind,
        cast(null as bigint) as row_count,
        {{ binance_timestamp_literal(none) }} as first_row_at,
        {{ binance_timestamp_literal(none) }} as last_row_at,
        {{ binance_timestamp_literal(none) }} as loaded_at,
        false as is_recorded
    from lake_files
    where lake_path not in (select recorded.lake_path from recorded)

),

final as (

    select
        *,
        cast(case when length(period) = 7 then period || '-01' else period end as date) as period_start
    from (
        select * from recorded
        union all
        select * from unrecorded
    ) as archives

)

select * from final
