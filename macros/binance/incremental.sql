{#- Which (market, symbol) series an incremental model must rebuild, and from which day.

    The models store `_built_at` (the run's start time) on every row they write, and the intermediate
    table also `_manifest_loaded_at` (the manifest's latest `loaded_at` when the run started). Upstream,
    archives with a `loaded_at` after the table's latest `_manifest_loaded_at` changed; downstream, the
    intermediate table's rows with a `_built_at` after the mart's latest `_built_at`. A series is rebuilt from the first day of the earliest archive (or upstream row) that changed
    after the model's last build, so adding a month rebuilds that month only, and an old archive that
    Binance replaced (and the loader reloaded) is picked up too. -#}

{% macro binance_built_at() -%}
    {{- return("'" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') ~ "+00:00'::timestamptz") -}}
{%- endmacro %}


{% macro binance_manifest_exists() -%}
    {%- set path = binance_lake_root() ~ '/binance/manifest/klines.parquet' -%}
    {%- set n = run_query("select count(*) from glob('" ~ path.replace("'", "''") ~ "')").columns[0].values()[0] -%}
    {{- return(n > 0) -}}
{%- endmacro %}


{% macro binance_manifest_watermark() -%}
    {#- The manifest's latest loaded_at, as a SQL literal (null without a manifest). Stored on the rows
        a run writes, it is the next run's "changed since": the loader's own clock on both sides, so a
        lake loaded on another machine (or pushed to R2 later than it was loaded) is compared fairly. -#}
    {%- if not graph.get('sources') or not binance_manifest_exists() -%}
        {#- (A unit test's graph has no sources: its inputs are fixtures.) -#}
        {{- return("null::timestamptz") -}}
    {%- endif -%}
    {%- set latest = run_query("select strftime(max(cast(loaded_at as timestamptz)), '%Y-%m-%d %H:%M:%S.%f') from "
        ~ binance_source('manifest')).columns[0].values()[0] -%}
    {{- return("null::timestamptz" if latest is none else "'" ~ latest ~ "+00:00'::timestamptz") -}}
{%- endmacro %}


{% macro binance_rows_to_scope(result) -%}
    {#- agate rows (market, symbol, rebuild_from) -> list of dicts, rebuild_from as 'YYYY-MM-DD'. -#}
    {%- set scope = [] -%}
    {%- for row in result.rows -%}
        {%- do scope.append({'market': row[0], 'symbol': row[1], 'rebuild_from': row[2] | string}) -%}
    {%- endfor -%}
    {{- return(scope) -}}
{%- endmacro %}


{% macro binance_scope_from_manifest(interval) -%}
    {#- Series whose archives of `interval` were (re)loaded after this model's last build. -#}
    {%- set query -%}
        with archives as (
            select
                case regexp_extract(url, '/data/(spot|futures/um|futures/cm)/', 1)
                    when 'spot' then 'spot' when 'futures/um' then 'um' when 'futures/cm' then 'cm'
                end as market,
                regexp_extract(url, '/klines/([^/]+)/([^/]+)/', 1) as symbol,
                regexp_extract(url, '/klines/([^/]+)/([^/]+)/', 2) as archive_interval,
                regexp_extract(url, '-([0-9]{4}-[0-9]{2}(-[0-9]{2})?)\.zip$', 1) as period,
                cast(loaded_at as timestamptz) as loaded_at
            from {{ binance_source('manifest') }}
        )
        select
            market,
            symbol,
            min(cast(case when length(period) = 7 then period || '-01' else period end as date))
        from archives
        where
            archive_interval = '{{ interval }}'
            and period != ''
            and loaded_at > (select coalesce(max(_manifest_loaded_at), '-infinity'::timestamptz) from {{ this }})
        group by market, symbol
        order by market, symbol
    {%- endset -%}
    {{- return(binance_rows_to_scope(run_query(query))) -}}
{%- endmacro %}


{% macro binance_scope_from_upstream(upstream) -%}
    {#- Series with rows in `upstream` written after this model's last build. -#}
    {%- set query -%}
        select market, symbol, min(trade_date)
        from {{ upstream }}
        where _built_at > (select coalesce(max(_built_at), '-infinity'::timestamptz) from {{ this }})
        group by market, symbol
        order by market, symbol
    {%- endset -%}
    {{- return(binance_rows_to_scope(run_query(query))) -}}
{%- endmacro %}


{% macro binance_scope_values(scope) -%}
    {#- The scope as a SQL relation (market, symbol, rebuild_from); empty (no rows) when nothing changed. -#}
    {%- if scope | length == 0 -%}
        (select null::varchar as market, null::varchar as symbol, null::date as rebuild_from where false)
    {%- else -%}
        (
            select * from (values
            {%- for s in scope %}
                ('{{ s.market }}', '{{ s.symbol }}', date '{{ s.rebuild_from }}'){{ ',' if not loop.last }}
            {%- endfor %}
            ) as scope (market, symbol, rebuild_from)
        )
    {%- endif -%}
{%- endmacro %}


{% macro binance_scope_min_date(scope) -%}
    {#- Earliest rebuild_from of the scope (a literal the Parquet scan can prune row groups with). -#}
    {%- if scope | length == 0 -%}
        {{- return("date '9999-12-31'") -}}
    {%- endif -%}
    {{- return("date '" ~ (scope | map(attribute='rebuild_from') | min) ~ "'") -}}
{%- endmacro %}
