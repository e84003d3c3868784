{#- One row per candle of the lake, renamed to the warehouse's vocabulary and unique on
    (market, symbol, interval, open_at). The source is read through binance_source(), so the lake path
    stored in this view is absolute. -#}
-- depends_on: {{ source('binance', 'klines') }}

{#- Lake files that may share open_times with another file: those of a partition (one month of one
    series) holding more than one file of which at least one is not a daily archive (YYYY-MM-DD), i.e.
    a monthly file next to daily ones (a crash between writing one and removing the others). Daily
    files never overlap each other and the loader keeps every file unique on open_time, so only these
    files' rows can be duplicates, and only they go through the deduplicating window: the view never
    sorts every candle. Names only (glob), no file is opened. Used as an inline subquery, not a CTE:
    DuckDB materialises a CTE used twice, which stops it from pruning unread Parquet columns. -#}
{%- set overlapping_files -%}
    (
        select listed.file
        from (
            select
                file,
                count(*) over (partition by parse_dirpath(file)) as files_in_partition,
                count(*) filter (
                    where not regexp_matches(file, '-[0-9]{4}-[0-9]{2}-[0-9]{2}\.parquet$')
                ) over (partition by parse_dirpath(file)) as non_daily_files_in_partition
            from glob('{{ binance_klines_glob().replace("'", "''") }}')
        ) as listed
        where listed.files_in_partition > 1 and listed.non_daily_files_in_partition > 0
    )
{%- endset -%}

{%- set renamed_columns -%}
        market,
        "interval",
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
{%- endset %}

with

unique_rows as (

    -- Rows of files that overlap no other file: unique already.
    select {{ renamed_columns }}
    from {{ binance_source('klines') }}
    where filename not in {{ overlapping_files }}

),

deduplicated_rows as (

    -- Among duplicates the monthly file's row wins (its name is the shortest), then more trades.
    select {{ renamed_columns }}
    from {{ binance_source('klines') }}
    where filename in {{ overlapping_files }}
    qualify row_number() over (
        partition by market, symbol, "interval", open_time
        order by length(filename), trade_count desc
    ) = 1

),

final as (

    select * from unique_rows
    union all
    select * from deduplicated_rows

)

select * from final
