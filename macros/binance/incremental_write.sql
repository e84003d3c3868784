{#- ===== Incremental models =====
    DuckDB: delete+insert on the model's grain (unique_key): the rows the run selects replace the rows
    with the same key. Spark without Delta or Iceberg has no DELETE: the tables are Parquet partitioned
    by trade_date and a run overwrites the trade_date partitions its rows fall in (insert_overwrite,
    dynamic partition overwrite), so its output must hold those partitions whole: what it selects plus
    the stored rows of the same days with a key it does not select (binance_incremental_select). The
    result is delete+insert's, day by day. -#}

{% macro binance_incremental_config(unique_key=['market', 'symbol', 'trade_date']) -%}
    {#- The incremental settings every daily model shares (its grain ends with trade_date). -#}
    {{- return(adapter.dispatch('binance_incremental_config', 'binance_warehouse')(unique_key)) -}}
{%- endmacro %}

{% macro default__binance_incremental_config(unique_key) -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) -}}
{%- endmacro %}

{% macro spark__binance_incremental_config(unique_key) -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['trade_date'],
        'file_format': 'parquet',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) -}}
{%- endmacro %}


{% macro binance_incremental_select(relation) -%}
    {#- The final select of an incremental model: `select * from <relation>` (a CTE holding the rows
        the run writes), plus on Spark what keeps each partition it overwrites whole. -#}
    {{- return(adapter.dispatch('binance_incremental_select', 'binance_warehouse')(relation)) -}}
{%- endmacro %}

{% macro default__binance_incremental_select(relation) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro spark__binance_incremental_select(relation) -%}
    {#- `distribute by trade_date`: each day's rows in one task, so one file per trade_date partition
        (not one per task and day: thousands of tiny files that every later read would list and open). -#}
    {%- if not (execute and is_incremental()) -%}
        select * from {{ relation }}
        distribute by trade_date
    {%- else -%}
        {#- Reading the table the statement overwrites is fine with dynamic partition overwrite (the new
            files are staged and swapped in at commit). Columns by name, in the stored table's order
            (partition column last). -#}
        {%- set names = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- do names.append(adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- set key = [] -%}
        {%- for column in config.get('unique_key') -%}
            {%- do key.append('fresh.' ~ adapter.quote(column) ~ ' = stored.' ~ adapter.quote(column)) -%}
        {%- endfor %}
        select {{ names | join(', ') }} from {{ relation }}
        union all
        select stored.{{ names | join(', stored.') }}
        from {{ this }} as stored
        where
            stored.trade_date in (select touched.trade_date from {{ relation }} as touched)
            and not exists (select 1 from {{ relation }} as fresh where {{ key | join(' and ') }})
        distribute by trade_date
    {%- endif -%}
{%- endmacro %}
