{% macro binance_operations_runs() -%}
    {#- source('warehouse_operations', 'update_runs') with a relative LAKE_DIR made absolute (as
        binance_source does), or no rows with its columns when no `update` has run on this lake yet. -#}
    {%- set relation = source('warehouse_operations', 'update_runs') | string -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set node = graph.sources.values() | selectattr('source_name', 'equalto', 'warehouse_operations')
        | selectattr('name', 'equalto', 'update_runs') | first -%}
    {%- set root = binance_lake_root() -%}
    {%- set pattern = root ~ '/' ~ node.meta.runs_folder ~ '/run-*.parquet' -%}
    {%- set n = 0 if target.type != 'duckdb' else run_query(
        "select count(*) from glob(" ~ binance_sql_string(pattern) ~ ")").columns[0].values()[0] -%}
    {%- if n == 0 -%}
        {{- return(binance_empty_relation(node.columns.values())) -}}
    {%- endif -%}
    {{- return("read_parquet(" ~ binance_sql_string(pattern) ~ ")") -}}
{%- endmacro %}
