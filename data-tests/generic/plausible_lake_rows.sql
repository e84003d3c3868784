{#- Fails for every row of a lake dataset's recent months (var staging_test_months, as the grain tests)
    whose values cannot be Binance's: non-finite numbers, non-positive prices (premiums may be
    negative), negative quantities, volumes, counts or open interest, first_trade_id > last_trade_id,
    funding_interval_hours <= 0, a row time outside the file's month partition. The loader refuses such
    rows; this catches lake files that did not come through it (copied, hand-made, another tool). Reads
    the dataset itself (binance_source), not the staging view, so every failing row names its file. -#}
{% test plausible_lake_rows(model, table_name) %}

{%- set checks = binance_plausibility_checks(table_name) %}

with

lake_rows as (

    {%- set recent = binance_recent_month(table_name) %}
    select * from {{ binance_source(table_name, min_month=recent[1:-1]) }} as lake_rows
    where {{ adapter.quote('month') }} >= {{ recent }}

),

{% for check in checks %}
failed_{{ loop.index }} as (

    select
        filename,
        cast({{ binance_row_time_column(table_name) }} as string) as row_time,
        {{ binance_literal(check.label) }} as problem,
        cast({{ check.value }} as string) as found_value
    from lake_rows
    where not coalesce({{ check.holds }}, true)

),

{% endfor %}
final as (

    {%- for check in checks %}
        select * from failed_{{ loop.index }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

)

select * from final

{% endtest %}
