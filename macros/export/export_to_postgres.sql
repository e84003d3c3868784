{#-
  Post-hook: copy the most recent window of each series of a mart into Postgres (docs/postgres.md).

  Runs after the model's own DuckDB transaction (`transaction: false` in dbt_project.yml) because the
  rows are written through DuckDB's postgres extension, and one DuckDB transaction may write to only one
  database. The connection is `ATTACH 'application_name=''dbt post-hook export_to_postgres''' (TYPE postgres)`: libpq takes
  host, port, user, password and database from PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE, so the
  password is never part of any SQL text, log line or dbt artifact (and dbt never reads it: only PGHOST
  goes through env_var). The application name makes a connection error name this hook.

  Steps (each Postgres statement list runs in one Postgres transaction):
    1. create the schema if missing; (re)create `<table>__staging` with explicit Postgres types;
    2. COPY the window into it (the extension's binary COPY);
    3. primary key on the grain, index on the date (and on series + date when the key does not serve
       "latest rows of a series"), comments, analyze, all on the staging table;
    4. swap: drop the old table and rename the staging table (and its key and indexes) in one
       transaction, so readers see the old window or the new one, never an empty or partial table.
  A failure in 1-3 leaves the previous table untouched (a leftover staging table is replaced next time).

  Per-model settings (model config `meta`), all optional:
    export_to_postgres: false      turn the export off for this model
    export_window_days: 90         window length in days (default: var export_window_days, 30)
    export_grain: [a, b]           primary key columns (default: meta grain, else market, symbol, date)
    export_date_column: col        date or timestamp column the window is cut on (default: hour_start or
                                   trade_date, whichever meta grain has; else trade_date, else hour_start)
    export_window_by: [a, b]       the series each keep their own window: rows with date > that series'
                                   max(date) - N days (default: [market, symbol] when the model has
                                   both columns; [] = one window over the whole model)
-#}

{% macro export_to_postgres(window_days=none, schema=none) %}
  {%- if not execute -%}
    {{- return('') -}}
  {%- endif -%}
  {%- set meta = model.config.get('meta', {}) or {} -%}
  {%- set target_table = this.identifier -%}
  {#- The export goes through DuckDB's postgres extension: other engines skip it (export_to_postgres_off
      says so; dbt-spark never runs this out-of-transaction hook anyway). -#}
  {%- if target.type != 'duckdb' -%}
    {{- return('') -}}
  {%- endif -%}
  {%- if meta.get('export_to_postgres', true) in [false, 'false', 'False'] -%}
    {{- log('export_to_postgres: ' ~ target_table ~ ' has meta export_to_postgres: false, not exported', info=true) -}}
    {{- return('') -}}
  {%- endif -%}
  {#- --empty / --sample build partial marts: exporting them would replace good windows in Postgres. -#}
  {%- if invocation_args_dict.get('empty') or invocation_args_dict.get('sample') -%}
    {{- log('export_to_postgres: --empty/--sample run, so ' ~ target_table ~ ' is not exported', info=true) -}}
    {{- return('') -}}
  {%- endif -%}
  {%- if env_var('PGHOST', '') | trim == '' -%}
    {#- Said once per run, by export_to_postgres_announce (on-run-start). -#}
    {{- return('') -}}
  {%- endif -%}

  {%- set pg_schema = (schema or var('export_schema', 'analytics')) | string -%}
  {%- if not binance_valid_identifier(pg_schema) -%}
    {{- exceptions.raise_compiler_error('export_to_postgres: schema ' ~ binance_shown(pg_schema) ~ ' is not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters)') -}}
  {%- endif -%}
  {%- set days = export_to_postgres__window_days(window_days, meta) -%}
  {%- set staging_table = target_table ~ '__staging' -%}
  {%- set alias = 'export_pg__' ~ target_table -%}
  {%- set started = modules.datetime.datetime.now() -%}

  {#- Columns and their Postgres types, from the mart's enforced contract (its yml's data_type). -#}
  {%- set columns = [] -%}
  {%- for col in model.columns.values() -%}
    {%- if not col.data_type -%}
      {{- exceptions.raise_compiler_error('export_to_postgres: column ' ~ col.name ~ ' of ' ~ target_table ~ ' has no data_type in its yml (the export takes its types from the model contract)') -}}
    {%- endif -%}
    {%- do columns.append({'name': col.name, 'pg_type': export_to_postgres__pg_type(target_table, col.name, col.data_type)}) -%}
  {%- endfor -%}
  {%- set names = columns | map(attribute='name') | list -%}
  {#- Defaults from the model's meta grain, which every mart declares: the key is the grain, the date
      column its hour_start (the hourly marts) or trade_date (the daily ones); without a grain,
      trade_date, else hour_start, and the key (market, symbol, date). -#}
  {%- set model_grain = meta.get('grain') or [] -%}
  {%- set grain_dates = ['hour_start', 'trade_date'] | select('in', model_grain) | list -%}
  {%- set named_dates = ['trade_date', 'hour_start'] | select('in', names) | list -%}
  {%- set date_column = meta.get('export_date_column') or (grain_dates + named_dates + ['trade_date']) | first -%}
  {%- set grain = meta.get('export_grain') or model_grain or ['market', 'symbol', date_column] -%}
  {%- for required in grain + [date_column] -%}
    {%- if required not in names -%}
      {{- exceptions.raise_compiler_error('export_to_postgres: ' ~ target_table ~ ' has no column ' ~ required ~ ' (set meta export_grain / export_date_column for this model)') -}}
    {%- endif -%}
  {%- endfor -%}
  {%- set pg_columns = [] -%}
  {%- set select_list = [] -%}
  {%- for col in columns -%}
    {%- do pg_columns.append(export_to_postgres__ident(col.name) ~ ' ' ~ col.pg_type ~ (' not null' if col.name in grain else '')) -%}
    {%- do select_list.append(export_to_postgres__select_expr(col.name, col.pg_type)) -%}
  {%- endfor -%}

  {%- set window_by = export_to_postgres__window_by(meta, names) -%}
  {%- set q_date = export_to_postgres__ident(date_column) -%}
  {#- The window's rows: each series' own last N days. Every row after (the newest series' latest date -
      N days) is in its series' window: those come from a plain filtered scan, as with one window; only
      the older rows of series that end earlier go through a hash join on the per-series latest date
      (computed once into a temporary table), so a mart whose series are all current pays one grouped
      max. With no series columns, the model's last N days. `interval` so a timestamp column
      (hour_start) is cut at N x 24 hours as a date column is at N days. -#}
  {%- set series_table = export_to_postgres__ident('export_pg_series__' ~ target_table) -%}
  {%- set newest_cut = '(select max(latest) from ' ~ series_table ~ ") - interval '" ~ days ~ " days'" -%}
  {%- set window_from -%}
    {%- if window_by %}
    (
        select * from {{ this }}
        where {{ q_date }} > {{ newest_cut }}
        union all
        select mart.*
        from {{ this }} as mart
        inner join (
            select * from {{ series_table }} where latest < (select max(latest) from {{ series_table }})
        ) as series
            on {% for col in window_by %}{{ 'and ' if not loop.first }}mart.{{ export_to_postgres__ident(col) }} {{ '=' if col in grain else 'is not distinct from' }} series.{{ export_to_postgres__ident(col) }} {% endfor %}
        where
            mart.{{ q_date }} <= {{ newest_cut }}
            and mart.{{ q_date }} > (select min(latest) from {{ series_table }}) - interval '{{ days }} days'
            and mart.{{ q_date }} > series.latest - interval '{{ days }} days'
    ) as mart
    {%- else %}
    {{ this }} as mart
    where mart.{{ q_date }} > (select max({{ q_date }}) - interval '{{ days }} days' from {{ this }})
    {%- endif %}
  {%- endset -%}

  {%- if window_by -%}
    {%- call statement('export_to_postgres_series', auto_begin=false) -%}
      create or replace temp table {{ series_table }} as
      select {{ export_to_postgres__ident_list(window_by) }}, max({{ q_date }}) as latest
      from {{ this }}
      where {{ q_date }} is not null
      group by {{ export_to_postgres__ident_list(window_by) }}
    {%- endcall -%}
  {%- endif -%}

  {#- Window bounds, for the log line and the table comment. -#}
  {%- set bounds_sql -%}
    select count(*), cast(min(mart.{{ q_date }}) as varchar), cast(max(mart.{{ q_date }}) as varchar),
        {% if window_by %}(select count(*) from {{ series_table }}){% else %}1{% endif %}
    from {{ window_from }}
  {%- endset -%}
  {%- call statement('export_to_postgres_bounds', fetch_result=true, auto_begin=false) -%}
    {{ bounds_sql }}
  {%- endcall -%}
  {%- set bounds = load_result('export_to_postgres_bounds').table.rows[0] -%}
  {%- if bounds[0] == 0 -%}
    {#- An empty mart (e.g. an empty lake) must not wipe the window apps are reading. -#}
    {%- do run_query('drop table if exists ' ~ series_table) -%}
    {{- log('export_to_postgres: ' ~ target_table ~ ' is empty, so Postgres keeps its previous window', info=true) -}}
    {{- return('') -}}
  {%- endif -%}

  {%- set q_schema = export_to_postgres__ident(pg_schema) -%}
  {%- set q_final = q_schema ~ '.' ~ export_to_postgres__ident(target_table) -%}
  {%- set q_staging = q_schema ~ '.' ~ export_to_postgres__ident(staging_table) -%}
  {%- set pkey_staging = staging_table ~ '_pkey' -%}
  {%- set index_staging = staging_table ~ '_' ~ date_column ~ '_idx' -%}
  {#- "The latest rows of a series" (where market = .. and symbol = .. order by date desc limit n): the
      primary key serves it (a backward index scan) when it starts with the series columns then the
      date; otherwise a series + date index does. -#}
  {%- set series_index = window_by and grain[:window_by | length + 1] != window_by + [date_column] -%}
  {%- set series_index_staging = staging_table ~ '_series_idx' -%}
  {%- set window_text -%}
    {%- if window_by -%}
for each ({{ window_by | join(', ') }}), the rows with {{ date_column }} > that series' max({{ date_column }}) - {{ days }} days
    {%- else -%}
the rows with {{ date_column }} > max({{ date_column }}) - {{ days }} days
    {%- endif -%}
  {%- endset -%}

  {{- log('export_to_postgres: exporting ' ~ target_table ~ ' (' ~ bounds[0] ~ ' rows, ' ~ bounds[3] ~ ' series, ' ~ date_column ~ ' ' ~ bounds[1] ~ ' to ' ~ bounds[2] ~ ', window ' ~ days ~ ' days' ~ (' per series' if window_by else '') ~ ') to Postgres ' ~ pg_schema ~ '.' ~ target_table, info=true) -}}

  {#- Each Postgres script starts with a comment naming the hook: Postgres errors quote the script. -#}
  {%- set create_staging -%}
/* dbt post-hook export_to_postgres: staging table */
do $export$ begin
  -- not `create schema if not exists`: that needs create on the database even when the schema exists
  if not exists (select from pg_namespace where nspname = {{ export_to_postgres__literal(pg_schema) }}) then
    create schema {{ q_schema }};
  end if;
end $export$;
drop table if exists {{ q_staging }};
create table {{ q_staging }} ({{ pg_columns | join(', ') }});
  {%- endset -%}

  {%- set comment -%}
Recent window of the warehouse mart {{ target_table }}: {{ window_text }} ({{ bounds[1] }} to {{ bounds[2] }}, {{ bounds[3] }} series), written by the dbt post-hook export_to_postgres. Replaced on every dbt build; do not edit.
  {%- endset -%}
  {%- set finish_staging -%}
/* dbt post-hook export_to_postgres: key, index, comments */
set local maintenance_work_mem = '512MB';
alter table {{ q_staging }} add constraint {{ export_to_postgres__ident(pkey_staging) }} primary key ({{ export_to_postgres__ident_list(grain) }});
create index {{ export_to_postgres__ident(index_staging) }} on {{ q_staging }} ({{ export_to_postgres__ident(date_column) }});
{% if series_index -%}
create index {{ export_to_postgres__ident(series_index_staging) }} on {{ q_staging }} ({{ export_to_postgres__ident_list(window_by) }}, {{ export_to_postgres__ident(date_column) }} desc);
{% endif -%}
comment on table {{ q_staging }} is {{ export_to_postgres__literal(comment) }};
{% for col in model.columns.values() -%}
{%- set description = col.description -%}
{%- if description %}
comment on column {{ q_staging }}.{{ export_to_postgres__ident(col.name) }} is {{ export_to_postgres__literal(description) }};
{%- endif -%}
{%- endfor %}
analyze {{ q_staging }};
  {%- endset -%}

  {#- The swap: short, one transaction; lock_timeout so a stuck reader fails the export, not the app. -#}
  {%- set swap -%}
/* dbt post-hook export_to_postgres: swap */
set local lock_timeout = '60s';
drop table if exists {{ q_final }};
alter table {{ q_staging }} rename to {{ export_to_postgres__ident(target_table) }};
alter table {{ q_final }} rename constraint {{ export_to_postgres__ident(pkey_staging) }} to {{ export_to_postgres__ident(target_table ~ '_pkey') }};
alter index {{ q_schema }}.{{ export_to_postgres__ident(index_staging) }} rename to {{ export_to_postgres__ident(target_table ~ '_' ~ date_column ~ '_idx') }};
{% if series_index -%}
alter index {{ q_schema }}.{{ export_to_postgres__ident(series_index_staging) }} rename to {{ export_to_postgres__ident(target_table ~ '_series_idx') }};
{% endif -%}
  {%- endset -%}

  {%- call statement('export_to_postgres_attach', auto_begin=false) -%}
    load postgres;
    detach database if exists {{ alias }};
    attach 'application_name=''dbt post-hook export_to_postgres''' as {{ alias }} (type postgres)
  {%- endcall -%}
  {%- call statement('export_to_postgres_create', auto_begin=false) -%}
    call postgres_execute('{{ alias }}', {{ export_to_postgres__literal(create_staging) }})
  {%- endcall -%}
  {%- call statement('export_to_postgres_copy', fetch_result=true, auto_begin=false) -%}
    insert into {{ alias }}.{{ q_staging }} ({{ export_to_postgres__ident_list(names) }})
    select {{ select_list | join(', ') }}
    from {{ window_from }}
    {#- Rows arrive in key order: the primary key then builds from presorted input (about 2x faster). #}
    order by {% for col in grain %}{{ ', ' if not loop.first }}mart.{{ export_to_postgres__ident(col) }}{% endfor %}
  {%- endcall -%}
  {%- if window_by -%}
    {%- call statement('export_to_postgres_series_drop', auto_begin=false) -%}
      drop table if exists {{ series_table }}
    {%- endcall -%}
  {%- endif -%}
  {%- call statement('export_to_postgres_index', auto_begin=false) -%}
    call postgres_execute('{{ alias }}', {{ export_to_postgres__literal(finish_staging) }})
  {%- endcall -%}
  {%- call statement('export_to_postgres_swap', auto_begin=false) -%}
    call postgres_execute('{{ alias }}', {{ export_to_postgres__literal(swap) }})
  {%- endcall -%}
  {%- call statement('export_to_postgres_detach', auto_begin=false) -%}
    detach database if exists {{ alias }}
  {%- endcall -%}

  {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
  {{- log('export_to_postgres: wrote ' ~ bounds[0] ~ ' rows to Postgres ' ~ pg_schema ~ '.' ~ target_table ~ ' in ' ~ '%.2f' | format(seconds) ~ 's', info=true) -}}
  {{- return('') -}}
{% endmacro %}


{#- The second post-hook of the marts (in the model's transaction): on a target other than DuckDB, one
    log line saying the mart is not exported. dbt-spark runs in-transaction hooks only, so the export
    hook itself (transaction: false) never runs on Spark and cannot say it. Renders no SQL. -#}
{% macro export_to_postgres_off() %}
  {%- if execute and target.type != 'duckdb' -%}
    {{- log('export_to_postgres: the Postgres export runs on DuckDB targets only, so ' ~ this.identifier ~ ' is not exported (target ' ~ target.name ~ ', ' ~ target.type ~ ')', info=true) -}}
  {%- endif -%}
  {{- return('') -}}
{% endmacro %}


{#- on-run-start: one log line for the whole run when the export is off because PGHOST is not set
    (the post-hooks then skip in silence). Renders no SQL beyond `select 1`. -#}
{% macro export_to_postgres_announce() %}
  {%- if execute and target.type == 'duckdb' and flags.WHICH in ('build', 'run') and env_var('PGHOST', '') | trim == '' -%}
    {{- log('export_to_postgres: PGHOST is not set, so the Postgres export is off for this run', info=true) -}}
  {%- endif -%}
  select 1
{% endmacro %}


{#- on-run-end (first hook): detach every export's Postgres (an export that failed half-way leaves its
    database attached, and any query listing catalogs would then fail on it), and say in one line which
    marts' Postgres export failed, so the run reads as what it is: exit 1, "Postgres export failed". -#}
{% macro export_to_postgres_after_run(results) %}
  {%- if execute and target.type == 'duckdb' -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
      {%- do run_query('detach database if exists ' ~ export_to_postgres__ident('export_pg__' ~ node.alias)) -%}
    {%- endfor -%}
    {%- if env_var('PGHOST', '') | trim != '' -%}
      {%- set failed = [] -%}
      {%- set reasons = [] -%}
      {%- for result in results if result.status == 'error' and 'postgres' in (result.message or '') | lower -%}
        {%- do failed.append(result.node.name) -%}
        {%- do reasons.append((result.message or '').strip().splitlines() | first | default('')) -%}
      {%- endfor -%}
      {%- if failed -%}
        {{- log('export_to_postgres: Postgres export failed for ' ~ failed | join(', ') ~ ' (' ~ reasons | first
            ~ '); DuckDB keeps the marts this run built, Postgres keeps its previous windows', info=true) -}}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
  select 1
{% endmacro %}


{#- Window length: macro argument, else model meta export_window_days, else var export_window_days. -#}
{% macro export_to_postgres__window_days(window_days, meta) %}
  {%- set raw = window_days if window_days is not none else meta.get('export_window_days', var('export_window_days', 30)) -%}
  {%- set text = raw | string | trim -%}
  {%- if not binance_whole_number(text, 1, 36600) -%}
    {{- exceptions.raise_compiler_error('export_to_postgres: export_window_days must be a whole number of days from 1 to 36600 for ' ~ this.identifier ~ ', got ' ~ raw) -}}
  {%- endif -%}
  {{- return(text | int) -}}
{% endmacro %}


{#- The columns each series keeps its own window by: meta export_window_by ([] = one window for the
    whole model), else market and symbol when the model has both, else none. -#}
{% macro export_to_postgres__window_by(meta, names) %}
  {%- set raw = meta.get('export_window_by', none) -%}
  {%- if raw is none -%}
    {{- return(['market', 'symbol'] if 'market' in names and 'symbol' in names else []) -}}
  {%- endif -%}
  {%- set by = [raw] if raw is string else raw | list -%}
  {%- for col in by -%}
    {%- if col not in names -%}
      {{- exceptions.raise_compiler_error('export_to_postgres: ' ~ this.identifier ~ ' has no column ' ~ col ~ ' (meta export_window_by)') -}}
    {%- endif -%}
  {%- endfor -%}
  {{- return(by) -}}
{% endmacro %}


{#- Contract data_type -> the Postgres type it is exported as; anything else is an error naming the column. -#}
{% macro export_to_postgres__pg_type(table, column, data_type) %}
  {%- set t = data_type | lower | trim -%}
  {%- if t in ['varchar', 'text', 'string'] or t.startswith('varchar(') -%}
    {{- return('text') -}}
  {%- elif t == 'date' -%}
    {{- return('date') -}}
  {%- elif t.startswith('timestamp') -%}
    {{- return('timestamptz') -}}
  {%- elif t in ['double', 'float', 'real', 'float4', 'float8', 'double precision'] or t.startswith('decimal') or t.startswith('numeric') -%}
    {{- return('double precision') -}}
  {%- elif t in ['bigint', 'integer', 'int', 'smallint', 'tinyint', 'int4', 'int8'] -%}
    {{- return('bigint') -}}
  {%- elif t in ['boolean', 'bool'] -%}
    {{- return('boolean') -}}
  {%- endif -%}
  {{- exceptions.raise_compiler_error('export_to_postgres: column ' ~ column ~ ' of ' ~ table ~ ' has contract type ' ~ data_type ~ ', which the Postgres export does not map (date, timestamp, double, integer, varchar, boolean)') -}}
{% endmacro %}


{#- The DuckDB expression producing a column's value; naive timestamps are UTC (docs/lake.md, "Columns"). -#}
{% macro export_to_postgres__select_expr(column, pg_type) %}
  {%- set q = 'mart.' ~ export_to_postgres__ident(column) -%}
  {%- if pg_type == 'timestamptz' -%}
    {{- return('timezone(\'UTC\', cast(' ~ q ~ ' as timestamp))') -}}
  {%- endif -%}
  {%- set duck = {'text': 'varchar', 'date': 'date', 'double precision': 'double', 'bigint': 'bigint', 'boolean': 'boolean'}[pg_type] -%}
  {{- return('cast(' ~ q ~ ' as ' ~ duck ~ ')') -}}
{% endmacro %}


{% macro export_to_postgres__ident(name) %}
  {{- return('"' ~ (name | replace('"', '""')) ~ '"') -}}
{% endmacro %}


{% macro export_to_postgres__ident_list(names) %}
  {%- set quoted = [] -%}
  {%- for name in names -%}
    {%- do quoted.append(export_to_postgres__ident(name)) -%}
  {%- endfor -%}
  {{- return(quoted | join(', ')) -}}
{% endmacro %}


{#- A single-quoted SQL string literal (same rules in DuckDB and Postgres). -#}
{% macro export_to_postgres__literal(text) %}
  {{- return("'" ~ (text | replace("'", "''")) ~ "'") -}}
{% endmacro %}
