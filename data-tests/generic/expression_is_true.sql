{#- Fails for every row where the boolean SQL expression is false (nulls pass: pair with not_null). -#}
{% test expression_is_true(model, expression, column_name=none) %}

with

checked as (

    select *
    from {{ model }}
    where not coalesce(({{ column_name ~ ' ' if column_name }}{{ expression }}), true)

)

select * from checked

{% endtest %}
