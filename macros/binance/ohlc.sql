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


{% macro binance_candles_disagreeing(aggregated, binance, time_column, binance_time) -%}
    {#- The reconciliation tests' query (daily vs Binance's 1d, hourly vs Binance's 1h): rows of
        `aggregated` (a mart's candles) whose Binance candle of the same market, symbol and time
        (`binance_time`, an expression on `binance`, equal to `aggregated`.`time_column`) disagrees:
        open, high, low, close and trade count exactly, volumes to 1e-9 relative; both versions. -#}
    {%- set exact = ['open_price', 'high_price', 'low_price', 'close_price', 'trade_count'] -%}
    {%- set volumes = ['base_volume', 'quote_volume', 'taker_buy_base_volume', 'taker_buy_quote_volume'] -%}
    select
        {{ aggregated }}.market,
        {{ aggregated }}.symbol,
        {{ aggregated }}.{{ time_column }},
        {{ aggregated }}.source_interval,
        {%- for column in exact + volumes %}
            {{ aggregated }}.{{ column }},
            {{ binance }}.{{ column }} as binance_{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ aggregated }}
    inner join {{ binance }}
        on
            {{ aggregated }}.market = {{ binance }}.market
            and {{ aggregated }}.symbol = {{ binance }}.symbol
            and {{ aggregated }}.{{ time_column }} = {{ binance_time }}
    where
        {%- for column in exact %}
            {{ 'or ' if not loop.first }}{{ aggregated }}.{{ column }} != {{ binance }}.{{ column }}
        {%- endfor %}
        {%- for volume in volumes %}
            or abs({{ aggregated }}.{{ volume }} - {{ binance }}.{{ volume }})
            > 1e-9 * greatest(abs({{ aggregated }}.{{ volume }}), abs({{ binance }}.{{ volume }}))
        {%- endfor %}
{%- endmacro %}
