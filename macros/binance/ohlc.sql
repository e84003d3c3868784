{#- True when a candle or daily row is sane: positive finite prices, low <= open, close <= high and no
    negative volume or trade count. One definition for the intermediate model's count and the data test
    on daily rows. -#}
{% macro binance_ohlc_is_sane() -%}
    (
        low_price > 0
        and high_price < cast('infinity' as double)
        and low_price <= least(open_price, close_price)
        and greatest(open_price, close_price) <= high_price
        and base_volume >= 0
        and quote_volume >= 0
        and taker_buy_base_volume >= 0
        and taker_buy_quote_volume >= 0
        and trade_count >= 0
    )
{%- endmacro %}


{% macro binance_ln(value) -%}
    {#- ln(value), null unless value is positive and finite: a bad lake row (a negative, zero or
        infinite price) then makes a data test fail instead of the build crashing on "cannot take
        logarithm of a negative number". -#}
    ln(case when {{ value }} > 0 and {{ value }} < cast('infinity' as double) then {{ value }} end)
{%- endmacro %}


{% macro binance_sqrt(value) -%}
    {#- sqrt(value), null when value is negative (only possible from an insane candle) or NaN. -#}
    sqrt(case when {{ value }} >= 0 and {{ value }} <= cast('infinity' as double) then {{ value }} end)
{%- endmacro %}
