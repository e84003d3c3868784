{#- Model-level not_null for several columns in one query: fails with one row per column holding
    nulls (column_name, null_rows). One test node instead of one per column, since dbt's per-node
    overhead, not the query, is what a not_null test costs on a daily mart (see docs/benchmarks.md).
    One aggregate row, then one union-all branch per column (valid on DuckDB and Spark). -#}
{% test not_null_columns(model, columns) %}

with

null_counts as (

    select
        {%- for column in columns %}
            count(*) filter (where {{ column }} is null) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

per_column as (

    {%- for column in columns %}
        select
            '{{ column }}' as column_name,
            {{ column }} as null_rows
        from null_counts
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

violations as (

    select
        column_name,
        null_rows
    from per_column
    where null_rows > 0

)

select * from violations

{% endtest %}
