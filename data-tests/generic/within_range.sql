{#- Fails for every non-null value outside [min_value, max_value] (or the open interval when
    inclusive is false); either bound may be omitted. On a column, or on a model with `columns`
    sharing the bounds (one test node instead of one per column: dbt's per-node overhead, not the
    query, is what a range test costs on a daily mart). A failing row names its column. -#}
{% test within_range(model, column_name=none, columns=none, min_value=none, max_value=none, inclusive=true) %}

{%- set checked_columns = columns if columns else [column_name] %}

with

{% for column in checked_columns %}
out_of_range_{{ loop.index }} as (

    select
        '{{ column }}' as column_name,
        {#- one type for the union of several columns; a single column keeps its own (dates too) #}
        {{ 'cast(' ~ column ~ ' as double)' if checked_columns | length > 1 else column }} as column_value
    from {{ model }}
    where
        {{ column }} is not null
        and (
            false
            {%- if min_value is not none %}
                or {{ column }} {{ '<' if inclusive else '<=' }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
                or {{ column }} {{ '>' if inclusive else '>=' }} {{ max_value }}
            {%- endif %}
        )

),

{% endfor %}
out_of_range as (

    {%- for column in checked_columns %}
        select * from out_of_range_{{ loop.index }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from out_of_range

{% endtest %}
