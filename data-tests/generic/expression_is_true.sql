{#- Fails for every row where the boolean SQL expression is false (nulls pass: pair with not_null).
    `rows_where` (SQL) limits the rows checked, as in primary_key. -#}
{% test expression_is_true(model, expression, column_name=none, rows_where=none) %}

with

checked as (

    select *
    from {{ model }}
    where
        not coalesce(({{ column_name ~ ' ' if column_name }}{{ expression }}), true)
        {%- if rows_where %}
            and ({{ rows_where }})
        {%- endif %}

)

select * from checked

{% endtest %}
