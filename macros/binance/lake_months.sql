{#- Reading only the month folders an incremental build needs. DuckDB lists every file a glob matches
    before a `lake_month` bound prunes any (255k files on a 200-symbol x 3-year lake: most of a daily
    update's reads), so a bound alone does not make a run cheap; reading fewer folders does. -#}

{% macro binance_lake_read(relation, scope) -%}
    {#- `relation` (a staging view over one lake dataset, e.g. ref('stg_binance__metrics')) as an
        incremental model with lake scope `scope` (binance_scope) reads it: only the month folders at or
        after the scope's literal floor, which binance_in_scope bounds lake_month with too (this only
        drops the folders that bound would drop).
        Returns `relation` itself on a full build, without a floor, on Spark, for a lake in a bucket or
        without the dbt_plugins.lake plugin (correct, listing everything). Otherwise the view's own SQL
        (renames, the archive-name filter, the deduplicating window, which works per month folder) over
        the globs of the month folders at or after `min_month` that hold a file; a relation with the
        view's columns and no rows when there is none (an empty scope, floor '9999-12'). -#}
    {%- set min_month = scope.floor[:7] if scope.floor else none -%}
    {{- return(adapter.dispatch('binance_lake_read', 'binance_warehouse')(relation, min_month)) -}}
{%- endmacro %}

{% macro default__binance_lake_read(relation, min_month) -%}
    {{- return(relation) -}}
{%- endmacro %}

{% macro duckdb__binance_lake_read(relation, min_month) -%}
    {%- if not execute or min_month is none or not is_incremental() -%}
        {{- return(relation) -}}
    {%- endif -%}
    {{- return(binance_lake_view_from(relation, min_month)) -}}
{%- endmacro %}


{% macro binance_lake_view_from(relation, min_month) -%}
    {#- binance_lake_read without its full-build guard, for any reader bounded by lake_month >=
        `min_month` (dbt's generic tests on a staging view, macros/binance/test_scope.sql). DuckDB only; `relation` else. -#}
    {%- if not execute or target.type != 'duckdb' or relation is string -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set view_sql = binance_view_sql(relation) -%}
    {%- if view_sql is none -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set found = [] -%}
    {%- for node in graph.sources.values() if node.source_name == 'binance' and node.meta.get('dataset') -%}
        {%- if binance_literal(binance_dataset_glob(node.name)) in view_sql -%}
            {%- do found.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found | length != 1 -%}
        {{- return(relation) -}}  {#- not one lake dataset (or an empty one: the view reads no file) -#}
    {%- endif -%}
    {%- set globs = binance_month_globs(found[0], min_month) -%}
    {%- if globs is none -%}
        {{- return(relation) -}}
    {%- elif globs == '[]' -%}
        {{- return(binance_no_rows_like(relation)) -}}
    {%- endif -%}
    {{- return('(' ~ view_sql.replace(binance_literal(binance_dataset_glob(found[0])), globs) ~ ')') -}}
{%- endmacro %}


{% macro binance_month_globs(table_name, min_month) -%}
    {#- The globs of source `table_name`'s month folders at or after `min_month` that hold a file, as
        one SQL list ('[]' for none; read_parquet and glob() take it in place of the dataset glob), or
        none where they cannot be listed apart (see binance_lake_month_list). -#}
    {%- set months = binance_lake_month_list(table_name, min_month) -%}
    {%- if months is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set glob = binance_dataset_glob(table_name) -%}
    {%- set globs = [] -%}
    {%- for month in months -%}
        {%- do globs.append(binance_literal(glob.replace('/month=*/', '/month=' ~ month ~ '/'))) -%}
    {%- endfor -%}
    {{- return('[' ~ globs | join(', ') ~ ']') -}}
{%- endmacro %}


{% macro binance_lake_month_list(table_name, min_month='0000-00') -%}
    {#- The months ('YYYY-MM', sorted) of source `table_name` at or after `min_month` whose folders
        hold a file: folder names from the dbt_plugins.lake plugin (os.scandir: one folder per month
        is opened, no other file listed). None on Spark, for a lake in a bucket, without the plugin
        and for a source without month folders (the manifests). -#}
    {%- if not execute or target.type != 'duckdb' or '/month=*/' not in binance_dataset_glob(table_name)
        or '://' in binance_lake_root()
        or not run_query("select getvariable('binance_cwd') is not null").columns[0].values()[0] -%}
        {{- return(none) -}}
    {%- endif -%}
    {#- Joined with commas: agate hands a list column over as its text. -#}
    {%- set listed = run_query("select array_to_string(binance_lake_months("
        ~ binance_literal(binance_dataset_glob(table_name)) ~ ", " ~ binance_literal(min_month)
        ~ "), ',')").columns[0].values()[0] -%}
    {{- return(listed.split(',') if listed else []) -}}
{%- endmacro %}


{% macro binance_view_sql(relation) -%}
    {#- The SELECT of a DuckDB view as the catalog stores it (none when it is not a view): the same
        query dbt created it with, which a caller can re-read with different file globs. -#}
    {%- set rows = run_query("select sql from duckdb_views() where database_name = " ~ binance_literal(relation.database)
        ~ " and schema_name = " ~ binance_literal(relation.schema)
        ~ " and view_name = " ~ binance_literal(relation.identifier)).rows -%}
    {%- if rows | length == 0 -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set found = modules.re.match('(?s)^CREATE VIEW \\S+ AS (.*?);?\\s*$', rows[0][0]) -%}
    {{- return(found.group(1) if found else none) -}}
{%- endmacro %}


{% macro binance_no_rows_like(relation) -%}
    {#- A relation with `relation`'s columns and types and no rows, without reading it (the catalog's
        column list: a view over the lake is not bound, so nothing is listed). -#}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do columns.append('cast(null as ' ~ column.dtype ~ ') as ' ~ adapter.quote(column.name)) -%}
    {%- endfor -%}
    {{- return('(select ' ~ columns | join(', ') ~ ' where false)') -}}
{%- endmacro %}
