{{ config(severity='warn') }}
{#- Warning: lake files whose size is not the one their manifest entry records (a loader killed between
    replacing the file and saving its new entry, a manifest that could not be saved, a file copied over
    by hand). The incremental models rebuild their series on every build until a loader records them
    again; this names them. -#}

with

archives as (

    select * from {{ ref('stg_binance__manifest') }}

),

final as (

    select
        lake_path,
        dataset,
        market,
        symbol,
        period,
        _file_size as file_size,
        loaded_at
    from archives
    where is_stale_record

)

select * from final
