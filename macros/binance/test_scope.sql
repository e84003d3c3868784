{#- What dbt's generic tests read. dbt hands every generic test its model through get_where_subquery; a
    root-project macro of that name replaces dbt's. Tests on a lake staging view (accepted_values,
    within_range, not_null, primary_key, ...) read its recent months only (var staging_test_months),
    as its grain and plausibility tests do: older months were checked when they were loaded, and
    re-reading the whole lake on every build would cost more than a daily build itself. Only their
    month folders are listed (binance_lake_view_from). Everything else is read as dbt reads it. -#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set table_name = binance_lake_source_of(relation) -%}
    {%- set floor = binance_recent_month(table_name) if table_name else "'0000-00'" -%}
    {%- if floor == "'0000-00'" -%}
        {{- return(dbt.default__get_where_subquery(relation)) -}}
    {%- endif -%}
    {%- set conditions = ['lake_month >= ' ~ floor] + (['(' ~ where ~ ')'] if where else []) -%}
    {{- return('(select * from ' ~ binance_lake_view_from(relation, floor[1:-1]) ~ ' as recent_rows where '
        ~ conditions | join(' and ') ~ ') dbt_subquery') -}}
{%- endmacro %}


{% macro binance_lake_source_of(relation) -%}
    {#- The lake source (e.g. 'klines') a staging model reads, on DuckDB at run time; none for any
        other relation (a mart, the manifest, a seed), on Spark and at parse time. -#}
    {%- if not execute or target.type != 'duckdb' or relation is string -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model'
        and node.package_name == project_name and (node.alias or node.name) == relation.identifier -%}
        {%- set lake_sources = [] -%}
        {%- for source_id in node.depends_on.nodes if source_id.startswith('source.') -%}
            {%- set source_node = graph.sources[source_id] -%}
            {%- if source_node.source_name == 'binance' and source_node.meta.get('dataset') -%}
                {%- do lake_sources.append(source_node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {{- return(lake_sources[0] if lake_sources | length == 1 else none) -}}
    {%- endfor -%}
    {{- return(none) -}}
{%- endmacro %}
