{#- The lake contract as the dbt project sees it, and the validation of every var and environment value
    that ends up in SQL (docs/failure-contract.md). tests/test_lake_contract.py checks
    these lists against loaders/contract.py. -#}

{% macro binance_contract() -%}
    {{- return({
        'markets': ['spot', 'um', 'cm'],
        'daily_intervals': ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d'],
        'intervals': ['1s', '1m', '3m', '5m', '15m', '30m', '1h', '2h', '4h', '6h', '8h', '12h', '1d', '3d', '1w', '1mo'],
    }) -}}
{%- endmacro %}


{% macro binance_shown(value) -%}
    {#- A value as the user typed it, in double quotes, for an error message. -#}
    {{- return('"' ~ (value | string) ~ '"') -}}
{%- endmacro %}


{% macro binance_fail(message) -%}
    {{- exceptions.raise_compiler_error(message) -}}
{%- endmacro %}


{% macro binance_valid_identifier(value) -%}
    {#- An identifier is [A-Za-z_][A-Za-z0-9_]*, at most 63 characters (Postgres' limit; docs/failure-contract.md). -#}
    {{- return(modules.re.match('^[A-Za-z_][A-Za-z0-9_]{0,62}$', value | string) is not none) -}}
{%- endmacro %}


{% macro binance_whole_number(value, minimum, maximum) -%}
    {#- Digits only, within [minimum, maximum]: a value past SQL's 32-bit integers (2^31 days) would
        pass a digits check and then fail every statement it reaches. -#}
    {%- set text = value | string | trim -%}
    {{- return(text.isascii() and text.isdigit() and minimum <= text | int <= maximum) -}}
{%- endmacro %}


{% macro binance_validate_inputs() -%}
    {#- on-run-start (first hook): every dbt var and environment value that reaches SQL, checked in one
        line each before anything runs. -#}
    {%- if execute -%}
        {%- set interval = var('daily_source_interval') | string -%}
        {%- if interval not in binance_contract().daily_intervals -%}
            {{- binance_fail("var daily_source_interval " ~ binance_shown(interval) ~ " is not a Binance interval with daily files ("
                ~ binance_contract().daily_intervals | join(' ') ~ ")") -}}
        {%- endif -%}
        {%- set hourly_interval = var('hourly_source_interval') | string -%}
        {%- if hourly_interval not in binance_hourly_intervals() -%}
            {{- binance_fail("var hourly_source_interval " ~ binance_shown(hourly_interval)
                ~ " is not a Binance interval that divides an hour (" ~ binance_hourly_intervals() | join(' ') ~ ")") -}}
        {%- endif -%}
        {%- if not binance_valid_identifier(var('export_schema')) -%}
            {{- binance_fail("var export_schema " ~ binance_shown(var('export_schema'))
                ~ " is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)") -}}
        {%- endif -%}
        {%- if not binance_whole_number(var('export_window_days'), 1, 36600) -%}
            {{- binance_fail("var export_window_days " ~ binance_shown(var('export_window_days'))
                ~ " is not a whole number of days from 1 to 36600 (100 years)") -}}
        {%- endif -%}
        {%- if not binance_valid_identifier(var('spark_lake_schema')) -%}
            {{- binance_fail("var spark_lake_schema " ~ binance_shown(var('spark_lake_schema'))
                ~ " is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)") -}}
        {%- endif -%}
        {%- if not binance_whole_number(var('staging_test_months'), 0, 1200) -%}
            {{- binance_fail("var staging_test_months " ~ binance_shown(var('staging_test_months'))
                ~ " is not a whole number from 0 to 1200") -}}
        {%- endif -%}
        {%- if (var('regime_states') | string | trim) not in ['2', '3', '4'] -%}
            {{- binance_fail("var regime_states " ~ binance_shown(var('regime_states')) ~ " is not 2, 3 or 4") -}}
        {%- endif -%}
        {%- if var('regime_refit_every') | string not in ['month', 'quarter', 'year'] -%}
            {{- binance_fail("var regime_refit_every " ~ binance_shown(var('regime_refit_every'))
                ~ " is not month, quarter or year") -}}
        {%- endif -%}
        {%- if not binance_whole_number(var('regime_min_days'), 2, 36600) -%}
            {{- binance_fail("var regime_min_days " ~ binance_shown(var('regime_min_days'))
                ~ " is not a whole number of days from 2 to 36600") -}}
        {%- endif -%}
        {%- if modules.re.match('^[A-Z0-9_]{1,40}$', var('benchmark_symbol') | string) is none -%}
            {{- binance_fail("var benchmark_symbol " ~ binance_shown(var('benchmark_symbol'))
                ~ " is not a Binance symbol (A-Z 0-9 _, e.g. BTCUSDT)") -}}
        {%- endif -%}
        {%- if var('regime_refit_every_hourly') | string not in ['month', 'quarter', 'year'] -%}
            {{- binance_fail("var regime_refit_every_hourly " ~ binance_shown(var('regime_refit_every_hourly'))
                ~ " is not month, quarter or year") -}}
        {%- endif -%}
        {%- if not binance_whole_number(var('regime_min_hours'), 2, 878400) -%}
            {{- binance_fail("var regime_min_hours " ~ binance_shown(var('regime_min_hours'))
                ~ " is not a whole number of hours from 2 to 878400") -}}
        {%- endif -%}
        {%- set root = binance_lake_root_raw() -%}
        {%- if "'" in root or '\\' in root -%}
            {{- binance_fail("the lake root " ~ binance_shown(root) ~ " (LAKE_DIR, or R2_BUCKET/R2_PREFIX for target r2) "
                ~ "contains a quote or a backslash; use a path without them") -}}
        {%- endif -%}
        {%- if modules.re.search('[*?\\[\\]{}]', root) -%}
            {#- DuckDB would read the root as a glob: `lake?` also reads `lakeB`. -#}
            {{- binance_fail("the lake root " ~ binance_shown(root) ~ " (LAKE_DIR, or R2_BUCKET/R2_PREFIX for target r2) "
                ~ "contains a glob character (* ? [ ] { }); use a path without them") -}}
        {%- endif -%}
        {%- if target.name == 'r2' and modules.re.match('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', env_var('R2_BUCKET', '') | trim) is none -%}
            {{- binance_fail("R2_BUCKET " ~ binance_shown(env_var('R2_BUCKET', '')) ~ " is not a bucket name (3-63 of a-z 0-9 . -)") -}}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_regime_models_off() -%}
    {#- on-run-start: the regime-probability models are dbt Python models; dbt-spark cannot run those on
        open-source Spark (dbt-spark issue 415), so they are disabled on that target: one line says so. -#}
    {%- if execute and target.type == 'spark' -%}
        {{- log("regime probabilities: dbt Python models do not run on Spark, so int_regime__fits, "
            ~ "int_regime__probabilities_daily, their hourly twins, fct_regime_model_* and "
            ~ "fct_regime_probabilities_daily/_hourly are "
            ~ "off on this target (int_regime__states_daily has no rows) and "
            ~ "fct_regime_features_daily's vol_state columns are null (docs/scaling.md)", info=true) -}}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_hourly_intervals() -%}
    {#- Intervals the hourly marts can be built from: a whole number of candles per hour. -#}
    {{- return(['1s', '1m', '3m', '5m', '15m', '30m', '1h']) -}}
{%- endmacro %}
