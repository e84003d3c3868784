{#- Feature expressions the daily and hourly feature models share (docs/features.md), so a day and an
    hour are computed by one definition. -#}

{% macro binance_parkinson_vol(high_price='high_price', low_price='low_price') -%}
    sqrt(pow({{ binance_ln(high_price ~ ' / ' ~ low_price) }}, 2) / (4 * ln(2)))
{%- endmacro %}


{% macro binance_garman_klass_vol(
    open_price='open_price', high_price='high_price', low_price='low_price', close_price='close_price'
) -%}
    {{ binance_sqrt(
        "0.5 * pow(" ~ binance_ln(high_price ~ ' / ' ~ low_price) ~ ", 2) - (2 * ln(2) - 1) * pow("
        ~ binance_ln(close_price ~ ' / ' ~ open_price) ~ ", 2)"
    ) }}
{%- endmacro %}


{% macro binance_true_range(high_price='high_price', low_price='low_price', previous_close='previous_close') -%}
    greatest(
        {{ high_price }} - {{ low_price }},
        abs({{ high_price }} - {{ previous_close }}),
        abs({{ low_price }} - {{ previous_close }})
    )
{%- endmacro %}


{% macro binance_rsi(avg_gain, avg_loss) -%}
    case when {{ avg_gain }} + {{ avg_loss }} > 0 then 100 * {{ avg_gain }} / ({{ avg_gain }} + {{ avg_loss }}) end
{%- endmacro %}


{% macro binance_price_regime_matches(features, thresholds, trend, volatility) -%}
    {#- Join condition: the price regime of seed `thresholds` whose bounds on `trend` and `volatility`
        (the seed's columns <column>_above, exclusive, and <column>_at_most, inclusive; empty = open)
        hold for the row of `features`; none while either input is null. The seed's boxes do not
        overlap, so at most one matches. -#}
    {{ features }}.{{ trend }} is not null
    and {{ features }}.{{ volatility }} is not null
    {%- for column in [trend, volatility] %}
        and ({{ thresholds }}.{{ column }}_above is null or {{ features }}.{{ column }} > {{ thresholds }}.{{ column }}_above)
        and (
            {{ thresholds }}.{{ column }}_at_most is null
            or {{ features }}.{{ column }} <= {{ thresholds }}.{{ column }}_at_most
        )
    {%- endfor %}
{%- endmacro %}
