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
