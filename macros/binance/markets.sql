{#- Which futures market's data a series' derivatives features come from: the one place the mapping is
    written (the models and the incremental scope read it here). -#}

{% macro binance_derivatives_markets() -%}
    {#- market -> futures market of the same symbol: um futures for spot and um rows, cm for cm rows. -#}
    {{- return({'spot': 'um', 'um': 'um', 'cm': 'cm'}) -}}
{%- endmacro %}


{% macro binance_derivatives_market(market_column) -%}
    {#- The mapping as a SQL expression over `market_column` (null for a market it does not know). -#}
    case {{ market_column }}
    {%- for market, futures in binance_derivatives_markets().items() %}
        when {{ binance_literal(market) }} then {{ binance_literal(futures) }}
    {%- endfor %}
    end
{%- endmacro %}
