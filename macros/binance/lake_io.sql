{#- How each engine reads the lake: the dataset relations (binance_source), file listings and file
    stats, and the Spark DDL that makes the lake readable there. Where the lake is (its root, the
    dataset globs) is in lake.sql; reading only some month folders in lake_months.sql. -#}

{#- ===== The lake =====
    DuckDB reads the Parquet files in place: each source's meta.external_location (read_parquet over a
    glob) and glob() for file listings. Spark reads them through external tables the on-run-start hook
    binance_register_lake() (re)creates in database var('spark_lake_schema'): one Parquet table per
    dataset, with the source's declared columns and its Hive partitions discovered when queried, and
    one binaryFile table `<dataset>__files` listing its files (only the path is read, never a file). -#}

{% macro binance_working_directory() -%}
    {#- The directory dbt runs in, against which a relative LAKE_DIR is made absolute. -#}
    {{- return(adapter.dispatch('binance_working_directory', 'binance_warehouse')()) -}}
{%- endmacro %}

{% macro duckdb__binance_working_directory() -%}
    {#- Set on every cursor by the dbt_plugins.lake plugin (none without the plugin). -#}
    {{- return(run_query("select getvariable('binance_cwd')").columns[0].values()[0]) -}}
{%- endmacro %}

{% macro spark__binance_working_directory() -%}
    {#- The JVM's working directory (`session` method: dbt's own). -#}
    {{- return(run_query("select reflect('java.lang.System', 'getProperty', 'user.dir')").columns[0].values()[0]) -}}
{%- endmacro %}


{% macro binance_lake_files(table_name) -%}
    {#- A relation with one column `file`: the dataset's Parquet files (names only, nothing is opened). -#}
    {{- return(adapter.dispatch('binance_lake_files', 'binance_warehouse')(table_name)) -}}
{%- endmacro %}

{% macro duckdb__binance_lake_files(table_name) -%}
    (select file from glob({{ binance_sql_string(binance_dataset_glob(table_name)) }}))
{%- endmacro %}

{% macro spark__binance_lake_files(table_name) -%}
    {#- Paths are URIs there: file:/abs/lake/binance/..., s3a://bucket/prefix/binance/... -#}
    (select path as file from {{ binance_spark_lake_table(table_name ~ '__files') }})
{%- endmacro %}


{% macro binance_lake_file_stats(table_name) -%}
    {#- A relation (file, file_size, file_modified_at): the dataset's Parquet files with their size in
        bytes and modification time (naive UTC, whole seconds on DuckDB). Only the file system's
        metadata: no file is opened. -#}
    {{- return(adapter.dispatch('binance_lake_file_stats', 'binance_warehouse')(table_name)) -}}
{%- endmacro %}

{% macro duckdb__binance_lake_file_stats(table_name) -%}
    {#- The dbt_plugins.lake plugin's os.scandir walk (2-5x faster than read_blob, which opens every
        file); read_blob without its `content` column without the plugin. A lake in a bucket
        (--target r2) is listed only: a stat there is an HTTP request per file. -#}
    {%- if '://' in binance_lake_root() -%}
        (
            select
                lake_files.file,
                cast(null as bigint) as file_size,
                {{ binance_timestamp_literal(none) }} as file_modified_at
            from {{ binance_lake_files(table_name) }} as lake_files
        )
    {%- elif run_query("select getvariable('binance_cwd') is not null").columns[0].values()[0] %}
    (
        select unnest(binance_lake_file_stats({{ binance_sql_string(binance_dataset_glob(table_name)) }}), recursive := true)
    )
    {%- else %}
    (
        select
            filename as file,
            size as file_size,
            cast(timezone('UTC', last_modified) as timestamp) as file_modified_at
        from read_blob({{ binance_sql_string(binance_dataset_glob(table_name)) }})
    )
    {%- endif -%}
{%- endmacro %}

{% macro spark__binance_lake_file_stats(table_name) -%}
    (
        select
            path as file,
            length as file_size,
            cast(modificationTime as timestamp_ntz) as file_modified_at
        from {{ binance_spark_lake_table(table_name ~ '__files') }}
    )
{%- endmacro %}


{% macro binance_lake_relative_path(file_sql) -%}
    {#- A listed file (binance_lake_files) as a path relative to the lake root: binance/{dataset}/... -#}
    {{- return(adapter.dispatch('binance_lake_relative_path', 'binance_warehouse')(file_sql)) -}}
{%- endmacro %}

{% macro duckdb__binance_lake_relative_path(file_sql) -%}
    substr({{ file_sql }}, length({{ binance_sql_string(binance_lake_root() ~ '/') }}) + 1)
{%- endmacro %}

{% macro spark__binance_lake_relative_path(file_sql) -%}
    {#- Spark's URIs need not spell the root as LAKE_DIR does (file:/x for /x): cut at the dataset folder. -#}
    regexp_extract({{ file_sql }}, '/(binance/[^/]+/market=[^/]+/.*)$', 1)
{%- endmacro %}


{% macro binance_source(table_name, min_month=none) -%}
    {#- The dataset as a relation with the source's columns plus `filename` (the file each row comes
        from). A dataset without files reads as no rows. `min_month` ('YYYY-MM'): the caller reads
        only rows with month >= it (and still says so), so only those month folders are listed where
        they can be (lake_months.sql). -#}
    {{- return(adapter.dispatch('binance_source', 'binance_warehouse')(table_name, min_month)) -}}
{%- endmacro %}

{% macro duckdb__binance_source(table_name, min_month) -%}
    {#- source('binance', table_name): its external_location with the lake root made absolute (see
        binance_lake_root); read_parquet adds `filename`. A dataset with no file in the lake yet reads
        as an empty relation with the source's columns and types, so every model builds (empty)
        instead of failing on "No files found". -#}
    {%- set relation = source('binance', table_name) | string -%}
    {%- if not execute -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- if not binance_lake_has_files(table_name) -%}
        {{- return(binance_empty_relation(binance_source_node(table_name).columns.values())) -}}
    {%- endif -%}
    {%- set raw = binance_lake_root_raw() -%}
    {%- set relation = relation.replace("'" ~ raw ~ "/", binance_literal(binance_lake_root() ~ '/')[:-1]) -%}
    {%- set globs = binance_month_globs(table_name, min_month) if (min_month or '0000-00') > '0000-00' else none -%}
    {%- if globs == '[]' -%}
        {{- return(binance_empty_relation(binance_source_node(table_name).columns.values())) -}}
    {%- elif globs is not none -%}
        {%- set relation = relation.replace(binance_literal(binance_dataset_glob(table_name)), globs) -%}
    {%- endif -%}
    {%- if not binance_source_node(table_name).meta.get('dataset') -%}
        {{- return(relation) -}}
    {%- endif -%}
    {#- Only files named as archives: a stray backup.parquet would add its rows twice (the filter on
        filename prunes files before they are opened). -#}
    {{- return('(select * from ' ~ relation ~ " where regexp_matches(filename, '"
        ~ binance_archive_name_pattern() ~ "'))") -}}
{%- endmacro %}

{% macro spark__binance_source(table_name, min_month) -%}
    {#- The external table (a missing or empty folder reads as no rows); `filename` from the hidden
        `_metadata` column of Spark's file sources (Spark >= 3.3), which must be read on the table
        itself, not through a view. -#}
    {{- return('(select lake_table.*, lake_table._metadata.file_path as filename from '
        ~ source('binance', table_name) ~ ' as lake_table)') -}}
{%- endmacro %}


{% macro binance_register_lake() -%}
    {#- on-run-start: make the lake readable. Nothing to do on DuckDB (read_parquet reads it in place). -#}
    {{- return(adapter.dispatch('binance_register_lake', 'binance_warehouse')()) -}}
{%- endmacro %}

{% macro default__binance_register_lake() -%}
    select 1
{%- endmacro %}

{% macro spark__binance_register_lake() -%}
    {#- (Re)create the external tables over the lake from the `binance` sources' yml (one place for the
        layout and the columns, checked against loaders/contract.py by tests/test_lake_contract.py):
        the folder and the Hive partition columns from meta.external_location's glob, the file columns
        with their declared types. Partitions are listed when a query runs
        (spark.sql.hive.manageFilesourcePartitions=false in profiles.yml), so new files need no MSCK
        REPAIR, and partition values stay strings (partitionColumnTypeInference off). Dropping an
        external table never touches its files. -#}
    {%- if execute -%}
        {%- set db = var('spark_lake_schema') -%}
        {%- set root = binance_lake_root() -%}
        {%- if run_query("show databases like " ~ binance_literal(db)).rows | length == 0 -%}
            {%- do run_query('create database ' ~ db) -%}
        {%- endif -%}
        {%- for node in graph.sources.values() if node.source_name == 'binance' -%}
            {%- set layout = binance_spark_lake_layout(node) -%}
            {%- set partitions = [] -%}
            {%- for p in layout.partitions -%}{%- do partitions.append(adapter.quote(p) ~ ' string') -%}{%- endfor -%}
            {%- set partition_names = [] -%}
            {%- for p in layout.partitions -%}{%- do partition_names.append(adapter.quote(p)) -%}{%- endfor -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() if column.name != 'filename' and column.name not in layout.partitions -%}
                {%- do columns.append(adapter.quote(column.name) ~ ' ' ~ binance_spark_type(column.data_type)) -%}
            {%- endfor -%}
            {%- set partitioned_by = ('partitioned by (' ~ partition_names | join(', ') ~ ')') if partitions else '' -%}
            {%- set location = "options (pathGlobFilter '" ~ layout.file_pattern ~ "') location "
                ~ binance_sql_string(root ~ '/' ~ layout.folder) -%}
            {%- set table = binance_spark_lake_table(node.name) -%}
            {%- do run_query('drop table if exists ' ~ table) -%}
            {%- do run_query('create table ' ~ table ~ ' (' ~ (columns + partitions) | join(', ') ~ ') using parquet '
                ~ partitioned_by ~ ' ' ~ location) -%}
            {%- set files = binance_spark_lake_table(node.name ~ '__files') -%}
            {%- do run_query('drop table if exists ' ~ files) -%}
            {%- do run_query('create table ' ~ files ~ ' (' ~ (['path string', 'modificationTime timestamp',
                'length bigint', 'content binary'] + partitions) | join(', ') ~ ') using binaryFile '
                ~ partitioned_by ~ ' ' ~ location) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{% macro binance_spark_lake_table(name) -%}
    {{- return(var('spark_lake_schema') ~ '.' ~ name) -}}
{%- endmacro %}


{% macro binance_spark_lake_layout(node) -%}
    {#- From `read_parquet('{lake_root}/binance/klines/market=*/interval=*/symbol=*/month=*/*.parquet', ...)`:
        folder binance/klines, partitions [market, interval, symbol, month], file pattern *.parquet. -#}
    {%- set glob = modules.re.search("read_parquet\\('\\{lake_root\\}/([^']+)'", node.meta.external_location).group(1) -%}
    {%- set parts = glob.split('/') -%}
    {%- set folder = [] -%}
    {%- set partitions = [] -%}
    {%- for part in parts[:-1] -%}
        {%- if part.endswith('=*') -%}
            {%- do partitions.append(part[:-2]) -%}
        {%- elif partitions | length == 0 -%}
            {%- do folder.append(part) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return({'folder': folder | join('/'), 'partitions': partitions, 'file_pattern': parts[-1]}) -}}
{%- endmacro %}


{% macro binance_spark_type(data_type) -%}
    {#- A source column's declared (DuckDB) type as Spark DDL. -#}
    {{- return({'varchar': 'string', 'timestamp': 'timestamp_ntz'}.get(data_type | lower, data_type | lower)) -}}
{%- endmacro %}


