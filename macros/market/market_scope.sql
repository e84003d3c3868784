{#- Scopes of the market-wide models (docs/features.md#market-wide): what an incremental run rebuilds.
    The per-symbol mart uses binance_scope / binance_in_scope as every daily mart does; the models keyed
    by (market, quote_asset) get the same from market_group_changed / market_group_in_scope. -#}

{% macro market_lookback(scope, days) -%}
    {#- `scope` (binance_scope) with each series' rebuild_from moved `days` earlier: the rows a model
        reads to recompute the trailing windows of the days it writes. -#}
    {%- set changed -%}
        select
            lookback.market,
            lookback.symbol,
            lookback.{{ adapter.quote('interval') }},
            {{ binance_add_days('lookback.rebuild_from', -days) }} as rebuild_from
        from ({{ scope.changed }}) as lookback
    {%- endset -%}
    {{- return({
        'changed': changed,
        'watermark': scope.watermark,
        'floor': scope.floor,
        'by_interval': scope.by_interval,
        'lake': scope.lake,
    }) -}}
{%- endmacro %}


{% macro market_group_changed(upstream, symbols=none) -%}
    {#- One row per (market, quote_asset) to rebuild, from its earliest rebuild_from: the groups with
        rows in any of `upstream` written after this model's last build. No rows on a full build.
        `upstream`: relations with market, quote_asset, trade_date and _built_at; or, with `symbols`
        (dim_symbols), relations of symbol rows (market, symbol, trade_date, _built_at: the series of
        binance_upstream_changed), mapped to their symbol's group. Relations, not CTEs: a CTE the
        model reads twice is materialized whole, while a relation's scan keeps only the new rows. -#}
    {%- if not (execute and is_incremental()) -%}
        {%- set query -%}
            select
                cast(null as string) as market,
                cast(null as string) as quote_asset,
                cast(null as date) as rebuild_from
            where false
        {%- endset -%}
        {{- return(query) -}}
    {%- endif -%}
    {%- if symbols is not none -%}
        {%- set query -%}
            select
                changed_series.market,
                group_symbols.quote_asset,
                min(changed_series.rebuild_from) as rebuild_from
            from ({{ binance_upstream_changed(upstream) }}) as changed_series
            inner join {{ symbols }} as group_symbols
                on changed_series.market = group_symbols.market and changed_series.symbol = group_symbols.symbol
            group by changed_series.market, group_symbols.quote_asset
        {%- endset -%}
        {{- return(query) -}}
    {%- endif -%}
    {{- return(binance_upstream_changed(upstream, keys=['market', 'quote_asset'])) -}}
{%- endmacro %}


{% macro market_group_in_scope(changed, relation, date_column=none) -%}
    {#- A WHERE condition on `relation` (an alias with market and quote_asset): true on a full build; on
        an incremental one, the row's group is in `changed` (market_group_changed) and, with
        `date_column`, the row is on or after the group's rebuild_from. Correlated by equality only,
        so the engines hash-join it (as binance_in_scope). -#}
    {%- if not is_incremental() -%}
        true
    {%- else -%}
        {%- set same_group -%}
            changed.market = {{ relation }}.market and changed.quote_asset = {{ relation }}.quote_asset
        {%- endset -%}
        {%- if date_column is none -%}
            exists (select 1 from ({{ changed }}) as changed where {{ same_group }})
        {%- else -%}
            cast({{ relation }}.{{ date_column }} as date) >= (
                select min(changed.rebuild_from) from ({{ changed }}) as changed where {{ same_group }}
            )
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro market_regime_matches(thresholds, trend, volatility) -%}
    {#- Join condition: the regime_thresholds row whose trend and volatility bounds hold (lower bounds
        exclusive, upper inclusive, empty unbounded: the seed's boxes do not overlap), as
        fct_regime_features_daily classifies a symbol. -#}
    {{ trend }} is not null
    and {{ volatility }} is not null
    and ({{ thresholds }}.trend_30d_above is null or {{ trend }} > {{ thresholds }}.trend_30d_above)
    and ({{ thresholds }}.trend_30d_at_most is null or {{ trend }} <= {{ thresholds }}.trend_30d_at_most)
    and ({{ thresholds }}.volatility_30d_above is null or {{ volatility }} > {{ thresholds }}.volatility_30d_above)
    and (
        {{ thresholds }}.volatility_30d_at_most is null or {{ volatility }} <= {{ thresholds }}.volatility_30d_at_most
    )
{%- endmacro %}


{% macro market_since_floor(upstream, date_sql, days_back=0) -%}
    {#- A WHERE condition: `date_sql` is on or after the earliest trade_date of the rows of `upstream`
        (relations with trade_date and _built_at) written after this model's last build, `days_back`
        days earlier; true on a full build. A literal, read with one query, because the engines skip
        row groups by a literal bound only: without it an incremental run joins the inputs' whole
        history before the scope's semi-join drops most of it. -#}
    {%- if not (execute and is_incremental()) -%}
        true
    {%- else -%}
        {%- set query -%}
            select cast(min(trade_date) as string) from (
                {%- for relation in upstream %}
                    select cast(written.trade_date as date) as trade_date
                    from {{ relation }} as written
                    where written._built_at > (
                        select coalesce(max(built._built_at), {{ binance_timestamp_literal('1970-01-01') }})
                        from {{ this }} as built
                    )
                    {%- if not loop.last %}
                        union all
                    {%- endif %}
                {%- endfor %}
            ) as changed_rows
        {%- endset -%}
        {%- set earliest = run_query(query).columns[0].values()[0] -%}
        {{ date_sql }} >= {{ binance_add_days(
            'cast(' ~ binance_literal((earliest or '9999-12-31')[:10]) ~ ' as date)', -days_back
        ) }}
    {%- endif -%}
{%- endmacro %}
