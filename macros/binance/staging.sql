{#- Staging of the kline-format datasets (klines, mark/index/premium price klines): one definition. -#}

{% macro binance_overlapping_files(table_name) -%}
    {#- Lake files that may share keys with another file: those of a partition (one month of one series)
        holding more than one file of which at least one is not a daily archive (YYYY-MM-DD), i.e. a
        monthly file next to daily ones (a crash between writing one and removing the others; loaders
        never leave that state while a build reads the lake). Daily files never overlap each other and
        the loader keeps every file unique on its key, so only these files' rows can be duplicates.
        Names only (binance_lake_files), no file is opened. Used as an inline subquery, not a CTE: DuckDB
        materialises a CTE used twice, which stops it from pruning unread Parquet columns. -#}
    {%- set folder = "regexp_extract(lake_files.file, '^(.*)/[^/]*$', 1)" %}
    (
        select listed.file
        from (
            select
                lake_files.file,
                count(*) over (partition by {{ folder }}) as files_in_partition,
                sum(
                    case
                        when regexp_extract(lake_files.file, '-[0-9]{4}-[0-9]{2}-[0-9]{2}[.]parquet$', 0) = ''
                            then 1
                        else 0
                    end
                ) over (partition by {{ folder }}) as non_daily_files_in_partition
            from {{ binance_lake_files(table_name) }} as lake_files
        ) as listed
        where listed.files_in_partition > 1 and listed.non_daily_files_in_partition > 0
    )
{%- endmacro %}


{% macro binance_stage_klines(table_name) -%}
    {#- Every candle of a kline-format dataset, renamed and unique on (market, symbol, interval, open_at). -#}
    {%- set renamed -%}
        market,
        {{ adapter.quote('interval') }},
        symbol,
        open_time as open_at,
        close_time as close_at,
        open as open_price,
        high as high_price,
        low as low_price,
        close as close_price,
        volume as base_volume,
        quote_volume,
        taker_buy_base_volume,
        taker_buy_quote_volume,
        trade_count
    {%- endset -%}
    {{- binance_stage_deduplicated(
        table_name, renamed, ['market', 'symbol', adapter.quote('interval'), 'open_time'], 'trade_count desc'
    ) -}}
{%- endmacro %}


{% macro binance_stage_deduplicated(table_name, renamed, key, tiebreak) -%}
    {#- A staging view unique on `key`: rows of overlapping files (see binance_overlapping_files) go
        through a deduplicating window, the monthly file's row winning (its name is the shortest), then
        `tiebreak`; all other rows are unique already, which keeps the view free of a sort of every row. -#}

with

unique_rows as (

    select
        {{ renamed }},
        {{ adapter.quote('month') }} as lake_month
    from {{ binance_source(table_name) }}
    where filename not in {{ binance_overlapping_files(table_name) }}

),

deduplicated_rows as (

    select
        {{ renamed }},
        {{ adapter.quote('month') }} as lake_month
    from (
        select
            overlapping.*,
            row_number() over (
                partition by {{ key | join(', ') }}
                order by length(filename), {{ tiebreak }}
            ) as row_rank
        from {{ binance_source(table_name) }} as overlapping
        where filename in {{ binance_overlapping_files(table_name) }}
    ) as ranked
    where row_rank = 1

),

final as (

    select * from unique_rows
    union all
    select * from deduplicated_rows

)

select * from final
{%- endmacro %}
