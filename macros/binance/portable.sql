{#- Everything that differs between DuckDB (dbt-duckdb) and Apache Spark (dbt-spark, `--target spark`),
    behind adapter.dispatch: one macro name, a `duckdb__` (or `default__`) and a `spark__` body side by
    side. Models and the other macros call these; everything else they write is SQL both engines read
    the same way (docs/scaling.md lists the rules: `string` not `varchar`, no `::`, no `qualify`,
    `{{ adapter.quote('interval') }}` for the column named interval, `pow` not `^`, `[.]` in regexes).
    Two dbt built-ins are overridden elsewhere for Spark: get_unit_test_sql (macros/unit_test_tolerance.sql)
    and load_csv_rows (macros/spark_seeds.sql). tests/test_spark.py builds both engines and compares every
    mart. -#}


{#- ===== SQL expressions ===== -#}

{% macro binance_arg_min(value, ordering) -%}
    {{- return(adapter.dispatch('binance_arg_min', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_min(value, ordering) -%}
    min_by({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__binance_arg_min(value, ordering) -%}
    {#- DuckDB's min_by skips rows whose value is null; Spark's returns the value of the min row even
        when it is null: rows with a null value get a null ordering, which Spark's skips. -#}
    min_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}


{% macro binance_arg_max(value, ordering) -%}
    {{- return(adapter.dispatch('binance_arg_max', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro default__binance_arg_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__binance_arg_max(value, ordering) -%}
    {#- As spark__binance_arg_min: the latest non-null value, like DuckDB's max_by. -#}
    max_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}


{% macro binance_ordered_list(value, ordering) -%}
    {#- The group's values as a list ordered by `ordering`. -#}
    {{- return(adapter.dispatch('binance_ordered_list', 'binance_warehouse')(value, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_ordered_list(value, ordering) -%}
    list({{ value }} order by {{ ordering }})
{%- endmacro %}

{% macro spark__binance_ordered_list(value, ordering) -%}
    {#- collect_list has no order: collect (ordering, value) pairs, sort them, keep the values. A pair
        is never null, so null values are kept, as in DuckDB's list(). -#}
    transform(array_sort(collect_list(struct({{ ordering }} as k, {{ value }} as v))), x -> x.v)
{%- endmacro %}


{% macro binance_sum_squared_log_returns(values, previous) -%}
    {#- Σ ln(v_i / v_{i-1})² over a list in time order, the first element paired with `previous`; null
        when no element has a predecessor (a single value and no previous one). -#}
    {{- return(adapter.dispatch('binance_sum_squared_log_returns', 'binance_warehouse')(values, previous)) -}}
{%- endmacro %}

{% macro duckdb__binance_sum_squared_log_returns(values, previous) -%}
    case
        when {{ previous }} is not null or len({{ values }}) > 1
            then
                coalesce(pow({{ binance_ln(values ~ '[1] / ' ~ previous) }}, 2), 0)
                + coalesce(list_sum(list_transform(
                    range(2, len({{ values }}) + 1), i -> pow({{ binance_ln(values ~ '[i] / ' ~ values ~ '[i - 1]') }}, 2)
                )), 0)
    end
{%- endmacro %}

{% macro spark__binance_sum_squared_log_returns(values, previous) -%}
    {#- Spark arrays are 0-based with [i] and 1-based with element_at; the neighbours are paired with
        zip_with over the list and the list shifted by one, summed in order like DuckDB's list_sum. -#}
    case
        when {{ previous }} is not null or size({{ values }}) > 1
            then
                coalesce(pow({{ binance_ln('element_at(' ~ values ~ ', 1) / ' ~ previous) }}, 2), 0)
                + case
                    when size({{ values }}) > 1
                        then aggregate(
                            zip_with(
                                slice({{ values }}, 2, size({{ values }}) - 1),
                                slice({{ values }}, 1, size({{ values }}) - 1),
                                (cur, prev) -> pow({{ binance_ln('cur / prev') }}, 2)
                            ),
                            cast(0 as double),
                            (acc, x) -> acc + x
                        )
                    else 0
                end
    end
{%- endmacro %}


{% macro binance_day_number(date_sql) -%}
    {#- Days since 1970-01-01: an integer a RANGE window frame can step over on both engines. -#}
    {{- return(adapter.dispatch('binance_day_number', 'binance_warehouse')(date_sql)) -}}
{%- endmacro %}

{% macro duckdb__binance_day_number(date_sql) -%}
    date_diff('day', date '1970-01-01', {{ date_sql }})
{%- endmacro %}

{% macro spark__binance_day_number(date_sql) -%}
    datediff({{ date_sql }}, date '1970-01-01')
{%- endmacro %}


{% macro binance_date_spine(first_date, last_date) -%}
    {#- A list of every date from first_date to last_date, for unnesting into one row per day. -#}
    {{- return(adapter.dispatch('binance_date_spine', 'binance_warehouse')(first_date, last_date)) -}}
{%- endmacro %}

{% macro duckdb__binance_date_spine(first_date, last_date) -%}
    generate_series({{ first_date }}, {{ last_date }}, interval 1 day)
{%- endmacro %}

{% macro spark__binance_date_spine(first_date, last_date) -%}
    sequence({{ first_date }}, {{ last_date }}, interval 1 day)
{%- endmacro %}


{% macro binance_add_days(date_sql, days) -%}
    {{- return(adapter.dispatch('binance_add_days', 'binance_warehouse')(date_sql, days)) -}}
{%- endmacro %}

{% macro duckdb__binance_add_days(date_sql, days) -%}
    {{- return('cast(' ~ date_sql ~ ' + (' ~ days ~ ') as date)') -}}
{%- endmacro %}

{% macro spark__binance_add_days(date_sql, days) -%}
    {{- return('date_add(' ~ date_sql ~ ', ' ~ days ~ ')') -}}
{%- endmacro %}


{% macro binance_unnest(list_sql, alias, column) -%}
    {#- A relation with one row per element of `list_sql` (a lateral unnest), column `column`; follows
        `cross join`. -#}
    {{- return(adapter.dispatch('binance_unnest', 'binance_warehouse')(list_sql, alias, column)) -}}
{%- endmacro %}

{% macro duckdb__binance_unnest(list_sql, alias, column) -%}
    unnest({{ list_sql }}) as {{ alias }} ({{ column }})
{%- endmacro %}

{% macro spark__binance_unnest(list_sql, alias, column) -%}
    lateral explode({{ list_sql }}) as {{ alias }} ({{ column }})
{%- endmacro %}


{% macro binance_last_non_null(expression, window_spec) -%}
    {#- The latest non-null value of `expression` up to the current row of the window. -#}
    {{- return(adapter.dispatch('binance_last_non_null', 'binance_warehouse')(expression, window_spec)) -}}
{%- endmacro %}

{% macro duckdb__binance_last_non_null(expression, window_spec) -%}
    last_value({{ expression }} ignore nulls) over ({{ window_spec }} rows between unbounded preceding and current row)
{%- endmacro %}

{% macro spark__binance_last_non_null(expression, window_spec) -%}
    last({{ expression }}, true) over ({{ window_spec }} rows between unbounded preceding and current row)
{%- endmacro %}


{% macro binance_string_agg(expression, ordering) -%}
    {#- The group's values joined with commas, in `ordering` order. -#}
    {{- return(adapter.dispatch('binance_string_agg', 'binance_warehouse')(expression, ordering)) -}}
{%- endmacro %}

{% macro duckdb__binance_string_agg(expression, ordering) -%}
    string_agg({{ expression }}, ',' order by {{ ordering }})
{%- endmacro %}

{% macro spark__binance_string_agg(expression, ordering) -%}
    {#- Spark 3.5 has no ordered string aggregate (listagg ... within group came in 4.0). -#}
    array_join(transform(array_sort(collect_list(struct({{ ordering }} as k, {{ expression }} as v))), x -> x.v), ',')
{%- endmacro %}


{% macro binance_split_part(text, delimiter, part) -%}
    {{- return(adapter.dispatch('binance_split_part', 'binance_warehouse')(text, delimiter, part)) -}}
{%- endmacro %}

{% macro default__binance_split_part(text, delimiter, part) -%}
    split_part({{ text }}, '{{ delimiter }}', {{ part }})
{%- endmacro %}


{#- ===== Types ===== -#}

{% macro binance_timestamp_type() -%}
    {#- The warehouse's timestamps are naive UTC (as in the lake). DuckDB `timestamp`; Spark's
        `timestamp` is an instant shown in the session time zone, its naive type is `timestamp_ntz`
        (what the lake's Parquet timestamps read as). Contracts in the yml files say the same with
        `{{ 'timestamp_ntz' if target.type in ('spark', 'databricks') else 'timestamp' }}`. -#}
    {{- return(adapter.dispatch('binance_timestamp_type', 'binance_warehouse')()) -}}
{%- endmacro %}

{% macro default__binance_timestamp_type() -%}
    {{- return('timestamp') -}}
{%- endmacro %}

{% macro spark__binance_timestamp_type() -%}
    {{- return('timestamp_ntz') -}}
{%- endmacro %}


{% macro binance_timestamp_literal(text) -%}
    {#- A timestamp literal from 'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' (none: a typed null). -#}
    {%- if text is none -%}
        {{- return('cast(null as ' ~ binance_timestamp_type() ~ ')') -}}
    {%- endif -%}
    {{- return("cast(" ~ binance_literal(text) ~ " as " ~ binance_timestamp_type() ~ ")") -}}
{%- endmacro %}


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
    {#- read_blob without its `content` column only lists and stats the files. A lake in a bucket
        (--target r2) is listed only: a stat there is an HTTP request per file. -#}
    {%- if '://' in binance_lake_root() -%}
        (
            select
                lake_files.file,
                cast(null as bigint) as file_size,
                {{ binance_timestamp_literal(none) }} as file_modified_at
            from {{ binance_lake_files(table_name) }} as lake_files
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


{% macro binance_source(table_name) -%}
    {#- The dataset as a relation with the source's columns plus `filename` (the file each row comes
        from). A dataset without files reads as no rows. -#}
    {{- return(adapter.dispatch('binance_source', 'binance_warehouse')(table_name)) -}}
{%- endmacro %}

{% macro duckdb__binance_source(table_name) -%}
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
    {%- if not binance_source_node(table_name).meta.get('dataset') -%}
        {{- return(relation) -}}
    {%- endif -%}
    {#- Only files named as archives: a stray backup.parquet would add its rows twice (the filter on
        filename prunes files before they are opened). -#}
    {{- return('(select * from ' ~ relation ~ " where regexp_matches(filename, '"
        ~ binance_archive_name_pattern() ~ "'))") -}}
{%- endmacro %}

{% macro spark__binance_source(table_name) -%}
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


{% macro binance_lake_lease(action) -%}
    {#- on-run-start ('acquire') / on-run-end ('release'): hold the local lake's readers lock while the
        run reads the lake, so a loader running meanwhile never swaps files under it (dbt_plugins.lake,
        a dbt-duckdb plugin). A no-op for a lake in a bucket, without the plugin, and on Spark (no
        plugin; docs/scaling.md: do not load into a lake a Spark build is reading). -#}
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
        {%- if has_function -%}
            {%- do run_query("select " ~ function_name ~ "(" ~ binance_sql_string(action) ~ ", "
                ~ binance_sql_string(root) ~ ")") -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}


{#- ===== Incremental models =====
    DuckDB: delete+insert on the model's grain (unique_key): the rows the run selects replace the rows
    with the same key. Spark without Delta or Iceberg has no DELETE: the tables are Parquet partitioned
    by trade_date and a run overwrites the trade_date partitions its rows fall in (insert_overwrite,
    dynamic partition overwrite), so its output must hold those partitions whole: what it selects plus
    the stored rows of the same days with a key it does not select (binance_incremental_select). The
    result is delete+insert's, day by day. -#}

{% macro binance_incremental_config(unique_key=['market', 'symbol', 'trade_date']) -%}
    {#- The incremental settings every daily model shares (its grain ends with trade_date). -#}
    {{- return(adapter.dispatch('binance_incremental_config', 'binance_warehouse')(unique_key)) -}}
{%- endmacro %}

{% macro default__binance_incremental_config(unique_key) -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) -}}
{%- endmacro %}

{% macro spark__binance_incremental_config(unique_key) -%}
    {{- return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['trade_date'],
        'file_format': 'parquet',
        'unique_key': unique_key,
        'on_schema_change': 'fail',
    }) -}}
{%- endmacro %}


{% macro binance_incremental_select(relation) -%}
    {#- The final select of an incremental model: `select * from <relation>` (a CTE holding the rows
        the run writes), plus on Spark what keeps each partition it overwrites whole. -#}
    {{- return(adapter.dispatch('binance_incremental_select', 'binance_warehouse')(relation)) -}}
{%- endmacro %}

{% macro default__binance_incremental_select(relation) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro spark__binance_incremental_select(relation) -%}
    {#- `distribute by trade_date`: each day's rows in one task, so one file per trade_date partition
        (not one per task and day: thousands of tiny files that every later read would list and open). -#}
    {%- if not (execute and is_incremental()) -%}
        select * from {{ relation }}
        distribute by trade_date
    {%- else -%}
        {#- Reading the table the statement overwrites is fine with dynamic partition overwrite (the new
            files are staged and swapped in at commit). Columns by name, in the stored table's order
            (partition column last). -#}
        {%- set names = [] -%}
        {%- for column in adapter.get_columns_in_relation(this) -%}
            {%- do names.append(adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- set key = [] -%}
        {%- for column in config.get('unique_key') -%}
            {%- do key.append('fresh.' ~ adapter.quote(column) ~ ' = stored.' ~ adapter.quote(column)) -%}
        {%- endfor %}
        select {{ names | join(', ') }} from {{ relation }}
        union all
        select stored.{{ names | join(', stored.') }}
        from {{ this }} as stored
        where
            stored.trade_date in (select touched.trade_date from {{ relation }} as touched)
            and not exists (select 1 from {{ relation }} as fresh where {{ key | join(' and ') }})
        distribute by trade_date
    {%- endif -%}
{%- endmacro %}
