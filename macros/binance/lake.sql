{#- Where the lake is, as an absolute path or URL, and the fail-fast check that it holds klines. -#}

{% macro binance_lake_root_raw() -%}
    {#- The lake root exactly as configured: meta.lake_root of source `binance` (LAKE_DIR). -#}
    {%- if not execute -%}
        {{- return('') -}}  {#- parse time: the graph is not built yet and the value is unused -#}
    {%- endif -%}
    {%- set node = graph.get('sources', {}).values() | selectattr('source_name', 'equalto', 'binance')
        | selectattr('name', 'equalto', 'klines') | first -%}
    {%- set root = node.source_meta.lake_root if node else env_var('LAKE_DIR', './lake') -%}
    {{- return((root | trim).rstrip('/') or '/') -}}
{%- endmacro %}


{% macro binance_is_absolute(path) -%}
    {#- POSIX absolute, home-relative (DuckDB expands ~), a URL (s3://, https://) or a Windows drive. -#}
    {{- return(path.startswith('/') or path.startswith('~') or '://' in path
        or modules.re.match('^[A-Za-z]:[/\\\\]', path) is not none) -}}
{%- endmacro %}


{% macro binance_lake_root() -%}
    {#- The lake root made absolute against dbt's working directory (set by the loaders.dbt_paths
        plugin), so views stored in the DuckDB file work from any directory. -#}
    {%- set raw = binance_lake_root_raw() -%}
    {%- if binance_is_absolute(raw) or not execute -%}
        {{- return(raw) -}}
    {%- endif -%}
    {%- set cwd = run_query("select getvariable('binance_cwd')").columns[0].values()[0] -%}
    {%- if cwd is none -%}
        {{- exceptions.raise_compiler_error(
            "LAKE_DIR '" ~ raw ~ "' is relative and the loaders.dbt_paths plugin is not in profiles.yml; "
            ~ "set LAKE_DIR to an absolute path") -}}
    {%- endif -%}
    {%- set rel = raw[2:] if raw.startswith('./') else ('' if raw == '.' else raw) -%}
    {{- return(cwd.rstrip('/') ~ ('/' ~ rel if rel else '')) -}}
{%- endmacro %}


{% macro binance_klines_glob() -%}
    {{- return(binance_lake_root() ~ '/binance/klines/market=*/interval=*/symbol=*/month=*/*.parquet') -}}
{%- endmacro %}


{% macro binance_source(table_name) -%}
    {#- source('binance', table_name) with the lake root made absolute (see binance_lake_root). -#}
    {%- set relation = source('binance', table_name) | string -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set raw = binance_lake_root_raw() -%}
    {{- return(relation.replace("'" ~ raw ~ "/", "'" ~ binance_lake_root() ~ "/")) -}}
{%- endmacro %}


{% macro binance_assert_lake_has_klines() -%}
    {#- on-run-start: stop `dbt run` / `dbt build` with one line when the lake has no kline files, rather
        than DuckDB's "No files found" from deep inside the staging view. -#}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set pattern = binance_klines_glob() -%}
        {%- set found = run_query("select count(*) from (select 1 from glob('"
            ~ pattern.replace("'", "''") ~ "') limit 1)").columns[0].values()[0] -%}
        {%- if found == 0 -%}
            {{- exceptions.raise_compiler_error("no kline files under " ~ binance_lake_root()
                ~ "/binance/klines (LAKE_DIR): run `python -m loaders.binance --symbols ... --intervals "
                ~ var('daily_source_interval') ~ "` first") -}}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_recent_open_at_cutoff() -%}
    {#- Start of the month before the lake's latest month (from file names: no file is opened), as a
        SQL timestamp literal; var staging_test_months (default 2) sets how many months back, 0 = all.
        Data tests on the staging view check only these candles: older months were checked when they
        were loaded, and re-reading every candle on every build would dwarf an incremental build. -#}
    {%- set months = var('staging_test_months', 2) | int -%}
    {%- if months <= 0 or not execute -%}
        {{- return("'-infinity'::timestamp") -}}
    {%- endif -%}
    {%- set latest = run_query("select max(regexp_extract(file, '/month=([0-9]{4}-[0-9]{2})/', 1)) from glob('"
        ~ binance_klines_glob().replace("'", "''") ~ "')").columns[0].values()[0] -%}
    {%- if latest is none or latest == '' -%}
        {{- return("'-infinity'::timestamp") -}}
    {%- endif -%}
    {{- return("(timestamp '" ~ latest ~ "-01' - interval " ~ (months - 1) ~ " month)") -}}
{%- endmacro %}
