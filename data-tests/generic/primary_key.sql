{#- The grain test: fails for every key combination that occurs more than once or has a null part.
    `rows_where` (SQL) limits the rows checked. A lake staging view arrives as its recent months only
    (macros/binance/test_scope.sql): checking a 20M-candle view on every build would cost more than
    the incremental build itself. -#}
{% test primary_key(model, columns, rows_where=none) %}

with

checked_rows as (

    {#- A lake staging view arrives as its recent month folders already (macros/binance/test_scope.sql). -#}
    select {{ columns | join(', ') }}
    from {{ model }}
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
