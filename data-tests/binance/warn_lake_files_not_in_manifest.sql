{{ config(severity='warn') }}
{#- Warning: lake files no manifest records (a loader killed between writing a file and saving its
    manifest, or a lake copied by hand). The incremental models rebuild their series on every build
    until a loader run records them; this lists them so they are never silently ignored. -#}

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
        period
    from archives
    where not is_recorded

)

select * from final
