{#- Which series an incremental model must rebuild, and from which day (docs/building.md#incremental-builds).

    A model gets its scope in one line, `{%- set scope = binance_scope(...) %}`, and filters its reads
    with `binance_in_scope(scope, ...)`. The scope is SQL (the series to rebuild as a relation, merged
    in SQL), so nothing is copied from the warehouse into the model's text: one query per lake model
    reads the earliest day to rebuild, the literal the lake reads are bounded by.

    The intermediate models reading the lake store `_manifest_loaded_at` on every row they write: the
    latest manifest `loaded_at` of their datasets (the loader stamps entries under the manifest lock,
    strictly increasing, so an entry can never appear later with an older stamp). Archives with a later
    stamp, and lake files no manifest records yet, are what changed. The models reading other models
    store `_built_at` (the run's start) and rebuild what their upstream rewrote after their own latest
    `_built_at`. A series is rebuilt from the first day of the earliest change, so adding a month
    rebuilds that month only, and an old archive Binance replaced (and the loader reloaded) is picked up
    too. How a run writes its rows (delete+insert on DuckDB, partition overwrite on Spark) is
    binance_incremental_config and binance_incremental_select (incremental_write.sql). -#}

{% macro binance_built_at() -%}
    {{- return(binance_timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f'))) -}}
{%- endmacro %}


{% macro binance_scope(datasets=none, upstream=none, interval=none) -%}
    {#- The scope of an incremental model: what it rebuilds. One of

            {%- set scope = binance_scope(datasets=['fundingRate']) %}                  a model reading the lake
            {%- set scope = binance_scope(datasets=['klines'], interval='1h') %}        ... one interval of it
            {%- set scope = binance_scope(upstream=[ref('int_binance__funding_daily')]) %}   reading models

        `datasets`: the lake datasets the model reads; their archives that changed since the model's
        last build (binance_lake_changed). `interval`: only that interval's archives, and the table must
        have been built from it (a switch needs a full refresh). `upstream`: relations (a ref() or a CTE
        of the model) with market, symbol, trade_date and _built_at; their rows written after this
        model's last build (binance_upstream_changed). A lake scope calls ref('stg_binance__manifest')
        whatever the run, so dbt knows the model reads it (no `-- depends_on` comment).

        Returns a dict:
        - changed: a SQL query, one row per series to rebuild (market, symbol, interval, rebuild_from a
          date), the changes of every source merged in SQL: a series once, from its earliest change.
          `interval` is the archives' ('' for datasets without one), null for an upstream scope. No rows
          on a full build.
        - watermark: a lake scope's SQL expression for the column `_manifest_loaded_at`: the latest
          loaded_at of `datasets` in this build's manifest (a table read once per build, so the changes
          are bounded by it: what arrives later is the next run's).
        - floor: a lake scope's earliest rebuild_from ('YYYY-MM-DD'; '9999-12-31' when nothing
          changed) on an incremental run, else none: one query, because DuckDB and Spark prune
          partition folders and Parquet row groups only by a literal.
        - by_interval: the series are keyed by interval too (kline-format datasets, named *klines).
        - lake: a lake scope (its reads are staging views with lake_month). -#}
    {%- if (datasets is none) == (upstream is none) -%}
        {{- binance_fail('binance_scope: give either datasets or upstream') -}}
    {%- endif -%}
    {%- set incremental = execute and is_incremental() -%}
    {%- if upstream is not none -%}
        {{- return({
            'changed': binance_upstream_changed(upstream) if incremental else binance_no_changes(),
            'watermark': none,
            'floor': none,
            'by_interval': false,
            'lake': false,
        }) -}}
    {%- endif -%}
    {%- set manifest = ref('stg_binance__manifest') -%}
    {%- if interval is not none -%}
        {%- do binance_assert_built_from(interval) -%}
    {%- endif -%}
    {%- set changed = binance_lake_changed(manifest, datasets, interval) if incremental
        else binance_no_changes() -%}
    {%- set floor = none -%}
    {%- if incremental -%}
        {%- set earliest = run_query(
            'select cast(min(rebuild_from) as string) from (' ~ changed ~ ') as changed'
        ).columns[0].values()[0] -%}
        {%- set floor = (earliest or '9999-12-31')[:10] -%}
    {%- endif -%}
    {#- Kline-format datasets (klines, markPriceKlines, ...) have an interval in their paths. -#}
    {%- set kline_format = [] -%}
    {%- for dataset in datasets if (dataset | lower).endswith('klines') -%}
        {%- do kline_format.append(dataset) -%}
    {%- endfor -%}
    {%- set watermark -%}
        cast((
            select max(manifest.loaded_at) from {{ manifest }} as manifest
            where manifest.dataset in ({{ binance_literals(datasets) }})
        ) as {{ binance_timestamp_type() }})
    {%- endset -%}
    {{- return({
        'changed': changed,
        'watermark': watermark,
        'floor': floor,
        'by_interval': kline_format | length == datasets | length,
        'lake': true,
    }) -}}
{%- endmacro %}


{% macro binance_lake_changed(manifest, datasets, interval) -%}
    {#- Series of `datasets` (and `interval`) whose archives entered the manifest after this model's last
        build, whose lake files no manifest records or are not the size their entry records, or whose
        files were modified after both their entry was saved and this model's last build began (a file
        replaced while its entry was not saved, same size or a manifest without sizes: a build never
        stays green on content it did not read). A loader saves an entry after its file is in place, so
        a file time (whole seconds on DuckDB, rounded down) is never later than its own entry's
        loaded_at; a lake copied without its file times is rebuilt once. -#}
    {%- set epoch = binance_timestamp_literal('1970-01-01') -%}
    {%- set quoted_interval = adapter.quote('interval') -%}
    {%- set query -%}
        select
            archives.market,
            archives.symbol,
            archives.{{ quoted_interval }},
            min(archives.period_start) as rebuild_from
        from {{ manifest }} as archives
        where
            archives.dataset in ({{ binance_literals(datasets) }})
            {%- if interval is not none %}
                and archives.{{ quoted_interval }} = {{ binance_literal(interval) }}
            {%- endif %}
            and (
                not archives.is_recorded
                or archives.is_stale_record
                or archives.loaded_at > (
                    select coalesce(max(built._manifest_loaded_at), {{ epoch }}) from {{ this }} as built
                )
                or (
                    archives._file_modified_at > archives.loaded_at
                    and archives._file_modified_at > (
                        select coalesce(max(built._built_at), {{ epoch }}) from {{ this }} as built
                    )
                )
            )
        group by archives.market, archives.symbol, archives.{{ quoted_interval }}
    {%- endset -%}
    {{- return(query) -}}
{%- endmacro %}


{% macro binance_upstream_changed(upstream, keys=['market', 'symbol']) -%}
    {#- The `keys` (series by default; e.g. market, quote_asset for market-wide groups) with rows in any
        of `upstream` written after this model's last build, from the earliest such trade_date. Series
        carry a null interval: the shape of scope.changed. -#}
    {%- set series = keys == ['market', 'symbol'] -%}
    {%- set query -%}
        select
            {%- for key in keys %}
                upstream_rows.{{ key }},
            {%- endfor %}
            {%- if series %}
                cast(null as string) as {{ adapter.quote('interval') }},
            {%- endif %}
            min(upstream_rows.trade_date) as rebuild_from
        from (
            {%- for relation in upstream %}
                select
                    {%- for key in keys %}
                        written.{{ key }},
                    {%- endfor %}
                    cast(written.trade_date as date) as trade_date
                from {{ relation }} as written
                where written._built_at > (
                    select coalesce(max(built._built_at), {{ binance_timestamp_literal('1970-01-01') }})
                    from {{ this }} as built
                )
                {%- if not loop.last %}
                    union all
                {%- endif %}
            {%- endfor %}
        ) as upstream_rows
        group by {% for key in keys %}upstream_rows.{{ key }}{% if not loop.last %}, {% endif %}{% endfor %}
    {%- endset -%}
    {{- return(query) -}}
{%- endmacro %}


{% macro binance_no_changes() -%}
    {#- The scope's relation on a full build: no rows (everything is built). -#}
    {%- set query -%}
        select
            cast(null as string) as market,
            cast(null as string) as symbol,
            cast(null as string) as {{ adapter.quote('interval') }},
            cast(null as date) as rebuild_from
        where false
    {%- endset -%}
    {{- return(query) -}}
{%- endmacro %}


{% macro binance_in_scope(scope, relation, date_column=none, days_before=0) -%}
    {#- A WHERE condition on `relation` (an alias with market and symbol columns, and interval when the
        scope is by interval): true on a full build; on an incremental one, the row's series is in the
        scope and (with `date_column`, a date or timestamp column) the row is on or after its
        rebuild_from. On a lake scope `relation` is a staging view: the literal floor bounds its
        lake_month (the Hive partition: whole files skipped by their path; a bound on the row time alone
        still opens every file's footer, 25 s instead of 4 s over 219k metrics files) and the row time
        (the Parquet scan skips older row groups). The subqueries are correlated by equality only, so
        DuckDB hash-joins them: an EXISTS that also held the date range ran as a nested loop, 5-10x
        slower on every candle read (benchmarks/bench_dbt.py). `days_before` (upstream scopes): also the
        days before rebuild_from that trailing windows of the rebuilt rows reach back to. -#}
    {%- if not is_incremental() -%}
        true
    {%- else -%}
        {%- set same_series -%}
            changed.market = {{ relation }}.market
            and changed.symbol = {{ relation }}.symbol
            {%- if scope.by_interval %}
                and changed.{{ adapter.quote('interval') }} = {{ relation }}.{{ adapter.quote('interval') }}
            {%- endif %}
        {%- endset -%}
        {%- if date_column is none -%}
            exists (select 1 from ({{ scope.changed }}) as changed where {{ same_series }})
        {%- else -%}
            {%- if scope.lake and scope.floor is not none -%}
                {{ relation }}.{{ date_column }} >= {{ binance_timestamp_literal(scope.floor) }}
                and {{ relation }}.lake_month >= {{ binance_literal(scope.floor[:7]) }}
                and
            {% endif -%}
            {%- set rebuild_from -%}
                (
                    select min(changed.rebuild_from)
                    from ({{ scope.changed }}) as changed
                    where {{ same_series }}
                )
            {%- endset -%}
            cast({{ relation }}.{{ date_column }} as date) >= {{
                rebuild_from if days_before == 0 else binance_add_days(rebuild_from, -days_before) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro binance_assert_built_from(source_interval) -%}
    {#- An incremental table aggregated from one interval cannot switch interval without a full refresh. -#}
    {%- if execute and is_incremental() -%}
        {%- set built_from = run_query("select distinct source_interval from " ~ this).columns[0].values() -%}
        {%- if built_from | reject('equalto', source_interval) | list | length > 0 -%}
            {{- exceptions.raise_compiler_error(
                this ~ " was built from " ~ (built_from | join(', ')) ~ " candles, "
                ~ ("hourly_source_interval" if "hourly" in this.identifier else "daily_source_interval") ~ " is now "
                ~ source_interval ~ ": run `dbt build --full-refresh` to rebuild it") -}}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro binance_literals(values) -%}
    {#- A comma-separated list of SQL literals (binance_literal), for `in (...)`. -#}
    {%- set out = [] -%}
    {%- for value in values -%}
        {%- do out.append(binance_literal(value)) -%}
    {%- endfor -%}
    {{- return(out | join(', ')) -}}
{%- endmacro %}
