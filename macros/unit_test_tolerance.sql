{#- dbt unit tests compare actual and expected rows exactly; for floating-point features (ln, sqrt,
    a closed-form Wilder average against TA-Lib's recursion) the last bits legitimately differ. This
    override of dbt's duckdb__get_unit_test_sql compares every value through its text with numbers
    rounded to 12 significant digits, so an expected value computed independently (numpy, TA-Lib)
    matches while any real error (far larger than 1e-12 relative) still fails. -#}
{% macro duckdb__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
{%- set compared -%}
    {%- for name in expected_column_names -%}
        coalesce(printf('%.12g', try_cast(cast({{ name }} as varchar) as double)), cast({{ name }} as varchar))
            as {{ name }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endset -%}
with dbt_internal_unit_test_actual as (
    select {{ compared }}, {{ dbt.string_literal("actual") }} as {{ adapter.quote("actual_or_expected") }}
    from (
        {{ main_sql }}
    ) as _dbt_internal_unit_test_actual
),

dbt_internal_unit_test_expected as (
    select {{ compared }}, {{ dbt.string_literal("expected") }} as {{ adapter.quote("actual_or_expected") }}
    from (
        {{ expected_fixture_sql }}
    ) as _dbt_internal_unit_test_expected
)

select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected
{%- endmacro %}
