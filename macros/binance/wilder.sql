{% macro binance_wilder_average(value, period, step='day_in_segment', partition_by='market, symbol, segment_id') -%}
    {#- Wilder's average of `value` over runs of consecutive rows (one run per `partition_by`; `step` is
        the row's position in its run, 0 = the first row, whose input is null): avg_j = (avg_{j-1} (n - 1)
        + x_j) / n, seeded at j = n with the mean of x_1..x_n (TA-Lib's RSI and ATR); null before j = n.
        It has the exact closed form
          avg_j = q^(j - n) * (seed + sum_{k = n+1..j} x_k * q^-(k - n) / n),  q = (n - 1) / n,
        a running sum instead of a recursion. For inputs >= 0 the sum has no cancellation (exponents stay
        finite for runs of up to ~9,000 rows). -#}
    {%- set n = period -%}
    {%- set seed_window = 'over (partition by ' ~ partition_by ~ ')' -%}
    {%- set seed_input = 'case when ' ~ step ~ ' between 1 and ' ~ n ~ ' then ' ~ value ~ ' end' -%}
    case
        when {{ step }} >= {{ n }} and count({{ seed_input }}) {{ seed_window }} = {{ n }}
            then
                pow(({{ n }} - 1) / {{ n }}, {{ step }} - {{ n }})
                * (
                    avg({{ seed_input }}) {{ seed_window }}
                    + coalesce(
                        sum(case when {{ step }} > {{ n }} then {{ value }} * pow({{ n }} / ({{ n }} - 1), {{ step }} - {{ n }}) end)
                            over (
                                partition by {{ partition_by }} order by {{ step }}
                                rows between unbounded preceding and current row
                            ),
                        0
                    ) / {{ n }}
                )
    end
{%- endmacro %}


{% macro binance_wilder_grid_columns(unit_number, half_grid, partition_by='market, symbol, segment_id') -%}
    {#- The columns binance_wilder_average_long needs, for a model with runs of consecutive units (hours)
        longer than the closed form's ~9,000 rows: two grids of chunks of 2 * half_grid units, the second
        shifted by half_grid. Each chunk restarts the average; every row lies at least half_grid units
        into its chunk on one grid (wilder_on_grid_a says which), where the restart's weight
        ((n - 1) / n)^half_grid has vanished (< 1e-23 for n = 14, half_grid = 720): exact to double
        precision, with exponents that stay small, and a row depends only on the 2 * half_grid units
        before it (an incremental run reads that much history, not the whole series). -#}
    {%- set width = 2 * half_grid -%}
    {%- set chunk_a = 'cast(floor(' ~ unit_number ~ ' / ' ~ width ~ ') as bigint)' -%}
    {%- set chunk_b = 'cast(floor((' ~ unit_number ~ ' + ' ~ half_grid ~ ') / ' ~ width ~ ') as bigint)' -%}
    {{ chunk_a }} as wilder_chunk_a,
    {{ chunk_b }} as wilder_chunk_b,
    row_number() over (partition by {{ partition_by }}, {{ chunk_a }} order by {{ unit_number }}) - 1
        as wilder_step_a,
    row_number() over (partition by {{ partition_by }}, {{ chunk_b }} order by {{ unit_number }}) - 1
        as wilder_step_b,
    {{ unit_number }} - {{ chunk_a }} * {{ width }} >= {{ half_grid }} as wilder_on_grid_a
{%- endmacro %}


{% macro binance_wilder_average_long(value, period, partition_by='market, symbol, segment_id') -%}
    {#- binance_wilder_average over runs of any length, from the columns of binance_wilder_grid_columns:
        each row takes the average of the grid on which it lies at least half_grid units into its chunk
        (or whose chunk starts where its run starts: then exact by definition). -#}
    case
        when wilder_on_grid_a
            then {{ binance_wilder_average(value, period, 'wilder_step_a', partition_by ~ ', wilder_chunk_a') }}
        else {{ binance_wilder_average(value, period, 'wilder_step_b', partition_by ~ ', wilder_chunk_b') }}
    end
{%- endmacro %}
