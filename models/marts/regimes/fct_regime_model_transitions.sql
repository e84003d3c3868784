{#- Grain: one row per fit_id, from_state and to_state: the fitted transition matrix,
    Pr(state tomorrow = to_state | state today = from_state) (docs/regimes.md). -#}

with

fits as (

    select * from {{ ref('int_regime__fits') }}

),

cells as (

    select
        fits.fit_id,
        fits.n_states,
        fits.transitions,
        unnest(range(fits.n_states * fits.n_states)) as cell
    from fits

),

final as (

    select
        fit_id,
        cell // n_states as from_state,
        cell % n_states as to_state,
        transitions[cell + 1] as probability,
        {{ binance_built_at() }} as _built_at
    from cells

)

select * from final
