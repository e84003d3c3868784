{% macro binance_day_runs(relation, keys, values, measures=[]) -%}
    {#- Runs of consecutive calendar days with the same `values` per series `keys` (gaps and islands: a
        day minus its rank within (keys, values) is constant along a run): one row per run with its
        start_date, end_date, days and `measures` (aggregate expressions, each with its alias) over
        its days. `relation` has the key and value columns and trade_date. -#}
    {%- set columns = (keys + values) | join(', ') -%}
    select
        {{ columns }},
        min(trade_date) as start_date,
        max(trade_date) as end_date,
        {%- for measure in measures %}
        {{ measure }},
        {%- endfor %}
        count(*) as day_count
    from (
        select
            *,
            trade_date - cast(row_number() over (partition by {{ columns }} order by trade_date) as integer)
                as run_id
        from {{ relation }}
    ) as numbered_days
    group by {{ columns }}, run_id
{%- endmacro %}
