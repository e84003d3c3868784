{#- The grain test: fails for every key combination that occurs more than once or has a null part.
    `rows_where` (SQL) limits the rows checked, e.g. the staging view's recent months (see
    binance_recent_open_at_cutoff): checking a 20M-candle view on every build would cost more than the
    incremental build itself. -#}
{% test primary_key(model, columns, rows_where=none) %}

with

checked_rows as (

    {#- A staging view's recent months: only their month folders are listed (lake_months.sql). -#}
    {%- set floor = modules.re.match("^lake_month >= '([0-9]{4}-[0-9]{2})'$", (rows_where or '') | trim) %}
    select {{ columns | join(', ') }}
    from {{ binance_lake_view_from(model, floor.group(1)) if floor and floor.group(1) > '0000-00' else model }}
    {%- if rows_where %}
        where {{ rows_where }}
    {%- endif %}

),

violations as (

    select
        {{ columns | join(', ') }},
        count(*) as row_count
    from checked_rows
    group by {{ columns | join(', ') }}
    -- A null key part forms its own group, so testing the group's key is enough (and much cheaper
    -- than aggregating a null flag over every row).
    having
        count(*) > 1
        {%- for column in columns %}
            or {{ column }} is null
        {%- endfor %}

)

select * from violations

{% endtest %}
