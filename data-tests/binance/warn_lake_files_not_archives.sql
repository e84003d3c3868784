{{ config(severity='warn') }}
{#- Warning: Parquet files in lake folders whose name is not an archive's (backup.parquet,
    `X (1).parquet`, a file dropped by hand). The staging views do not read them (binance_source keeps
    archive names only), so their rows are in no mart; this names each one. -#}

with

lake_files as (

    {%- set datasets = [] -%}
    {%- for node in graph.sources.values() if execute and node.source_name == 'binance' and node.meta.get('dataset') -%}
        {%- do datasets.append(node.name) -%}
    {%- endfor %}
    {%- for table_name in datasets %}
        select {{ binance_lake_relative_path('listed.file') }} as lake_path
        from {{ binance_lake_files(table_name) }} as listed
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- else %}
        select cast(null as string) as lake_path where false
    {%- endfor %}

),

final as (

    select lake_path
    from lake_files
    where regexp_extract(lake_path, '{{ binance_archive_path_pattern() }}', 0) = ''

)

select * from final
