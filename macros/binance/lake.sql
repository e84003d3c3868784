{#- Where the lake is, how models read it, and the run's guards (vars, empty lake, the readers lock). -#}

{% macro binance_source_node(table_name) -%}
    {#- The source node of `binance.<table_name>` from the graph (None at parse time). -#}
    {%- if not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set node = graph.get('sources', {}).values() | selectattr('source_name', 'equalto', 'binance')
        | selectattr('name', 'equalto', table_name) | first -%}
    {{- return(node) -}}
{%- endmacro %}


{% macro binance_lake_root_raw() -%}
    {#- The lake root exactly as configured: meta.lake_root of source `binance` (LAKE_DIR). -#}
    {%- if not execute -%}
        {{- return('') -}}  {#- parse time: the graph is not built yet and the value is unused -#}
    {%- endif -%}
    {%- set node = binance_source_node('klines') -%}
    {%- set root = node.source_meta.lake_root if node else env_var('LAKE_DIR', './lake') -%}
    {{- return((root | trim).rstrip('/') or '/') -}}
{%- endmacro %}


{% macro binance_is_absolute(path) -%}
    {#- POSIX absolute, home-relative (DuckDB expands ~), a URL (s3://, https://) or a Windows drive. -#}
    {{- return(path.startswith('/') or path.startswith('~') or '://' in path
        or modules.re.match('^[A-Za-z]:[/\\\\]', path) is not none) -}}
{%- endmacro %}


{% macro binance_lake_root() -%}
    {#- The lake root made absolute against dbt's working directory (set by the dbt_plugins.lake
        plugin), so views stored in the DuckDB file work from any directory. -#}
    {%- set raw = binance_lake_root_raw() -%}
    {%- if binance_is_absolute(raw) or not execute -%}
        {{- return(raw) -}}
    {%- endif -%}
    {%- set cwd = run_query("select getvariable('binance_cwd')").columns[0].values()[0] -%}
    {%- if cwd is none -%}
        {{- exceptions.raise_compiler_error(
            "LAKE_DIR '" ~ raw ~ "' is relative and the dbt_plugins.lake plugin is not in profiles.yml; "
            ~ "set LAKE_DIR to an absolute path") -}}
    {%- endif -%}
    {%- set rel = raw[2:] if raw.startswith('./') else ('' if raw == '.' else raw) -%}
    {{- return(cwd.rstrip('/') ~ ('/' ~ rel if rel else '')) -}}
{%- endmacro %}


{% macro binance_dataset_glob(table_name) -%}
    {#- The Parquet glob of a lake source, absolute: taken from its meta.external_location (one place
        for each dataset's layout, checked against loaders/contract.py by tests/test_lake_contract.py). -#}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set node = binance_source_node(table_name) -%}
    {%- set found = modules.re.search("read_parquet\\('([^']+)'", node.meta.external_location) -%}
    {{- return(found.group(1).replace('{lake_root}', binance_lake_root())) -}}
{%- endmacro %}


{% macro binance_glob_has_files(pattern) -%}
    {%- set n = run_query("select count(*) from (select 1 from glob(" ~ binance_sql_string(pattern)
        ~ ") limit 1)").columns[0].values()[0] -%}
    {{- return(n > 0) -}}
{%- endmacro %}


{% macro binance_source(table_name) -%}
    {#- source('binance', table_name) with the lake root made absolute (see binance_lake_root). A dataset
        with no file in the lake yet reads as an empty relation with the source's columns and types, so
        every model builds (empty) instead of failing on "No files found". -#}
    {%- set relation = source('binance', table_name) | string -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- if not binance_glob_has_files(binance_dataset_glob(table_name)) -%}
        {{- return(binance_empty_relation(binance_source_node(table_name).columns.values())) -}}
    {%- endif -%}
    {%- set raw = binance_lake_root_raw() -%}
    {{- return(relation.replace("'" ~ raw ~ "/", "'" ~ binance_lake_root() ~ "/")) -}}
{%- endmacro %}


{% macro binance_empty_relation(columns) -%}
    {#- A relation with no rows and the given columns (name, data_type). -#}
    (
        select
        {%- for column in columns %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) if column.quote else column.name }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        where false
    )
{%- endmacro %}


{% macro binance_sql_string(text) -%}
    {{- return("'" ~ (text | string).replace("'", "''") ~ "'") -}}
{%- endmacro %}


{% macro binance_assert_lake_has_files() -%}
    {#- on-run-start: stop `dbt run` / `dbt build` with one line when the lake holds no dataset at all,
        rather than an error from deep inside a model (the dbt_plugins.lake plugin says the same before
        the warehouse file is created, for the local lake; this covers --target r2). -#}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set found = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'binance' and node.meta.get('dataset') -%}
            {%- if not found and binance_glob_has_files(binance_dataset_glob(node.name)) -%}
                {%- do found.append(node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not found -%}
            {{- exceptions.raise_compiler_error("no lake files under " ~ binance_lake_root()
                ~ "/binance (LAKE_DIR): run `python -m loaders.binance --symbols ... --intervals "
                ~ var('daily_source_interval') ~ "` first") -}}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_lake_lease(action) -%}
    {#- on-run-start ('acquire') / on-run-end ('release'): hold the local lake's readers lock while the
        run reads the lake, so a loader running meanwhile never swaps files under it (dbt_plugins.lake).
        A no-op for a lake in a bucket and without the plugin. -#}
    {%- set root = binance_lake_root() if execute else '' -%}
    {%- if execute and '://' not in root -%}
        {%- set has_lease = run_query("select count(*) from duckdb_functions() where function_name = 'binance_lake_lease'")
            .columns[0].values()[0] -%}
        {%- if has_lease -%}
            {%- do run_query("select binance_lake_lease(" ~ binance_sql_string(action) ~ ", "
                ~ binance_sql_string(root) ~ ")") -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_recent_cutoff(table_name='klines') -%}
    {#- Start of the month before the dataset's latest month (from file names: no file is opened), as a
        SQL timestamp literal; var staging_test_months (default 2) sets how many months back, 0 = all.
        Data tests on staging views check only these rows: older months were checked when they were
        loaded, and re-reading every row on every build would dwarf an incremental build. -#}
    {%- set months = var('staging_test_months', 2) | int -%}
    {%- if months <= 0 or not execute -%}
        {{- return("cast('1970-01-01' as timestamp)") -}}
    {%- endif -%}
    {%- set latest = run_query("select max(regexp_extract(file, '/month=([0-9]{4}-[0-9]{2})/', 1)) from glob("
        ~ binance_sql_string(binance_dataset_glob(table_name)) ~ ")").columns[0].values()[0] -%}
    {%- if latest is none or latest == '' -%}
        {{- return("cast('1970-01-01' as timestamp)") -}}
    {%- endif -%}
    {{- return(binance_add_months("cast('" ~ latest ~ "-01' as timestamp)", 1 - months)) -}}
{%- endmacro %}
