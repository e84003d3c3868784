{#- dbt unit tests compare actual and expected rows exactly; for floating-point features (ln, sqrt,
    a closed-form Wilder average against TA-Lib's recursion) the last bits legitimately differ. This
    override of dbt's get_unit_test_sql (DuckDB and Spark, one body) compares every value through its
    text with numbers rounded to 12 significant digits, so an expected value computed independently
    (numpy, TA-Lib) matches while any real error (far larger than 1e-12 relative) still fails.
    printf('%.11e', x) (1 + 11 digits) gives the same text in DuckDB (C printf) and Spark (Java's
    Formatter), where '%.12g' does not ('0.3' vs '0.300000000000'); Spark's printf of a null is the
    text 'null', hence the case rather than a coalesce. -#}
{% macro binance_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
{%- set compared -%}
    {%- for name in expected_column_names -%}
        case
            when try_cast(cast({{ name }} as string) as double) is null then cast({{ name }} as string)
            else printf('%.11e', try_cast(cast({{ name }} as string) as double))
        end as {{ name }}{{ ', ' if not loop.last }}
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


{% macro duckdb__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {{ binance_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) }}
{%- endmacro %}


{% macro spark__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {{ binance_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) }}
{%- endmacro %}
