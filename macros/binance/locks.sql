{#- The readers lock and the manifest lock a DuckDB build holds on a local lake (dbt_plugins.lake), as
    on-run-start / on-run-end hooks and stg_binance__manifest's pre/post-hooks. -#}

{% macro binance_lake_lease(action) -%}
    {#- on-run-start ('acquire') / on-run-end ('release'): hold the local lake's readers lock while the
        run reads the lake, so a loader running meanwhile never swaps files under it (dbt_plugins.lake,
        a dbt-duckdb plugin; without it a build on a local lake stops in one line). A no-op for a lake
        in a bucket and on Spark (no plugin; docs/scaling.md: do not load into a lake a Spark build is
        reading). -#}
    {{- return(adapter.dispatch('binance_lake_hold', 'binance_warehouse')('binance_lake_lease', action)) -}}
{%- endmacro %}

{% macro binance_manifest_hold(action) -%}
    {#- stg_binance__manifest's pre-hook ('acquire') / post-hook ('release'): hold the local lake's
        manifest lock while its one statement reads the manifests, which a loader replaces under that
        lock as it goes (dbt_plugins.lake). No-ops where binance_lake_lease is one. -#}
    {{- return(adapter.dispatch('binance_lake_hold', 'binance_warehouse')('binance_manifest_hold', action)) -}}
{%- endmacro %}

{% macro default__binance_lake_hold(function_name, action) -%}
    select 1
{%- endmacro %}

{% macro duckdb__binance_lake_hold(function_name, action) -%}
    {%- set root = binance_lake_root() if execute else '' -%}
    {%- if execute and '://' not in root -%}
        {#- The plugin sets binance_cwd on every cursor and registers the functions. Not asked of
            duckdb_functions(): that lists every attached catalog, and a Postgres that died during an
            export is still attached, so the on-run-end release failed (dbt: "keyboard interrupt"). -#}
        {%- set has_function = run_query("select getvariable('binance_cwd') is not null").columns[0].values()[0] -%}
        {#- Without the plugin a loader could swap files under this build: stop rather than read unlocked. -#}
        {%- if not has_function -%}
            {{- exceptions.raise_compiler_error(
                "no " ~ function_name ~ "() for the lake's lock: add `- module: dbt_plugins.lake` to the "
                ~ "profile's plugins in profiles.yml (docs/building.md)") -}}
        {%- endif -%}
        {%- do run_query("select " ~ function_name ~ "(" ~ binance_sql_string(action) ~ ", "
            ~ binance_sql_string(root) ~ ")") -%}
    {%- endif -%}
    select 1
{%- endmacro %}


