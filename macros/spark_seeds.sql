{#- `dbt seed` on Spark (--target spark): dbt-spark 1.11 binds every CSV value of a seed as '<value>'
    without escaping. An empty value (None) becomes the text 'None' in string columns (other types get
    NULL only because cast('None' as double) is NULL with ANSI mode off, which dbt-spark forces), and a
    value holding a single quote breaks the INSERT (PARSE_SYNTAX_ERROR). This override of dbt-spark's
    spark__load_csv_rows writes the SQL literals itself: null for empty values, strings with ' and \
    escaped (Spark string literals treat backslash as an escape character). DuckDB seeds are untouched. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = column_override.get(col_name, inferred_type) -%}
                  {%- set value = row[loop.index0] -%}
                  {%- if value is none -%}
                      cast(null as {{ type }})
                  {%- else -%}
                      cast('{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}' as {{ type }})
                  {%- endif -%}
                  {%- if not loop.last %},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last %},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}{% do statements.append(sql) %}{% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}
