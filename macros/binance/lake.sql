{#- Where the lake is and the run's guards (empty lake, recent months). How each engine reads the lake
    (binance_source, binance_lake_files, the Spark tables; the readers lock) is in lake_io.sql and locks.sql. -#}

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
    {#- The lake root made absolute against dbt's working directory (DuckDB: set by the dbt_plugins.lake
        plugin; Spark: the JVM's), so views stored in the warehouse work from any directory. -#}
    {%- set raw = binance_lake_root_raw() -%}
    {%- if binance_is_absolute(raw) or not execute -%}
        {{- return(raw) -}}
    {%- endif -%}
    {%- set cwd = binance_working_directory() -%}
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


{% macro binance_lake_has_files(table_name) -%}
    {#- Whether the dataset has at least one file in the lake (names only: nothing is opened; DuckDB's
        glob stops at the first match, 0.03 s where listing every month folder took 0.7 s on 17k files). -#}
    {%- set n = run_query("select count(*) from (select 1 from " ~ binance_lake_files(table_name)
        ~ " as listed limit 1) as probe").columns[0].values()[0] -%}
    {{- return(n > 0) -}}
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
    {{- return(binance_literal(text)) -}}
{%- endmacro %}


{% macro binance_literal(value) -%}
    {#- `value` as a SQL string literal (none: null). Every value that reaches SQL from the lake
        (folder and file names), the manifest, a bucket key or a var goes through here, so a folder
        named `symbol=X', ...` is a symbol, never SQL. DuckDB doubles quotes; Spark reads backslash
        escapes in literals and joins 'a''b' into 'ab', so there both are backslash-escaped. -#}
    {%- if value is none -%}
        {{- return('null') -}}
    {%- endif -%}
    {%- set text = value | string -%}
    {%- if target.type in ('spark', 'databricks') -%}
        {{- return("'" ~ text.replace('\\', '\\\\').replace("'", "\\'") ~ "'") -}}
    {%- endif -%}
    {{- return("'" ~ text.replace("'", "''") ~ "'") -}}
{%- endmacro %}


{% macro binance_archive_name_pattern() -%}
    {#- A regex matching a lake file whose name is an archive's: `{stem}-{YYYY-MM[-DD]}.parquet`. Other
        Parquet files in a lake folder (backup.parquet, `X (1).parquet`) are not read (the staging
        views skip them) and warn_lake_files_not_archives names them. -#}
    {{- return('/[^/]+-[0-9]{4}-[0-9]{2}(-[0-9]{2})?[.]parquet$') -}}
{%- endmacro %}


{% macro binance_archive_path_pattern() -%}
    {#- A lake path relative to the root, as the loader writes it: groups 1 dataset, 2 market,
        4 interval, 5 symbol, 6 period. -#}
    {{- return('^binance/([^/]+)/market=([^/]+)/(interval=([^/]+)/)?symbol=([^/]+)/month=[^/]+/[^/]*-([0-9]{4}-[0-9]{2}(-[0-9]{2})?)[.]parquet$') -}}
{%- endmacro %}


{% macro binance_assert_lake_has_files() -%}
    {#- on-run-start: stop `dbt run` / `dbt build` with one line when the lake holds no dataset at all,
        rather than an error from deep inside a model (the dbt_plugins.lake plugin says the same before
        the warehouse file is created, for the local lake; this covers --target r2). -#}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set found = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'binance' and node.meta.get('dataset') -%}
            {%- if not found and binance_lake_has_files(node.name) -%}
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


{% macro binance_recent_month(table_name='klines') -%}
    {#- The first lake month (a 'YYYY-MM' SQL literal) that data tests on staging views check: the
        month before the dataset's latest month (from file names: no file is opened); var
        staging_test_months (default 2) sets how many months back, 0 = all. Older months were checked
        when they were loaded, and re-reading every row on every build would dwarf an incremental
        build. A bound on lake_month (the Hive partition) skips the other files by their path. -#}
    {%- set months = var('staging_test_months', 2) | int -%}
    {%- if months <= 0 or not execute -%}
        {{- return("'0000-00'") -}}
    {%- endif -%}
    {%- set lake_months = binance_lake_month_list(table_name) -%}
    {%- set latest = (lake_months | last if lake_months else none) if lake_months is not none
        else run_query("select max(regexp_extract(file, '/month=([0-9]{4}-[0-9]{2})/', 1)) from "
        ~ binance_lake_files(table_name) ~ " as listed").columns[0].values()[0] -%}
    {%- if latest is none or latest == '' -%}
        {{- return("'0000-00'") -}}
    {%- endif -%}
    {%- set index = (latest[:4] | int) * 12 + (latest[5:7] | int) - 1 - (months - 1) -%}
    {{- return("'%04d-%02d'" % (index // 12, index % 12 + 1)) -}}
{%- endmacro %}
