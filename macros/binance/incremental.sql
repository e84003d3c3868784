{#- Which series an incremental model must rebuild, and from which day.

    The intermediate models store `_manifest_loaded_at` on every row they write: the latest manifest
    `loaded_at` of their datasets when the run started (the loader stamps entries under the manifest
    lock, strictly increasing, so an entry can never appear later with an older stamp). Archives with a
    later stamp, and lake files no manifest records yet, are what changed. The marts store `_built_at`
    (the run's start) and rebuild what their upstream rewrote after their own latest `_built_at`. A
    series is rebuilt from the first day of the earliest change, so adding a month rebuilds that month
    only, and an old archive Binance replaced (and the loader reloaded) is picked up too. How a run
    writes its rows (delete+insert on DuckDB, partition overwrite on Spark) is in portable.sql
    (binance_incremental_config, binance_incremental_select). -#}

{% macro binance_built_at() -%}
    {{- return(binance_timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f'))) -}}
{%- endmacro %}


{% macro binance_manifest_watermark(datasets) -%}
    {#- The latest manifest loaded_at of `datasets` as a SQL literal ("null" without one). Read before the
        scope, which is then bounded by it: what arrives in between is the next run's. -#}
    {%- if not execute or not graph.get('sources') or load_relation(ref('stg_binance__manifest')) is none -%}
        {#- (A unit test's graph has no sources: its inputs are fixtures. `dbt compile` or sqlfluff on a
            fresh warehouse has no manifest view yet; a build always creates it first.) -#}
        {{- return(binance_timestamp_literal(none)) -}}
    {%- endif -%}
    {%- set latest = run_query("select cast(max(loaded_at) as string) from " ~ ref('stg_binance__manifest')
        ~ " where dataset in (" ~ binance_literals(datasets) ~ ")").columns[0].values()[0] -%}
    {{- return(binance_timestamp_literal(latest)) -}}
{%- endmacro %}


{% macro binance_rows_to_scope(result) -%}
    {#- agate rows (market, symbol, rebuild_from[, interval]) -> list of dicts, rebuild_from as
        'YYYY-MM-DD'. -#}
    {%- set scope = [] -%}
    {%- for row in result.rows -%}
        {%- set entry = {'market': row[0], 'symbol': row[1], 'rebuild_from': row[2] | string} -%}
        {%- if row | length > 3 -%}
            {%- do entry.update({'interval': row[3]}) -%}
        {%- endif -%}
        {%- do scope.append(entry) -%}
    {%- endfor -%}
    {{- return(scope) -}}
{%- endmacro %}


{% macro binance_lake_changes(datasets, interval=none) -%}
    {#- What an incremental model reading the lake rebuilds, as [scope, watermark]: the series whose
        archives of `datasets` (of `interval`, when given) changed since the model's last build (none on
        a full build: binance_in_scope is then true), and the manifest's latest loaded_at, which the
        model stores as _manifest_loaded_at for the next run. A table aggregated from one interval cannot
        switch to another without a full refresh. -#}
    {%- set watermark = binance_manifest_watermark(datasets) if execute else 'null' -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return([[], watermark]) -}}
    {%- endif -%}
    {%- if interval is not none -%}
        {%- do binance_assert_built_from(interval) -%}
    {%- endif -%}
    {{- return([binance_changed_series(datasets, watermark, interval=interval), watermark]) -}}
{%- endmacro %}


{% macro binance_changed_series(datasets, watermark, interval=none, by_interval=false) -%}
    {#- Series of `datasets` (and `interval`) whose archives entered the manifest after this model's
        last build and at or before `watermark`, whose lake files no manifest records or are not the
        size their entry records, or whose files were modified after both their entry was saved and
        this model's last build began (a file replaced while its entry was not saved, same size or a
        manifest without sizes: a build never stays green on content it did not read): (market,
        symbol, first day to rebuild[, interval when by_interval]). A loader saves an entry after its
        file is in place, so a file time (whole seconds on DuckDB, rounded down) is never later than
        its own entry's loaded_at; a lake copied without its file times is rebuilt once. -#}
    {%- set last_build -%}
        (select coalesce(max(_built_at), {{ binance_timestamp_literal('1970-01-01') }}) from {{ this }})
    {%- endset -%}
    {%- set query -%}
        select market, symbol, min(period_start){{ ', ' ~ adapter.quote('interval') if by_interval }}
        from {{ ref('stg_binance__manifest') }}
        where
            dataset in ({{ binance_literals(datasets) }})
            {%- if interval is not none %}
                and {{ adapter.quote('interval') }} = {{ binance_literal(interval) }}
            {%- endif %}
            and (
                not is_recorded
                or is_stale_record
                or (
                    loaded_at > (
                        select coalesce(max(_manifest_loaded_at), {{ binance_timestamp_literal('1970-01-01') }})
                        from {{ this }}
                    )
                    and loaded_at <= {{ watermark }}
                )
                or (_file_modified_at > loaded_at and _file_modified_at > {{ last_build }})
            )
        group by market, symbol{{ ', ' ~ adapter.quote('interval') if by_interval }}
        order by market, symbol
    {%- endset -%}
    {{- return(binance_rows_to_scope(run_query(query))) -}}
{%- endmacro %}


{% macro binance_literals(values) -%}
    {#- A comma-separated list of SQL literals (binance_literal), for `in (...)`. -#}
    {%- set out = [] -%}
    {%- for value in values -%}
        {%- do out.append(binance_literal(value)) -%}
    {%- endfor -%}
    {{- return(out | join(', ')) -}}
{%- endmacro %}


{% macro binance_changed_upstream(upstream, date_column='trade_date') -%}
    {#- Series with rows in `upstream` written after this model's last build. -#}
    {%- set query -%}
        select market, symbol, min({{ date_column }})
        from {{ upstream }}
        where _built_at > (select coalesce(max(_built_at), {{ binance_timestamp_literal('1970-01-01') }}) from {{ this }})
        group by market, symbol
        order by market, symbol
    {%- endset -%}
    {{- return(binance_rows_to_scope(run_query(query))) -}}
{%- endmacro %}


{% macro binance_scope_values(scope) -%}
    {#- The scope as a SQL relation (market, symbol, rebuild_from, interval); no rows when nothing
        changed. `interval` is null unless the scope is per interval. -#}
    {%- if scope | length == 0 -%}
        (
            select
                cast(null as string) as market,
                cast(null as string) as symbol,
                cast(null as date) as rebuild_from,
                cast(null as string) as {{ adapter.quote('interval') }}
            where false
        )
    {%- else -%}
        (
            select * from (values
            {%- for s in scope %}
                ({{ binance_literal(s.market) }}, {{ binance_literal(s.symbol) }}, cast({{ binance_literal(s.rebuild_from) }} as date),
                {{ binance_literal(s.interval) if s.interval is defined else 'cast(null as string)' }}){{ ',' if not loop.last }}
            {%- endfor %}
            ) as scope (market, symbol, rebuild_from, {{ adapter.quote('interval') }})
        )
    {%- endif -%}
{%- endmacro %}


{% macro binance_in_scope(scope, relation, date_column=none, from_lake=false) -%}
    {#- A WHERE condition on `relation` (an alias with market and symbol columns): true on a full build;
        on an incremental one, the row's series is in `scope` and (with `date_column`, a date or
        timestamp column) the row is on or after its rebuild_from; `from_lake` when `relation` is a
        staging view, whose lake_month then bounds the files read. The subqueries are correlated by
        equality only, so DuckDB hash-joins them: an EXISTS that also held the date range ran as a
        nested loop, 5-10x slower on every candle read (benchmarks/bench_dbt.py). -#}
    {%- if not is_incremental() -%}
        true
    {%- else -%}
        {%- set same_series -%}
            scope.market = {{ relation }}.market
            and scope.symbol = {{ relation }}.symbol
            {%- if scope | selectattr('interval', 'defined') | list | length > 0 %}
                and scope.{{ adapter.quote('interval') }} = {{ relation }}.{{ adapter.quote('interval') }}
            {%- endif %}
        {%- endset -%}
        {%- if date_column is none -%}
            exists (select 1 from {{ binance_scope_values(scope) }} as scope where {{ same_series }})
        {%- else -%}
            {#- The earliest rebuilt day as a literal too: the Parquet scan skips older row groups. -#}
            {{ relation }}.{{ date_column }} >= {{ binance_scope_min_date(scope) }}
            {%- if from_lake %}
                and {{ relation }}.lake_month >= {{ binance_literal(binance_scope_min_month(scope)) }}
            {%- endif %}
            and cast({{ relation }}.{{ date_column }} as date) >= (
                select max(scope.rebuild_from)
                from {{ binance_scope_values(scope) }} as scope
                where {{ same_series }}
            )
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro binance_scope_min_date(scope) -%}
    {#- Earliest rebuild_from of the scope as a timestamp literal, or the epoch on a full build: a literal
        the Parquet scan can prune row groups with. -#}
    {%- if not is_incremental() -%}
        {{- return(binance_timestamp_literal('1970-01-01')) -}}
    {%- elif scope | length == 0 -%}
        {{- return(binance_timestamp_literal('9999-12-31')) -}}
    {%- endif -%}
    {{- return(binance_timestamp_literal(scope | map(attribute='rebuild_from') | min)) -}}
{%- endmacro %}


{% macro binance_scope_min_month(scope) -%}
    {#- The lake month (YYYY-MM) of the scope's earliest rebuild_from: a bound on the staging views'
        lake_month, the Hive partition, which skips whole files by their path (a bound on the row time
        alone still opens every file's footer: 25 s instead of 4 s over 219k metrics files). -#}
    {%- if scope | length == 0 -%}
        {{- return('9999-12') -}}
    {%- endif -%}
    {{- return((scope | map(attribute='rebuild_from') | min | string)[:7]) -}}
{%- endmacro %}


{% macro binance_assert_built_from(source_interval) -%}
    {#- An incremental table aggregated from one interval cannot switch interval without a full refresh. -#}
    {%- if execute and is_incremental() -%}
        {%- set built_from = run_query("select distinct source_interval from " ~ this).columns[0].values() -%}
        {%- if built_from | reject('equalto', source_interval) | list | length > 0 -%}
            {{- exceptions.raise_compiler_error(
                this ~ " was built from " ~ (built_from | join(', ')) ~ " candles, daily_source_interval is now "
                ~ source_interval ~ ": run `dbt build --full-refresh` to rebuild it") -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro binance_merge_scopes(scopes) -%}
    {#- The union of several scopes: each series once, from its earliest rebuild_from. -#}
    {%- set earliest = {} -%}
    {%- for scope in scopes -%}
        {%- for s in scope -%}
            {%- set key = s.market ~ '|' ~ s.symbol -%}
            {%- if key not in earliest or s.rebuild_from < earliest[key].rebuild_from -%}
                {%- do earliest.update({key: s}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(earliest.values() | sort(attribute='market') | list) -}}
{%- endmacro %}


{% macro binance_regime_markets_of(derivatives_scope) -%}
    {#- The regime rows a futures series feeds: um futures feed the spot and um rows of the symbol, cm
        futures the cm rows (binance_derivatives_markets). -#}
    {%- set out = [] -%}
    {%- set feeds = binance_derivatives_markets() -%}
    {%- for s in derivatives_scope -%}
        {%- for market in feeds if feeds[market] == s.market -%}
            {%- do out.append({'market': market, 'symbol': s.symbol, 'rebuild_from': s.rebuild_from}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{- return(out) -}}
{%- endmacro %}
