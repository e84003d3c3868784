{#- SQL functions that differ between DuckDB and Spark, behind adapter.dispatch (a `duckdb__` or
    `default__` and a `spark__` body side by side). Only those dbt's cross-database macros lack or get
    wrong on one engine: use dbt's own (dbt.split_part, dbt.concat, ...) for everything else. Each
    macro says why dbt's does not do. docs/scaling.md lists the rules for SQL both engines read the
    same way; tests/test_spark.py builds both engines and compares every mart. -#}

{% macro binance_arg_min(value, ordering) -%}
    {#- No dbt macro: arg_min/min_by has none. -#}
    {{- return(adapter.dispatch('binance_arg_min', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_min(value, ordering) -%}
    min_by({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__binance_arg_min(value, ordering) -%}
    {#- DuckDB's min_by skips rows whose value is null; Spark's returns the value of the min row even
        when it is null: rows with a null value get a null ordering, which Spark's skips. -#}
    min_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}


{% macro binance_arg_max(value, ordering) -%}
    {#- No dbt macro: arg_max/max_by has none. -#}
    {{- return(adapter.dispatch('binance_arg_max', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__binance_arg_max(value, ordering) -%}
    {#- As spark__binance_arg_min: the latest non-null value, like DuckDB's max_by. -#}
    max_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}


{% macro binance_ordered_list(value, ordering) -%}
    {#- The group's values as a list ordered by `ordering`.
        Not dbt.array_agg: it has no ordering. -#}
    {{- return(adapter.dispatch('binance_ordered_list', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_ordered_list(value, ordering) -%}
    list({{ value }} order by {{ ordering }})
{%- endmacro %}

{% macro spark__binance_ordered_list(value, ordering) -%}
    {#- collect_list has no order: collect (ordering, value) pairs, sort them, keep the values. A pair
        is never null, so null values are kept, as in DuckDB's list(). -#}
    transform(array_sort(collect_list(struct({{ ordering }} as k, {{ value }} as v))), x -> x.v)
{%- endmacro %}


{% macro binance_sum_squared_log_returns(values, previous, first_at=none, previous_at=none) -%}
    {#- Σ ln(v_i / v_{i-1})² over a list in time order, the first element paired with `previous`; null
        when no element has a predecessor (a single value and no previous one). With `first_at` and
        `previous_at` (the times of the first element and of `previous`), `previous` counts only when it
        is at most one day older: no return across a gap of days.
        No dbt macro: list arithmetic is engine-specific. -#}
    {%- if first_at is not none and previous_at is not none -%}
        {%- set previous = 'case when ' ~ previous_at ~ ' >= ' ~ first_at ~ ' - interval 1 day then ' ~ previous ~ ' end' -%}
    {%- endif -%}
    {{- return(adapter.dispatch('binance_sum_squared_log_returns', 'binance_warehouse')(values, '(' ~ previous ~ ')')) -}}
{%- endmacro %}

{% macro duckdb__binance_sum_squared_log_returns(values, previous) -%}
    case
        when {{ previous }} is not null or len({{ values }}) > 1
            then
                coalesce(pow({{ binance_ln(values ~ '[1] / ' ~ previous) }}, 2), 0)
                + coalesce(list_sum(list_transform(
                    range(2, len({{ values }}) + 1), i -> pow({{ binance_ln(values ~ '[i] / ' ~ values ~ '[i - 1]') }}, 2)
                )), 0)
    end
{%- endmacro %}

{% macro spark__binance_sum_squared_log_returns(values, previous) -%}
    {#- Spark arrays are 0-based with [i] and 1-based with element_at; the neighbours are paired with
        zip_with over the list and the list shifted by one, summed in order like DuckDB's list_sum. -#}
    case
        when {{ previous }} is not null or size({{ values }}) > 1
            then
                coalesce(pow({{ binance_ln('element_at(' ~ values ~ ', 1) / ' ~ previous) }}, 2), 0)
                + case
                    when size({{ values }}) > 1
                        then aggregate(
                            zip_with(
                                slice({{ values }}, 2, size({{ values }}) - 1),
                                slice({{ values }}, 1, size({{ values }}) - 1),
                                (cur, prev) -> pow({{ binance_ln('cur / prev') }}, 2)
                            ),
                            cast(0 as double),
                            (acc, x) -> acc + x
                        )
                    else 0
                end
    end
{%- endmacro %}


{% macro binance_day_number(date_sql) -%}
    {#- Days since 1970-01-01: an integer a RANGE window frame can step over on both engines.
        Not dbt.datediff: `::` casts on DuckDB, assert_not_null around both dates on Spark. -#}
    {{- return(adapter.dispatch('binance_day_number', 'binance_warehouse')(date_sql)) -}}
{%- endmacro %}

{% macro duckdb__binance_day_number(date_sql) -%}
    date_diff('day', date '1970-01-01', {{ date_sql }})
{%- endmacro %}

{% macro spark__binance_day_number(date_sql) -%}
    datediff({{ date_sql }}, date '1970-01-01')
{%- endmacro %}


{% macro binance_date_spine(first_date, last_date) -%}
    {#- A list of every date from first_date to last_date, for unnesting into one row per day.
        Not dbt.date_spine: that is one relation over a fixed range, not a list per row. -#}
    {{- return(adapter.dispatch('binance_date_spine', 'binance_warehouse')(first_date, last_date)) -}}
{%- endmacro %}

{% macro duckdb__binance_date_spine(first_date, last_date) -%}
    generate_series({{ first_date }}, {{ last_date }}, interval 1 day)
{%- endmacro %}

{% macro spark__binance_date_spine(first_date, last_date) -%}
    sequence({{ first_date }}, {{ last_date }}, interval 1 day)
{%- endmacro %}


{% macro binance_add_days(date_sql, days) -%}
    {#- Not dbt.dateadd: it returns a timestamp on both engines, a date is needed. -#}
    {{- return(adapter.dispatch('binance_add_days', 'binance_warehouse')(date_sql, days)) -}}
{%- endmacro %}

{% macro duckdb__binance_add_days(date_sql, days) -%}
    {{- return('cast(' ~ date_sql ~ ' + (' ~ days ~ ') as date)') -}}
{%- endmacro %}

{% macro spark__binance_add_days(date_sql, days) -%}
    {{- return('date_add(' ~ date_sql ~ ', ' ~ days ~ ')') -}}
{%- endmacro %}


{% macro binance_unnest(list_sql, alias, column) -%}
    {#- A relation with one row per element of `list_sql` (a lateral unnest), column `column`; follows
        `cross join`.
        No dbt macro for a lateral unnest. -#}
    {{- return(adapter.dispatch('binance_unnest', 'binance_warehouse')(list_sql, alias, column)) -}}
{%- endmacro %}

{% macro duckdb__binance_unnest(list_sql, alias, column) -%}
    unnest({{ list_sql }}) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__binance_unnest(list_sql, alias, column) -%}
    lateral explode({{ list_sql }}) as {{ alias }} ({{ column }})
{%- endmacro %}


{% macro binance_last_non_null(expression, window_spec) -%}
    {#- The latest non-null value of `expression` up to the current row of the window.
        No dbt macro: `ignore nulls` is spelled differently on each engine. -#}
    {{- return(adapter.dispatch('binance_last_non_null', 'binance_warehouse')(expression, window_spec)) -}}
{%- endmacro %}

{% macro duckdb__binance_last_non_null(expression, window_spec) -%}
    last_value({{ expression }} ignore nulls) over ({{ window_spec }} rows between unbounded preceding and current row)
{%- endmacro %}

{% macro spark__binance_last_non_null(expression, window_spec) -%}
    last({{ expression }}, true) over ({{ window_spec }} rows between unbounded preceding and current row)
{%- endmacro %}


{% macro binance_string_agg(expression, ordering) -%}
    {#- The group's values joined with commas, in `ordering` order.
        Not dbt.listagg: Spark's ignores order_by_clause (a warning, unordered output). -#}
    {{- return(adapter.dispatch('binance_string_agg', 'binance_warehouse')(expression, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_string_agg(expression, ordering) -%}
    string_agg({{ expression }}, ',' order by {{ ordering }})
{%- endmacro %}

{% macro spark__binance_string_agg(expression, ordering) -%}
    {#- Spark 3.5 has no ordered string aggregate (listagg ... within group came in 4.0). -#}
    array_join(transform(array_sort(collect_list(struct({{ ordering }} as k, {{ expression }} as v))), x -> x.v), ',')
{%- endmacro %}




{% macro binance_median(expression) -%}
    {#- The median of the group's non-null values, interpolated between the middle two (null if none).
        No dbt macro: DuckDB's median and Spark's percentile (exact, not percentile_approx) say it. -#}
    {{- return(adapter.dispatch('binance_median', 'binance_warehouse')(expression)) -}}
{%- endmacro %}

{% macro default__binance_median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro spark__binance_median(expression) -%}
    percentile({{ expression }}, 0.5)
{%- endmacro %}


{% macro binance_hour_number(timestamp_sql) -%}
    {#- Hours since 1970-01-01 00:00 of a naive UTC timestamp (whole hours: minutes are dropped): the
        hourly models' binance_day_number, an integer a RANGE window frame can step over on both engines.
        Built from the day number so Spark never converts the naive time through a session time zone. -#}
    {{- return(adapter.dispatch('binance_hour_number', 'binance_warehouse')(timestamp_sql)) -}}
{%- endmacro %}

{% macro duckdb__binance_hour_number(timestamp_sql) -%}
    date_diff('hour', timestamp '1970-01-01', {{ timestamp_sql }})
{%- endmacro %}

{% macro spark__binance_hour_number(timestamp_sql) -%}
    (datediff(cast({{ timestamp_sql }} as date), date '1970-01-01') * 24 + hour({{ timestamp_sql }}))
{%- endmacro %}


{% macro binance_hour_start(timestamp_sql) -%}
    {#- The naive UTC hour a timestamp falls in, in the warehouse's timestamp type (Spark's date_trunc
        returns a session-time-zone `timestamp`, cast back to the naive type). -#}
    cast(date_trunc('hour', {{ timestamp_sql }}) as {{ binance_timestamp_type() }})
{%- endmacro %}
