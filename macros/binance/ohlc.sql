{#- True when a candle or daily row is sane: low <= open, close <= high and no negative volume or trade
    count. One definition for the intermediate model's count and the data test on daily rows. -#}
{% macro binance_ohlc_is_sane() -%}
    (
        low_price <= least(open_price, close_price)
        and greatest(open_price, close_price) <= high_price
        and base_volume >= 0
        and quote_volume >= 0
        and taker_buy_base_volume >= 0
        and taker_buy_quote_volume >= 0
        and trade_count >= 0
    )
{%- endmacro %}
