{#- Every archive the lake holds, as the loaders recorded it, plus the lake files no manifest records
    (a loader killed between writing a file and saving its manifest, or a lake copied by hand): those
    have is_recorded = false and no loaded_at, and every incremental build rebuilds their series until
    a loader records them. A recorded file whose size is not the one its entry records (a loader killed
    between replacing the file and saving the new entry, or a failed manifest save) has
    is_stale_record = true and is rebuilt the same way; every file's size and modification time come
    from the file system (nothing is opened), and a file modified after its entry was saved and after a
    model's last build is rebuilt by it whatever the entry says (macros/binance/incremental.sql). Files whose name is not an
    archive's (backup.parquet) are left out: the staging views skip them and
    warn_lake_files_not_archives names them. The incremental models read this to learn what changed
    since their last build.
    A table, read once per build under the manifest lock: a loader replaces its manifest file as it
    goes, and a view would read whatever version each query met (or a file swapped mid-query). -#}
{{ config(
    materialized='table',
    pre_hook="{{ binance_manifest_hold('acquire') }}",
    post_hook="{{ binance_manifest_hold('release') }}",
) }}

{%- set path_pattern = binance_archive_path_pattern() %}
{#- Manifests written before file_size existed have no such column (null when only some have it). -#}
{%- set manifest_columns = run_query('select * from ' ~ binance_source('manifest') ~ ' as probe limit 0').column_names
    if execute else [] %}

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
        select
            {{ binance_lake_relative_path('lake_files.file') }} as lake_path,
            lake_files.file_size,
            lake_files.file_modified_at
        from {{ binance_lake_file_stats(table_name) }} as lake_files
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- else %}
        select
            cast(null as string) as lake_path,
            cast(null as bigint) as file_size,
            {{ binance_timestamp_literal(none) }} as file_modified_at
        where false
    {%- endfor %}

),

archive_files as (

    select * from lake_files
    where regexp_extract(lake_path, '{{ path_pattern }}', 0) <> ''

),

recorded as (

    select
        manifest.{{ adapter.quote('path') }} as lake_path,
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
        true as is_recorded,
        coalesce(
            {{ 'manifest.file_size' if 'file_size' in manifest_columns else 'cast(null as bigint)' }}
            <> archive_files.file_size,
            false
        ) as is_stale_record,
        archive_files.file_size as _file_size,
        archive_files.file_modified_at as _file_modified_at
    from manifest
    left join archive_files on manifest.{{ adapter.quote('path') }} = archive_files.lake_path

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
        false as is_recorded,
        false as is_stale_record,
        file_size as _file_size,
        file_modified_at as _file_modified_at
    from archive_files
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
