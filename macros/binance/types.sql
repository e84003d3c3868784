{#- The warehouse's timestamp type and literals, per engine. Not dbt.type_timestamp(): that is Spark's
    `timestamp`, an instant shown in the session time zone, and the lake's timestamps are naive. -#}

{% macro binance_timestamp_type() -%}
    {#- The warehouse's timestamps are naive UTC (as in the lake). DuckDB `timestamp`; Spark's
        `timestamp` is an instant shown in the session time zone, its naive type is `timestamp_ntz`
        (what the lake's Parquet timestamps read as). Contracts in the yml files say the same with
        `{{ 'timestamp_ntz' if target.type in ('spark', 'databricks') else 'timestamp' }}`. -#}
    {{- return(adapter.dispatch('binance_timestamp_type', 'binance_warehouse')()) -}}
{%- endmacro %}

{% macro default__binance_timestamp_type() -%}
    {{- return('timestamp') -}}
{%- endmacro %}

{% macro spark__binance_timestamp_type() -%}
    {{- return('timestamp_ntz') -}}
{%- endmacro %}


{% macro binance_timestamp_literal(text) -%}
    {#- A timestamp literal from 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' (none: a typed null). -#}
    {%- if text is none -%}
        {{- return('cast(null as ' ~ binance_timestamp_type() ~ ')') -}}
    {%- endif -%}
    {{- return("cast(" ~ binance_literal(text) ~ " as " ~ binance_timestamp_type() ~ ")") -}}
{%- endmacro %}


