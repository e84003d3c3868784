{#- SQL that differs between DuckDB and Spark, behind adapter.dispatch (duckdb__ / spark__ variants).
    Models call these; everything else they write is SQL both engines read the same way. -#}

{% macro binance_arg_min(value, ordering) -%}
    {{- return(adapter.dispatch('binance_arg_min', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_min(value, ordering) -%}
    min_by({{ value }}, {{ ordering }})
{%- endmacro %}


{% macro binance_arg_max(value, ordering) -%}
    {{- return(adapter.dispatch('binance_arg_max', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}


{% macro binance_ordered_list(value, ordering) -%}
    {#- The group's values as a list ordered by `ordering`. -#}
    {{- return(adapter.dispatch('binance_ordered_list', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_ordered_list(value, ordering) -%}
    list({{ value }} order by {{ ordering }})
{%- endmacro %}


{% macro binance_sum_squared_log_returns(values, previous) -%}
    {#- Σ ln(v_i / v_{i-1})² over a list in time order, the first element paired with `previous`; null
        when no element has a predecessor (a single value and no previous one). -#}
    {{- return(adapter.dispatch('binance_sum_squared_log_returns', 'binance_warehouse')(values, previous)) -}}
{%- endmacro %}

{% macro duckdb__binance_sum_squared_log_returns(values, previous) -%}
    case
        when {{ previous }} is not null or len({{ values }}) > 1
            then
                coalesce(pow(ln({{ values }}[1] / {{ previous }}), 2), 0)
                + coalesce(list_sum(list_transform(
                    range(2, len({{ values }}) + 1), i -> pow(ln({{ values }}[i] / {{ values }}[i - 1]), 2)
                )), 0)
    end
{%- endmacro %}


{% macro binance_add_months(timestamp_sql, months) -%}
    {{- return(adapter.dispatch('binance_add_months', 'binance_warehouse')(timestamp_sql, months)) -}}
{%- endmacro %}

{% macro duckdb__binance_add_months(timestamp_sql, months) -%}
    {{- return('(' ~ timestamp_sql ~ ' + interval (' ~ months ~ ') month)') -}}
{%- endmacro %}


{% macro binance_day_number(date_sql) -%}
    {#- Days since 1970-01-01: an integer a RANGE window frame can step over on both engines. -#}
    {{- return(adapter.dispatch('binance_day_number', 'binance_warehouse')(date_sql)) -}}
{%- endmacro %}

{% macro duckdb__binance_day_number(date_sql) -%}
    date_diff('day', date '1970-01-01', {{ date_sql }})
{%- endmacro %}


{% macro binance_date_spine(first_date, last_date) -%}
    {#- A list of every date from first_date to last_date, for unnesting into one row per day. -#}
    {{- return(adapter.dispatch('binance_date_spine', 'binance_warehouse')(first_date, last_date)) -}}
{%- endmacro %}

{% macro duckdb__binance_date_spine(first_date, last_date) -%}
    generate_series({{ first_date }}, {{ last_date }}, interval 1 day)
{%- endmacro %}


{% macro binance_add_days(date_sql, days) -%}
    {{- return(adapter.dispatch('binance_add_days', 'binance_warehouse')(date_sql, days)) -}}
{%- endmacro %}

{% macro duckdb__binance_add_days(date_sql, days) -%}
    {{- return('cast(' ~ date_sql ~ ' + (' ~ days ~ ') as date)') -}}
{%- endmacro %}


{% macro binance_unnest(list_sql, alias, column) -%}
    {#- A relation with one row per element of `list_sql` (a lateral unnest), column `column`. -#}
    {{- return(adapter.dispatch('binance_unnest', 'binance_warehouse')(list_sql, alias, column)) -}}
{%- endmacro %}

{% macro duckdb__binance_unnest(list_sql, alias, column) -%}
    unnest({{ list_sql }}) as {{ alias }} ({{ column }})
{%- endmacro %}


{% macro binance_last_non_null(expression, window_spec) -%}
    {#- The latest non-null value of `expression` up to the current row of the window. -#}
    {{- return(adapter.dispatch('binance_last_non_null', 'binance_warehouse')(expression, window_spec)) -}}
{%- endmacro %}

{% macro duckdb__binance_last_non_null(expression, window_spec) -%}
    last_value({{ expression }} ignore nulls) over ({{ window_spec }} rows between unbounded preceding and current row)
{%- endmacro %}


{% macro binance_string_agg(expression, ordering) -%}
    {#- The group's values joined with commas, in `ordering` order. -#}
    {{- return(adapter.dispatch('binance_string_agg', 'binance_warehouse')(expression, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_string_agg(expression, ordering) -%}
    string_agg({{ expression }}, ',' order by {{ ordering }})
{%- endmacro %}


{% macro binance_split_part(text, delimiter, part) -%}
    {{- return(adapter.dispatch('binance_split_part', 'binance_warehouse')(text, delimiter, part)) -}}
{%- endmacro %}

{% macro default__binance_split_part(text, delimiter, part) -%}
    split_part({{ text }}, '{{ delimiter }}', {{ part }})
{%- endmacro %}
